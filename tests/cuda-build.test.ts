/**
 * How the CUDA backend is built, checked without a GPU: the addon must load on a machine with no
 * NVIDIA driver, so it may not list libcuda or libcudart as NEEDED (cmake/cuda.cmake links the
 * runtime statically, and the static runtime dlopens the driver); buildInfo() says what GPU code
 * is inside; devices() is [] where no driver or GPU is; cudaOps refuses clearly without a device.
 */
import { execFileSync, spawnSync } from "node:child_process";
import { existsSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, expectTypeOf, it } from "vitest";

import type { NativeBinding, NativeBuildInfo, NativeCudaOps, NativeDevice } from "../bindings.js";
import { native, packageRoot } from "../lib/native.js";

const binding: NativeBinding = native();
expectTypeOf(binding.devices).returns.toEqualTypeOf<NativeDevice[]>();
expectTypeOf(binding.cudaOps).toEqualTypeOf<NativeCudaOps>();
expectTypeOf<NativeBuildInfo["cudaVersion"]>().toEqualTypeOf<string | null>();
expectTypeOf<NativeBuildInfo["archs"]>().toEqualTypeOf<string[]>();
expectTypeOf<NativeDevice>().toEqualTypeOf<{
  name: string;
  totalMemory: number;
  computeCapability: string;
  multiprocessors: number;
}>();

const ADDON = join(packageRoot, "build", "Release", "gpt_cuda.node");
const hasReadelf = spawnSync("readelf", ["--version"], { stdio: "ignore" }).status === 0;
/** Whether this machine has an NVIDIA driver node at all; without one, devices() must be []. */
const hasNvidiaDevice = existsSync("/dev") && readdirSync("/dev").some((f) => /^nvidia\d+$/.test(f));

describe("the addon's ELF dynamic section", () => {
  const reason = !existsSync(ADDON) ? " (skipped: no build/Release/gpt_cuda.node)" : !hasReadelf ? " (skipped: no readelf)" : "";
  it.skipIf(reason !== "")(`does not need libcuda or libcudart${reason}`, () => {
    const dynamic = execFileSync("readelf", ["-d", ADDON], { encoding: "utf8" });
    const needed = [...dynamic.matchAll(/\(NEEDED\)\s+Shared library: \[([^\]]+)\]/g)].map((m) => m[1]!);
    expect(needed.length, dynamic).toBeGreaterThan(0);
    expect(needed.filter((lib) => /^libcuda(rt)?\.so/.test(lib)), `NEEDED: ${needed.join(", ")}`).toEqual([]);
  });
});

describe("buildInfo() CUDA fields", () => {
  const info = binding.buildInfo();

  it("cudaVersion and archs agree with cuda", () => {
    if (info.cuda) {
      expect(info.cudaVersion).toMatch(/^\d+\.\d+(\.\d+)?$/);
      expect(Number(info.cudaVersion!.split(".")[0])).toBeGreaterThanOrEqual(12);
      expect(info.archs.length).toBeGreaterThanOrEqual(2);
      for (const a of info.archs) expect(a).toMatch(/^(sm|compute)_\d+[af]?$/);
      // Real code for each architecture, then PTX for the newest one only.
      const ptx = info.archs.filter((a) => a.startsWith("compute_"));
      expect(ptx).toHaveLength(1);
      expect(info.archs.at(-1)).toBe(ptx[0]);
      const newest = Math.max(...info.archs.filter((a) => a.startsWith("sm_")).map((a) => parseInt(a.slice(3), 10)));
      expect(parseInt(ptx[0]!.slice(8), 10)).toBe(newest);
    } else {
      expect(info.cudaVersion).toBeNull();
      expect(info.archs).toEqual([]);
    }
  });

});

describe("devices()", () => {
  const devices = binding.devices();

  it("returns an array of typed entries, stable between calls", () => {
    expect(Array.isArray(devices)).toBe(true);
    for (const d of devices) {
      expect(typeof d.name).toBe("string");
      expect(d.totalMemory).toBeGreaterThan(0);
      expect(d.computeCapability).toMatch(/^\d+\.\d+$/);
      expect(Number.isInteger(d.multiprocessors)).toBe(true);
    }
    expect(binding.devices()).toEqual(devices);
  });

  it.skipIf(hasNvidiaDevice)("is empty on a machine without an NVIDIA device node (and does not crash)", () => {
    expect(devices).toEqual([]);
  });

  it.skipIf(devices.length > 0)("without a device, every cudaOps function throws a clear error", () => {
    const ops = binding.cudaOps as unknown as Record<string, (args: unknown) => unknown>;
    expect(Object.keys(ops).sort()).toEqual(["attention", "embed", "layernorm", "lmHead", "matmul", "memInfo", "rmsnorm", "rotary", "sample"]);
    const message = binding.buildInfo().cuda ? /needs a CUDA device/ : /built without it/;
    for (const [name, fn] of Object.entries(ops)) expect(() => fn({}), name).toThrow(message);
  });
});
