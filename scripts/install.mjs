// npm's install hook. A consumer with a prebuilt binary for this platform needs nothing built;
// otherwise (and always in a git checkout, where sources change) the addon is compiled with
// cmake-js. A failed build says what to install and which command to run again.
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

const checkout = existsSync(join(root, ".git"));
if (!checkout && prebuildLoads()) {
  console.log(`gpt-cuda: using the prebuilt binary for ${process.platform}-${process.arch}`);
  process.exit(0);
}

const cmakeJs = require.resolve("cmake-js/bin/cmake-js");
const result = spawnSync(process.execPath, [cmakeJs, "compile"], { cwd: root, stdio: "inherit" });
if (result.status !== 0) {
  console.error(
    [
      "",
      "gpt-cuda: building the native addon failed.",
      "  It needs CMake >= 3.18 and a C++17 compiler (g++ >= 9 or clang++ >= 10); the CUDA backend",
      "  is optional and is built only when nvcc is found.",
      "  On Debian/Ubuntu: apt-get install cmake g++",
      `  Then build it again: (cd ${root} && npx cmake-js compile)  or  npm rebuild gpt-cuda`,
      "",
    ].join("\n"),
  );
  process.exit(result.status ?? 1);
}
