#!/usr/bin/env bash
# Packs gpt-cuda the way it is published and proves another project can use the tarball:
# npm pack (prepack compiles dist/ and the prebuild), check the file list and size, configure the
# packed sources with CMake (what a consumer without a prebuild compiles), install the tarball
# into a fresh project with --ignore-scripts (no build: only the prebuild can load), and run
# examples/quickstart.mjs there against a fixture model, then examples/ai-sdk.mjs with the real
# ai package and a TypeScript consumer type-checked against the shipped types. Ends with one PASS
# or FAIL line.
set -euo pipefail

repo="$(cd "$(dirname "$0")/.." && pwd)"
model="$repo/tests/fixtures/models/tiny-f32"
max_packed_bytes=$((30 * 1024 * 1024))  # the demo model (~14 MB of F16 weights) is most of it
tuple="$(node -p 'process.platform + "-" + process.arch')"
work="$(mktemp -d "${TMPDIR:-/tmp}/gpt-cuda-pack.XXXXXX")"
step="start"

finish() {
  local rc=$?
  rm -rf "$work"
  if [ "$rc" -eq 0 ]; then echo "pack-smoke: PASS"; else echo "pack-smoke: FAIL (at: $step)" >&2; fi
}
trap finish EXIT

fail() {
  echo "pack-smoke: $*" >&2
  exit 1
}

step="npm pack"
(cd "$repo" && npm pack --pack-destination "$work" --silent)
tarball="$(ls "$work"/gpt-cuda-*.tgz)"

step="tarball contents"
files="$(tar -tzf "$tarball" | sed 's|^package/||' | sort)"
for required in package.json dist/index.js dist/index.d.ts bindings.d.ts \
  assets/gpt2/vocab.json assets/gpt2/merges.txt CMakeLists.txt cmake/cuda.cmake native/addon.cpp \
  scripts/install.mjs scripts/node-gyp-shim.mjs bin/gpt-cuda.mjs \
  assets/default-model/config.json assets/default-model/model.safetensors; do
  grep -qxF "$required" <<<"$files" || fail "the tarball lacks $required"
done
grep -qE "^prebuilds/$tuple/[^/]+\.node$" <<<"$files" || fail "the tarball has no prebuild for $tuple"
forbidden="$(grep -E '^(tests|build|node_modules|bench|\.ci|\.git)/|\.tgz$' <<<"$files" || true)"
[ -z "$forbidden" ] || fail "the tarball holds files it should not: $(head -5 <<<"$forbidden" | tr '\n' ' ')"
packed_bytes="$(wc -c <"$tarball")"
unpacked_bytes="$(tar -xzOf "$tarball" | wc -c)"
echo "pack-smoke: $(basename "$tarball"): $(wc -l <<<"$files") files, $((packed_bytes / 1024)) KiB packed, $((unpacked_bytes / 1024)) KiB unpacked"
echo "pack-smoke: prebuilds: $(grep '^prebuilds/' <<<"$files" | tr '\n' ' ')"
[ "$packed_bytes" -le "$max_packed_bytes" ] || fail "the tarball is $packed_bytes bytes, over the $max_packed_bytes limit"

step="the packed sources configure"
# A consumer without a matching prebuild compiles these; CMake must find every file it reads.
mkdir "$work/source"
tar -xzf "$tarball" -C "$work/source"
cmake -S "$work/source/package" -B "$work/source-build" -DGPT_CUDA=OFF >"$work/configure.log" 2>&1 ||
  fail "cmake cannot configure the packed sources: $(grep -m1 -iE 'error' "$work/configure.log")"

