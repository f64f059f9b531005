import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { TokenizerFiles } from "../lib/checkpoint/types.js";
import { GptInputError, GptLoadError } from "../lib/errors.js";
import { mergeByScan, mergeWithQueue, type MergeTable } from "../lib/tokenizer/bpe.js";
import { BYTE_TO_CHAR, byteOfCharCode } from "../lib/tokenizer/byte-unicode.js";
import { readTokenizerFiles } from "../lib/tokenizer/files.js";
import { StreamDecoder, Tokenizer } from "../lib/tokenizer/index.js";
import { PairTable } from "../lib/tokenizer/pair-table.js";
import { pretokenize } from "../lib/tokenizer/pretokenize.js";

const FIXTURES = fileURLToPath(new URL("./fixtures/tokenizer/", import.meta.url));
const ASSETS = fileURLToPath(new URL("../assets/gpt2/", import.meta.url));
const VOCAB_PATH = join(ASSETS, "vocab.json");
const MERGES_PATH = join(ASSETS, "merges.txt");

interface EncodeCase {
  text: string;
  ids: number[];
}
interface DecodeCase {
  ids: number[];
  text: string;
}

function fixture<T>(name: string): T {
  return JSON.parse(readFileSync(join(FIXTURES, name), "utf8")) as T;
}

const cases = fixture<EncodeCase[]>("gpt2-cases.json");
const decodeCases = fixture<DecodeCase[]>("gpt2-decode-cases.json");
const smallCases = fixture<EncodeCase[]>("small-tokenizer-cases.json");
const trickyCases = fixture<EncodeCase[]>("tricky-merges-cases.json");

function label(text: string): string {
  const s = JSON.stringify(text);
  return s.length > 60 ? s.slice(0, 57) + "…" : s;
}

let tok: Tokenizer;
let tmp: string;

beforeAll(async () => {
  tok = await Tokenizer.load(null);
  tmp = mkdtempSync(join(tmpdir(), "gpt-cuda-tokenizer-"));
});

afterAll(() => {
  rmSync(tmp, { recursive: true, force: true });
});

describe("byte ↔ character map", () => {
  it("is GPT-2's reversible map", () => {
    expect(new Set(BYTE_TO_CHAR).size).toBe(256);
    expect(BYTE_TO_CHAR[0x20]).toBe("Ġ");
    expect(BYTE_TO_CHAR[0x0a]).toBe("Ċ");
    expect(BYTE_TO_CHAR[0x41]).toBe("A");
    BYTE_TO_CHAR.forEach((ch, b) => expect(byteOfCharCode(ch.charCodeAt(0))).toBe(b));
    expect(byteOfCharCode(0x20)).toBe(-1);
  });
});

