import { chmod, mkdir, mkdtemp, open, rm, stat, truncate, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { GptLoadError } from "../lib/errors.js";
import { repeatedTopLevelKey } from "../lib/checkpoint/safetensors.js";
import { expectedTensorShapes, gpt2Config, loadCheckpoint, type Checkpoint, type ModelDims } from "../lib/checkpoint/index.js";
import {
  writeRawSafetensors,
  writeSafetensors,
  type TensorSpec,
  type WrittenSafetensors,
} from "./helpers/safetensors-writer.js";

// ---------------------------------------------------------------------------------------------
// Tiny checkpoints

const TINY = { n_layer: 2, n_head: 2, n_embd: 8, n_positions: 16, vocab_size: 32 } as const;

function tinyConfig(overrides: Record<string, unknown> = {}): Record<string, unknown> {
  const config: Record<string, unknown> = {
    model_type: "gpt2",
    architectures: ["GPT2LMHeadModel"],
    activation_function: "gelu_new",
    n_layer: TINY.n_layer,
    n_head: TINY.n_head,
    n_embd: TINY.n_embd,
    n_positions: TINY.n_positions,
    n_ctx: TINY.n_positions,
    n_inner: null,
    vocab_size: TINY.vocab_size,
    layer_norm_epsilon: 1e-5,
    tie_word_embeddings: true,
    ...overrides,
  };
  for (const [k, v] of Object.entries(overrides)) if (v === undefined) delete config[k];
  return config;
}

const TINY_MODEL: ModelDims = {
  nLayer: TINY.n_layer,
  nHead: TINY.n_head,
  nEmbd: TINY.n_embd,
  nInner: 4 * TINY.n_embd,
  nCtx: TINY.n_positions,
  vocabSize: TINY.vocab_size,
  layerNormEpsilon: 1e-5,
};

/** Every GPT-2 tensor for the tiny config, named with `prefix`. */
function gpt2Tensors(options: { prefix?: string; dtype?: string; config?: ModelDims } = {}): TensorSpec[] {
  const { prefix = "transformer.", dtype = "F32", config = TINY_MODEL } = options;
  return [...expectedTensorShapes(config)].map(([name, shape]) => ({ name: prefix + name, dtype, shape }));
}

let root: string;
let counter = 0;

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), "gpt-cuda-checkpoint-"));
});
afterAll(async () => {
  await rm(root, { recursive: true, force: true });
});

async function freshDir(): Promise<string> {
  const dir = join(root, `ckpt-${++counter}`);
  await mkdir(dir);
  return dir;
}

async function writeConfig(dir: string, config: unknown = tinyConfig()): Promise<void> {
  await writeFile(join(dir, "config.json"), typeof config === "string" ? config : JSON.stringify(config, null, 2));
}

/** A directory with config.json and model.safetensors holding `tensors`. */
async function singleFileCheckpoint(
  tensors: TensorSpec[] = gpt2Tensors(),
  config: unknown = tinyConfig(),
): Promise<{ dir: string; written: WrittenSafetensors }> {
  const dir = await freshDir();
  await writeConfig(dir, config);
  const written = await writeSafetensors(join(dir, "model.safetensors"), tensors, { metadata: { format: "pt" } });
  return { dir, written };
}

/** A sharded checkpoint: tensors split round-robin-ish over `n` shards, with an index. */
async function shardedCheckpoint(
  n = 2,
  tensors: TensorSpec[] = gpt2Tensors(),
): Promise<{ dir: string; shards: WrittenSafetensors[]; weightMap: Record<string, string> }> {
  const dir = await freshDir();
  await writeConfig(dir);
  const per = Math.ceil(tensors.length / n);
  const shards: WrittenSafetensors[] = [];
  const weightMap: Record<string, string> = {};
  for (let k = 0; k < n; k++) {
    const name = `model-${String(k + 1).padStart(5, "0")}-of-${String(n).padStart(5, "0")}.safetensors`;
    const part = tensors.slice(k * per, (k + 1) * per);
    shards.push(await writeSafetensors(join(dir, name), part, { metadata: { format: "pt" } }));
    for (const t of part) weightMap[t.name] = name;
  }
  await writeIndex(dir, weightMap);
  return { dir, shards, weightMap };
}

async function writeIndex(dir: string, weightMap: Record<string, string>): Promise<void> {
  await writeFile(
    join(dir, "model.safetensors.index.json"),
    JSON.stringify({ metadata: { total_size: 0 }, weight_map: weightMap }),
  );
}

async function readAt(file: string, offset: number, length: number): Promise<Buffer> {
  const fh = await open(file, "r");
  try {
    const buf = Buffer.alloc(length);
    const { bytesRead } = await fh.read(buf, 0, length, offset);
    return buf.subarray(0, bytesRead);
  } finally {
    await fh.close();
  }
}

