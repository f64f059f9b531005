#!/usr/bin/env bash
# The kernel, golden, KV-cache and int8 tests once per CPU level below the best this machine has
# (GPT_CPU_ISA caps the level: native/cpu/isa.h), so each level's kernels are checked here
# whatever the machine: on an AMX host, avx512, avx2 and generic; on an AVX2 host, generic.
set -euo pipefail
cd "$(dirname "$0")/.."
best=$(node -p 'require("node-gyp-build")(".").buildInfo().cpuIsa')
case "$best" in
  avx512+amx) levels="avx512 avx2 generic" ;;
  avx512) levels="avx2 generic" ;;
  *) levels="generic" ;;
esac
for level in $levels; do
  echo "== GPT_CPU_ISA=$level (this machine: $best)"
  GPT_CPU_ISA=$level npx vitest run tests/ops.test.ts tests/golden.test.ts tests/kv-cache.test.ts tests/int8.test.ts \
    tests/compute-bf16.test.ts tests/compute-bf16-model.test.ts
done