describe("standard vocabulary", () => {
  it("loads assets/gpt2 when files is null", () => {
    expect(tok.vocabSize).toBe(50257);
    expect(tok.eosTokenId).toBe(50256);
    expect(tok.tokenText(15496)).toBe("Hello");
    expect(tok.tokenText(50256)).toBe("<|endoftext|>");
  });

  it("has at least 60 reference cases", () => {
    expect(cases.length).toBeGreaterThanOrEqual(60);
  });

  it.each(cases.map((c, i) => [i, label(c.text), c] as const))(
    "case %i %s gives Hugging Face's ids",
    (_i, _label, c) => {
      expect(tok.encode(c.text)).toEqual(c.ids);
    },
  );

  it("round-trips every case: decode(encode(s)) === s and decode(ids) === s", () => {
    for (const c of cases) {
      expect(tok.decode(tok.encode(c.text))).toBe(c.text);
      expect(tok.decode(c.ids)).toBe(c.text);
    }
  });

  it("decodes ids that cut UTF-8 apart as Hugging Face does (U+FFFD)", () => {
    for (const c of decodeCases) expect(tok.decode(c.ids)).toBe(c.text);
  });

  it("decodeBytes gives the raw bytes, decode accepts typed arrays", () => {
    const ids = tok.encode("é😀");
    expect(Buffer.from(tok.decodeBytes(ids)).toString("utf8")).toBe("é😀");
    expect(tok.decode(Int32Array.from(ids))).toBe("é😀");
    expect(Array.from(tok.decodeBytes([47249]))).toEqual([0xf0, 0x9f, 0x98]);
  });

  it("keeps a leading BOM", () => {
    expect(tok.decode(tok.encode("\ufeffx"))).toBe("\ufeffx");
  });

  it("makes <|endoftext|> in text one eos id", () => {
    expect(tok.encode("a<|endoftext|>b")).toEqual([64, 50256, 65]);
    expect(tok.encode("<|endoftext|>")).toEqual([tok.eosTokenId]);
    expect(tok.encode("<|endoftext")).not.toContain(tok.eosTokenId);
  });

  it("encodes lone surrogates as U+FFFD without throwing", () => {
    // Hugging Face cannot take such strings (Python refuses to UTF-8 encode them); we follow
    // TextEncoder and encode each lone surrogate as U+FFFD.
    for (const s of ["\ud800", "a\udc00b", "x\ud83d", "\ude00\ud83d", "😀".slice(0, 1) + " tail", "ok\ud800\ud800ok"]) {
      const wellFormed = s.replace(/[\ud800-\udfff]/gu, "\ufffd");
      expect(tok.encode(s)).toEqual(tok.encode(wellFormed));
      expect(tok.decode(tok.encode(s))).toBe(wellFormed);
    }
  });

  it("returns the same instance for repeated null loads", async () => {
    expect(await Tokenizer.load(null)).toBe(tok);
  });
});

describe("input errors", () => {
  it("rejects ids outside the vocabulary, naming the id and the size", () => {
    for (const bad of [50257, -1, 1.5, Number.NaN, 1e9]) {
      let err: unknown;
      try {
        tok.decode([15496, bad]);
      } catch (e) {
        err = e;
      }
      expect(err).toBeInstanceOf(GptInputError);
      expect((err as GptInputError).code).toBe("E_INVALID_ARGUMENT");
      expect((err as Error).message).toContain(String(bad));
      expect((err as Error).message).toContain("50257");
    }
    expect(() => tok.tokenText(99999)).toThrow(GptInputError);
    expect(() => new StreamDecoder(tok).push(50257)).toThrow(GptInputError);
  });

  it("rejects non-string text and non-array ids", () => {
    expect(() => tok.encode(42 as unknown as string)).toThrow(GptInputError);
    expect(() => tok.decode(null as unknown as number[])).toThrow(GptInputError);
  });
});

describe("StreamDecoder", () => {
  const texts = [
    "😀",
    "😀😃😄 emoji 🎉",
    "👨\u200d👩\u200d👧\u200d👦 family 🇺🇸",
    "你好世界，我爱北京天安门。",
    "日本語のテキスト 한국어 हिन्दी",
    "𠀀𠀁 𝕳𝖊𝖑𝖑𝖔",
    "plain ASCII text",
    "\ufeffBOM first",
    ...cases.map((c) => c.text).filter((t) => !t.includes("\ufffd")),
  ];

  it.each(texts.slice(0, 8).map((t) => [label(t), t] as const))(
    "streams %s without U+FFFD and matches decode()",
    (_label, text) => {
      const ids = tok.encode(text);
      const dec = new StreamDecoder(tok);
      const chunks = ids.map((id) => dec.push(id));
      chunks.push(dec.flush());
      for (const chunk of chunks) expect(chunk).not.toContain("\ufffd");
      expect(chunks.join("")).toBe(tok.decode(ids));
      expect(chunks.join("")).toBe(text);
    },
  );

  it("never emits U+FFFD for any reference case and always concatenates to decode()", () => {
    for (const text of texts) {
      const ids = tok.encode(text);
      const dec = new StreamDecoder(tok);
      let out = "";
      for (const id of ids) {
        const chunk = dec.push(id);
        expect(chunk).not.toContain("\ufffd");
        out += chunk;
      }
      out += dec.flush();
      expect(out).toBe(text);
    }
  });

  it("holds back a partial character until the token that completes it", () => {
    const [first, second] = tok.encode("😀"); // F0 9F 98 | 80
    const dec = new StreamDecoder(tok);
    expect(dec.push(first!)).toBe("");
    expect(dec.push(second!)).toBe("😀");
    expect(dec.flush()).toBe("");
  });

  it("matches decode() on broken UTF-8 too, and flush() resets", () => {
    const dec = new StreamDecoder(tok);
    for (const c of decodeCases) {
      let out = "";
      for (const id of c.ids) out += dec.push(id);
      out += dec.flush();
      expect(out).toBe(c.text);
    }
  });
});

