// Which backend a load runs on, from the `device` option and what this machine has.
import { cudaSelfCheck } from "./cuda-self-check.js";
import { GptError } from "./errors.js";
import { native } from "./native.js";
import type { Device } from "./options.js";

export interface BuildInfo {
  /** Whether this binary contains the CUDA backend. */
  cuda: boolean;
  /** The nvcc release the kernels were compiled with, e.g. "13.0.88"; null without CUDA. */
  cudaVersion: string | null;
  /** GPU code in the binary: "sm_80" … real code, then "compute_90" PTX. */
  archs: string[];
  /** The CPU kernels' level on this machine (capped by GPT_CPU_ISA): "avx512+amx", "avx512", "avx2" or "generic". */
  cpuIsa: string;
}

export interface GpuDevice {
  name: string;
  /** Bytes. */
  totalMemory: number;
  /** "major.minor", e.g. "9.0". */
  computeCapability: string;
}

export function buildInfo(): BuildInfo {
  const b = native().buildInfo();
  return { cuda: b.cuda, cudaVersion: b.cudaVersion, archs: b.archs, cpuIsa: b.cpuIsa };
}

export function devices(): GpuDevice[] {
  return native()
    .devices()
    .map(({ name, totalMemory, computeCapability }) => ({ name, totalMemory, computeCapability }));
}

/** Where device "auto" runs on this machine, and why. */
export interface AutoChoice {
  device: "cpu" | "cuda";
  reason: string;
}

/**
 * GPU 0 when this binary has CUDA, a GPU of compute capability 8.0 or newer is visible, and it
 * passes the once-per-process self-check (lib/cuda-self-check.ts); else the CPU.
 */
export async function autoDevice(): Promise<AutoChoice> {
  if (!native().buildInfo().cuda) return { device: "cpu", reason: "this binary was built without CUDA" };
  const gpu = devices()[0];
  if (!gpu) return { device: "cpu", reason: "no CUDA device is visible" };
  if (!supportsKernels(gpu.computeCapability)) return { device: "cpu", reason: tooOld(gpu) };
  const problem = await cudaSelfCheck(0);
  if (problem !== null) return { device: "cpu", reason: `the CUDA self-check failed on ${gpu.name}: ${problem}` };
  return { device: "cuda", reason: `${gpu.name} passed the CUDA self-check` };
}

/**
 * The CUDA device index to load on, or null for the CPU. "auto" as autoDevice() decides, with a
 * process warning when it stays on the CPU although a GPU is visible. Throws E_DEVICE when
 * "cuda" can't be had.
 */
export async function chooseDevice(device: Device): Promise<number | null> {
  if (device === "cpu") return null;
  const usable = native().buildInfo().cuda && devices().length > 0;
  if (device === "auto") {
    const choice = await autoDevice();
    if (choice.device === "cuda") return 0;
    if (usable)
      warnOnce(
        `gpt-cuda: device "auto" stays on the CPU: ${choice.reason}. device "cuda" runs on the GPU regardless ` +
          "where it can; please report this with the output of `npx gpt-cuda info`.",
      );
    return null;
  }
  if (!native().buildInfo().cuda)
    throw new GptError(
      "E_DEVICE",
      'device "cuda": this binary was built without the CUDA backend (nvcc was not found when it was compiled); ' +
        "install the CUDA toolkit (12 or newer) and rebuild with `npx cmake-js compile`, or use device \"cpu\"",
    );
  if (!usable)
    throw new GptError(
      "E_DEVICE",
      'device "cuda": no CUDA device is visible (no NVIDIA driver or GPU on this machine); use device "cpu" or "auto"',
    );
  const gpu = devices()[0]!;
  if (!supportsKernels(gpu.computeCapability))
    throw new GptError("E_DEVICE", `device "cuda": ${tooOld(gpu)}; use device "cpu"`);
  return 0;
}

/** Compute capability 8.0 (Ampere) or newer: the oldest GPU code in the binary is sm_80, and bfloat16 needs it. */
export function supportsKernels(computeCapability: string): boolean {
  const [major = NaN] = computeCapability.split(".").map(Number);
  return major >= 8;
}

function tooOld(gpu: GpuDevice): string {
  return `${gpu.name} has compute capability ${gpu.computeCapability}, and the CUDA kernels need 8.0 (Ampere) or newer`;
}

let warned = false;

function warnOnce(message: string): void {
  if (warned) return;
  warned = true;
  process.emitWarning(message, { code: "GPT_CUDA_AUTO_CPU" });
}