step="npm install in a consumer project"
mkdir "$work/consumer"
cd "$work/consumer"
echo '{ "name": "gpt-cuda-consumer", "private": true, "type": "module" }' >package.json
npm install "$tarball" --ignore-scripts --prefer-offline --no-audit --no-fund --silent
[ ! -e node_modules/gpt-cuda/build ] || fail "node_modules/gpt-cuda/build exists: something was compiled"
addon="$(node -p 'require("node-gyp-build").path("node_modules/gpt-cuda")')"
case "$addon" in
  */node_modules/gpt-cuda/prebuilds/"$tuple"/*.node) echo "pack-smoke: the addon resolves to ${addon#"$work/consumer/"}" ;;
  *) fail "the addon resolves to $addon, not to a prebuild" ;;
esac

step="install script with a prebuild"
install_log="$(node node_modules/gpt-cuda/scripts/install.mjs 2>&1)" || fail "scripts/install.mjs failed: $install_log"
grep -q "using the prebuilt binary" <<<"$install_log" || fail "scripts/install.mjs did not settle for the prebuild: $install_log"

step="source maps carry their sources"
# The package ships dist/ without lib/: a map that only pointed at ../lib/*.ts would leave a
# user's stack trace on lines nobody can open.
node -e '
  const { readdirSync, readFileSync } = require("node:fs");
  const { join } = require("node:path");
  const walk = (d) => readdirSync(d, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? walk(join(d, e.name)) : [join(d, e.name)]));
  const maps = walk("node_modules/gpt-cuda/dist").filter((f) => f.endsWith(".js.map"));
  if (maps.length === 0) throw new Error("no source maps in dist/");
  for (const f of maps) {
    const m = JSON.parse(readFileSync(f, "utf8"));
    if (!Array.isArray(m.sourcesContent) || m.sourcesContent.length !== m.sources.length || m.sourcesContent.some((c) => !c))
      throw new Error(f + " has no sourcesContent");
  }
  console.log("pack-smoke: " + maps.length + " source maps, each with its TypeScript source inlined");
' || fail "a source map in dist/ lacks its sources"

step="examples/quickstart.mjs with no argument (the bundled model)"
cp "$repo/examples/quickstart.mjs" .
node quickstart.mjs >/dev/null || fail "quickstart.mjs without an argument exited with $?"

step="examples/quickstart.mjs"
output="$(node quickstart.mjs "$model")" || fail "quickstart.mjs exited with $?; its output: $output"
printf '%s\n' "$output" | sed 's/^/  | /'
head -1 <<<"$output" | grep -qE '^2 layers, 1024 tokens, on (cpu|cuda)$' || fail "the first line is not the model summary"
grep -qE '^[0-9]+ tokens, finished by (length|eos)$' <<<"$output" || fail "no 'N tokens, finished by ...' line"

step="npx gpt-cuda generate with the bundled model"
cli_output="$(npx --no-install gpt-cuda generate --max-tokens 12 --temperature 0 "Once upon a time")" ||
  fail "gpt-cuda generate exited with $?"
printf '  | %s\n' "$cli_output"
[ -n "$cli_output" ] || fail "gpt-cuda generate printed nothing"

step="gpt-cuda/ai-sdk with the real ai package (an optional peer dependency)"
ai_version="$(node -p "require('$repo/node_modules/ai/package.json').version")"
npm install "ai@$ai_version" --prefer-offline --no-audit --no-fund --silent
cp "$repo/examples/ai-sdk.mjs" .
ai_output="$(node ai-sdk.mjs 2>&1)" || fail "examples/ai-sdk.mjs exited with $?; its output: $ai_output"
sed 's/^/  | /' <<<"$ai_output"
grep -qE '^".*": [0-9]+ tokens, finished by (length|stop)$' <<<"$ai_output" || fail "examples/ai-sdk.mjs printed no 'N tokens, finished by ...' line"

step="the shipped types, as a TypeScript consumer uses them"
# The package's .d.ts files with ai's, under the settings a consumer would have: `using` a Gpt,
# a gptCuda model where ai takes a LanguageModel, and a setting gptCuda does not take refused.
cat >consumer.mts <<'TS'
import { generateText, type LanguageModel } from "ai";
import { Gpt, type GenerateResult } from "gpt-cuda";
import { gptCuda, type GptCudaSettings } from "gpt-cuda/ai-sdk";
import { serve, type GptServer } from "gpt-cuda/server";

const settings: GptCudaSettings = { device: "cpu", chatTemplate: "{{ messages[0].content }}" };
export const model: LanguageModel = gptCuda(undefined, settings);
export async function run(): Promise<[GenerateResult, string, GptServer]> {
  using gpt = await Gpt.load();
  const result = await gpt.generate("Hi", { maxTokens: 2 });
  const { text } = await generateText({ model: gptCuda(gpt), prompt: "Hi" });
  return [result, text, await serve(gpt, { port: 0 })];
}
// @ts-expect-error: temperature is a call setting, not a gptCuda setting
gptCuda(undefined, { temperature: 1 });
TS
cat >tsconfig.json <<JSON
{
  "compilerOptions": {
    "module": "nodenext", "moduleResolution": "nodenext", "target": "es2022",
    "lib": ["es2023", "esnext.disposable"], "strict": true, "noEmit": true, "skipLibCheck": true,
    "types": ["node"], "typeRoots": ["$repo/node_modules/@types"]
  },
  "files": ["consumer.mts"]
}
JSON
node "$repo/node_modules/typescript/bin/tsc" -p tsconfig.json || fail "a TypeScript consumer does not type-check against the shipped types"
echo "pack-smoke: a TypeScript consumer type-checks against dist/*.d.ts and ai's types"