/** Every TensorRef points at exactly the bytes written for it. */
async function expectBytesMatch(ckpt: Checkpoint, written: WrittenSafetensors[], prefix = "transformer."): Promise<void> {
  for (const ref of ckpt.tensors.values()) {
    const source = written.find((w) => w.file === ref.file);
    expect(source, `file of ${ref.name}`).toBeDefined();
    const w = source!.tensors.get(prefix + ref.name);
    expect(w, `written ${ref.name}`).toBeDefined();
    expect(ref.offset).toBe(w!.offset);
    expect(ref.offset).toBe(8 + source!.headerLength + w!.begin);
    expect(ref.byteLength).toBe(w!.data.length);
    expect((await readAt(ref.file, ref.offset, ref.byteLength)).equals(w!.data)).toBe(true);
  }
}

/** Await `promise`, expecting a GptLoadError with `code` whose message contains every fragment. */
async function expectLoadError(
  promise: Promise<unknown>,
  code: "E_CHECKPOINT" | "E_UNSUPPORTED",
  ...fragments: string[]
): Promise<GptLoadError> {
  let caught: unknown;
  try {
    await promise;
  } catch (err) {
    caught = err;
  }
  expect(caught, "expected a rejection").toBeInstanceOf(GptLoadError);
  const err = caught as GptLoadError;
  expect(err.code).toBe(code);
  for (const fragment of fragments) expect(err.message).toContain(fragment);
  return err;
}

const TENSOR_COUNT = 2 + 12 * TINY.n_layer + 2;

// ---------------------------------------------------------------------------------------------

