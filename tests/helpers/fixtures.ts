/** The golden model fixtures made by scripts/make-fixtures.py from Hugging Face transformers. */
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";

export const FIXTURE_NAMES = ["tiny-f32", "tiny-f16-sharded", "tiny-bf16", "fallback-vocab"] as const;
/** The other families' fixtures, made by scripts/make-family-fixtures.py and (the rotary ones) scripts/make-rotary-fixtures.py. */
export const FAMILY_FIXTURES = [
  "opt-f32",
  "opt-postln-f16",
  "opt-bin-sharded",
  "bloom-f32",
  "bloom-bf16",
  "bloom-f16-bin",
  "gpt-neo-f32",
  "gpt-neo-f16-bin",
  "llama-gqa-f32",
  "llama-hd80-bf16",
  "qwen2-f32",
  "gptj-f16",
  "neox-parallel-f32",
  "neox-seq-f16-bin",
] as const;

/** config.json's model_type of a family fixture, read from its reference.json's family. */
export function fixtureModelType(name: (typeof FAMILY_FIXTURES)[number]): string {
  const json = JSON.parse(readFileSync(`${fixtureDir(name)}/reference.json`, "utf8")) as { family: string };
  return json.family;
}
export type FixtureName = (typeof FIXTURE_NAMES)[number] | (typeof FAMILY_FIXTURES)[number];

export interface Reference {
  dtype: "F32" | "F16" | "BF16";
  prompt_text: string;
  prompt_ids: number[];
  greedy: { prompt_ids: number[]; max_new_tokens: number; tokens: number[] };
  tokenizer_cases: { text: string; ids: number[] }[];
  /** prompt_ids.length × vocab next-token logits from GPT2LMHeadModel in fp32. */
  logits: Float32Array;
}

export function fixtureDir(name: FixtureName): string {
  return fileURLToPath(new URL(`../fixtures/models/${name}`, import.meta.url));
}

export function reference(name: FixtureName): Reference {
  const dir = fixtureDir(name);
  const json = JSON.parse(readFileSync(`${dir}/reference.json`, "utf8")) as Omit<Reference, "logits"> & {
    logits_file: string;
  };
  const bytes = readFileSync(`${dir}/${json.logits_file}`);
  const logits = new Float32Array(bytes.buffer, bytes.byteOffset, bytes.byteLength / 4);
  return { ...json, logits: Float32Array.from(logits) };
}

/** max |got − want| / max |want|: the golden tests' error measure. */
export function relativeMaxError(got: Float32Array, want: Float32Array): number {
  if (got.length !== want.length) throw new Error(`length ${got.length} != ${want.length}`);
  let err = 0;
  let scale = 0;
  for (let i = 0; i < want.length; i++) {
    err = Math.max(err, Math.abs(got[i]! - want[i]!));
    scale = Math.max(scale, Math.abs(want[i]!));
  }
  return err / scale;
}
