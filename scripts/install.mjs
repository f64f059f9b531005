// npm's install hook. A consumer with a prebuilt binary for this platform needs nothing built;
// otherwise (and always in a git checkout, where sources change) the addon is compiled with
// cmake-js. A failed build names what is missing and the command to run again.
//
// npm may skip this hook for dependencies (allowScripts); the prebuilds in the published tarball
// cover that, and lib/native.ts names the build command when no binary loads.
import { spawnSync } from "node:child_process";
import { existsSync, readdirSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const root = dirname(dirname(fileURLToPath(import.meta.url)));
const require = createRequire(import.meta.url);

function prebuildLoads() {
  const dir = join(root, "prebuilds", `${process.platform}-${process.arch}`);
  if (!existsSync(dir) || !readdirSync(dir).some((f) => f.endsWith(".node"))) return false;
  try {
    require("node-gyp-build")(root);
    return true;
  } catch {
    return false;
  }
}

function runs(command) {
  return spawnSync(command, ["--version"], { stdio: "ignore" }).status === 0;
}

function missingTools() {
  const missing = [];
  if (!runs("cmake")) missing.push("cmake");
  if (!runs("ninja") && !runs("make")) missing.push("make (or ninja)");
  if (![process.env.CXX, "c++", "g++", "clang++"].some((cxx) => cxx && runs(cxx)))
    missing.push("a C++ compiler (c++, g++ or clang++)");
  return missing;
}

const checkout = existsSync(join(root, ".git"));
if (!checkout && prebuildLoads()) {
  console.log(`gpt-cuda: using the prebuilt binary for ${process.platform}-${process.arch}`);
  process.exit(0);
}

const cmakeJs = require.resolve("cmake-js/bin/cmake-js");
const result = spawnSync(process.execPath, [cmakeJs, "compile"], { cwd: root, stdio: "inherit" });
if (result.status !== 0) {
  const missing = missingTools();
  console.error(
    [
      "",
      checkout
        ? "gpt-cuda: building the native addon failed."
        : `gpt-cuda: no prebuilt binary for ${process.platform}-${process.arch} loads here, and building the addon failed.`,
      missing.length > 0
        ? `  Not found on PATH: ${missing.join(", ")}.`
        : "  CMake, a build tool and a C++ compiler were found: the output above says what went wrong.",
      "  The build needs CMake >= 3.18, make or ninja, and a C++17 compiler (g++ >= 9 or clang++ >= 10);",
      "  the CUDA backend is optional and is built only when nvcc is found.",
      "  On Debian/Ubuntu: apt-get install cmake make g++",
      `  Then build it again: node ${fileURLToPath(import.meta.url)}`,
      "",
    ].join("\n"),
  );
  process.exit(result.status ?? 1);
}
