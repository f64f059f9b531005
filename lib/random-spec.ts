// The native spec of a model whose every weight is seeded random numbers: Gpt.random's models,
// and the small model the CUDA self-check (lib/cuda-self-check.ts) runs on both backends.
import type { NativeDtype, NativeModelSpec } from "../bindings.js";
import { expectedTensorShapes, gpt2Config, type ModelDims } from "./checkpoint/index.js";

/** A GPT-2 of these sizes. */
export function randomModelSpec(
  dims: ModelDims,
  dtype: NativeDtype,
  seed: number,
  threads: number,
  cudaDevice: number | null,
  kvBlocks: number,
): NativeModelSpec {
  const config = gpt2Config(dims);
  const tensors = [...expectedTensorShapes(config)].map(([name, shape]) => ({ name, dtype, shape, sources: [] }));
  const { modelType: _, ...graph } = config;
  return { ...graph, files: [], tensors, convertTo: null, randomSeed: seed, threads, cudaDevice, kvBlocks };
}
