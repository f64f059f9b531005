#!/usr/bin/env bash
# npm run gpu:check — everything the CUDA backend must show on a real GPU, in one time-boxed run
# that ends with a table (step | result | figure):
#
#   node / node_modules   used as found, else unpacked from .device-kit/ (scripts/make-device-kit.sh)
#   toolchain, GPU        nvcc, cmake, compute-sanitizer, python/torch versions; nvidia-smi -L
#   build sm_90           the addon, Release, GPT_CUDA_ARCHS=90, into build/Release/gpt_cuda.node
#   addon                 Gpt.buildInfo() and the devices the addon sees
#   tests                 vitest: tests/cuda-build, tests/cuda-kernels, tests/cuda-model, tests/golden (CPU)
#   e2e                   Gpt.load(fixture, {device:"cuda"}) logits vs the CPU's and Hugging Face's,
#                         greedy tokens vs Hugging Face's; random GPT-2 124M on cuda vs cpu; decode
#                         with the CUDA graph vs eager steps (tokens equal, tok/s each)
#   memcheck              compute-sanitizer memcheck over the kernel tests
#   bench                 bench/run.ts --random gpt2 / gpt2-xl / tinyllama-1.1b --dtype float16 --device cuda
#   torch                 PyTorch fp16 matmul and causal SDPA at GPT-2 prefill shapes, and
#                         Hugging Face GPT-2 fp16 prefill/decode, against ours where we have ours
#   racecheck, initcheck  compute-sanitizer over the kernel tests, and memcheck over a generate of
#                         GPT-2 and Llama fixtures on cuda (checked against the CPU), with the time left
#
# Results: ok, FAIL (a correctness check failed, timed out or could not run), skip (not possible
# here, e.g. no GPU), n/a (a tool is unsupported here), error/timeout (a speed step that did not
# finish; not a correctness failure).
# Exit: 1 when any row is FAIL; else 3 when no GPU is visible (nothing on the GPU was checked);
# else 0.
#
# Environment:
#   OUT                   where the table (gpu-check.txt), the log (gpu-check.log) and the bench and
#                         torch JSON go (the device tool returns $OUT); default build/gpu-check/
#   GPU_CHECK_BUDGET_S    seconds for the whole run (default 540); each step is capped, and leaves
#                         time for the steps after it
#   GPU_CHECK_NODE_DIR    where the kit's node is unpacked (default /tmp/node-bin)
#   GPU_CHECK_FORCE_KIT=1 use the kit's node even where node is on PATH (to test the kit)
#   GPU_CHECK_E2E_DEVICE  the device the e2e step loads on (default cuda; "cpu" tests the harness)
set -uo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT" || exit 1
START=$(date +%s)
BUDGET=${GPU_CHECK_BUDGET_S:-540}
DEST=${OUT:-$ROOT/build/gpu-check}
mkdir -p "$DEST"
LOG=$DEST/gpu-check.log
TABLE=$DEST/gpu-check.txt
: >"$LOG"
WORK=$(mktemp -d "${TMPDIR:-/tmp}/gpu-check.XXXXXX")
trap 'rm -rf "$WORK"' EXIT
KIT=$ROOT/.device-kit
NODE_DIR=${GPU_CHECK_NODE_DIR:-/tmp/node-bin}
export GPU_CHECK_ROOT=$ROOT
export GPT_CUDA_ARCHS=90
ROWS=()
FAILED=0
GPU=0        # 1 once the addon (or, failing that, nvidia-smi) sees a GPU
NVSMI_GPUS=0
ADDON_OK=0
NODE_OK=0
MODULES_OK=0