describe("pre-tokenizer", () => {
  it("splits as GPT-2's regex", () => {
    expect(pretokenize("Hello   world  \n\n it's 1234 日本")).toEqual([
      "Hello",
      "  ",
      " world",
      "  \n\n",
      " it",
      "'s",
      " 1234",
      " 日本",
    ]);
    expect(pretokenize("a\u0085\u0085b")).toEqual(["a", "\u0085", "\u0085", "b"]); // NEL is white space
    expect(pretokenize("a\ufeff\ufeffb")).toEqual(["a", "\ufeff\ufeff", "b"]); // BOM is not
  });

  // Every code point's class (letter, number, white space, other) as Hugging Face's ByteLevel
  // pre-tokenizer sees it. Node with a Unicode older than 16 cannot agree on the Unicode 16 letters.
  const unicodeMajor = Number.parseInt(process.versions.unicode ?? "0", 10);
  it.skipIf(unicodeMajor < 16)("classifies every code point as Hugging Face does", () => {
    const runs = fixture<Array<[number, string]>>("gpt2-charclasses.json");
    const classify = (c: string): string => {
      if (pretokenize("a" + c).length === 1) return "L";
      if (pretokenize("1" + c).length === 1) return "N";
      if (pretokenize("!" + c).length === 1) return "O";
      return "S";
    };
    const wrong: string[] = [];
    runs.forEach(([start, cls], i) => {
      const end = runs[i + 1]?.[0] ?? 0x110000;
      if (cls === "X") return; // surrogates: no Python string holds one
      for (let cp = start; cp < end; cp++) {
        const mine = classify(String.fromCodePoint(cp));
        if (mine !== cls && wrong.length < 20) wrong.push(`U+${cp.toString(16)}: hf ${cls}, ours ${mine}`);
      }
    });
    expect(wrong).toEqual([]);
  });
});

describe("BPE merge loop", () => {
  it("the scan and the queue agree on long and repetitive words", async () => {
    const data = await readTokenizerFiles({ kind: "vocab+merges", vocab: VOCAB_PATH, merges: MERGES_PATH });
    const count = data.merges.length / 3;
    const rankOf = new PairTable(count);
    const resultOf = new Int32Array(count);
    for (let r = 0; r < count; r++) {
      rankOf.set(data.merges[r * 3]!, data.merges[r * 3 + 1]!, r);
      resultOf[r] = data.merges[r * 3 + 2]!;
    }
    const table: MergeTable = { rankOf, resultOf };
    const byteIds = BYTE_TO_CHAR.map((ch) => data.vocab.get(ch)!);
    let seed = 12345;
    const rand = (n: number): number => {
      seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
      return seed % n;
    };
    const alphabet = "aaabbcdeeeefghiilmnnoorssttu ";
    for (let k = 0; k < 300; k++) {
      const len = 2 + rand(200);
      let word = "";
      for (let i = 0; i < len; i++) word += alphabet[rand(alphabet.length)];
      const bytes = Array.from(Buffer.from(word, "utf8"), (b) => byteIds[b]!);
      expect(mergeWithQueue(bytes.slice(), table)).toEqual(mergeByScan(bytes.slice(), table));
    }
  });
});

