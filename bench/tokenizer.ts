/**
 * Tokenizer speed: load time of the standard vocabulary and encode throughput in MB/s
 * (UTF-8 bytes of input per second), median of 5 runs, each with a freshly loaded tokenizer
 * so the word cache starts empty.
 *
 *   npx tsx bench/tokenizer.ts [file ...]
 *
 * Without arguments it encodes two corpora found in node_modules: every Markdown file
 * (English documentation with some code) and TypeScript's lib.dom.d.ts (code and comments).
 * Files given as arguments are encoded instead, as one corpus.
 */
import { readdirSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import type { TokenizerFiles } from "../lib/checkpoint/types.js";
import { Tokenizer } from "../lib/tokenizer/index.js";

const ROOT = fileURLToPath(new URL("../", import.meta.url));
const RUNS = 5;
const STANDARD: TokenizerFiles = {
  kind: "vocab+merges",
  vocab: join(ROOT, "assets/gpt2/vocab.json"),
  merges: join(ROOT, "assets/gpt2/merges.txt"),
};

function findFiles(dir: string, test: (name: string) => boolean, out: string[] = []): string[] {
  let entries: string[];
  try {
    entries = readdirSync(dir);
  } catch {
    return out;
  }
  for (const name of entries.sort()) {
    const path = join(dir, name);
    let st;
    try {
      st = statSync(path);
    } catch {
      continue;
    }
    if (st.isDirectory()) findFiles(path, test, out);
    else if (st.isFile() && test(name)) out.push(path);
  }
  return out;
}

function median(xs: number[]): number {
  const s = xs.slice().sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

async function measure(name: string, texts: string[]): Promise<void> {
  const bytes = texts.reduce((n, t) => n + Buffer.byteLength(t, "utf8"), 0);
  if (bytes === 0) {
    console.log(`${name}: no text found, skipped`);
    return;
  }
  const rates: number[] = [];
  let tokens = 0;
  for (let run = 0; run < RUNS; run++) {
    const tok = await Tokenizer.load(STANDARD);
    const t0 = performance.now();
    tokens = 0;
    for (const t of texts) tokens += tok.encode(t).length;
    const seconds = (performance.now() - t0) / 1000;
    rates.push(bytes / 1e6 / seconds);
  }
  const mbps = median(rates);
  console.log(
    `${name}: ${(bytes / 1e6).toFixed(2)} MB in ${texts.length} texts, ${tokens} tokens, ` +
      `${mbps.toFixed(1)} MB/s median of ${RUNS} (runs: ${rates.map((r) => r.toFixed(1)).join(", ")})`,
  );
}

async function main(): Promise<void> {
  const loads: number[] = [];
  for (let run = 0; run < RUNS; run++) {
    const t0 = performance.now();
    await Tokenizer.load(STANDARD);
    loads.push(performance.now() - t0);
  }
  console.log(`load standard vocabulary: ${median(loads).toFixed(0)} ms median (first ${loads[0]!.toFixed(0)} ms)`);

  const args = process.argv.slice(2);
  if (args.length > 0) {
    await measure(args.join(" "), args.map((f) => readFileSync(f, "utf8")));
    return;
  }
  const nodeModules = join(ROOT, "node_modules");
  const markdown = findFiles(nodeModules, (n) => n.toLowerCase().endsWith(".md")).map((f) => readFileSync(f, "utf8"));
  await measure("English docs (node_modules/**/*.md)", markdown);
  const dom = findFiles(join(nodeModules, "typescript/lib"), (n) => n === "lib.dom.d.ts").map((f) => readFileSync(f, "utf8"));
  await measure("code (typescript/lib/lib.dom.d.ts)", dom);
}

await main();