elapsed() { echo $(($(date +%s) - START)); }
left() { echo $((BUDGET - $(elapsed))); }
say() { printf '[gpu-check %3ss] %s\n' "$(elapsed)" "$*" | tee -a "$LOG"; }
row() { # step result figure
  local fig=${3//$'\t'/ }
  ROWS+=("$1"$'\t'"$2"$'\t'"${fig//$'\n'/ }")
  [[ $2 == FAIL ]] && FAILED=1
  say "$1: $2 — $fig"
}
# Rows printed by the inline scripts as "ROW<tab>step<tab>result<tab>figure".
rows_from() { local _ s r f; while IFS=$'\t' read -r _ s r f; do row "$s" "$r" "$f"; done < <(grep -a '^ROW'$'\t' "$1"); }
first_line() { grep -a -m1 -v '^\s*$' "$1" | cut -c1-200; }
# run NAME CAP RESERVE CMD...: runs CMD under timeout min(CAP, time left - RESERVE), output in
# $WORK/NAME.out and the log; RC is its exit status (124: timed out, 125: no time was left).
run() {
  local name=$1 cap=$2 reserve=$3 t
  shift 3
  t=$(($(left) - reserve))
  ((t > cap)) && t=$cap
  if ((t < 15)); then
    RC=125 SECS=0
    echo "no time left in the ${BUDGET}s budget" >"$WORK/$name.out"
    echo "=== $name: not run (budget spent)" >>"$LOG"
    return
  fi
  echo "=== $name (limit ${t}s): $*" >>"$LOG"
  local s
  s=$(date +%s)
  timeout -k 10 "$t" "$@" >"$WORK/$name.out" 2>&1
  RC=$? SECS=$(($(date +%s) - s))
  cat "$WORK/$name.out" >>"$LOG"
  echo "=== $name: exit $RC after ${SECS}s" >>"$LOG"
}
timed_out() { ((RC == 124 || RC == 137)); }
why_not_run() { ((RC == 125)) && echo "not run: time budget (${BUDGET}s) spent" || echo "timed out after ${SECS}s"; }

say "gpt-cuda gpu:check in $ROOT (budget ${BUDGET}s, results in $DEST)"

# ---------------------------------------------------------------------------------------------
# node and node_modules, from the kit where missing
unxz_to() { # src dest
  if command -v xz >/dev/null; then xz -dc "$1" >"$2"; else
    python3 -c 'import lzma, shutil, sys
with lzma.open(sys.argv[1]) as f, open(sys.argv[2], "wb") as o: shutil.copyfileobj(f, o, 1 << 20)' "$1" "$2"
  fi
}
untar_xz() { # archive destdir
  if command -v xz >/dev/null && tar --version >/dev/null 2>&1; then tar -xJf "$1" -C "$2"; else
    python3 -c 'import sys, tarfile
with tarfile.open(sys.argv[1], "r:xz") as t:
    t.extractall(sys.argv[2], **({"filter": "tar"} if hasattr(tarfile, "tar_filter") else {}))' "$1" "$2"
  fi
}

node_src=""
if [[ -z ${GPU_CHECK_FORCE_KIT:-} ]] && command -v node >/dev/null; then
  node_src=path how="on PATH: $(command -v node)"
elif [[ -x $NODE_DIR/node && -f $KIT/node.id && -f $NODE_DIR/node.id ]] && cmp -s "$KIT/node.id" "$NODE_DIR/node.id" &&
  "$NODE_DIR/node" --version >/dev/null 2>&1; then
  export PATH="$NODE_DIR:$PATH"
  node_src=kit how="from .device-kit, unpacked earlier to $NODE_DIR"
elif [[ -f $KIT/node.xz ]]; then
  mkdir -p "$NODE_DIR"
  rm -f "$NODE_DIR/node.id"
  if unxz_to "$KIT/node.xz" "$NODE_DIR/node.tmp" >>"$LOG" 2>&1 && chmod 755 "$NODE_DIR/node.tmp" &&
    mv "$NODE_DIR/node.tmp" "$NODE_DIR/node"; then
    export PATH="$NODE_DIR:$PATH"
    [[ -f $KIT/node.id ]] && cp "$KIT/node.id" "$NODE_DIR/node.id"
    node_src=kit how="unpacked from .device-kit to $NODE_DIR"
  else
    how="unpacking .device-kit/node.xz failed (see log)"
  fi
else
  how="not on PATH, and no .device-kit/node.xz: run scripts/make-device-kit.sh where node is, and carry .device-kit"
fi
version=""
[[ -n $node_src ]] && version=$(node --version 2>>"$LOG")
if [[ $version =~ ^v([0-9]+)\. ]] && ((BASH_REMATCH[1] >= 20)); then
  NODE_OK=1
  row "node" ok "$version ($how)"
else
  row "node" FAIL "${version:-no node}${version:+ (need >= 20)}: $how"
fi

need_modules=(vitest tsx node-gyp-build node-addon-api node-api-headers)
modules_present() { local m; for m in "${need_modules[@]}"; do [[ -f node_modules/$m/package.json ]] || return 1; done; }
if modules_present; then
  MODULES_OK=1
  row "node_modules" ok "present"
elif [[ -f $KIT/node_modules.tar.xz ]]; then
  if untar_xz "$KIT/node_modules.tar.xz" "$ROOT" >>"$LOG" 2>&1 && modules_present; then
    MODULES_OK=1
    row "node_modules" ok "unpacked from .device-kit ($(du -sh node_modules | cut -f1))"
  else
    row "node_modules" FAIL "unpacking .device-kit/node_modules.tar.xz did not give ${need_modules[*]} (see log)"
  fi
else
  row "node_modules" FAIL "missing ${need_modules[*]}, and no .device-kit/node_modules.tar.xz (scripts/make-device-kit.sh)"
fi
VITEST=(node node_modules/vitest/vitest.mjs run)
TSX=(node node_modules/tsx/dist/cli.mjs)

# ---------------------------------------------------------------------------------------------
# toolchain and GPU
if ! command -v nvcc >/dev/null && [[ -x /usr/local/cuda/bin/nvcc ]]; then export PATH="$PATH:/usr/local/cuda/bin"; fi
if ! command -v compute-sanitizer >/dev/null && [[ -x /usr/local/cuda/bin/compute-sanitizer ]]; then
  export PATH="$PATH:/usr/local/cuda/bin"
fi
{
  echo "=== toolchain"
  uname -a
  nvcc --version 2>&1 | tail -2
  cmake --version 2>&1 | head -1
  ninja --version 2>&1
  compute-sanitizer --version 2>&1 | head -2
  python3 -c 'import sys, torch; print("python", sys.version.split()[0], "torch", torch.__version__, "cuda", torch.version.cuda)' 2>&1 | tail -1
  nvidia-smi 2>&1 | head -15
} >>"$LOG" 2>&1
nvcc_v=$(nvcc --version 2>/dev/null | sed -n 's/.*release \([0-9.]*\).*/\1/p')
cmake_v=$(cmake --version 2>/dev/null | sed -n '1s/cmake version //p')
san_v=$(compute-sanitizer --version 2>/dev/null | sed -n 's/.*Version \([0-9.]*\).*/\1/p' | head -1)
torch_v=$(python3 -c 'import torch; print(torch.__version__)' 2>/dev/null)
row "toolchain" info "nvcc ${nvcc_v:-none}, cmake ${cmake_v:-none}, ninja $(ninja --version 2>/dev/null || echo none), compute-sanitizer ${san_v:-none}, torch ${torch_v:-none}"

if command -v nvidia-smi >/dev/null; then
  smi=$(nvidia-smi -L 2>&1)
  NVSMI_GPUS=$(grep -c '^GPU ' <<<"$smi")
  driver=$(nvidia-smi --query-gpu=driver_version --format=csv,noheader 2>/dev/null | head -1)
  if ((NVSMI_GPUS > 0)); then
    row "nvidia-smi" info "$(grep -m1 '^GPU ' <<<"$smi" | sed 's/ (UUID.*//')${driver:+, driver $driver}$( ((NVSMI_GPUS > 1)) && echo " (+$((NVSMI_GPUS - 1)) more)")"
  else
    row "nvidia-smi" info "no GPU listed: $(head -1 <<<"$smi" | cut -c1-120)"
  fi
else
  row "nvidia-smi" info "not installed"
fi

# ---------------------------------------------------------------------------------------------
# build: what cmake-js does (see build/CMakeCache.txt of `npx cmake-js compile`), called directly so
# that no cmake-js or network is needed; its own build tree, the addon where node-gyp-build looks.
BUILD_DIR=build/gpu-check-sm90
if ! command -v nvcc >/dev/null; then
  row "build sm_90" FAIL "no nvcc on PATH: the CUDA backend cannot be built"
elif ! command -v cmake >/dev/null; then
  row "build sm_90" FAIL "no cmake on PATH"
elif ((!MODULES_OK)); then
  row "build sm_90" FAIL "not built: node-addon-api / node-api-headers missing"
else
  gen=(-G Ninja)
  command -v ninja >/dev/null || gen=(-G "Unix Makefiles")
  # A build tree configured elsewhere (another path, another generator) is started again.
  if [[ -f $BUILD_DIR/CMakeCache.txt ]] && ! grep -q "^CMAKE_HOME_DIRECTORY:INTERNAL=$ROOT\$" "$BUILD_DIR/CMakeCache.txt"; then
    rm -rf "$BUILD_DIR"
  fi
  cat >"$WORK/build.sh" <<EOF
set -e
rm -f build/Release/gpt_cuda.node  # relinked for sm_90 even where another build tree left one
cmake -S . -B "$BUILD_DIR" ${gen[*]@Q} -DCMAKE_BUILD_TYPE=Release -DGPT_CUDA=ON -DGPT_CUDA_ARCHS=90 \
  -DCMAKE_JS_INC="$ROOT/node_modules/node-api-headers/include;$ROOT/node_modules/node-addon-api" \
  -DCMAKE_JS_SRC= -DCMAKE_JS_LIB= -DNODE_RUNTIME=node -DNODE_ARCH=x64 \
  -DCMAKE_CXX_FLAGS=-DBUILDING_NODE_EXTENSION -DCMAKE_LIBRARY_OUTPUT_DIRECTORY="$ROOT/build/Release"
cmake --build "$BUILD_DIR" --parallel $(nproc)
EOF
  run build 300 120 bash "$WORK/build.sh"
  if ((RC == 0)) && [[ -f build/Release/gpt_cuda.node ]]; then
    sass=""
    if command -v cuobjdump >/dev/null; then
      sass=$(cuobjdump --list-elf build/Release/gpt_cuda.node 2>/dev/null | grep -o 'sm_[0-9]*[af]\?' | sort -u | tr '\n' ' ')
      ptx=$(cuobjdump --list-ptx build/Release/gpt_cuda.node 2>/dev/null | grep -o 'sm_[0-9]*[af]\?' | sort -u | tr '\n' ' ')
      sass="; cuobjdump: SASS ${sass:-none} PTX ${ptx:-none}"
    fi
    row "build sm_90" ok "${SECS}s, $(grep -m1 -o 'gpt-cuda: CUDA [^,]*, architectures [^ ]*' "$WORK/build.out" | sed 's/gpt-cuda: //')${sass% }"
  elif timed_out || ((RC == 125)); then
    row "build sm_90" FAIL "$(why_not_run)"
  else
    row "build sm_90" FAIL "exit $RC: $(grep -a -m1 -E 'error|Error' "$WORK/build.out" | cut -c1-200)"
  fi
fi

# ---------------------------------------------------------------------------------------------
# the addon: buildInfo() and devices()
cat >"$WORK/info.mts" <<'TS'
import { pathToFileURL } from "node:url";
const root = process.env.GPU_CHECK_ROOT!;
const { Gpt } = await import(pathToFileURL(`${root}/lib/index.ts`).href);
const { native } = await import(pathToFileURL(`${root}/lib/native.ts`).href);
console.log("buildInfo", JSON.stringify(Gpt.buildInfo()));
console.log("devices", JSON.stringify(Gpt.devices()));
const devices = native().devices();
console.log("native devices", JSON.stringify(devices));
const b = Gpt.buildInfo();
const dev = devices.map((d: any) => `${d.name} (cc ${d.computeCapability}, ${d.multiprocessors} SMs, ${(d.totalMemory / 2 ** 30).toFixed(0)} GiB)`);
const archs = b.archs.join(",");
let result = "ok";
let note = "";
if (!b.cuda) [result, note] = ["FAIL", " — built without CUDA"];
else if (archs !== "sm_90,compute_90") [result, note] = ["FAIL", " — expected sm_90,compute_90"];
else if (devices.length === 0 && Number(process.env.NVSMI_GPUS) > 0)
  [result, note] = ["FAIL", ` — nvidia-smi lists ${process.env.NVSMI_GPUS} GPU(s) but devices() is []`];
console.log(`ROW\taddon\t${result}\tcuda ${b.cuda} ${b.cudaVersion ?? ""} [${archs}], cpu ${b.cpuIsa}; devices: ${dev.join("; ") || "none"}${note}`);
console.log(`GPUS ${devices.length}`);
TS
if ((NODE_OK && MODULES_OK)) && [[ -f build/Release/gpt_cuda.node ]]; then
  export NVSMI_GPUS
  run info 60 0 "${TSX[@]}" "$WORK/info.mts"
  if grep -aq $'^ROW\taddon' "$WORK/info.out"; then
    rows_from "$WORK/info.out"
    ((RC == 0)) && ADDON_OK=1
    (($(sed -n 's/^GPUS //p' "$WORK/info.out") > 0)) && GPU=1
  else
    row "addon" FAIL "exit $RC: $(grep -a -m1 -iE 'error' "$WORK/info.out" | cut -c1-200)"
  fi
else
  row "addon" FAIL "not loaded: no node, node_modules or build/Release/gpt_cuda.node"
fi
((!ADDON_OK && NVSMI_GPUS > 0)) && GPU=1
NOGPU="no GPU visible: skipped"

# ---------------------------------------------------------------------------------------------
# vitest: the CUDA build and kernel tests, and the CPU golden tests
cat >"$WORK/vitest-rows.mjs" <<'JS'
import { readFileSync } from "node:fs";
const [file, gpu, kernelsStep, only] = process.argv.slice(2);
const row = (s, r, f) => console.log(`ROW\t${s}\t${r}\t${f}`);
const clean = (s) => String(s ?? "").replace(/\x1b\[[0-9;]*m/g, "").split("\n").find((l) => l.trim()) ?? "";
let report;
try { report = JSON.parse(readFileSync(file, "utf8")); } catch { report = { testResults: [] }; }
const groups = [
  ["tests cuda-build", /cuda-build\.test/],
  [kernelsStep, /cuda-kernels\.test/],
  ["tests cuda-model", /cuda-model\.test/],
  ["tests golden (cpu)", /golden\.test/],
].filter(([s]) => !only || s === only);
// Files that must not skip wholesale where a GPU is visible.
const needsGpu = new Set([kernelsStep, "tests cuda-model"]);
for (const [step, re] of groups) {
  const f = report.testResults.find((t) => re.test(t.name));
  if (!f) { row(step, "FAIL", "no results: vitest did not report this file (see log)"); continue; }
  const a = f.assertionResults ?? [];
  const by = (s) => a.filter((x) => x.status === s);
  const failed = by("failed"), passed = by("passed").length, skipped = a.length - failed.length - passed;
  const seed = a.map((x) => (x.ancestorTitles ?? []).join(" ").match(/seed (\d+)/)?.[1]).find(Boolean);
  const ms = f.endTime && f.startTime ? f.endTime - f.startTime : 0;
  const secs = ms < 1000 ? `${Math.round(ms)} ms` : `${(ms / 1000).toFixed(1)} s`;
  const seedNote = seed ? ` (GPT_TEST_SEED=${seed})` : "";
  if (failed.length)
    row(step, "FAIL", `${failed.length} of ${a.length} failed${seedNote}; first: ${failed[0].fullName ?? failed[0].title}: ${clean(failed[0].failureMessages?.[0]).slice(0, 160)}`);
  else if (f.status === "failed") row(step, "FAIL", `file failed: ${clean(f.message).slice(0, 180)}`);
  else if (needsGpu.has(step) && passed === 0)
    row(step, gpu === "1" ? "FAIL" : "skip", gpu === "1" ? `all ${a.length} skipped although a GPU is visible` : `no GPU visible: ${a.length} skipped`);
  else row(step, "ok", `${passed} passed${skipped ? `, ${skipped} skipped` : ""}, ${secs}${seedNote}`);
}
JS
if ((NODE_OK && MODULES_OK)); then
  run vitest 240 150 "${VITEST[@]}" tests/cuda-build.test.ts tests/cuda-kernels.test.ts tests/cuda-model.test.ts \
    tests/golden.test.ts \
    --reporter=default --reporter=json --outputFile.json="$WORK/vitest.json"
  if timed_out || ((RC == 125)); then
    row "tests (vitest)" FAIL "$(why_not_run)"
  else
    node "$WORK/vitest-rows.mjs" "$WORK/vitest.json" "$GPU" "tests cuda-kernels" >"$WORK/vitest-rows.out" 2>&1
    rows_from "$WORK/vitest-rows.out"
  fi
else
  row "tests (vitest)" FAIL "not run: no node or node_modules"
fi

# ---------------------------------------------------------------------------------------------
# end to end: cuda vs cpu (and Hugging Face) on the fixtures, and random GPT-2 124M
cat >"$WORK/e2e.mts" <<'TS'
import { pathToFileURL } from "node:url";
const root = process.env.GPU_CHECK_ROOT!;
const device = (process.env.GPU_CHECK_E2E_DEVICE || "cuda") as "cuda" | "cpu";
const imp = (p: string) => import(pathToFileURL(`${root}/${p}`).href);
const { Gpt } = await imp("lib/index.ts");
const { FIXTURE_NAMES, fixtureDir, reference, relativeMaxError } = await imp("tests/helpers/fixtures.ts");
const row = (s: string, r: string, f: string) => console.log(`ROW\t${s}\t${r}\t${f}`);
const why = (e: any) => `${e?.code ? `${e.code}: ` : ""}${e instanceof Error ? e.message : String(e)}`.split("\n")[0]!.slice(0, 200);
const e = (x: number) => x.toExponential(1);
const finite = (a: Float32Array) => a.every((x) => Number.isFinite(x));
const agree = (a: number[], b: number[]) => { let i = 0; while (i < b.length && a[i] === b[i]) i++; return i; };
// Gates on max |Δ| / max |ref| of the logits: fp32 compute for F32 weights; F16 / BF16 weights go
// through the tensor cores, which round the activations too.
const GATE: Record<string, number> = { F32: 1e-4, F16: 1e-2, BF16: 5e-2 };

for (const name of FIXTURE_NAMES as string[]) {
  const step = `e2e ${name}`;
  let cpu: any, gpu: any;
  try {
    const ref = reference(name);
    cpu = await Gpt.load(fixtureDir(name), { device: "cpu" });
    const want = await cpu.logits(ref.prompt_ids);
    gpu = await Gpt.load(fixtureDir(name), { device });
    if (gpu.device !== device) throw new Error(`asked for ${device}, loaded on ${gpu.device}`);
    const got = await gpu.logits(ref.prompt_ids);
    if (!finite(got)) throw new Error("logits are not all finite");
    const vsCpu = relativeMaxError(got, want), vsHf = relativeMaxError(got, ref.logits);
    const out = await gpu.generate(ref.greedy.prompt_ids, { maxTokens: ref.greedy.max_new_tokens, temperature: 0, ignoreEos: true });
    const same = agree(out.tokens, ref.greedy.tokens), n = ref.greedy.tokens.length;
    const gate = GATE[ref.dtype]!;
    const ok = vsCpu <= gate && vsHf <= gate && (ref.dtype !== "F32" || same === n);
    row(step, ok ? "ok" : "FAIL", `${ref.dtype} ${ref.prompt_ids.length} tokens: rel max err vs CPU ${e(vsCpu)}, vs HF ${e(vsHf)} (gate ${e(gate)}); greedy ${same}/${n} = HF${ref.dtype === "F32" ? "" : " (not gated)"}`);
  } catch (err) {
    row(step, "FAIL", why(err));
  } finally {
    cpu?.dispose();
    gpu?.dispose();
  }
}

// Real GPT-2 shapes (C 768, 12 heads of 64, vocab 50257): the same seeded random weights on both.
const ids = Array.from({ length: 100 }, (_, i) => (i * 7919 + 13) % 50257);
for (const dtype of ["float32", "float16"] as const) {
  const step = `e2e random gpt2 ${dtype}`;
  let cpu: any, gpu: any;
  try {
    cpu = await Gpt.random("gpt2", { device: "cpu", dtype, seed: 7 });
    gpu = await Gpt.random("gpt2", { device, dtype, seed: 7 });
    if (gpu.device !== device) throw new Error(`asked for ${device}, loaded on ${gpu.device}`);
    const want = await cpu.logits(ids);
    const got = await gpu.logits(ids);
    if (!finite(got)) throw new Error("logits are not all finite");
    const err = relativeMaxError(got, want);
    const opts = { maxTokens: 32, temperature: 0, ignoreEos: true };
    const a = await cpu.generate(ids.slice(0, 20), opts), b = await gpu.generate(ids.slice(0, 20), opts);
    const same = agree(b.tokens, a.tokens);
    const gate = dtype === "float32" ? 1e-4 : 2e-2;
    const ok = err <= gate && (dtype !== "float32" || same === a.tokens.length);
    row(step, ok ? "ok" : "FAIL", `${ids.length} tokens: rel max err vs CPU ${e(err)} (gate ${e(gate)}); greedy ${same}/${a.tokens.length} = CPU${dtype === "float32" ? "" : " (not gated)"}; prefill ${b.timings.prefillMs.toFixed(1)} ms vs CPU ${a.timings.prefillMs.toFixed(1)} ms`);
  } catch (err) {
    row(step, "FAIL", why(err));
  } finally {
    cpu?.dispose();
    gpu?.dispose();
  }
}

// The decode step as a CUDA graph against eager launches (GPT_CUDA_GRAPH=0 is read when a model
// loads): same tokens, and the speed-up the graph buys (bench/NOTES.md section 6 predicts ≥ 3×).
{
  const step = "e2e decode graph vs eager gpt2 float16";
  const models: any[] = [];
  try {
    const load = async (graph: boolean) => {
      if (graph) delete process.env.GPT_CUDA_GRAPH;
      else process.env.GPT_CUDA_GRAPH = "0";
      const m = await Gpt.random("gpt2", { device, dtype: "float16", seed: 7 });
      delete process.env.GPT_CUDA_GRAPH;
      models.push(m);
      return m;
    };
    const graphed = await load(true), eager = await load(false);
    const opts = { maxTokens: 200, temperature: 0, ignoreEos: true };
    const prompt = ids.slice(0, 16);
    const rate = async (m: any) => {
      await m.generate(prompt, { ...opts, maxTokens: 8 }); // warm: the graph is captured here
      const r = await m.generate(prompt, opts);
      return { tokens: r.tokens as number[], perSecond: r.tokens.length / (r.timings.decodeMs / 1000) };
    };
    const g = await rate(graphed), e = await rate(eager);
    const replays = (graphed as any).model?.graphReplays ?? NaN;
    const same = agree(g.tokens, e.tokens);
    const ok = same === g.tokens.length && (device !== "cuda" || replays > 0);
    row(step, ok ? "ok" : "FAIL", `graph ${Math.round(g.perSecond)} tok/s vs eager ${Math.round(e.perSecond)} (×${(g.perSecond / e.perSecond).toFixed(2)}); ${same}/${g.tokens.length} tokens equal; ${replays} graph replays`);
  } catch (err) {
    row(step, "FAIL", why(err));
  } finally {
    for (const m of models) m.dispose();
  }
}
TS
if { ((GPU)) || [[ -n ${GPU_CHECK_E2E_DEVICE:-} ]]; } && ((NODE_OK && MODULES_OK && ADDON_OK)); then
  run e2e 150 100 "${TSX[@]}" "$WORK/e2e.mts"
  rows_from "$WORK/e2e.out"
  if ! grep -aq $'^ROW\t' "$WORK/e2e.out"; then
    row "e2e" FAIL "$( (timed_out || ((RC == 125))) && why_not_run || echo "exit $RC: $(grep -a -m1 -iE 'error' "$WORK/e2e.out" | cut -c1-180)")"
  elif timed_out; then
    row "e2e" FAIL "timed out after ${SECS}s before every model was checked"
  fi
elif ((!GPU)); then
  row "e2e cuda vs cpu" skip "$NOGPU"
else
  row "e2e cuda vs cpu" FAIL "not run: the addon did not load"
fi

# ---------------------------------------------------------------------------------------------
# compute-sanitizer: memcheck over the kernel tests here; racecheck, initcheck and memcheck of an
# end-to-end generate at the end (they are slow, and speed rows come first). One forked vitest
# worker; the sanitizer follows it.
# sanitize TOOL STEP CAP RESERVE JSON CMD...: CMD under the sanitizer's TOOL. JSON: the vitest report
# CMD writes (its tests must pass under the tool too), or "" for a command whose exit status says.
sanitize() {
  local tool=$1 step=$2 cap=$3 reserve=$4 json=$5 name
  shift 5
  name=san-${step// /-}
  if ((!GPU)); then row "$step" skip "$NOGPU"; return; fi
  if ! command -v compute-sanitizer >/dev/null; then row "$step" n/a "compute-sanitizer not installed"; return; fi
  if ((!ADDON_OK)); then row "$step" FAIL "not run: the addon did not load"; return; fi
  run "$name" "$cap" "$reserve" compute-sanitizer --tool "$tool" --target-processes all --require-cuda-init=no \
    --print-limit 20 --error-exitcode 86 "$@"
  local out=$WORK/$name.out errors summaries tests="" res=ok
  # memcheck and initcheck end with "ERROR SUMMARY: N errors"; racecheck with "RACECHECK SUMMARY:
  # N hazards displayed (E errors, W warnings)".
  errors=$(grep -aoE 'ERROR SUMMARY: [0-9]+|\([0-9]+ errors' "$out" | grep -oE '[0-9]+' | awk '{ s += $1 } END { print s + 0 }')
  summaries=$(grep -acE 'ERROR SUMMARY|RACECHECK SUMMARY' "$out")
  if [[ -n $json ]]; then
    node "$WORK/vitest-rows.mjs" "$json" "$GPU" "$step" "$step" >"$WORK/$name-rows.out" 2>&1
    tests=$(sed -n 's/^ROW\t[^\t]*\t[^\t]*\t//p' "$WORK/$name-rows.out" | head -1)
    res=$(sed -n 's/^ROW\t[^\t]*\t\([^\t]*\)\t.*/\1/p' "$WORK/$name-rows.out" | head -1)
  elif ((RC != 0 && RC != 86)) && ! timed_out && ((RC != 125)); then
    res=FAIL tests="the command failed under $tool (exit $RC): $(grep -a -m1 -iE 'error' "$out" | cut -c1-120)"
  else
    tests=$(grep -a -m1 '^E2E ' "$out" | cut -c5-150)
  fi
  if ((errors > 0)); then
    row "$step" FAIL "$errors $tool error(s): $(grep -a -m1 -E '^========= (Invalid|Program hit|Uninit|Leaked|Error|Race|Warning)' "$out" | cut -c11-170)"
  elif grep -aqiE 'device not supported|unable to (attach|launch|intercept)|cuda_error_not_supported|Target application terminated before first instrumented' "$out"; then
    row "$step" n/a "compute-sanitizer unsupported here: $(grep -a -m1 -iE 'not supported|unable to|terminated before' "$out" | cut -c1-150)"
  elif timed_out || ((RC == 125)); then
    row "$step" timeout "$(why_not_run) (no error reported up to then); not a correctness verdict"
  elif ((summaries == 0)); then
    row "$step" n/a "exit $RC, no summary from compute-sanitizer: $(first_line "$out")"
  elif [[ $res == ok ]]; then
    row "$step" ok "0 errors; ${tests:+$tests; }${SECS}s"
  else
    row "$step" FAIL "0 $tool errors, but under it: $tests"
  fi
}
KERNEL_TESTS=(tests/cuda-kernels.test.ts --pool=forks --maxWorkers=1 --no-isolate --reporter=default --reporter=json)
sanitize memcheck "memcheck kernels" 180 200 "$WORK/memcheck.json" "${VITEST[@]}" "${KERNEL_TESTS[@]}" --outputFile.json="$WORK/memcheck.json"

# ---------------------------------------------------------------------------------------------
# benchmarks on the GPU
cat >"$WORK/bench-row.mjs" <<'JS'
import { readFileSync } from "node:fs";
const [file, step] = process.argv.slice(2);
const row = (r, f) => console.log(`ROW\t${step}\t${r}\t${f}`);
let res;
try { res = JSON.parse(readFileSync(file, "utf8")); } catch { process.exit(1); }
const m = res.models?.[0];
if (!m) process.exit(1);
const prefill = m.prefill.map((p) => `${p.promptTokens}: ${Math.round(p.tokensPerSecond)}`).join(", ");
const pick = m.decode.filter((d, i) => i === 0 || [128, 512, 900].includes(d.context));
const decode = pick.map((d) => `@${d.context} ${d.msPerToken.p50.toFixed(2)}`).join(", ");
// Batch-1 decode's bytes per token over the GPU's measured read bandwidth (issue 14: TinyLlama ≥ 70 %).
const share = m.decode[0]?.fractionOfMemoryRead;
const kernelsOnCuda = (m.kernels ?? []).some((k) => k.device === "cuda" || k.backend === "cuda");
// The batched engine (issue 10's GPU floor: 32 sequences at ≥ 10× one sequence's tokens/s).
const batch = (m.batch?.decode ?? []).map((d) => `${d.sequences}: ${Math.round(d.tokensPerSecond)} (${d.speedup.toFixed(1)}×)`).join(", ");
row(m.device === "cuda" ? "ok" : "error",
  `${m.device === "cuda" ? "" : `ran on ${m.device}! `}load ${m.loadSeconds.toFixed(1)}s; prefill tok/s ${prefill}; decode p50 ms ${decode}` +
  ` (${Math.round(1000 / pick[pick.length - 1].msPerToken.p50)} tok/s)${share ? `; decode @${m.decode[0].context} at ${(100 * share).toFixed(0)} % of the read bound` : ""}; batch decode tok/s ${batch || "n/a"}; kernel timings: ${m.kernels?.length ? (kernelsOnCuda ? "cuda" : "CPU only") : "none"}`);
JS
bench() { # preset cap reserve flags...
  local preset=$1 cap=$2 reserve=$3 step="bench $1 f16 cuda"
  shift 3
  if ((!GPU)); then row "$step" skip "$NOGPU"; return; fi
  if ((!ADDON_OK)); then row "$step" error "not run: the addon did not load"; return; fi
  # The JSON (stdout) to bench-<preset>.json, the progress (stderr) to the log.
  run "bench-$preset" "$cap" "$reserve" sh -c '"$@" >"$0"' "$WORK/bench-$preset.json" \
    "${TSX[@]}" bench/run.ts --random "$preset" --dtype float16 --device cuda --json --no-save "$@"
  if ((RC == 0)) && node "$WORK/bench-row.mjs" "$WORK/bench-$preset.json" "$step" >"$WORK/bench-$preset.row" 2>>"$LOG"; then
    cp "$WORK/bench-$preset.json" "$DEST/bench-$preset.json"
    rows_from "$WORK/bench-$preset.row"
  elif timed_out || ((RC == 125)); then
    row "$step" timeout "$(why_not_run)"
  else
    row "$step" error "exit $RC: $(grep -a -m1 -E '^bench:|Error' "$WORK/bench-$preset.out" | cut -c1-180)"
  fi
}
bench gpt2 100 120
bench gpt2-xl 100 70 --quick --no-kernels
# A Llama (GQA, SwiGLU, RoPE): issue 14's GPU floor is batch-1 fp16 decode at ≥ 70 % of the HBM bound.
bench tinyllama-1.1b 100 50 --quick --no-kernels --no-batch

# ---------------------------------------------------------------------------------------------
# PyTorch references, measured in this run: fp16 matmul and causal SDPA at GPT-2 prefill shapes,
# and Hugging Face GPT-2 (fp16, eager) prefill and decode, against our bench where it has figures.
cat >"$WORK/torch-ref.py" <<'PY'
import json, os, sys, time
out_path, work = sys.argv[1], sys.argv[2]
T0, SECONDS = time.time(), float(os.environ.get("GPU_CHECK_TORCH_SECONDS", "150"))
rows, result = [], {"gemm": [], "sdpa": [], "hf": []}
def row(step, res, fig):
    print(f"ROW\t{step}\t{res}\t{fig}", flush=True)
def save():
    with open(out_path, "w") as f: json.dump(result, f, indent=1)
def load_bench(preset):
    try:
        with open(os.path.join(work, f"bench-{preset}.json")) as f: return json.load(f)["models"][0]
    except Exception: return None
try:
    import torch, torch.nn.functional as F
except Exception as e:
    row("torch reference", "skip", f"no torch: {e}"); sys.exit(0)
if not torch.cuda.is_available():
    row("torch reference", "skip", "torch sees no CUDA device"); sys.exit(0)
result["torch"] = torch.__version__
result["gpu"] = torch.cuda.get_device_name(0)

def per_call_ms(fn, calls=50, repeats=5):
    """Median over `repeats` of (CUDA-event time of `calls` back-to-back calls) / calls: L2-warm."""
    for _ in range(5): fn()
    torch.cuda.synchronize()
    ts = []
    for _ in range(repeats):
        s, e = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        s.record()
        for _ in range(calls): fn()
        e.record(); e.synchronize()
        ts.append(s.elapsed_time(e) / calls)
    return sorted(ts)[len(ts) // 2]

def ours_kernel(model, kernel, rows, k=None, n=None):
    """Our CUDA kernel time (ms) from the bench, only if the bench timed it on the GPU."""
    if not model: return None
    for kr in model.get("kernels", []) + model.get("attention", []):
        if kr.get("device") != "cuda" and kr.get("backend") != "cuda": continue
        sh = kr.get("shape", {})
        if kr.get("kernel") == kernel and kr.get("phase") == "prefill" and sh.get("rows") == rows and \
           (k is None or (sh.get("k") == k and sh.get("n") == n)):
            return kr.get("medianMs")
    return None

def vs(ours, torch_ms):
    return "ours n/a (the bench has no CUDA kernel timings)" if ours is None else \
        f"ours {ours * 1000:.1f}us, ours/torch {ours / torch_ms:.2f}"

g2 = load_bench("gpt2")
dev = "cuda"
C, INNER, HEADS, D = 768, 3072, 12, 64
shapes = [("attn.c_attn", C, 3 * C), ("attn.c_proj", C, C), ("mlp.c_fc", C, INNER), ("mlp.c_proj", INNER, C)]
for rows_n in (128, 512):
    figs = []
    for name, k, n in shapes:
        x = torch.randn(rows_n, k, device=dev, dtype=torch.float16)
        w = torch.randn(k, n, device=dev, dtype=torch.float16) * 0.02
        ms = per_call_ms(lambda: torch.matmul(x, w))
        ours = ours_kernel(g2, "matmul", rows_n, k, n)
        result["gemm"].append({"name": name, "rows": rows_n, "k": k, "n": n, "torchMs": ms, "tflops": 2 * rows_n * k * n / ms / 1e9, "oursMs": ours})
        figs.append(f"{name} {ms * 1000:.1f}us {2 * rows_n * k * n / ms / 1e9:.0f}TF/s" + ("" if ours is None else f" (ours/torch {ours / ms:.2f})"))
    anyours = any(g["oursMs"] is not None for g in result["gemm"] if g["rows"] == rows_n)
    row(f"torch gemm fp16 {rows_n} rows", "info", ", ".join(figs) + ("" if anyours else "; ours n/a (the bench has no CUDA kernel timings)"))
save()
for t in (128, 512):
    q, k, v = (torch.randn(1, HEADS, t, D, device=dev, dtype=torch.float16) for _ in range(3))
    ms = per_call_ms(lambda: F.scaled_dot_product_attention(q, k, v, is_causal=True))
    ours = ours_kernel(g2, "attention", t)
    result["sdpa"].append({"tokens": t, "heads": HEADS, "headDim": D, "torchMs": ms, "oursMs": ours})
    row(f"torch sdpa causal fp16 {HEADS}x{t}x{D}", "info", f"{ms * 1000:.1f}us; {vs(ours, ms)}")
save()

try:
    from transformers import GPT2Config, GPT2LMHeadModel
    import transformers
except Exception as e:
    row("hf gpt2 reference", "skip", f"no transformers: {e}"); sys.exit(0)
result["transformers"] = transformers.__version__
PRESETS = {"gpt2": dict(n_embd=768, n_layer=12, n_head=12), "gpt2-xl": dict(n_embd=1600, n_layer=48, n_head=25)}
for preset, shape in PRESETS.items():
    ours = load_bench(preset)
    if time.time() - T0 > SECONDS - (50 if preset == "gpt2-xl" else 25):
        row(f"hf {preset} fp16 (eager)", "skip", "not run: too little of the time budget left"); continue
    try:
        t0 = time.time()
        cfg = GPT2Config(vocab_size=50257, n_positions=1024, **shape)
        with torch.device(dev):
            model = GPT2LMHeadModel(cfg)
        model = model.half().eval()
        build_s = time.time() - t0
        gen = torch.Generator(device="cpu").manual_seed(1)
        def ids(n): return torch.randint(0, 50257, (1, n), generator=gen).to(dev)
        def forward(x, past=None):
            try: return model(x, past_key_values=past, use_cache=True, logits_to_keep=1)
            except TypeError: return model(x, past_key_values=past, use_cache=True)
        figs, entry = [], {"preset": preset, "prefill": [], "decode": []}
        with torch.inference_mode():
            prefill_lens = [p["promptTokens"] for p in ours["prefill"]] if ours else [128, 512]
            for n in prefill_lens:
                x = ids(n)
                for _ in range(2): forward(x).logits.argmax(-1).item()
                ts = []
                for _ in range(5):
                    torch.cuda.synchronize(); s = time.perf_counter()
                    forward(x).logits[:, -1].argmax(-1).item()
                    ts.append((time.perf_counter() - s) * 1000)
                ms = sorted(ts)[2]
                o = next((p["medianMs"] for p in ours["prefill"] if p["promptTokens"] == n), None) if ours else None
                entry["prefill"].append({"tokens": n, "torchMs": ms, "oursMs": o})
                figs.append(f"prefill {n}: {ms:.1f} ms" + (f" (ours {o:.1f}, ours/torch {o / ms:.2f})" if o else ""))
            contexts = [d["context"] for d in ours["decode"] if d["context"] in (128, 900)] if ours else [128, 900]
            for c in contexts:
                out = forward(ids(c - 8))
                past, nxt = out.past_key_values, out.logits[:, -1].argmax(-1, keepdim=True)
                ts = []
                for _ in range(16):
                    torch.cuda.synchronize(); s = time.perf_counter()
                    out = forward(nxt, past)
                    past, nxt = out.past_key_values, out.logits[:, -1].argmax(-1, keepdim=True)
                    nxt.item()
                    ts.append((time.perf_counter() - s) * 1000)
                ms = sorted(ts)[len(ts) // 2]
                o = next((d["msPerToken"]["p50"] for d in ours["decode"] if d["context"] == c), None) if ours else None
                entry["decode"].append({"context": c, "torchMsPerToken": ms, "oursMsPerToken": o})
                figs.append(f"decode @{c}: {ms:.2f} ms/tok" + (f" (ours {o:.2f}, ours/torch {o / ms:.2f})" if o else ""))
        result["hf"].append(entry)
        save()
        row(f"hf {preset} fp16 (eager)", "info", "; ".join(figs) + ("" if ours else "; ours n/a (no bench result)"))
        del model; torch.cuda.empty_cache()
    except Exception as e:
        row(f"hf {preset} fp16 (eager)", "error", f"{type(e).__name__}: {str(e).splitlines()[0][:160] if str(e) else ''}")
save()
PY
if ((!GPU)); then
  row "torch reference" skip "$NOGPU"
elif ! command -v python3 >/dev/null; then
  row "torch reference" skip "no python3"
else
  export PYTHONUNBUFFERED=1 GPU_CHECK_TORCH_SECONDS=$(($(left) < 150 ? $(left) : 150))
  run torch 150 0 python3 "$WORK/torch-ref.py" "$DEST/torch-ref.json" "$WORK"
  rows_from "$WORK/torch.out"
  if timed_out || ((RC == 125)); then row "torch reference" timeout "$(why_not_run) (rows above are what finished)"
  elif ((RC != 0)); then row "torch reference" error "exit $RC: $(grep -a -m1 -E 'Error' "$WORK/torch.out" | cut -c1-180)"; fi
fi

# ---------------------------------------------------------------------------------------------
# the slower sanitizers, with what time is left: shared-memory races and reads of memory never
# written in the kernel tests, and memcheck over one generate per graph kind on cuda (GPT-2's and
# the rotary graph's kernels, the decode step's CUDA graph included), checked against the CPU.
cat >"$WORK/generate.mts" <<'TS'
import { pathToFileURL } from "node:url";
const root = process.env.GPU_CHECK_ROOT!;
const { Gpt } = await import(pathToFileURL(`${root}/lib/index.ts`).href);
const { fixtureDir } = await import(pathToFileURL(`${root}/tests/helpers/fixtures.ts`).href);
const opts = { maxTokens: 24, temperature: 0, ignoreEos: true };
const figures: string[] = [];
for (const name of ["tiny-f32", "llama-gqa-f32"]) {
  const cpu = await Gpt.load(fixtureDir(name), { device: "cpu" });
  const gpu = await Gpt.load(fixtureDir(name), { device: "cuda" });
  const [a, b] = [await cpu.generate("The check", opts), await gpu.generate("The check", opts)];
  cpu.dispose();
  gpu.dispose();
  let same = 0;
  while (same < a.tokens.length && a.tokens[same] === b.tokens[same]) same++;
  figures.push(`${name} ${same}/${a.tokens.length} tokens = CPU`);
  if (same !== a.tokens.length) process.exitCode = 1;
}
console.log(`E2E ${figures.join(", ")}`);
TS
sanitize racecheck "racecheck kernels" 90 0 "$WORK/racecheck.json" "${VITEST[@]}" "${KERNEL_TESTS[@]}" --outputFile.json="$WORK/racecheck.json"
sanitize initcheck "initcheck kernels" 90 0 "$WORK/initcheck.json" "${VITEST[@]}" "${KERNEL_TESTS[@]}" --outputFile.json="$WORK/initcheck.json"
sanitize memcheck "memcheck e2e generate" 60 0 "" "${TSX[@]}" "$WORK/generate.mts"

# ---------------------------------------------------------------------------------------------
# the table, last
if ((FAILED)); then
  verdict="FAIL: $(printf '%s\n' "${ROWS[@]}" | awk -F'\t' '$2 == "FAIL" { printf "%s%s", sep, $1; sep = ", " }')"
  status=1
elif ((!GPU)); then
  verdict="NO GPU VISIBLE: built and ran the CPU-side checks only; nothing was checked on a GPU (exit 3)"
  status=3
else
  verdict="PASS: every correctness check passed on $(grep -a -m1 '^GPU ' <<<"${smi:-}" | sed 's/ (UUID.*//;s/^GPU [0-9]*: //')"
  status=0
fi
width=4
for r in "${ROWS[@]}"; do s=${r%%$'\t'*}; ((${#s} > width)) && width=${#s}; done
{
  echo
  echo "gpt-cuda gpu:check — $(date -u +%Y-%m-%dT%H:%M:%SZ), ${HOSTNAME:-?}, $(elapsed)s of ${BUDGET}s"
  printf "%-${width}s | %-7s | %s\n" step result figure
  printf "%-${width}s-+-%-7s-+-%s\n" "$(printf '%*s' "$width" '' | tr ' ' -)" "-------" "------"
  for r in "${ROWS[@]}"; do
    IFS=$'\t' read -r s res fig <<<"$r"
    printf "%-${width}s | %-7s | %s\n" "$s" "$res" "$fig"
  done
  echo "$verdict"
} >"$TABLE"
cat "$TABLE" >>"$LOG"
cat "$TABLE"
exit "$status"
