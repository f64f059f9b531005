// What the fuzzer mutates: one file of a fixture checkpoint at a time, the rest of the checkpoint
// linked in unchanged, so every mutant is a whole checkpoint a user could point Gpt.load at.
import { readFileSync } from "node:fs";
import { mkdir, readdir, symlink, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

import { mutateBytes, mutateJson, type Random } from "./mutate.js";

const MODELS = fileURLToPath(new URL("../fixtures/models/", import.meta.url));

export interface Target {
  /** "fixture/file" */
  name: string;
  fixture: string;
  file: string;
  json: boolean;
  /** Where the file's structure is, for the byte mutations: [from, to) ranges. */
  hot: (bytes: Uint8Array) => [number, number][];
}

const whole = (b: Uint8Array): [number, number][] => [[0, b.length]];
/** A safetensors file: its length prefix and JSON header. */
const safetensorsHeader = (b: Uint8Array): [number, number][] => [[0, Math.min(b.length, 8 + Number(new DataView(b.buffer, b.byteOffset).getBigUint64(0, true)))]];
/** A zip (.bin): the first entry's header and data.pkl, and the central directory with its end record. */
const zipStructure = (b: Uint8Array): [number, number][] => {
  const view = new DataView(b.buffer, b.byteOffset, b.byteLength);
  return [[0, Math.min(b.length, 2048)], [view.getUint32(b.length - 22 + 16, true), b.length]];
};

const target = (fixture: string, file: string, hot: Target["hot"] = whole): Target => ({
  name: `${fixture}/${file}`,
  fixture,
  file,
  json: file.endsWith(".json"),
  hot,
});

export const TARGETS: readonly Target[] = [
  target("tiny-f32", "model.safetensors", safetensorsHeader),
  target("tiny-f32", "config.json"),
  target("tiny-f32", "tokenizer.json"),
  target("tiny-f32", "tokenizer_config.json"),
  target("gpt-neo-f16-bin", "pytorch_model.bin", zipStructure),
  target("gpt-neo-f16-bin", "vocab.json"),
  target("gpt-neo-f16-bin", "merges.txt"),
  target("gpt-neo-f16-bin", "config.json"),
  target("llama-gqa-f32", "config.json"),
  target("llama-gqa-f32", "tokenizer.json"),
  target("llama-gqa-f32", "model.safetensors", safetensorsHeader),
  target("opt-bin-sharded", "pytorch_model.bin.index.json"),
  target("qwen2-f32", "config.json"),
];

const originals = new Map<string, Uint8Array>();
function original(t: Target): Uint8Array {
  let bytes = originals.get(t.name);
  if (!bytes) originals.set(t.name, (bytes = new Uint8Array(readFileSync(join(MODELS, t.fixture, t.file)))));
  return bytes;
}

/** The mutant's bytes: for a JSON file half the mutations are of its values, half of its bytes. */
export function mutant(t: Target, random: Random): Uint8Array {
  const base = original(t);
  if (t.json && random() < 0.5) {
    const text = mutateJson(Buffer.from(base).toString("utf8"), random);
    if (text !== null) return new TextEncoder().encode(text);
  }
  return mutateBytes(base, random, t.hot(base));
}

/** Writes the mutant checkpoint into the empty directory `dir`: the mutated file, links to the others. */
export async function writeMutant(t: Target, bytes: Uint8Array, dir: string): Promise<void> {
  await mkdir(dir, { recursive: true });
  const source = join(MODELS, t.fixture);
  for (const name of await readdir(source)) {
    if (name === t.file || name.startsWith("reference")) continue;
    await symlink(join(source, name), join(dir, name));
  }
  await writeFile(join(dir, t.file), bytes);
}
