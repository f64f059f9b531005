/**
 * Our tokenizer against @huggingface/tokenizers (the engine transformers.js 4 uses), for the
 * README's "why our own": exactness on every reference fixture and encode throughput.
 *
 *   mkdir -p /tmp/tok-eval && (cd /tmp/tok-eval && npm init -y && npm install @huggingface/tokenizers@0.2.0)
 *   npx tsx bench/compare-tokenizers.ts /tmp/tok-eval
 *
 * The library is installed outside the repository so that package.json stays as it is.
 * Exactness: ids with and without add_special_tokens and decode, per fixture, against
 * Hugging Face's ids (tests/fixtures/tokenizer). Throughput: ~1 MB of English Markdown and
 * ~1 MB of mixed-script text encoded with GPT-2's full vocabulary (as a tokenizer.json),
 * median of 5 runs in this one process, each run with a freshly built tokenizer of each kind.
 */
import { readdirSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { pathToFileURL, fileURLToPath } from "node:url";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { Tokenizer } from "../lib/tokenizer/index.js";

interface TheirTokenizer {
  encode(text: string, options?: { add_special_tokens?: boolean }): { ids: number[] };
  decode(ids: number[], options?: { skip_special_tokens?: boolean }): string;
}
type TheirCtor = new (json: object, config: object) => TheirTokenizer;

const ROOT = fileURLToPath(new URL("../", import.meta.url));
const FIXTURES = join(ROOT, "tests/fixtures/tokenizer");
const RUNS = 5;

function median(xs: number[]): number {
  const s = xs.slice().sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

function gpt2TokenizerJson(): object {
  const vocab = JSON.parse(readFileSync(join(ROOT, "assets/gpt2/vocab.json"), "utf8")) as Record<string, number>;
  const merges = readFileSync(join(ROOT, "assets/gpt2/merges.txt"), "utf8").split("\n").filter((l) => l !== "" && !l.startsWith("#version"));
  return {
    version: "1.0",
    added_tokens: [{ id: 50256, content: "<|endoftext|>", single_word: false, lstrip: false, rstrip: false, normalized: false, special: true }],
    normalizer: null,
    pre_tokenizer: { type: "ByteLevel", add_prefix_space: false, trim_offsets: true, use_regex: true },
    post_processor: { type: "ByteLevel", add_prefix_space: true, trim_offsets: false, use_regex: true },
    decoder: { type: "ByteLevel", add_prefix_space: true, trim_offsets: true, use_regex: true },
    model: { type: "BPE", dropout: null, unk_token: null, continuing_subword_prefix: "", end_of_word_suffix: "", fuse_unk: false, byte_fallback: false, ignore_merges: false, vocab, merges },
  };
}

function markdownCorpus(limit: number): string {
  const out: string[] = [];
  let size = 0;
  const walk = (dir: string): void => {
    let names: string[];
    try {
      names = readdirSync(dir).sort();
    } catch {
      return;
    }
    for (const name of names) {
      if (size >= limit) return;
      const path = join(dir, name);
      const st = statSync(path);
      if (st.isDirectory()) walk(path);
      else if (name.endsWith(".md")) {
        const text = readFileSync(path, "utf8");
        out.push(text);
        size += Buffer.byteLength(text);
      }
    }
  };
  walk(join(ROOT, "node_modules"));
  return out.join("\n\n");
}

function mixedCorpus(limit: number): string {
  const cases = JSON.parse(readFileSync(join(FIXTURES, "gpt2-cases.json"), "utf8")) as Array<{ text: string }>;
  const texts = cases.map((c) => c.text).filter((t) => !t.includes("<|endoftext|>"));
  let out = "";
  for (let i = 0; Buffer.byteLength(out) < limit; i++) out += texts[i % texts.length] + "\n";
  return out;
}

async function main(): Promise<void> {
  const evalDir = process.argv[2] ?? "/tmp/tok-eval";
  const mod = (await import(pathToFileURL(join(evalDir, "node_modules/@huggingface/tokenizers/dist/tokenizers.mjs")).href)) as { Tokenizer: TheirCtor };
  const Theirs = mod.Tokenizer;
  const version = (JSON.parse(readFileSync(join(evalDir, "node_modules/@huggingface/tokenizers/package.json"), "utf8")) as { version: string }).version;
  console.log(`@huggingface/tokenizers ${version} vs gpt-cuda's tokenizer, Node ${process.version}\n`);

  // ---- exactness ----
  console.log("exactness (texts whose ids / decode equal Hugging Face's):");
  const tmp = mkdtempSync(join(tmpdir(), "tok-compare-"));
  const gpt2Json = gpt2TokenizerJson();
  writeFileSync(join(tmp, "tokenizer.json"), JSON.stringify(gpt2Json));
  const gpt2Cases = (JSON.parse(readFileSync(join(FIXTURES, "gpt2-cases.json"), "utf8")) as Array<{ text: string; ids: number[] }>).map((c) => ({
    text: c.text,
    ids: c.ids,
    idsNoSpecial: c.ids,
    decoded: c.text,
    decodedSkip: null as string | null,
  }));
  const kinds: Array<{ name: string; ours: () => Promise<Tokenizer>; theirs: () => TheirTokenizer | string; cases: typeof gpt2Cases }> = [
    { name: "gpt2 (full vocabulary)", ours: () => Tokenizer.load({ kind: "tokenizer.json", path: join(tmp, "tokenizer.json") }), theirs: () => new Theirs(gpt2Json, {}), cases: gpt2Cases },
  ];
  const pipes = join(FIXTURES, "pipelines");
  for (const name of readdirSync(pipes).sort()) {
    const dir = join(pipes, name);
    const fx = JSON.parse(readFileSync(join(dir, "cases.json"), "utf8")) as { files: string; cases: typeof gpt2Cases };
    const configPath = join(dir, "tokenizer_config.json");
    let config: object = {};
    try {
      config = JSON.parse(readFileSync(configPath, "utf8")) as object;
    } catch {
      /* none */
    }
    kinds.push({
      name,
      ours: () =>
        Tokenizer.load(
          fx.files === "tokenizer.json"
            ? { kind: "tokenizer.json", path: join(dir, "tokenizer.json") }
            : { kind: "vocab+merges", vocab: join(dir, "vocab.json"), merges: join(dir, "merges.txt") },
        ),
      theirs: () => {
        if (fx.files !== "tokenizer.json") return "no vocab.json + merges.txt loader";
        try {
          return new Theirs(JSON.parse(readFileSync(join(dir, "tokenizer.json"), "utf8")) as object, config);
        } catch (err) {
          return `fails to load: ${(err as Error).message.slice(0, 80)}`;
        }
      },
      cases: fx.cases,
    });
  }
  let allOurs = true;
  let allTheirs = true;
  for (const kind of kinds) {
    const ours = await kind.ours();
    const theirs = kind.theirs();
    const n = kind.cases.length;
    let okOurs = 0;
    let okTheirs = 0;
    for (const c of kind.cases) {
      const same = (a: unknown, b: unknown): boolean => JSON.stringify(a) === JSON.stringify(b);
      if (
        same(ours.encode(c.text), c.ids) &&
        same(ours.encode(c.text, { addSpecialTokens: false }), c.idsNoSpecial) &&
        ours.decode(c.ids) === c.decoded &&
        (c.decodedSkip === null || ours.decode(c.ids, { skipSpecialTokens: true }) === c.decodedSkip)
      )
        okOurs++;
      if (typeof theirs !== "string") {
        try {
          if (
            same(theirs.encode(c.text).ids, c.ids) &&
            same(theirs.encode(c.text, { add_special_tokens: false }).ids, c.idsNoSpecial) &&
            theirs.decode(c.ids) === c.decoded &&
            (c.decodedSkip === null || theirs.decode(c.ids, { skip_special_tokens: true }) === c.decodedSkip)
          )
            okTheirs++;
        } catch {
          /* counts as wrong */
        }
      }
    }
    allOurs &&= okOurs === n;
    allTheirs &&= okTheirs === n;
    const theirText = typeof theirs === "string" ? theirs : `${okTheirs}/${n}`;
    console.log(`  ${kind.name.padEnd(28)} ours ${okOurs}/${n}   @huggingface/tokenizers ${theirText}`);
  }
  console.log(`  all exact: ours ${allOurs}, @huggingface/tokenizers ${allTheirs}\n`);

  // ---- throughput ----
  console.log(`encode throughput, GPT-2 vocabulary, median of ${RUNS} runs (fresh tokenizer each run):`);
  for (const [label, text] of [
    ["English Markdown", markdownCorpus(1_000_000)],
    ["mixed scripts (gpt2-cases)", mixedCorpus(1_000_000)],
  ] as const) {
    const mb = Buffer.byteLength(text) / 1e6;
    const rate = { ours: [] as number[], theirs: [] as number[] };
    let tokens = { ours: 0, theirs: 0 };
    for (let run = 0; run < RUNS; run++) {
      const ours = await Tokenizer.load({ kind: "tokenizer.json", path: join(tmp, "tokenizer.json") });
      let t0 = performance.now();
      tokens.ours = ours.encode(text).length;
      rate.ours.push(mb / ((performance.now() - t0) / 1000));
      const theirs = new Theirs(gpt2Json, {});
      t0 = performance.now();
      tokens.theirs = theirs.encode(text).ids.length;
      rate.theirs.push(mb / ((performance.now() - t0) / 1000));
    }
    const o = median(rate.ours);
    const t = median(rate.theirs);
    console.log(
      `  ${label}: ${mb.toFixed(2)} MB, ${tokens.ours} tokens: ours ${o.toFixed(1)} MB/s (${((tokens.ours * o) / mb / 1e6).toFixed(2)} M tokens/s), ` +
        `@huggingface/tokenizers ${t.toFixed(1)} MB/s (${((tokens.theirs * t) / mb / 1e6).toFixed(2)} M tokens/s)` +
        (tokens.ours === tokens.theirs ? "" : ` [token counts differ: ${tokens.theirs}]`),
    );
  }
}

await main();
