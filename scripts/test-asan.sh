#!/usr/bin/env bash
# npm run test:asan: the addon built with AddressSanitizer and UndefinedBehaviorSanitizer into its
# own directory (build-asan/, CPU only), then the op, golden, KV-cache and batching tests, an
# end-to-end generate and the server's round trips run against it. Any report fails the run
# (halt_on_error). Node itself is not instrumented, so the sanitizer runtimes are preloaded; leak
# detection is off, as Node's own allocations at exit would drown it (tests/soak.test.ts checks
# memory by RSS instead).
set -euo pipefail
cd "$(dirname "$0")/.."
npx cmake-js compile --out build-asan --CDGPT_CUDA=OFF --CDGPT_SANITIZE=address,undefined >build-asan.log 2>&1 ||
  { tail -20 build-asan.log; exit 1; }
# The build must be instrumented, or the run below proves nothing.
readelf -d build-asan/Release/gpt_cuda.node | grep -q "libasan" || { echo "test:asan: build-asan is not instrumented"; exit 1; }
export GPT_CUDA_ADDON="$PWD/build-asan/Release/gpt_cuda.node"
export LD_PRELOAD="$(g++ -print-file-name=libasan.so) $(g++ -print-file-name=libubsan.so)"
export ASAN_OPTIONS=detect_leaks=0:halt_on_error=1:abort_on_error=1
export UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1
npx vitest run tests/ops.test.ts tests/golden.test.ts tests/kv-cache.test.ts tests/batching.test.ts \
  tests/families.test.ts tests/int8.test.ts tests/compute-bf16.test.ts tests/compute-bf16-model.test.ts tests/generate.test.ts \
  tests/server-openai.test.ts "$@"
