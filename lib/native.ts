// Loads the native addon once, through node-gyp-build (build/Release first, then prebuilds/), or
// the file GPT_CUDA_ADDON names (the sanitizer build: scripts/test-asan.sh), and turns a failure
// into an error that says how to build it.
import { createRequire } from "node:module";
import { fileURLToPath } from "node:url";

import type { NativeBinding } from "../bindings.js";
import { GptError, GptInputError } from "./errors.js";

/** The package root: lib/ under tsx and vitest, dist/ once compiled — one level down either way. */
export const packageRoot = fileURLToPath(new URL("..", import.meta.url));

let binding: NativeBinding | undefined;

/** GPT_CPU_ISA's values: each caps the CPU kernels' level (native/cpu/isa.h). */
const CPU_LEVELS = ["generic", "avx2", "avx512", "amx"];

export function native(): NativeBinding {
  if (binding) return binding;
  const level = process.env.GPT_CPU_ISA;
  if (level && !CPU_LEVELS.includes(level))
    throw new GptInputError(`GPT_CPU_ISA must be one of ${CPU_LEVELS.join(", ")} (a cap on the CPU kernels' level), got ${JSON.stringify(level)}`);
  const require = createRequire(import.meta.url);
  try {
    const addon = process.env.GPT_CUDA_ADDON;
    if (addon) return (binding = require(addon) as NativeBinding);
    const load = require("node-gyp-build") as (dir: string) => NativeBinding;
    binding = load(packageRoot);
    return binding;
  } catch (cause) {
    const reason = cause instanceof Error ? cause.message.split("\n")[0] : String(cause);
    throw new GptError(
      "E_NATIVE",
      `gpt-cuda: the native addon could not be loaded (${reason}).\n` +
        `There is no prebuilt binary for ${process.platform}-${process.arch} here, or it does not load.\n` +
        `Build it from source in ${packageRoot} with:\n` +
        `  npx cmake-js compile        (needs CMake >= 3.18 and a C++17 compiler: g++ or clang++)\n` +
        `or run \`npm rebuild gpt-cuda\` from your project (npm may skip install scripts unless you allow them: ` +
        `\`npm install-scripts approve gpt-cuda\`).`,
      { cause },
    );
  }
}
