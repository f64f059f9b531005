// Which backend a load runs on, from the `device` option and what this machine has.
import { GptError } from "./errors.js";
import { native } from "./native.js";
import type { Device } from "./options.js";

/**
 * The CUDA kernels compile here but have not yet passed `npm run gpu:check` on a GPU, so "auto"
 * keeps to the CPU until they have; "cuda" runs them when asked.
 */
const CUDA_VALIDATED = false;

export interface BuildInfo {
  /** Whether this binary contains the CUDA backend. */
  cuda: boolean;
  /** The nvcc release the kernels were compiled with, e.g. "13.0.88"; null without CUDA. */
  cudaVersion: string | null;
  /** GPU code in the binary: "sm_80" … real code, then "compute_90" PTX. */
  archs: string[];
  /** The instruction set the CPU kernels use on this machine: "avx512f", "avx2+f16c" or "generic". */
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

/** The CUDA device index to load on, or null for the CPU. Throws E_DEVICE when "cuda" can't be had. */
export function chooseDevice(device: Device): number | null {
  if (device === "cpu") return null;
  const usable = native().buildInfo().cuda && devices().length > 0;
  if (device === "auto") return usable && CUDA_VALIDATED ? 0 : null;
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
  return 0;
}