describe("loadCheckpoint: valid checkpoints", () => {
  it("loads a single-file checkpoint with absolute offsets that point at the written bytes", async () => {
    const { dir, written } = await singleFileCheckpoint();
    const ckpt = await loadCheckpoint(dir);
    expect(ckpt.dir).toBe(resolve(dir));
    expect(ckpt.config).toEqual(gpt2Config(TINY_MODEL));
    expect(ckpt.files).toEqual([join(dir, "model.safetensors")]);
    expect(ckpt.totalBytes).toBe((await stat(join(dir, "model.safetensors"))).size);
    expect(ckpt.totalBytes).toBe(written.size);
    expect(ckpt.tokenizer).toBeNull();
    expect(ckpt.tensors.size).toBe(TENSOR_COUNT);
    const c = ckpt.tensors.get("h.1.attn.c_attn.weight");
    expect(c).toMatchObject({ name: "h.1.attn.c_attn.weight", dtype: "F32", shape: [8, 24] });
    expect(ckpt.tensors.get("h.0.mlp.c_fc.weight")?.shape).toEqual([8, 32]);
    expect(ckpt.tensors.get("h.0.mlp.c_proj.weight")?.shape).toEqual([32, 8]);
    expect(ckpt.tensors.get("wte.weight")?.shape).toEqual([32, 8]);
    expect(ckpt.tensors.get("wpe.weight")?.shape).toEqual([16, 8]);
    await expectBytesMatch(ckpt, [written]);
  });

  it("accepts names without the transformer. prefix (GPT2Model)", async () => {
    const { dir, written } = await singleFileCheckpoint(gpt2Tensors({ prefix: "" }), tinyConfig({ architectures: ["GPT2Model"] }));
    const ckpt = await loadCheckpoint(dir);
    expect([...ckpt.tensors.keys()].every((n) => !n.startsWith("transformer."))).toBe(true);
    expect(ckpt.tensors.size).toBe(TENSOR_COUNT);
    await expectBytesMatch(ckpt, [written], "");
  });

  it("accepts a mix of prefixed and unprefixed names", async () => {
    const tensors = gpt2Tensors().map((t, i) => (i % 2 === 0 ? { ...t, name: t.name.replace(/^transformer\./, "") } : t));
    const { dir } = await singleFileCheckpoint(tensors);
    const ckpt = await loadCheckpoint(dir);
    expect(ckpt.tensors.size).toBe(TENSOR_COUNT);
  });

  it("ignores attn.bias / attn.masked_bias buffers, lm_head.weight and unknown tensors, whatever their dtype", async () => {
    const extra: TensorSpec[] = [
      { name: "transformer.h.0.attn.bias", dtype: "BOOL", shape: [1, 1, 16, 16] },
      { name: "transformer.h.1.attn.bias", dtype: "F32", shape: [1, 1, 16, 16] },
      { name: "transformer.h.0.attn.masked_bias", dtype: "F64", shape: [] },
      { name: "lm_head.weight", dtype: "I64", shape: [32, 8] },
      { name: "something.else", dtype: "I32", shape: [3] },
    ];
    const { dir } = await singleFileCheckpoint([...extra, ...gpt2Tensors()]);
    const ckpt = await loadCheckpoint(dir);
    expect(ckpt.tensors.size).toBe(TENSOR_COUNT);
    for (const name of ["h.0.attn.bias", "h.1.attn.bias", "h.0.attn.masked_bias", "lm_head.weight", "something.else"]) {
      expect(ckpt.tensors.has(name)).toBe(false);
    }
  });

  it("loads a sharded checkpoint through model.safetensors.index.json", async () => {
    const { dir, shards } = await shardedCheckpoint(3);
    const ckpt = await loadCheckpoint(dir);
    expect(ckpt.files).toEqual(shards.map((s) => s.file));
    expect(ckpt.files.map((f) => f.slice(dir.length + 1))).toEqual([
      "model-00001-of-00003.safetensors",
      "model-00002-of-00003.safetensors",
      "model-00003-of-00003.safetensors",
    ]);
    expect(ckpt.totalBytes).toBe(shards.reduce((s, w) => s + w.size, 0));
    expect(ckpt.tensors.size).toBe(TENSOR_COUNT);
    expect(new Set([...ckpt.tensors.values()].map((t) => t.file)).size).toBe(3);
    await expectBytesMatch(ckpt, shards);
  });

  it("lists shards in shard order even when the index lists them out of order", async () => {
    const { dir, shards, weightMap } = await shardedCheckpoint(2);
    const reversed = Object.fromEntries(Object.entries(weightMap).reverse());
    await writeIndex(dir, reversed);
    const ckpt = await loadCheckpoint(dir);
    expect(ckpt.files).toEqual(shards.map((s) => s.file));
  });

  it("accepts the path of the .safetensors file itself", async () => {
    const { dir, written } = await singleFileCheckpoint();
    const ckpt = await loadCheckpoint(join(dir, "model.safetensors"));
    expect(ckpt.dir).toBe(dir);
    expect(ckpt.files).toEqual([join(dir, "model.safetensors")]);
    await expectBytesMatch(ckpt, [written]);
  });

  it("accepts the path of one shard (and loads every shard) or of the index", async () => {
    const { dir, shards } = await shardedCheckpoint(2);
    const viaShard = await loadCheckpoint(shards[1]!.file);
    expect(viaShard.files).toEqual(shards.map((s) => s.file));
    expect(viaShard.tensors.size).toBe(TENSOR_COUNT);
    const viaIndex = await loadCheckpoint(join(dir, "model.safetensors.index.json"));
    expect(viaIndex.files).toEqual(shards.map((s) => s.file));
  });

  it("accepts a relative path", async () => {
    const { dir } = await singleFileCheckpoint();
    const ckpt = await loadCheckpoint(join(dir, "..", dir.split("/").pop()!));
    expect(ckpt.dir).toBe(dir);
  });

  it("loads F16 and BF16 weights", async () => {
    for (const dtype of ["F16", "BF16"]) {
      const { dir, written } = await singleFileCheckpoint(gpt2Tensors({ dtype }));
      const ckpt = await loadCheckpoint(dir);
      expect([...ckpt.tensors.values()].every((t) => t.dtype === dtype)).toBe(true);
      expect(ckpt.tensors.get("wte.weight")?.byteLength).toBe(32 * 8 * 2);
      await expectBytesMatch(ckpt, [written]);
    }
  });

  it("finds tokenizer.json, else vocab.json + merges.txt, else nothing", async () => {
    const { dir } = await singleFileCheckpoint();
    await writeFile(join(dir, "vocab.json"), "{}");
    expect((await loadCheckpoint(dir)).tokenizer).toBeNull();
    await writeFile(join(dir, "merges.txt"), "#version: 0.2\n");
    expect((await loadCheckpoint(dir)).tokenizer).toEqual({
      kind: "vocab+merges",
      vocab: join(dir, "vocab.json"),
      merges: join(dir, "merges.txt"),
    });
    await writeFile(join(dir, "tokenizer.json"), "{}");
    expect((await loadCheckpoint(dir)).tokenizer).toEqual({ kind: "tokenizer.json", path: join(dir, "tokenizer.json") });
  });

  it("reads config variants: n_ctx fallback, explicit n_inner, gelu_pytorch_tanh, architectures only, default epsilon", async () => {
    const model = gpt2Config({ ...TINY_MODEL, nInner: 12, layerNormEpsilon: 1e-6 });
    const config = tinyConfig({
      n_positions: undefined,
      n_ctx: 16,
      n_inner: 12,
      activation_function: "gelu_pytorch_tanh",
      model_type: undefined,
      architectures: ["GPT2Model"],
      layer_norm_epsilon: 1e-6,
    });
    const { dir } = await singleFileCheckpoint(gpt2Tensors({ config: model }), config);
    const ckpt = await loadCheckpoint(dir);
    expect(ckpt.config).toEqual(model);
    expect(ckpt.tensors.get("h.1.mlp.c_fc.weight")?.shape).toEqual([8, 12]);

    const { dir: dir2 } = await singleFileCheckpoint(gpt2Tensors(), tinyConfig({ layer_norm_epsilon: undefined, activation_function: undefined }));
    expect((await loadCheckpoint(dir2)).config.layerNormEpsilon).toBe(1e-5);
  });
});

