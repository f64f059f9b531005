/** A NativeModel straight from a checkpoint, for tests that drive steps and block tables by hand. */
import type { NativeLogitsMode, NativeModel, NativeSampling } from "../../bindings.js";
import { loadCheckpoint } from "../../lib/checkpoint/index.js";
import { native } from "../../lib/native.js";
import { nativeModelSpec } from "../../lib/native-spec.js";

/** `cudaDevice` null (the default) loads on the CPU; the pool holds `kvBlocks` blocks. */
export async function loadNativeModel(
  dir: string,
  threads = 2,
  cudaDevice: number | null = null,
  kvBlocks = 64,
): Promise<NativeModel> {
  const ck = await loadCheckpoint(dir);
  return native().loadModel(nativeModelSpec(ck, { convertTo: null, mmap: true, threads, cudaDevice, kvBlocks }));
}

/** Blocks first … first + count − 1: a block table for one sequence. */
export function blockRange(count: number, first = 0): Int32Array {
  return Int32Array.from({ length: count }, (_, i) => first + i);
}

/** Runs `tokens` of one sequence at `start` through its block table; resolves with the step's result. */
export function runSequence(
  model: NativeModel,
  tokens: readonly number[],
  start: number,
  blocks: Int32Array,
  logits: NativeLogitsMode,
  sample: NativeSampling | null = null,
) {
  return model.step({
    tokens: Int32Array.from(tokens),
    segments: [{ rows: tokens.length, start, blocks, logits, sample }],
  });
}
