/**
 * Byte-level BPE pipelines beyond GPT-2's (BLOOM, OPT, GPT-Neo, Llama-3-style splits,
 * normalizers, added tokens, post-processors), id for id with Hugging Face. The fixtures are
 * made by scripts/make-tokenizer-pipelines.py: small vocabularies trained with `tokenizers`
 * in each pipeline's style, and the ids tokenizers / transformers give for them.
 */
import { readdirSync, readFileSync, writeFileSync, mkdtempSync, rmSync, mkdirSync, copyFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { TokenizerFiles } from "../lib/checkpoint/types.js";
import { GptInputError, GptLoadError } from "../lib/errors.js";
import { StreamDecoder, Tokenizer } from "../lib/tokenizer/index.js";
import { parseNormalizer } from "../lib/tokenizer/normalizers.js";
import { OnigTranslationError, translateOniguruma } from "../lib/tokenizer/onig-regex.js";
import { parsePreTokenizer } from "../lib/tokenizer/pre-tokenizers.js";
import { SPLIT_BEHAVIORS, SplitPattern, type SplitBehavior } from "../lib/tokenizer/split.js";

const FIXTURES = fileURLToPath(new URL("./fixtures/tokenizer/", import.meta.url));
const PIPES = join(FIXTURES, "pipelines");

interface PipelineCase {
  text: string;
  ids: number[];
  idsNoSpecial: number[];
  decoded: string;
  decodedSkip: string;
}
interface PipelineFixture {
  oracle: string;
  vocabSize: number;
  eosTokenId: number | null;
  bosTokenId: number | null;
  files: "tokenizer.json" | "vocab+merges";
  cases: PipelineCase[];
}

function fixture<T>(path: string): T {
  return JSON.parse(readFileSync(path, "utf8")) as T;
}

function filesOf(dir: string, kind: PipelineFixture["files"]): TokenizerFiles {
  return kind === "tokenizer.json"
    ? { kind, path: join(dir, "tokenizer.json") }
    : { kind, vocab: join(dir, "vocab.json"), merges: join(dir, "merges.txt") };
}

function label(text: string): string {
  const s = JSON.stringify(text);
  return s.length > 50 ? s.slice(0, 47) + "…" : s;
}

const pipelines = readdirSync(PIPES).sort();

const fail = (problem: string): never => {
  throw new Error(problem);
};

let tmp: string;
beforeAll(() => {
  tmp = mkdtempSync(join(tmpdir(), "gpt-cuda-pipelines-"));
});
afterAll(() => {
  rmSync(tmp, { recursive: true, force: true });
});

describe("pipelines against Hugging Face", () => {
  it("has the fixtures the script makes", () => {
    expect(pipelines).toEqual(
      expect.arrayContaining(["bloom", "opt-vocab-merges", "opt-tokenizer-json", "gpt-neo", "added-tokens", "normalizer-sequence", "llama3-style",
        "llama2-style", "metaspace-first", "metaspace-first-split", "metaspace-always-split", "metaspace-never-unk"]),
    );
    expect(pipelines.filter((p) => p.startsWith("split-"))).toHaveLength(6);
  });

  for (const name of pipelines) describe(`pipeline ${name}`, () => {
    const dir = join(PIPES, name);
    const fx = fixture<PipelineFixture>(join(dir, "cases.json"));
    let tok: Tokenizer;
    beforeAll(async () => {
      tok = await Tokenizer.load(filesOf(dir, fx.files));
    });

    it(`loads with the oracle's vocabulary size and special ids (${fx.oracle})`, () => {
      expect(tok.vocabSize).toBe(fx.vocabSize);
      if (fx.eosTokenId !== null) expect(tok.eosTokenId).toBe(fx.eosTokenId);
      if (fx.bosTokenId !== null) expect(tok.bosTokenId).toBe(fx.bosTokenId);
    });

    it("encodes every case id for id, with and without special tokens", () => {
      const wrong: string[] = [];
      for (const c of fx.cases) {
        const ids = tok.encode(c.text);
        const plain = tok.encode(c.text, { addSpecialTokens: false });
        if (JSON.stringify(ids) !== JSON.stringify(c.ids)) wrong.push(`${label(c.text)}: ${JSON.stringify(ids)} != ${JSON.stringify(c.ids)}`);
        if (JSON.stringify(plain) !== JSON.stringify(c.idsNoSpecial)) wrong.push(`${label(c.text)} (no special): ${JSON.stringify(plain)} != ${JSON.stringify(c.idsNoSpecial)}`);
      }
      expect(wrong.slice(0, 10)).toEqual([]);
    });

    it("decodes every case as Hugging Face does, keeping or skipping special tokens", () => {
      const wrong: string[] = [];
      for (const c of fx.cases) {
        if (tok.decode(c.ids) !== c.decoded) wrong.push(`${label(c.text)}: ${JSON.stringify(tok.decode(c.ids))}`);
        const skipped = tok.decode(c.ids, { skipSpecialTokens: true });
        if (skipped !== c.decodedSkip) wrong.push(`${label(c.text)} (skip): ${JSON.stringify(skipped)}`);
      }
      expect(wrong.slice(0, 10)).toEqual([]);
    });
  });
});

describe("family details", () => {
  it("OPT (vocab.json + merges.txt + tokenizer_config.json) puts </s> first, as GPT2Tokenizer does", async () => {
    const dir = join(PIPES, "opt-vocab-merges");
    const tok = await Tokenizer.load(filesOf(dir, "vocab+merges"));
    expect(tok.addedSpecialTokens).toEqual({ prefix: [2], suffix: [] });
    expect([tok.bosTokenId, tok.eosTokenId]).toEqual([2, 2]);
    expect(tok.encode("")).toEqual([2]);
    expect(tok.encode("", { addSpecialTokens: false })).toEqual([]);
    expect(tok.tokenToId("</s>")).toBe(2);
    expect(tok.tokenToId("<pad>")).toBe(1);
    expect(tok.isSpecialToken(2)).toBe(true);
    expect(tok.isSpecialToken(0)).toBe(false); // "<s>" is not one of OPT's special tokens
  });

  it("without its tokenizer_config.json the same files add nothing (configDir: null)", async () => {
    const dir = join(PIPES, "opt-vocab-merges");
    const tok = await Tokenizer.load(filesOf(dir, "vocab+merges"), { configDir: null });
    expect(tok.addedSpecialTokens).toEqual({ prefix: [], suffix: [] });
  });

  it("BLOOM adds nothing by default and ends text with </s>", async () => {
    const tok = await Tokenizer.load(filesOf(join(PIPES, "bloom"), "tokenizer.json"));
    expect(tok.addedSpecialTokens).toEqual({ prefix: [], suffix: [] });
    expect([tok.bosTokenId, tok.eosTokenId]).toEqual([1, 2]);
  });

  it("tokenizer_config.json's add_bos_token / add_eos_token replace the post-processor, as transformers does", async () => {
    const dir = join(tmp, "bloom-bos-eos");
    mkdirSync(dir);
    copyFileSync(join(PIPES, "bloom", "tokenizer.json"), join(dir, "tokenizer.json"));
    writeFileSync(join(dir, "tokenizer_config.json"), JSON.stringify({ bos_token: "<s>", eos_token: "</s>", add_bos_token: true, add_eos_token: true }));
    const tok = await Tokenizer.load({ kind: "tokenizer.json", path: join(dir, "tokenizer.json") });
    const plain = tok.encode("hi there", { addSpecialTokens: false });
    expect(tok.encode("hi there")).toEqual([1, ...plain, 2]);
  });

  it("rejects bad options", async () => {
    const tok = await Tokenizer.load(null);
    expect(() => tok.encode("x", { addSpecialTokens: "no" as unknown as boolean })).toThrow(GptInputError);
    expect(() => tok.encode("x", 5 as unknown as { addSpecialTokens: boolean })).toThrow(GptInputError);
    expect(() => tok.decode([1], { skipSpecialTokens: 1 as unknown as boolean })).toThrow(GptInputError);
    expect(tok.encode("a<|endoftext|>b", { addSpecialTokens: true })).toEqual([64, 50256, 65]);
    expect(tok.decode([64, 50256, 65], { skipSpecialTokens: true })).toBe("ab");
  });
});

describe("SentencePiece-style BPE (Llama 2 / TinyLlama)", () => {
  const spPipelines = ["llama2-style", "llama2-normalized-specials", "llama2-transformers", "llama2-transformers-legacy", "metaspace-first", "metaspace-first-split", "metaspace-always-split", "metaspace-never-unk"];
  const load = (name: string): Promise<Tokenizer> => Tokenizer.load(filesOf(join(PIPES, name), "tokenizer.json"));

  it("Llama 2's layout: <s> first, </s> as eos, byte tokens for what the vocabulary lacks", async () => {
    const tok = await load("llama2-style");
    expect(tok.addedSpecialTokens).toEqual({ prefix: [1], suffix: [] });
    expect([tok.bosTokenId, tok.eosTokenId]).toEqual([1, 2]);
    expect(tok.encode("")).toEqual([1]);
    expect(tok.tokenToId("<0x0A>")).toBe(3 + 0x0a);
    expect(tok.tokenToId("\u2581")).not.toBeNull();
    expect(tok.encode("\u0007", { addSpecialTokens: false })).toContain(3 + 0x07);
    expect(tok.encode("\u{1f389}", { addSpecialTokens: false }).slice(-4)).toEqual([0xf0, 0x9f, 0x8e, 0x89].map((b) => 3 + b));
    expect(tok.tokenText(3 + 0x0a)).toBe("\n");
    expect([...tok.tokenBytes(3 + 0xe4)]).toEqual([0xe4]);
    // A lone surrogate encodes as U+FFFD, as everywhere else.
    expect(tok.encode("a\ud800b")).toEqual(tok.encode("a\ufffdb"));
  });

  it("ByteFallback: a run of byte tokens that is not UTF-8 is one U+FFFD per byte, as in Hugging Face", async () => {
    const tok = await load("llama2-style");
    const b = (x: number): number => 3 + x;
    expect(tok.decode([b(0xe4), b(0xb8), b(0xad)])).toBe("中");
    expect(tok.decode([b(0xe4), b(0xb8)])).toBe("\ufffd\ufffd");
    expect(tok.decode([b(0x41), b(0xe4), b(0xb8)])).toBe("\ufffd\ufffd\ufffd");
  });

  for (const name of spPipelines) {
    it(`${name}: StreamDecoder gives decode(ids), one id at a time`, async () => {
      const tok = await load(name);
      const fx = fixture<PipelineFixture>(join(PIPES, name, "cases.json"));
      const wrong: string[] = [];
      for (const c of fx.cases) {
        for (const ids of [c.ids, c.idsNoSpecial]) {
          const stream = new StreamDecoder(tok);
          let text = "";
          for (const id of ids) text += stream.push(id);
          text += stream.flush();
          if (text !== tok.decode(ids)) wrong.push(`${label(c.text)}: ${JSON.stringify(text)}`);
        }
      }
      expect(wrong.slice(0, 10)).toEqual([]);
    });
  }

  it("StreamDecoder holds back a character cut across byte tokens", async () => {
    const tok = await load("llama2-style");
    const stream = new StreamDecoder(tok);
    const hi = tok.encode("hi", { addSpecialTokens: false });
    expect(hi.map((id) => stream.push(id)).join("")).toBe("hi");
    expect(stream.push(3 + 0xe4)).toBe("");
    expect(stream.push(3 + 0xb8)).toBe("");
    expect(stream.push(3 + 0xad)).toBe("中");
    expect(stream.flush()).toBe("");
  });

  it("a decoder a SentencePiece-style file cannot have is E_TOKENIZER", async () => {
    const json = JSON.parse(readFileSync(join(PIPES, "llama2-style", "tokenizer.json"), "utf8")) as Record<string, unknown>;
    json.decoder = { type: "Sequence", decoders: [{ type: "Replace", pattern: { String: "\u2581" }, content: " " }, { type: "WordPiece" }] };
    const path = join(tmp, "sp-bad-decoder.json");
    writeFileSync(path, JSON.stringify(json));
    await expect(Tokenizer.load({ kind: "tokenizer.json", path }, { configDir: null })).rejects.toThrow(/decoder\.decoders\[1\]\.type is "WordPiece"/);
  });
});

describe("Oniguruma patterns in JavaScript", () => {
  interface SplitRow {
    pattern: string;
    text: string;
    invert: boolean;
    pieces: Record<SplitBehavior, string[]>;
  }
  const rows = fixture<SplitRow[]>(join(FIXTURES, "onig-splits.json"));

  it("Split gives Hugging Face's pieces for every pattern, text, behavior and invert", () => {
    const wrong: string[] = [];
    const compiled = new Map<string, RegExp>();
    for (const row of rows) {
      let re = compiled.get(row.pattern);
      if (!re) compiled.set(row.pattern, (re = new RegExp(translateOniguruma(row.pattern) || "(?:)", "gv")));
      const pattern = new SplitPattern(re, row.invert);
      for (const behavior of SPLIT_BEHAVIORS) {
        const out: string[] = [];
        pattern.split(row.text, behavior, out);
        if (JSON.stringify(out) !== JSON.stringify(row.pieces[behavior])) {
          wrong.push(`${row.pattern} on ${label(row.text)} ${behavior}${row.invert ? " inverted" : ""}: ${JSON.stringify(out)} != ${JSON.stringify(row.pieces[behavior])}`);
        }
      }
    }
    expect(wrong.slice(0, 10)).toEqual([]);
  });

  // The code points each one-character pattern matches, over all of Unicode.
  const unicodeMajor = Number.parseInt(process.versions.unicode ?? "0", 10);
  it.skipIf(unicodeMajor < 16)("character classes and properties match the code points Oniguruma's do", () => {
    const classes = fixture<Record<string, Array<[number, number]>>>(join(FIXTURES, "onig-classes.json"));
    let all = "";
    const starts: number[] = [];
    for (let cp = 0; cp < 0x110000; cp++) {
      if (cp >= 0xd800 && cp <= 0xdfff) continue;
      starts.push(cp);
      all += String.fromCodePoint(cp);
    }
    const rustSets: Record<string, unknown> = {
      "rust:numeric": { type: "Digits", individual_digits: true },
      "rust:whitespace": { type: "WhitespaceSplit" },
      "rust:word": { type: "Whitespace" },
    };
    const wrong: string[] = [];
    for (const [pattern, want] of Object.entries(classes)) {
      const isMember = new Uint8Array(0x110000);
      const members = { add: (cp: number): void => void (isMember[cp] = 1) };
      if (pattern.startsWith("rust:")) {
        // Probed as the script probes Hugging Face: every code point between separators, in one text.
        const plan = parsePreTokenizer(fail, "test", rustSets[pattern]);
        const chars = starts.map((cp) => String.fromCodePoint(cp));
        if (pattern === "rust:numeric") {
          for (const p of plan.steps[0]!(["\u0001" + chars.join("\u0001") + "\u0001"])) {
            if (p !== "\u0001" && Array.from(p).length === 1) members.add(p.codePointAt(0)!);
          }
        } else {
          const pieces = plan.steps[0]!(["a" + chars.join("a") + "a"]);
          if (pattern === "rust:whitespace") {
            const present = new Set(Array.from(pieces.join("")));
            for (const c of chars) if (c !== "a" && !present.has(c)) members.add(c.codePointAt(0)!);
          } else {
            for (const p of pieces) if (p.startsWith("a") && p.length >= 2) for (const c of p) if (c !== "a") members.add(c.codePointAt(0)!);
          }
        }
      } else {
        const re = new RegExp(translateOniguruma(pattern), "gv");
        for (const m of all.matchAll(re)) if (m[0].length > 0) members.add(m[0].codePointAt(0)!);
      }
      const wanted = new Uint8Array(0x110000);
      for (const [a, b] of want) wanted.fill(1, a, b + 1);
      const diff: string[] = [];
      for (const cp of starts) {
        if (pattern.startsWith("rust:") && cp === 0x61) continue;
        if (isMember[cp] !== wanted[cp]) diff.push(`U+${cp.toString(16)}${isMember[cp] ? "+" : "-"}`);
      }
      if (diff.length > 0) wrong.push(`${pattern}: ${diff.length} code points differ (${diff.slice(0, 8).join(" ")})`);
    }
    expect(wrong).toEqual([]);
  });

  it("refuses what it cannot translate exactly", () => {
    for (const p of ["(a)\\1", "\\G", "a\\K", "\\X", "(?~abc)", "(?(1)a|b)", "\\p{NoSuchProperty}", "(?i)\\p{Lu}", "(?i:ss)", "(?i:straße)"]) {
      expect(() => translateOniguruma(p), p).toThrow(OnigTranslationError);
    }
  });
});

describe("normalizers against Hugging Face", () => {
  const cases = fixture<Record<string, Array<[string, string]>>>(join(FIXTURES, "normalizer-cases.json"));
  it.each(Object.keys(cases))("%s gives HF's text, Unicode-version differences included", (type) => {
    const n = parseNormalizer(fail, "normalizer", { type })!;
    const wrong = cases[type]!.filter(([text, want]) => n.normalize(text) !== want).map(([t]) => label(t));
    expect(wrong.slice(0, 10)).toEqual([]);
  });
});

describe("unsupported tokenizer files", () => {
  const base = (): Record<string, unknown> =>
    JSON.parse(readFileSync(join(PIPES, "gpt2-style", "tokenizer.json"), "utf8")) as Record<string, unknown>;
  const cases: Array<[string, (j: Record<string, unknown>) => void, RegExp]> = [
    ["a WordPiece model", (j) => ((j.model as Record<string, unknown>).type = "WordPiece"), /model\.type is the string "WordPiece"/],
    ["an unknown normalizer", (j) => (j.normalizer = { type: "BertNormalizer" }), /normalizer\.type is "BertNormalizer"/],
    ["an unknown normalizer inside a Sequence", (j) => (j.normalizer = { type: "Sequence", normalizers: [{ type: "NFC" }, { type: "Nmt" }] }), /normalizer\.normalizers\[1\]\.type is "Nmt"/],
    ["an unknown pre-tokenizer", (j) => (j.pre_tokenizer = { type: "Sequence", pretokenizers: [{ type: "Punctuation" }, { type: "ByteLevel" }] }), /pre_tokenizer\.pretokenizers\[0\]\.type is "Punctuation"/],
    ["a Split regex with a back-reference", (j) => (j.pre_tokenizer = { type: "Sequence", pretokenizers: [{ type: "Split", pattern: { Regex: "(a)\\1" }, behavior: "Isolated", invert: false }, { type: "ByteLevel", use_regex: false }] }), /pre_tokenizer\.pretokenizers\[0\]\.pattern\.Regex: back-references/],
    ["a Split behavior", (j) => (j.pre_tokenizer = { type: "Sequence", pretokenizers: [{ type: "Split", pattern: { String: " " }, behavior: "Sideways", invert: false }, { type: "ByteLevel" }] }), /pretokenizers\[0\]\.behavior must be one of/],
    ["BPE dropout", (j) => ((j.model as Record<string, unknown>).dropout = 0.1), /model\.dropout is 0\.1/],
    ["an unknown post-processor", (j) => (j.post_processor = { type: "Unknown" }), /post_processor\.type is "Unknown"/],
    ["a template with $B", (j) => (j.post_processor = { type: "TemplateProcessing", single: [{ Sequence: { id: "B", type_id: 0 } }], special_tokens: {} }), /post_processor\.single\[0\]/],
    ["a Metaspace decoder", (j) => (j.decoder = { type: "Sequence", decoders: [{ type: "ByteLevel" }, { type: "Metaspace" }] }), /decoder is a Sequence holding Metaspace/],
    ["no ByteLevel anywhere", (j) => (j.pre_tokenizer = { type: "WhitespaceSplit" }), /pre_tokenizer is WhitespaceSplit, with no ByteLevel step/],
  ];
  it.each(cases)("%s: E_TOKENIZER naming the file and field", async (name, patch, problem) => {
    const json = base();
    patch(json);
    const path = join(tmp, `${name.replace(/\W+/g, "-")}.json`);
    writeFileSync(path, JSON.stringify(json));
    const err = await Tokenizer.load({ kind: "tokenizer.json", path }, { configDir: null }).then(
      () => null,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(GptLoadError);
    expect((err as GptLoadError).code).toBe("E_TOKENIZER");
    expect((err as GptLoadError).file).toBe(path);
    expect((err as Error).message.startsWith(path + ": ")).toBe(true);
    expect((err as Error).message).toMatch(problem);
  });

  it("a broken tokenizer_config.json is E_TOKENIZER naming it", async () => {
    const dir = join(tmp, "bad-config");
    mkdirSync(dir);
    copyFileSync(join(PIPES, "bloom", "tokenizer.json"), join(dir, "tokenizer.json"));
    writeFileSync(join(dir, "tokenizer_config.json"), "{nope");
    await expect(Tokenizer.load({ kind: "tokenizer.json", path: join(dir, "tokenizer.json") })).rejects.toMatchObject({
      code: "E_TOKENIZER",
      file: join(dir, "tokenizer_config.json"),
    });
  });
});