// ---------------------------------------------------------------------------------------------

describe("loadCheckpoint: locating the checkpoint", () => {
  it("rejects a path that does not exist", async () => {
    const missing = join(root, "no-such-checkpoint");
    const err = await expectLoadError(loadCheckpoint(missing), "E_CHECKPOINT", missing, "not found");
    expect(err.file).toBe(missing);
  });

  it("reports a missing config.json with its full path", async () => {
    const dir = await freshDir();
    await writeSafetensors(join(dir, "model.safetensors"), gpt2Tensors());
    const err = await expectLoadError(loadCheckpoint(dir), "E_CHECKPOINT", `${join(dir, "config.json")}: not found`);
    expect(err.file).toBe(join(dir, "config.json"));
  });

  it("reports a missing config.json when given the .safetensors file", async () => {
    const dir = await freshDir();
    await writeSafetensors(join(dir, "model.safetensors"), gpt2Tensors());
    await expectLoadError(loadCheckpoint(join(dir, "model.safetensors")), "E_CHECKPOINT", `${join(dir, "config.json")}: not found`);
  });

  it("lists the files it looked for when a directory has a config but no weights", async () => {
    const dir = await freshDir();
    await writeConfig(dir);
    await expectLoadError(loadCheckpoint(dir), "E_CHECKPOINT", dir, "no weights", "model.safetensors", "model.safetensors.index.json");
  });

  it("judges config.json before looking for weights", async () => {
    const dir = await freshDir();
    await writeConfig(dir, tinyConfig({ model_type: "mamba" }));
    await expectLoadError(loadCheckpoint(dir), "E_UNSUPPORTED", "config.json", "mamba");
  });

  it("reads a pytorch_model.bin when there are no safetensors, and says what is wrong with one that is not a zip", async () => {
    const dir = await freshDir();
    await writeConfig(dir);
    await writeFile(join(dir, "pytorch_model.bin"), "x");
    await expectLoadError(loadCheckpoint(dir), "E_CHECKPOINT", "pytorch_model.bin");
  });

  it("mentions a .pt file it cannot use", async () => {
    const dir = await freshDir();
    await writeConfig(dir);
    await writeFile(join(dir, "weights.pt"), "x");
    await expectLoadError(loadCheckpoint(dir), "E_CHECKPOINT", "weights.pt", "pytorch_model.bin");
  });

  it("rejects a file that is neither a directory nor .safetensors", async () => {
    const { dir } = await singleFileCheckpoint();
    await expectLoadError(loadCheckpoint(join(dir, "config.json")), "E_CHECKPOINT", "config.json", "expected a checkpoint directory");
  });
});

// ---------------------------------------------------------------------------------------------

