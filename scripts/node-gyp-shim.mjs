#!/usr/bin/env node
// Stands in for node-gyp when prebuildify runs (`prebuildify --node-gyp scripts/node-gyp-shim.mjs`),
// so that the prebuild is compiled by cmake-js from CMakeLists.txt.
//
// prebuildify spawns this file directly (hence the shebang and the executable bit), from the
// package root, once per target, as
//   node-gyp rebuild --target=<node version> --devdir=<tmp>/prebuildify/node --arch=<arch> --release|--debug
// and then takes the first *.node in build/Release (build/Debug with --debug), strips it and
// moves it to prebuilds/<platform>-<arch>/. The addon is N-API only: cmake-js compiles it against
// node-api-headers (package.json's "binary.napi_versions"), so the Node version (--target) and
// the header cache (--devdir) do not matter and nothing is downloaded.
import { spawnSync } from "node:child_process";
import { createRequire } from "node:module";
import { dirname } from "node:path";
import { fileURLToPath } from "node:url";

const root = dirname(dirname(fileURLToPath(import.meta.url)));
const [command, ...flags] = process.argv.slice(2);

function fail(message) {
  console.error(`node-gyp-shim: ${message}`);
  process.exit(1);
}

// node-gyp's commands map one to one onto cmake-js's; "rebuild" starts from an empty build/, so
// a prebuild never inherits a developer's cached configuration.
if (!["rebuild", "build", "configure", "clean"].includes(command))
  fail(`unsupported command ${JSON.stringify(command)} (expected rebuild, build, configure or clean)`);

const args = [command];
for (const flag of flags) {
  const [name, value] = flag.split("=", 2);
  if (name === "--debug") args.push("--debug");
  else if (name === "--arch" && value !== process.arch)
    fail(`cannot cross-compile from ${process.arch}: prebuilds for ${value} must be built on ${value}`);
  else if (!["--release", "--arch", "--target", "--devdir", "--runtime", "--dist-url"].includes(name))
    fail(`unknown node-gyp option ${flag}`);
}

const cmakeJs = createRequire(import.meta.url).resolve("cmake-js/bin/cmake-js");
console.log(`node-gyp-shim: cmake-js ${args.join(" ")}`);
const result = spawnSync(process.execPath, [cmakeJs, ...args], { cwd: root, stdio: "inherit" });
process.exit(result.status ?? 1);
