// The native spec of a model whose every weight is seeded random numbers: Gpt.random's models,
// and the small model the CUDA self-check (lib/cuda-self-check.ts) runs on both backends.
import type { NativeDtype, NativeModelSpec } from "../bindings.js";
import { expectedTensorShapes, type ModelConfig } from "./checkpoint/index.js";

export function randomModelSpec(
  config: ModelConfig,
  dtype: NativeDtype,
  seed: number,
  threads: number,
  cudaDevice: number | null,
  kvBlocks: number,
): NativeModelSpec {
  const tensors = [...expectedTensorShapes(config)].map(([name, dims]) => ({
    name,
    dtype,
    shape: dims,
    file: 0,
    offset: 0,
    byteLength: dims.reduce((a, b) => a * b, 1) * (dtype === "F32" ? 4 : 2),
  }));
  return { ...config, files: [], tensors, convertTo: null, randomSeed: seed, threads, cudaDevice, kvBlocks };
}