describe("loadCheckpoint: bad config.json", () => {
  async function loadWithConfig(config: unknown): Promise<Checkpoint> {
    const { dir } = await singleFileCheckpoint(gpt2Tensors(), config);
    return loadCheckpoint(dir);
  }

  it("rejects garbage that is not JSON", async () => {
    await expectLoadError(loadWithConfig("{ n_layer: 2, "), "E_CHECKPOINT", "config.json", "not valid JSON");
  });

  it("rejects an empty file", async () => {
    await expectLoadError(loadWithConfig(""), "E_CHECKPOINT", "config.json", "empty");
  });

  it("rejects JSON that is not an object", async () => {
    await expectLoadError(loadWithConfig("[1, 2]"), "E_CHECKPOINT", "config.json", "expected a JSON object");
  });

  it("rejects config.json that is a directory", async () => {
    const dir = await freshDir();
    await mkdir(join(dir, "config.json"));
    await writeSafetensors(join(dir, "model.safetensors"), gpt2Tensors());
    await expectLoadError(loadCheckpoint(dir), "E_CHECKPOINT", "config.json", "is a directory");
  });

  it("reads activation_function as transformers' ACT2FN does: gelu is the exact GELU, relu ReLU", async () => {
    for (const [name, activation] of [["gelu", "gelu-erf"], ["relu", "relu"], ["gelu_new", "gelu-tanh"]] as const) {
      const { dir } = await singleFileCheckpoint(gpt2Tensors(), tinyConfig({ activation_function: name }));
      expect((await loadCheckpoint(dir)).config.activation, name).toBe(activation);
    }
  });

  it.each([
    ["silu", "silu"],
    ["swish", '"swish"'],
  ])("rejects activation_function %s as unsupported", async (activation, fragment) => {
    await expectLoadError(
      loadWithConfig(tinyConfig({ activation_function: activation })),
      "E_UNSUPPORTED",
      "config.json",
      "activation_function",
      fragment,
    );
  });

  it.each([
    ["n_layer", 1_500_000, 1024],
    ["n_layer", 2 ** 32, 1024],
    ["n_embd", 2 ** 32, 65_536],
    ["n_positions", 2 ** 40, 1_048_576],
  ])("bounds %s (%d) before sizing anything from it: E_CHECKPOINT naming the key, value and limit", async (key, value, limit) => {
    await expectLoadError(loadWithConfig(tinyConfig({ [key]: value })), "E_CHECKPOINT", "config.json", `${key} is ${value}, past the limit of ${limit}`);
  });

  it("rejects model_type mamba as unsupported", async () => {
    await expectLoadError(loadWithConfig(tinyConfig({ model_type: "mamba" })), "E_UNSUPPORTED", "config.json", "model_type", "mamba");
  });

  it("rejects architectures naming no supported class when model_type is absent", async () => {
    await expectLoadError(
      loadWithConfig(tinyConfig({ model_type: undefined, architectures: ["MambaForCausalLM"] })),
      "E_UNSUPPORTED",
      "config.json",
      "MambaForCausalLM",
    );
  });

  it("rejects a config that names no architecture at all", async () => {
    await expectLoadError(
      loadWithConfig(tinyConfig({ model_type: undefined, architectures: undefined })),
      "E_CHECKPOINT",
      "config.json",
      "model_type",
    );
  });

  it("rejects tie_word_embeddings: false as unsupported", async () => {
    await expectLoadError(
      loadWithConfig(tinyConfig({ tie_word_embeddings: false })),
      "E_UNSUPPORTED",
      "config.json",
      "tie_word_embeddings",
    );
  });

  it.each(["scale_attn_by_inverse_layer_idx", "reorder_and_upcast_attn", "add_cross_attention"])(
    "rejects %s: true as unsupported",
    async (key) => {
      await expectLoadError(loadWithConfig(tinyConfig({ [key]: true })), "E_UNSUPPORTED", "config.json", key);
      // false is the ordinary GPT-2 and loads.
      await expect(loadWithConfig(tinyConfig({ [key]: false }))).resolves.toBeDefined();
    },
  );

  it.each([
    ["n_layer", 0],
    ["n_layer", -2],
    ["n_head", 1.5],
    ["n_embd", "8"],
    ["vocab_size", null],
    ["n_positions", 0],
    ["n_inner", -1],
  ])("rejects %s = %j as not a positive integer", async (key, value) => {
    await expectLoadError(
      loadWithConfig(tinyConfig({ [key]: value })),
      "E_CHECKPOINT",
      "config.json",
      `${key} must be a positive integer`,
      JSON.stringify(value),
    );
  });

  it.each(["n_layer", "n_head", "n_embd", "vocab_size"])("rejects a config without %s", async (key) => {
    await expectLoadError(loadWithConfig(tinyConfig({ [key]: undefined })), "E_CHECKPOINT", "config.json", `missing ${key}`);
  });

  it("rejects a config with neither n_positions nor n_ctx", async () => {
    await expectLoadError(
      loadWithConfig(tinyConfig({ n_positions: undefined, n_ctx: undefined })),
      "E_CHECKPOINT",
      "config.json",
      "n_positions",
    );
  });

  it("rejects n_embd not divisible by n_head, naming both", async () => {
    await expectLoadError(loadWithConfig(tinyConfig({ n_head: 3 })), "E_CHECKPOINT", "config.json", "n_embd (8)", "n_head (3)");
  });

  it.each([0, -1e-5, "1e-5"])("rejects layer_norm_epsilon = %j", async (eps) => {
    await expectLoadError(
      loadWithConfig(tinyConfig({ layer_norm_epsilon: eps })),
      "E_CHECKPOINT",
      "config.json",
      "layer_norm_epsilon",
      JSON.stringify(eps),
    );
  });
});

// ---------------------------------------------------------------------------------------------

