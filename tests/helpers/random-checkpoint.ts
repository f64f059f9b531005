/** A GPT-2 checkpoint of random weights with given dimensions, written to a directory. */
import { randomBytes } from "node:crypto";
import { mkdir, writeFile } from "node:fs/promises";
import { join } from "node:path";

import { expectedTensorShapes } from "../../lib/checkpoint/index.js";
import type { ModelDims } from "../../lib/checkpoint/types.js";
import { writeSafetensors } from "./safetensors-writer.js";

export interface RandomModelShape {
  nLayer: number;
  nHead: number;
  nEmbd: number;
  nCtx: number;
  vocabSize: number;
}

/**
 * Values are uniform in [-0.5, 0.5) — finite, never zero-filled — stored as `dtype`.
 * Returns the checkpoint's byte size.
 */
export async function writeRandomCheckpoint(dir: string, shape: RandomModelShape, dtype: "F32" | "F16"): Promise<number> {
  await mkdir(dir, { recursive: true });
  const config: ModelDims = { ...shape, nInner: 4 * shape.nEmbd, layerNormEpsilon: 1e-5 };
  await writeFile(
    join(dir, "config.json"),
    JSON.stringify({
      model_type: "gpt2",
      architectures: ["GPT2LMHeadModel"],
      activation_function: "gelu_new",
      n_layer: shape.nLayer,
      n_head: shape.nHead,
      n_embd: shape.nEmbd,
      n_positions: shape.nCtx,
      vocab_size: shape.vocabSize,
      layer_norm_epsilon: 1e-5,
    }),
  );
  const tensors = [...expectedTensorShapes(config)].map(([name, dims]) => {
    const count = dims.reduce((a, b) => a * b, 1);
    return { name, dtype, shape: dims, data: randomValues(count, dtype) };
  });
  const written = await writeSafetensors(join(dir, "model.safetensors"), tensors);
  return written.size;
}

function randomValues(count: number, dtype: "F32" | "F16"): Buffer {
  const raw = randomBytes(count * 2);
  if (dtype === "F16") {
    // Sign, exponent 0b01101 or 0b01110 (0.125 … 0.5), random mantissa: finite and non-zero.
    const h = new Uint16Array(raw.buffer, raw.byteOffset, count);
    for (let i = 0; i < count; i++) h[i] = (h[i]! & 0x83ff) | (0x3400 + ((h[i]! >> 10) & 1) * 0x400);
    return Buffer.from(h.buffer, h.byteOffset, count * 2);
  }
  const f = new Float32Array(count);
  const u = new Uint16Array(raw.buffer, raw.byteOffset, count);
  for (let i = 0; i < count; i++) f[i] = (u[i]! + 1) / 65537 - 0.5;
  return Buffer.from(f.buffer);
}
