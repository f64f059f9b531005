/**
 * The GPT-3-era families (OPT pre- and post-LayerNorm, BLOOM with ALiBi, GPT-Neo with local
 * windows), from safetensors and from PyTorch .bin files, against Hugging Face transformers:
 * every position's logits, the greedy continuation, and a sequence's logits the same alone and
 * batched with another (tests/fixtures/models/*, made by scripts/make-family-fixtures.py).
 */
import { cp, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

import { afterAll, beforeAll, describe, expect, it } from "vitest";

import type { NativeModel } from "../bindings.js";
import { loadCheckpoint } from "../lib/checkpoint/index.js";
import { GptLoadError } from "../lib/errors.js";
import { FAMILY_FIXTURES, fixtureDir, reference, relativeMaxError, type Reference } from "./helpers/fixtures.js";
import { blockRange, loadNativeModel } from "./helpers/native-model.js";
import { startTestServer, type TestServer } from "./helpers/test-server.js";

const GREEDY = { temperature: 0, topK: 0, topP: 1, u: 0.5 };

for (const name of FAMILY_FIXTURES) {
  describe(`family golden: ${name}`, () => {
    let model: NativeModel;
    let ref: Reference;
    beforeAll(async () => {
      ref = reference(name);
      model = await loadNativeModel(fixtureDir(name), 2, null, 16);
    });
    afterAll(() => model.dispose());

    it("reads config.json with its family's description", async () => {
      const { config } = await loadCheckpoint(fixtureDir(name));
      expect(config.modelType).toBe(name.startsWith("opt") ? "opt" : name.startsWith("bloom") ? "bloom" : "gpt_neo");
    });

    it("gives Hugging Face's logits at every position (max error ≤ 1e-4 × max |logit|)", async () => {
      const out = await model.step({
        tokens: Int32Array.from(ref.prompt_ids),
        segments: [{ rows: ref.prompt_ids.length, start: 0, blocks: blockRange(16), logits: "all" }],
      });
      expect(relativeMaxError(out.logits, ref.logits)).toBeLessThanOrEqual(1e-4);
    });

    it("reproduces Hugging Face's greedy continuation token for token", async () => {
      const ids = [...ref.greedy.prompt_ids];
      const picked: number[] = [];
      let start = 0;
      for (let i = 0; i < ref.greedy.max_new_tokens; i++) {
        const rows = ids.length - start;
        const out = await model.step({
          tokens: Int32Array.from(ids.slice(start)),
          segments: [{ rows, start, blocks: blockRange(16), logits: "none", sample: GREEDY }],
        });
        start = ids.length;
        ids.push(out.tokens[0]!);
        picked.push(out.tokens[0]!);
      }
      expect(picked).toEqual(ref.greedy.tokens);
    });

    it("gives a sequence the same logits alone and batched with another", async () => {
      const a = ref.prompt_ids;
      const b = [...ref.prompt_ids].reverse().slice(0, 7);
      const alone = await model.step({
        tokens: Int32Array.from(a),
        segments: [{ rows: a.length, start: 0, blocks: blockRange(8), logits: "all" }],
      });
      const both = await model.step({
        tokens: Int32Array.from([...b, ...a]),
        segments: [
          { rows: b.length, start: 0, blocks: blockRange(8, 8), logits: "none" },
          { rows: a.length, start: 0, blocks: blockRange(8), logits: "all" },
        ],
      });
      expect(Array.from(both.logits)).toEqual(Array.from(alone.logits));
    });
  });
}

describe("family checkpoints that cannot load", () => {
  const dirs: string[] = [];
  afterAll(async () => {
    for (const dir of dirs) await rm(dir, { recursive: true, force: true });
  });

  /** A copy of fixture `name` with config.json's fields changed (undefined removes one). */
  async function edited(name: (typeof FAMILY_FIXTURES)[number], fields: Record<string, unknown>): Promise<string> {
    const dir = await mkdtemp(join(tmpdir(), `gpt-cuda-${name}-`));
    dirs.push(dir);
    await cp(fixtureDir(name), dir, { recursive: true });
    const file = join(dir, "config.json");
    const config = { ...(JSON.parse(await readFile(file, "utf8")) as Record<string, unknown>), ...fields };
    await writeFile(file, JSON.stringify(config));
    return dir;
  }

  async function expectLoadError(dir: string, code: string, ...fragments: string[]) {
    const error = await loadCheckpoint(dir).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(GptLoadError);
    expect(error).toMatchObject({ code });
    for (const fragment of fragments) expect((error as Error).message).toContain(fragment);
  }

  it.each([
    ["opt-f32", { ffn_dim: undefined }, "E_CHECKPOINT", "missing ffn_dim"],
    ["opt-f32", { activation_function: "silu" }, "E_UNSUPPORTED", 'activation_function "silu" is not supported'],
    ["opt-f32", { do_layer_norm_before: "yes" }, "E_CHECKPOINT", 'do_layer_norm_before must be true or false, got "yes"'],
    ["bloom-f32", { n_head: 5 }, "E_CHECKPOINT", "hidden_size (96) is not divisible by n_head (5)"],
    ["bloom-f32", { slow_but_exact: true, pretraining_tp: 4 }, "E_UNSUPPORTED", "slow_but_exact"],
    ["gpt-neo-f32", { attention_layers: ["global", "sparse"] }, "E_UNSUPPORTED", 'attention layer kind "sparse"'],
    ["gpt-neo-f32", { attention_layers: ["global"] }, "E_CHECKPOINT", "attention_layers must name a kind for each of the 2 layers"],
    ["gpt-neo-f32", { model_type: "llama" }, "E_UNSUPPORTED", 'model_type "llama" is not supported (supported: "gpt2", "opt", "bloom", "gpt_neo")'],
  ] as const)("%s with %j: %s", async (name, fields, code, fragment) => {
    await expectLoadError(await edited(name, fields), code, "config.json", fragment);
  });

  it("reads BLOOM's legacy n_embed over hidden_size, as BloomConfig does, and names the key it used", async () => {
    expect((await loadCheckpoint(await edited("bloom-f32", { n_embed: 96, hidden_size: 50 }))).config.nEmbd).toBe(96);
    await expectLoadError(await edited("bloom-f32", { n_embed: 50 }), "E_CHECKPOINT", "n_embed (50) is not divisible by n_head (6)");
  });

  it("names a stored tensor whose shape the config does not imply", async () => {
    const dir = await edited("opt-f32", { ffn_dim: 100 });
    await expectLoadError(dir, "E_CHECKPOINT", 'tensor "model.decoder.layers.0.fc1.weight" has shape [192, 64], but config.json implies [100, 64]');
  });

  it("refuses a .bin whose pickle calls os.system, naming the global, and runs nothing", async () => {
    const dir = await edited("gpt-neo-f16-bin", {});
    await cp(fileURLToPath(new URL("./fixtures/bin/malicious-os-system.bin", import.meta.url)), join(dir, "pytorch_model.bin"));
    await expectLoadError(dir, "E_CHECKPOINT", "pytorch_model.bin", '"os.system"', "nothing in the file was run");
  });
});

for (const name of FAMILY_FIXTURES) {
  describe(`family through Gpt and the server: ${name}`, () => {
    let served: TestServer;
    let ref: Reference;
    beforeAll(async () => {
      ref = reference(name);
      served = await startTestServer(fixtureDir(name), { threads: 2 });
    });
    afterAll(() => served.close());

    it("encodes the prompt and every tokenizer case as Hugging Face does (with and without its special tokens), and decodes them back", () => {
      const { tokenizer } = served.gpt;
      expect(tokenizer.encode(ref.prompt_text)).toEqual(ref.prompt_ids);
      for (const c of ref.tokenizer_cases as { text: string; ids: number[]; ids_no_special: number[] }[]) {
        expect(tokenizer.encode(c.text), JSON.stringify(c.text)).toEqual(c.ids);
        expect(tokenizer.encode(c.text, { addSpecialTokens: false }), JSON.stringify(c.text)).toEqual(c.ids_no_special);
        expect(tokenizer.decode(c.ids_no_special), JSON.stringify(c.text)).toBe(c.text);
      }
    });

    it("generates Hugging Face's greedy continuation", async () => {
      const { gpt } = served;
      const out = await gpt.generate(ref.greedy.prompt_ids, { maxTokens: ref.greedy.max_new_tokens, temperature: 0, ignoreEos: true });
      expect(out.tokens).toEqual(ref.greedy.tokens);
    });

    it("streams what it generates, and batches prompts as if each ran alone", async () => {
      const { gpt } = served;
      const options = { maxTokens: 12, seed: 4, ignoreEos: true } as const;
      const whole = await gpt.generate(ref.prompt_text, options);
      let text = "";
      for await (const chunk of gpt.stream(ref.prompt_text, options)) text += chunk.text;
      expect(text).toBe(whole.text);
      const other = "A different prompt, shorter.";
      const [a, b] = await gpt.generate([ref.prompt_text, other], options);
      expect(a!.tokens).toEqual(whole.tokens);
      expect(b!.tokens).toEqual((await gpt.generate(other, options)).tokens);
    });

    it("serves /v1/completions with the library's own result", async () => {
      const options = { maxTokens: 8, seed: 9, ignoreEos: true } as const;
      const want = await served.gpt.generate(ref.prompt_text, options);
      const res = await served.post("/v1/completions", { prompt: ref.prompt_text, max_tokens: 8, seed: 9, ignore_eos: true });
      expect(res.status).toBe(200);
      expect(res.json.choices[0].text).toBe(want.text);
      expect(res.json.usage.completion_tokens).toBe(8);
    });
  });
}