describe("loadCheckpoint: bad safetensors files", () => {
  /** A checkpoint dir whose model.safetensors is written by `write`. */
  async function withWeights(write: (file: string) => Promise<void>): Promise<{ dir: string; file: string }> {
    const dir = await freshDir();
    await writeConfig(dir);
    const file = join(dir, "model.safetensors");
    await write(file);
    return { dir, file };
  }

  it("rejects model.safetensors that is a directory", async () => {
    const { dir, file } = await withWeights((f) => mkdir(f).then(() => undefined));
    await expectLoadError(loadCheckpoint(dir), "E_CHECKPOINT", file, "is a directory");
  });

  it.skipIf(process.getuid?.() === 0)("rejects an unreadable file (EACCES)", async () => {
    const { dir, file } = await withWeights(async (f) => {
      await writeSafetensors(f, gpt2Tensors());
      await chmod(f, 0o000);
    });
    try {
      await expectLoadError(loadCheckpoint(dir), "E_CHECKPOINT", file, "permission denied");
    } finally {
      await chmod(file, 0o644);
    }
  });

  it("rejects a file shorter than 8 bytes", async () => {
    const { dir, file } = await withWeights((f) => writeFile(f, Buffer.from([1, 2, 3, 4, 5])));
    await expectLoadError(loadCheckpoint(dir), "E_CHECKPOINT", file, "truncated", "5 bytes");
  });

  it("rejects a header length larger than the file", async () => {
    const { dir, file } = await withWeights((f) => writeRawSafetensors(f, "{}", Buffer.alloc(0), { declaredLength: 4096n }));
    await expectLoadError(loadCheckpoint(dir), "E_CHECKPOINT", file, "header length 4096", "10 bytes");
  });

  it("rejects an absurd header length (over 100 MB)", async () => {
    const declared = 100n * 1024n * 1024n + 1n;
    const { dir, file } = await withWeights(async (f) => {
      await writeRawSafetensors(f, "{}", Buffer.alloc(0), { declaredLength: declared });
      await truncate(f, Number(declared) + 64); // sparse: the file is long enough to hold it
    });
    await expectLoadError(loadCheckpoint(dir), "E_CHECKPOINT", file, `header length ${declared}`, "implausibly large");
  });

  it("rejects a header that is not UTF-8", async () => {
    const { dir, file } = await withWeights((f) => writeRawSafetensors(f, Buffer.from([0x7b, 0xff, 0xfe, 0x7d])));
    await expectLoadError(loadCheckpoint(dir), "E_CHECKPOINT", file, "not valid UTF-8");
  });

  it("rejects a header that is not JSON", async () => {
    const { dir, file } = await withWeights((f) => writeRawSafetensors(f, '{"a": '));
    await expectLoadError(loadCheckpoint(dir), "E_CHECKPOINT", file, "not valid JSON");
  });

  it("rejects a header that is JSON but not an object", async () => {
    const { dir, file } = await withWeights((f) => writeRawSafetensors(f, "[1, 2, 3]"));
    await expectLoadError(loadCheckpoint(dir), "E_CHECKPOINT", file, "header must be a JSON object");
  });

  it("rejects a header that names a tensor twice (JSON.parse would keep the second silently)", async () => {
    const entry = (begin: number) => `{"dtype": "F32", "shape": [2], "data_offsets": [${begin}, ${begin + 8}]}`;
    const header = `{"__metadata__": {"format": "pt"}, "wte.weight": ${entry(0)},\n "wpe.weight" : ${entry(8)}, "wte.weight": ${entry(8)}}`;
    const { dir, file } = await withWeights((f) => writeRawSafetensors(f, header, Buffer.alloc(16)));
    await expectLoadError(loadCheckpoint(dir), "E_CHECKPOINT", file, 'header names tensor "wte.weight" twice');
  });

  it("finds a repeated top-level key only at the top level, through escapes and nested objects", () => {
    expect(repeatedTopLevelKey('{"a": {"b": 1, "b": 2}, "c": [{"a": 1}]}')).toBeNull();
    expect(repeatedTopLevelKey('{"a\\"b": 1, "x": "a\\"b", "a\\"b": 2}')).toBe('a"b');
    expect(repeatedTopLevelKey('{"k": "\\\\", "k" :3}')).toBe("k");
    expect(repeatedTopLevelKey('{"k": "v", "v": "k"}')).toBeNull();
  });

  it.each(["dtype", "shape", "data_offsets"])("rejects a tensor entry without %s", async (key) => {
    const entry: Record<string, unknown> = { dtype: "F32", shape: [2], data_offsets: [0, 8] };
    delete entry[key];
    const { dir, file } = await withWeights((f) => writeRawSafetensors(f, { "wte.weight": entry }, Buffer.alloc(8)));
    await expectLoadError(loadCheckpoint(dir), "E_CHECKPOINT", file, '"wte.weight"', `"${key}"`);
  });

  it.each([
    [[0]],
    [[-4, 4]],
    [[0, 1.5]],
    [["0", "8"]],
    ["0-8"],
  ])("rejects data_offsets %j", async (offsets) => {
    const { dir, file } = await withWeights((f) =>
      writeRawSafetensors(f, { "wte.weight": { dtype: "F32", shape: [2], data_offsets: offsets } }, Buffer.alloc(8)),
    );
    await expectLoadError(loadCheckpoint(dir), "E_CHECKPOINT", file, '"wte.weight"', "data_offsets", JSON.stringify(offsets));
  });

  it("rejects data_offsets whose begin is after end", async () => {
    const { dir, file } = await withWeights((f) =>
      writeRawSafetensors(f, { "wte.weight": { dtype: "F32", shape: [0], data_offsets: [8, 4] } }, Buffer.alloc(8)),
    );
    await expectLoadError(loadCheckpoint(dir), "E_CHECKPOINT", file, '"wte.weight"', "[8, 4]", "begin after end");
  });

  it("rejects a byte length that disagrees with shape × dtype size", async () => {
    const { dir, file } = await withWeights((f) =>
      writeRawSafetensors(f, { "h.0.ln_1.weight": { dtype: "F32", shape: [2, 3], data_offsets: [0, 20] } }, Buffer.alloc(24)),
    );
    await expectLoadError(loadCheckpoint(dir), "E_CHECKPOINT", file, '"h.0.ln_1.weight"', "20 bytes", "[2, 3]", "24 bytes");
  });

  it("rejects tensor data that runs past the end of the file (truncated data)", async () => {
    const { dir, file } = await withWeights(async (f) => {
      const written = await writeSafetensors(f, gpt2Tensors());
      await truncate(f, written.size - 3);
    });
    await expectLoadError(loadCheckpoint(dir), "E_CHECKPOINT", file, '"transformer.ln_f.bias"', "past the end", "truncated");
  });

  it("skips __metadata__", async () => {
    const { dir } = await withWeights(async (f) => {
      await writeSafetensors(f, gpt2Tensors(), { metadata: { format: "pt", note: "anything" } });
    });
    expect((await loadCheckpoint(dir)).tensors.has("__metadata__")).toBe(false);
  });
});