describe("file layouts", () => {
  function writeTokenizerJson(name: string, mergesAsStrings: boolean): string {
    const vocab = JSON.parse(readFileSync(VOCAB_PATH, "utf8")) as Record<string, number>;
    const merges = readFileSync(MERGES_PATH, "utf8")
      .split("\n")
      .filter((l) => l !== "" && !l.startsWith("#version"));
    const json = {
      version: "1.0",
      truncation: null,
      padding: null,
      added_tokens: [
        { id: 50256, content: "<|endoftext|>", single_word: false, lstrip: false, rstrip: false, normalized: false, special: true },
      ],
      normalizer: null,
      pre_tokenizer: { type: "ByteLevel", add_prefix_space: false, trim_offsets: true, use_regex: true },
      post_processor: { type: "ByteLevel", add_prefix_space: true, trim_offsets: false, use_regex: true },
      decoder: { type: "ByteLevel", add_prefix_space: true, trim_offsets: true, use_regex: true },
      model: {
        type: "BPE",
        dropout: null,
        unk_token: null,
        continuing_subword_prefix: "",
        end_of_word_suffix: "",
        fuse_unk: false,
        byte_fallback: false,
        ignore_merges: false,
        vocab,
        merges: mergesAsStrings ? merges : merges.map((l) => l.split(" ")),
      },
    };
    const path = join(tmp, name);
    writeFileSync(path, JSON.stringify(json));
    return path;
  }

  it.each([
    ["merges as strings (tokenizers < 0.20)", true],
    ["merges as pairs (tokenizers ≥ 0.20)", false],
  ])("tokenizer.json with %s gives the same ids as vocab.json + merges.txt", async (_name, asStrings) => {
    const path = writeTokenizerJson(`full-${asStrings ? "strings" : "pairs"}.json`, asStrings);
    const fromJson = await Tokenizer.load({ kind: "tokenizer.json", path });
    const fromPair = await Tokenizer.load({ kind: "vocab+merges", vocab: VOCAB_PATH, merges: MERGES_PATH });
    expect(fromJson.vocabSize).toBe(fromPair.vocabSize);
    expect(fromJson.eosTokenId).toBe(fromPair.eosTokenId);
    for (const c of cases) {
      expect(fromJson.encode(c.text)).toEqual(c.ids);
      expect(fromPair.encode(c.text)).toEqual(c.ids);
      expect(fromJson.decode(c.ids)).toBe(c.text);
    }
  });

  it("merges.txt without #version, with CRLF and a trailing blank line, loads the same", async () => {
    const lines = readFileSync(MERGES_PATH, "utf8").split("\n").slice(1).filter((l) => l !== "");
    const merges = join(tmp, "merges-crlf.txt");
    writeFileSync(merges, lines.join("\r\n") + "\r\n\r\n");
    const t = await Tokenizer.load({ kind: "vocab+merges", vocab: VOCAB_PATH, merges });
    for (const c of cases.slice(0, 40)) expect(t.encode(c.text)).toEqual(c.ids);
  });

  it("a tokenizer.json written by Hugging Face tokenizers (small vocabulary, added tokens) gives its ids", async () => {
    const small = await Tokenizer.load({ kind: "tokenizer.json", path: join(FIXTURES, "small-tokenizer.json") });
    expect(small.vocabSize).toBe(1262); // 1256 model tokens, then <|endoftext|> and five added tokens
    expect(small.eosTokenId).toBe(1256);
    for (const c of smallCases) {
      expect(small.encode(c.text), label(c.text)).toEqual(c.ids);
    }
  });
});

describe("merge order edge cases", () => {
  it("repeated pairs and tokens made two ways merge as Hugging Face does", async () => {
    // A pair listed twice keeps its later rank; "abc" can be made as ab+c or a+bc.
    const tricky = await Tokenizer.load({ kind: "tokenizer.json", path: join(FIXTURES, "tricky-merges-tokenizer.json") });
    for (const c of trickyCases) expect(tricky.encode(c.text), c.text).toEqual(c.ids);
  });
});

