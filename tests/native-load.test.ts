// When the addon is missing, loading the library fails with an error that says how to build it.
import { execFileSync } from "node:child_process";
import { cpSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

import { afterAll, describe, expect, it } from "vitest";

const root = fileURLToPath(new URL("..", import.meta.url));

describe("a package without a built addon", () => {
  // A copy of the library (lib/ and its assets) with no build/ and no prebuilds/.
  const pkg = mkdtempSync(join(tmpdir(), "gpt-cuda-nobinary-"));
  cpSync(join(root, "lib"), join(pkg, "lib"), { recursive: true });
  cpSync(join(root, "bindings.d.ts"), join(pkg, "bindings.d.ts"));
  cpSync(join(root, "package.json"), join(pkg, "package.json"));
  symlinkSync(join(root, "node_modules"), join(pkg, "node_modules"));
  afterAll(() => rmSync(pkg, { recursive: true, force: true }));

  it("throws E_NATIVE naming the build command and the toolchain", () => {
    const script = join(pkg, "probe.mts");
    writeFileSync(
      script,
      `import { Gpt } from "./lib/index.js";
try { await Gpt.load("${join(root, "tests/fixtures/models/tiny-f32")}"); console.log("loaded"); }
catch (e) { console.log(JSON.stringify({ code: e.code, message: e.message })); }`,
    );
    const out = execFileSync(process.execPath, ["--import", "tsx", script], { cwd: pkg, encoding: "utf8" });
    const { code, message } = JSON.parse(out.trim()) as { code: string; message: string };
    expect(code).toBe("E_NATIVE");
    expect(message).toMatch(/native addon could not be loaded/);
    expect(message).toContain("npx cmake-js compile");
    expect(message).toMatch(/CMake >= 3\.18 and a C\+\+17 compiler/);
    expect(message).toContain("npm rebuild gpt-cuda");
  });
});