// ---------------------------------------------------------------------------------------------

describe("loadCheckpoint: tensors disagree with the config", () => {
  it("names a missing required tensor and the file", async () => {
    const tensors = gpt2Tensors().filter((t) => t.name !== "transformer.h.1.mlp.c_fc.weight");
    const { dir } = await singleFileCheckpoint(tensors);
    const err = await expectLoadError(loadCheckpoint(dir), "E_CHECKPOINT", "model.safetensors", '"h.1.mlp.c_fc.weight"', "missing");
    expect(err.file).toBe(join(dir, "model.safetensors"));
  });

  it("counts several missing tensors and names them", async () => {
    const tensors = gpt2Tensors().filter((t) => !t.name.includes("h.1."));
    const { dir } = await singleFileCheckpoint(tensors);
    await expectLoadError(loadCheckpoint(dir), "E_CHECKPOINT", "model.safetensors", "missing 12 required tensors", '"h.1.ln_1.weight"');
  });

  it("treats a checkpoint with fewer layers than the config as missing tensors", async () => {
    const { dir } = await singleFileCheckpoint(gpt2Tensors(), tinyConfig({ n_layer: 3 }));
    await expectLoadError(loadCheckpoint(dir), "E_CHECKPOINT", '"h.2.ln_1.weight"');
  });

  it("rejects a tensor stored under both prefixed and unprefixed names", async () => {
    const { dir } = await singleFileCheckpoint([...gpt2Tensors(), { name: "wpe.weight", dtype: "F32", shape: [16, 8] }]);
    await expectLoadError(loadCheckpoint(dir), "E_CHECKPOINT", "model.safetensors", '"wpe.weight"', '"transformer.wpe.weight"');
  });

  it.each(["F64", "I64", "I8"])("rejects a required tensor of dtype %s as unsupported", async (dtype) => {
    const tensors = gpt2Tensors().map((t) => (t.name === "transformer.h.0.attn.c_proj.bias" ? { ...t, dtype } : t));
    const { dir } = await singleFileCheckpoint(tensors);
    await expectLoadError(loadCheckpoint(dir), "E_UNSUPPORTED", "model.safetensors", '"transformer.h.0.attn.c_proj.bias"', dtype);
  });

  it("rejects a shape that does not match the config, naming both shapes", async () => {
    const tensors = gpt2Tensors().map((t) =>
      t.name === "transformer.h.0.attn.c_attn.weight" ? { ...t, shape: [24, 8] } : t,
    );
    const { dir } = await singleFileCheckpoint(tensors);
    await expectLoadError(
      loadCheckpoint(dir),
      "E_CHECKPOINT",
      "model.safetensors",
      '"transformer.h.0.attn.c_attn.weight"',
      "[24, 8]",
      "[8, 24]",
    );
  });

  it("rejects a vocab mismatch between wte and config.vocab_size", async () => {
    const { dir } = await singleFileCheckpoint(gpt2Tensors(), tinyConfig({ vocab_size: 50 }));
    await expectLoadError(loadCheckpoint(dir), "E_CHECKPOINT", '"transformer.wte.weight"', "[32, 8]", "[50, 8]");
  });
});

