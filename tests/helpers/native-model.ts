/** A NativeModel straight from a checkpoint, for tests that drive forward() positions by hand. */
import type { NativeModel } from "../../bindings.js";
import { loadCheckpoint } from "../../lib/checkpoint/index.js";
import { native } from "../../lib/native.js";

/** `cudaDevice` null (the default) loads on the CPU; `prefetchNextStep` as in NativeModelSpec. */
export async function loadNativeModel(
  dir: string,
  threads = 2,
  cudaDevice: number | null = null,
  prefetchNextStep: boolean | null = null,
): Promise<NativeModel> {
  const ck = await loadCheckpoint(dir);
  return native().loadModel({
    ...ck.config,
    files: ck.files,
    tensors: [...ck.tensors.values()].map((t) => ({ ...t, file: ck.files.indexOf(t.file) })),
    convertTo: null,
    threads,
    cudaDevice,
    prefetchNextStep,
  });
}
