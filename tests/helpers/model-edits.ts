/** Copies of fixture checkpoints with chosen weights rewritten, for behaviour a random model won't show. */
import { cp, mkdtemp, open, readFile, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";

import { loadCheckpoint } from "../../lib/checkpoint/index.js";
import { fixtureDir } from "./fixtures.js";
import { writeRandomCheckpoint } from "./random-checkpoint.js";

/**
 * tiny-f32 (F32) changed so that greedy decoding emits <|endoftext|> (id 1023) at every step:
 * with ln_f's scale zeroed the final hidden state is ln_f's bias b whatever the input, and the
 * EOS embedding row set to 10·b gives EOS a logit of 10·|b|², far above any other.
 */
export async function eosModel(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), "gpt-cuda-eos-"));
  await cp(fixtureDir("tiny-f32"), dir, { recursive: true });
  const ck = await loadCheckpoint(dir);
  const wte = ck.tensors.get("wte.weight")!;
  const gamma = ck.tensors.get("ln_f.weight")!;
  const beta = ck.tensors.get("ln_f.bias")!;
  const C = ck.config.nEmbd;
  const eos = 1023;
  const file = await open(wte.file, "r+");
  try {
    const bias = Buffer.alloc(beta.byteLength);
    await file.read(bias, 0, bias.length, beta.offset);
    const b = new Float32Array(bias.buffer, bias.byteOffset, C);
    await file.write(Buffer.alloc(gamma.byteLength), 0, gamma.byteLength, gamma.offset);
    const row = Float32Array.from(b, (v) => 10 * v);
    await file.write(Buffer.from(row.buffer), 0, C * 4, wte.offset + eos * C * 4);
  } finally {
    await file.close();
  }
  return dir;
}

/** tiny-f32 with a NaN in ln_f's bias: every logit is NaN, so every pick fails in the engine. */
export async function nanModel(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), "gpt-cuda-nan-"));
  await cp(fixtureDir("tiny-f32"), dir, { recursive: true });
  const ck = await loadCheckpoint(dir);
  const beta = ck.tensors.get("ln_f.bias")!;
  const file = await open(beta.file, "r+");
  try {
    await file.write(Buffer.from(Float32Array.of(NaN).buffer), 0, 4, beta.offset);
  } finally {
    await file.close();
  }
  return dir;
}

/**
 * tiny-f32 with chat files edited: tokenizer_config.json fields merged in, a chat_template.jinja
 * written, generation_config.json fields merged in (each only when given).
 */
export async function chatModel(edits: {
  tokenizerConfig?: Record<string, unknown>;
  jinja?: string;
  generationConfig?: Record<string, unknown>;
}): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), "gpt-cuda-chat-"));
  await cp(fixtureDir("tiny-f32"), dir, { recursive: true });
  const merge = async (name: string, fields: Record<string, unknown>) => {
    const file = join(dir, name);
    const current = JSON.parse(await readFile(file, "utf8")) as Record<string, unknown>;
    await writeFile(file, JSON.stringify({ ...current, ...fields }));
  };
  if (edits.tokenizerConfig) await merge("tokenizer_config.json", edits.tokenizerConfig);
  if (edits.generationConfig) await merge("generation_config.json", edits.generationConfig);
  if (edits.jinja !== undefined) await writeFile(join(dir, "chat_template.jinja"), edits.jinja);
  return dir;
}

/**
 * A random GPT-2 checkpoint (F16, 8 layers, 512 wide, 1024 positions) with tiny-f32's tokenizer
 * and `jinja` as its chat template: slow enough (a few hundred tokens/s on one thread) that a
 * test can act while a reply is still being generated, with room for long conversations.
 */
export async function slowChatModel(jinja: string): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), "gpt-cuda-slow-"));
  await writeRandomCheckpoint(dir, { nLayer: 8, nHead: 8, nEmbd: 512, nCtx: 1024, vocabSize: 1024 }, "F16");
  for (const file of ["tokenizer.json", "tokenizer_config.json"]) await cp(join(fixtureDir("tiny-f32"), file), join(dir, file));
  await writeFile(join(dir, "chat_template.jinja"), jinja);
  return dir;
}
