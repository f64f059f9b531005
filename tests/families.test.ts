/**
 * The GPT-3-era families (OPT pre- and post-LayerNorm, BLOOM with ALiBi, GPT-Neo with local
 * windows) and the rotary ones (Llama with grouped-query attention, llama3 and linear rope
 * scaling and an explicit head width; Qwen2; GPT-J; GPT-NeoX with and without the parallel
 * residual), from safetensors and from PyTorch .bin files, against Hugging Face transformers:
 * every position's logits, the greedy continuation, and a sequence's logits the same alone and
 * batched with another (tests/fixtures/models/*, made by scripts/make-family-fixtures.py and
 * scripts/make-rotary-fixtures.py).
 */
import { cp, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

import { afterAll, beforeAll, describe, expect, it } from "vitest";

import type { NativeModel } from "../bindings.js";
import { loadCheckpoint } from "../lib/checkpoint/index.js";
import { GptLoadError } from "../lib/errors.js";
import { FAMILY_FIXTURES, fixtureDir, fixtureModelType, reference, relativeMaxError, type Reference } from "./helpers/fixtures.js";
import { blockRange, loadNativeModel } from "./helpers/native-model.js";
import { startTestServer, type TestServer } from "./helpers/test-server.js";

const GREEDY = { temperature: 0, topK: 0, topP: 1, u: 0.5 };

/** A fixture's chat record (scripts/make-rotary-fixtures.py): transformers' rendering and greedy reply. */
interface ChatReference {
  messages: { role: string; content: string }[];
  rendered: string;
  ids: number[];
  greedy: { max_new_tokens: number; tokens: number[] };
}

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
      expect(config.modelType).toBe(fixtureModelType(name));
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
    ["gpt-neo-f32", { model_type: "mistral" }, "E_UNSUPPORTED", 'model_type "mistral" is not supported (supported: "gpt2", "opt", "bloom", "gpt_neo", "gptj", "gpt_neox", "llama", "qwen2")'],
    ["llama-gqa-f32", { rope_scaling: { rope_type: "yarn", factor: 4 } }, "E_UNSUPPORTED", 'rope_scaling type "yarn" is not supported (supported: "default", "linear", "llama3")'],
    ["llama-hd80-bf16", { rope_parameters: { rope_type: "dynamic", rope_theta: 10000, factor: 2 } }, "E_UNSUPPORTED", 'rope_parameters type "dynamic"'],
    ["llama-hd80-bf16", { rope_parameters: { rope_type: "linear", rope_theta: 10000 } }, "E_CHECKPOINT", 'rope scaling "linear" needs a positive factor'],
    ["llama-gqa-f32", { num_key_value_heads: 4 }, "E_CHECKPOINT", "num_attention_heads (9) is not a multiple of num_key_value_heads (4)"],
    ["llama-gqa-f32", { hidden_act: "gelu" }, "E_UNSUPPORTED", 'hidden_act "gelu" is not supported'],
    ["llama-gqa-f32", { pretraining_tp: 2 }, "E_UNSUPPORTED", "pretraining_tp 2"],
    ["qwen2-f32", { use_sliding_window: true }, "E_UNSUPPORTED", "use_sliding_window: true is not supported"],
    ["qwen2-f32", { layer_types: ["full_attention", "sliding_attention"] }, "E_UNSUPPORTED", 'layer_types other than "full_attention"'],
    ["gptj-f16", { rotary_dim: 7 }, "E_CHECKPOINT", "rotary_dim (7) must be even"],
    ["gptj-f16", { tie_word_embeddings: true }, "E_UNSUPPORTED", "tie_word_embeddings: true is not supported for GPT-J"],
    ["neox-parallel-f32", { rope_parameters: { rope_type: "default", rope_theta: 10000, partial_rotary_factor: 1.5 } }, "E_CHECKPOINT", "must be a number in (0, 1]"],
    ["neox-seq-f16-bin", { rotary_emb_base: "ten thousand" }, "E_CHECKPOINT", "the rotary base (rotary_emb_base or rope_theta) must be a number above 1"],
    // Sizes are bounded before anything is built from them (issue 15, finding 4).
    ["opt-f32", { num_hidden_layers: 1_500_000 }, "E_CHECKPOINT", "num_hidden_layers is 1500000, past the limit of 1024 this engine accepts"],
    ["llama-gqa-f32", { hidden_size: 2 ** 32 }, "E_CHECKPOINT", "hidden_size is 4294967296, past the limit of 65536"],
    ["bloom-f32", { vocab_size: 2 ** 40 }, "E_CHECKPOINT", "vocab_size is 1099511627776, past the limit of 1048576"],
    ["neox-parallel-f32", { intermediate_size: 2 ** 31 }, "E_CHECKPOINT", "intermediate_size is 2147483648, past the limit of 262144"],
    ["qwen2-f32", { max_position_embeddings: 2 ** 31 - 1 }, "E_CHECKPOINT", "max_position_embeddings is 2147483647, past the limit of 1048576"],
    ["gpt-neo-f32", { attention_layers: undefined, attention_types: [[["global", "local"], 1e15]] }, "E_CHECKPOINT", "attention_types expands to 2000000000000000 layers, not num_layers 2"],
  ] as const)("%s with %j: %s", async (name, fields, code, fragment) => {
    await expectLoadError(await edited(name, fields), code, "config.json", fragment);
  });

  it("reads either form of the rotary settings: the Hub's top-level keys and transformers 5's rope_parameters", async () => {
    // llama-gqa-f32 is stored in the classic form; the same settings as rope_parameters give the same frequencies.
    const classic = await loadCheckpoint(fixtureDir("llama-gqa-f32"));
    const json = JSON.parse(await readFile(join(fixtureDir("llama-gqa-f32"), "config.json"), "utf8")) as Record<string, unknown>;
    const modern = await loadCheckpoint(
      await edited("llama-gqa-f32", {
        rope_theta: undefined,
        rope_scaling: undefined,
        rope_parameters: { ...(json["rope_scaling"] as object), rope_theta: json["rope_theta"] },
      }),
    );
    expect(modern.config.ropeInvFreq).toEqual(classic.config.ropeInvFreq);
    // The llama3 rule left the highest frequency alone and divided the lowest by its factor of 8.
    const plain = await loadCheckpoint(await edited("llama-gqa-f32", { rope_scaling: undefined }));
    expect(classic.config.ropeInvFreq[0]).toBe(plain.config.ropeInvFreq[0]);
    expect(classic.config.ropeInvFreq.at(-1)).toBeCloseTo(plain.config.ropeInvFreq.at(-1)! / 8, 12);
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
      for (const c of ref.tokenizer_cases as { text: string; ids: number[]; ids_no_special: number[]; decoded?: string }[]) {
        expect(tokenizer.encode(c.text), JSON.stringify(c.text)).toEqual(c.ids);
        expect(tokenizer.encode(c.text, { addSpecialTokens: false }), JSON.stringify(c.text)).toEqual(c.ids_no_special);
        // transformers' decode where the fixture records it (a SentencePiece tokenizer may not give the text back exactly).
        expect(tokenizer.decode(c.ids_no_special), JSON.stringify(c.text)).toBe(c.decoded ?? c.text);
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

    const chat = (reference(name) as Reference & { chat?: ChatReference }).chat;
    if (chat)
      it("renders its chat template as transformers does, and answers through gpt.chat() and /v1/chat/completions", async () => {
        const { gpt } = served;
        const messages = chat.messages as { role: "system" | "user" | "assistant"; content: string }[];
        expect(gpt.applyChatTemplate(messages)).toBe(chat.rendered);
        expect(gpt.tokenizer.encode(chat.rendered, { addSpecialTokens: false })).toEqual(chat.ids);
        const n = chat.greedy.max_new_tokens;
        const reply = await gpt.chat(messages, { maxTokens: n, temperature: 0, ignoreEos: true });
        expect(reply.tokens).toEqual(chat.greedy.tokens);
        // The server ends a reply at the end of the turn (it takes no ignore_eos): the library's own reply under the same rule.
        const want = await gpt.chat(messages, { maxTokens: n, temperature: 0 });
        const res = await served.post("/v1/chat/completions", { messages, max_tokens: n, temperature: 0 });
        expect(res.status).toBe(200);
        expect(res.json.choices[0].message.content).toBe(want.text);
        expect(res.json.usage.prompt_tokens).toBe(chat.ids.length);
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