describe("bad tokenizer files", () => {
  const goodVocab = (): Record<string, number> => JSON.parse(readFileSync(VOCAB_PATH, "utf8")) as Record<string, number>;
  const byteVocab = (): Record<string, number> => {
    const v: Record<string, number> = {};
    BYTE_TO_CHAR.forEach((ch, b) => (v[ch] = b));
    v["<|endoftext|>"] = 256;
    return v;
  };
  const tokJson = (patch: (j: Record<string, unknown>) => void): string => {
    const j: Record<string, unknown> = {
      added_tokens: [{ id: 256, content: "<|endoftext|>", special: true }],
      normalizer: null,
      pre_tokenizer: { type: "ByteLevel", add_prefix_space: false, use_regex: true },
      decoder: { type: "ByteLevel" },
      model: { type: "BPE", vocab: byteVocab(), merges: [] as unknown[] },
    };
    patch(j);
    return JSON.stringify(j);
  };
  const model = (j: Record<string, unknown>): Record<string, unknown> => j.model as Record<string, unknown>;

  const jsonCases: Array<[name: string, content: string, problem: RegExp]> = [
    ["garbage", "{not json", /not valid JSON/],
    ["empty file", "", /not valid JSON/],
    ["an array", "[1, 2]", /must be a JSON object/],
    ["no model", tokJson((j) => delete j.model), /no "model" object/],
    ["WordPiece model", tokJson((j) => (model(j).type = "WordPiece")), /model\.type.*WordPiece.*BPE/],
    ["vocab an array", tokJson((j) => (model(j).vocab = [])), /model\.vocab must be an object/],
    ["string id", tokJson((j) => ((model(j).vocab as Record<string, unknown>)["!"] = "0")), /non-negative integer id/],
    ["negative id", tokJson((j) => ((model(j).vocab as Record<string, unknown>)["!"] = -3)), /non-negative integer id.*-3/],
    ["duplicate id", tokJson((j) => ((model(j).vocab as Record<string, unknown>)["xyz"] = 5)), /id 5 is given to both/],
    ["missing byte token", tokJson((j) => delete (model(j).vocab as Record<string, unknown>)["Ġ"]), /no token "Ġ" for byte 0x20/],
    ["merges not array", tokJson((j) => (model(j).merges = "a b")), /model\.merges must be an array/],
    ["merge a number", tokJson((j) => (model(j).merges = [7])), /model\.merges\[0\] must be/],
    ["merge with three parts", tokJson((j) => (model(j).merges = ["a b c"])), /model\.merges\[0\].*two tokens/],
    ["merge of unknown token", tokJson((j) => (model(j).merges = [["a", "zz"]])), /model\.merges\[0\].*"zz".*not in the vocabulary/],
    ["merge result unknown", tokJson((j) => (model(j).merges = [["a", "b"]])), /makes "ab", which is not in the vocabulary/],
    // NFC and the other byte-level normalizers are supported now (tokenizer-pipelines.test.ts).
    ["unknown normalizer", tokJson((j) => (j.normalizer = { type: "Precompiled" })), /normalizer\.type is "Precompiled"/],
    ["other pre-tokenizer", tokJson((j) => (j.pre_tokenizer = { type: "Whitespace" })), /pre_tokenizer is Whitespace/],
    ["ByteLevel without regex", tokJson((j) => (j.pre_tokenizer = { type: "ByteLevel", use_regex: false })), /use_regex: false/],
    ["WordPiece decoder", tokJson((j) => (j.decoder = { type: "WordPiece" })), /decoder is WordPiece/],
    ["suffix", tokJson((j) => (model(j).end_of_word_suffix = "</w>")), /end_of_word_suffix/],
    ["added_tokens object", tokJson((j) => (j.added_tokens = {})), /added_tokens must be an array/],
    ["added token without content", tokJson((j) => (j.added_tokens = [{ id: 3 }])), /added_tokens\[0\]\.content/],
    [
      "no eos",
      tokJson((j) => {
        j.added_tokens = [];
        delete (model(j).vocab as Record<string, unknown>)["<|endoftext|>"];
      }),
      /no <\|endoftext\|> token/,
    ],
  ];

  async function expectLoadError(files: TokenizerFiles, file: string, problem: RegExp): Promise<void> {
    let err: unknown;
    try {
      await Tokenizer.load(files);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(GptLoadError);
    const e = err as GptLoadError;
    expect(e.code).toBe("E_TOKENIZER");
    expect(e.file).toBe(file);
    expect(e.message.startsWith(file)).toBe(true);
    expect(e.message).toMatch(problem);
  }

  it("a minimal well-formed tokenizer.json loads (the bad cases below differ in one thing)", async () => {
    const path = join(tmp, "minimal.json");
    writeFileSync(path, tokJson(() => {}));
    const t = await Tokenizer.load({ kind: "tokenizer.json", path });
    expect(t.vocabSize).toBe(257);
    expect(t.encode("hi<|endoftext|>")).toEqual([BYTE_TO_CHAR.indexOf("h"), BYTE_TO_CHAR.indexOf("i"), 256]);
  });

  it.each(jsonCases)("tokenizer.json: %s", async (name, content, problem) => {
    const path = join(tmp, `bad-${name.replace(/\W+/g, "-")}.json`);
    writeFileSync(path, content);
    await expectLoadError({ kind: "tokenizer.json", path }, path, problem);
  });

  it("tokenizer.json: missing file", async () => {
    const path = join(tmp, "does-not-exist.json");
    await expectLoadError({ kind: "tokenizer.json", path }, path, /not found/);
  });

  it("vocab.json garbage names vocab.json", async () => {
    const vocab = join(tmp, "garbage-vocab.json");
    writeFileSync(vocab, "\u0000\u0001garbage");
    await expectLoadError({ kind: "vocab+merges", vocab, merges: MERGES_PATH }, vocab, /not valid JSON/);
  });

  it("vocab.json that is a list names vocab.json", async () => {
    const vocab = join(tmp, "list-vocab.json");
    writeFileSync(vocab, JSON.stringify(["a", "b"]));
    await expectLoadError({ kind: "vocab+merges", vocab, merges: MERGES_PATH }, vocab, /must be an object/);
  });

  it("vocab.json without <|endoftext|> names vocab.json", async () => {
    const v = goodVocab();
    delete v["<|endoftext|>"];
    const vocab = join(tmp, "no-eos-vocab.json");
    writeFileSync(vocab, JSON.stringify(v));
    await expectLoadError({ kind: "vocab+merges", vocab, merges: MERGES_PATH }, vocab, /no <\|endoftext\|> token/);
  });

  it("a malformed merges.txt line names merges.txt and the line", async () => {
    const merges = join(tmp, "bad-line-merges.txt");
    writeFileSync(merges, "#version: 0.2\nĠ t\nĠ a b\n");
    await expectLoadError({ kind: "vocab+merges", vocab: VOCAB_PATH, merges }, merges, /line 3: expected two tokens/);
  });

  it("a merges.txt merge of an unknown token names merges.txt", async () => {
    const merges = join(tmp, "unknown-merges.txt");
    writeFileSync(merges, "#version: 0.2\nĠ t\nĠ ☃☃\n");
    await expectLoadError(
      { kind: "vocab+merges", vocab: VOCAB_PATH, merges },
      merges,
      /line 3: merge "Ġ" \+ "☃☃" uses "☃☃", which is not in the vocabulary/,
    );
  });

  it("an empty merges.txt beside a full vocabulary names merges.txt", async () => {
    const merges = join(tmp, "empty-merges.txt");
    writeFileSync(merges, "#version: 0.2\n");
    await expectLoadError({ kind: "vocab+merges", vocab: VOCAB_PATH, merges }, merges, /has no merges, but the vocabulary has 50257 tokens/);
  });

  it("a missing merges.txt names merges.txt", async () => {
    const merges = join(tmp, "missing-merges.txt");
    await expectLoadError({ kind: "vocab+merges", vocab: VOCAB_PATH, merges }, merges, /not found/);
  });

  it("an unknown files.kind is an input error", async () => {
    await expect(Tokenizer.load({ kind: "sentencepiece" } as unknown as TokenizerFiles)).rejects.toThrow(GptInputError);
  });
});
