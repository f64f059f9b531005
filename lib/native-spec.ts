// The native spec of a checkpoint (NativeModelSpec): its graph and sizes from the architecture
// description, and each engine tensor's sources as indices into its files.
import type { NativeDtype, NativeModelSpec } from "../bindings.js";
import type { Checkpoint } from "./checkpoint/index.js";

export interface NativeRun {
  convertTo: NativeDtype | null;
  quantize?: "int8" | null;
  compute?: "bfloat16" | null;
  mmap: boolean;
  threads: number;
  cudaDevice: number | null;
  kvBlocks: number;
}

export function nativeModelSpec(checkpoint: Checkpoint, run: NativeRun): NativeModelSpec {
  const fileIndex = new Map(checkpoint.files.map((f, i) => [f, i]));
  const { modelType: _, ...graph } = checkpoint.config;
  return {
    ...graph,
    files: checkpoint.files,
    tensors: checkpoint.engineTensors.map((t) => ({
      name: t.name,
      dtype: t.dtype,
      shape: t.shape,
      sources: t.sources.map((s) => ({ file: fileIndex.get(s.file)!, offset: s.offset, byteLength: s.byteLength, dtype: s.dtype, shape: s.shape })),
      ...(t.rowOrder ? { rowOrder: t.rowOrder } : {}),
      ...(t.transpose ? { transpose: true } : {}),
    })),
    ...run,
  };
}