// ---------------------------------------------------------------------------------------------

describe("loadCheckpoint: bad shard index", () => {
  it("rejects an index naming a shard that does not exist", async () => {
    const { dir, weightMap } = await shardedCheckpoint(2);
    await writeIndex(dir, { ...weightMap, "transformer.extra": "model-00003-of-00003.safetensors" });
    const err = await expectLoadError(
      loadCheckpoint(dir),
      "E_CHECKPOINT",
      "model-00003-of-00003.safetensors",
      "not found",
      "model.safetensors.index.json",
    );
    expect(err.file).toBe(join(dir, "model-00003-of-00003.safetensors"));
  });

  it("rejects an index entry whose shard header lacks the tensor", async () => {
    const { dir, weightMap } = await shardedCheckpoint(2);
    const moved = { ...weightMap, "transformer.wte.weight": "model-00002-of-00002.safetensors" };
    await writeIndex(dir, moved);
    await expectLoadError(
      loadCheckpoint(dir),
      "E_CHECKPOINT",
      "model-00002-of-00002.safetensors",
      '"transformer.wte.weight"',
      "model.safetensors.index.json",
    );
  });

  it("names the shards when a required tensor is in none of them", async () => {
    const { dir, weightMap } = await shardedCheckpoint(2);
    const { ["transformer.ln_f.weight"]: _dropped, ...rest } = weightMap;
    await writeIndex(dir, rest);
    await expectLoadError(
      loadCheckpoint(dir),
      "E_CHECKPOINT",
      '"ln_f.weight"',
      "model-00001-of-00002.safetensors",
      "model-00002-of-00002.safetensors",
    );
  });

  it("rejects an index that is not JSON", async () => {
    const { dir } = await shardedCheckpoint(2);
    await writeFile(join(dir, "model.safetensors.index.json"), "{ not json");
    await expectLoadError(loadCheckpoint(dir), "E_CHECKPOINT", "model.safetensors.index.json", "not valid JSON");
  });

  it("rejects an index without weight_map", async () => {
    const { dir } = await shardedCheckpoint(2);
    await writeFile(join(dir, "model.safetensors.index.json"), JSON.stringify({ metadata: {} }));
    await expectLoadError(loadCheckpoint(dir), "E_CHECKPOINT", "model.safetensors.index.json", "weight_map");
  });

  it("rejects an index pointing outside the checkpoint directory", async () => {
    const { dir, weightMap } = await shardedCheckpoint(2);
    await writeIndex(dir, { ...weightMap, "transformer.wte.weight": "../elsewhere.safetensors" });
    await expectLoadError(loadCheckpoint(dir), "E_CHECKPOINT", "model.safetensors.index.json", "../elsewhere.safetensors");
  });

  it("reports a broken shard by its own name", async () => {
    const { dir, shards } = await shardedCheckpoint(2);
    await truncate(shards[1]!.file, 4);
    await expectLoadError(loadCheckpoint(dir), "E_CHECKPOINT", "model-00002-of-00002.safetensors", "truncated");
  });
});

// ---------------------------------------------------------------------------------------------

describe("loadCheckpoint: Hugging Face fixtures", () => {
  const fixtures = resolve(import.meta.dirname, "fixtures", "models");
  it.each([
    { name: "tiny-f32", dtype: "F32", files: 1, tokenizer: "tokenizer.json" },
    { name: "tiny-f16-sharded", dtype: "F16", files: 3, tokenizer: "vocab+merges" },
    { name: "tiny-bf16", dtype: "BF16", files: 1, tokenizer: "tokenizer.json" },
    { name: "fallback-vocab", dtype: "F16", files: 1, tokenizer: null },
  ])("loads $name", async ({ name, dtype, files, tokenizer }) => {
    const dir = join(fixtures, name);
    const ckpt = await loadCheckpoint(dir);
    expect(ckpt.dir).toBe(dir);
    expect(ckpt.tensors.size).toBe(2 + 12 * ckpt.config.nLayer + 2);
    expect([...ckpt.tensors.values()].every((t) => t.dtype === dtype)).toBe(true);
    expect(ckpt.files).toHaveLength(files);
    let total = 0;
    for (const f of ckpt.files) total += (await stat(f)).size;
    expect(ckpt.totalBytes).toBe(total);
    expect(ckpt.tokenizer?.kind ?? null).toBe(tokenizer);
    const { nEmbd, vocabSize, nCtx } = ckpt.config;
    expect(ckpt.tensors.get("wte.weight")?.shape).toEqual([vocabSize, nEmbd]);
    expect(ckpt.tensors.get("wpe.weight")?.shape).toEqual([nCtx, nEmbd]);
  });
});
