/**
 * Batched decode against a peer, in one process: gpt-cuda and node-llama-cpp (llama.cpp) on the
 * same weights — a Hugging Face GPT-2 checkpoint, and its GGUF conversion — alternating round by
 * round, so both see the same machine at the same minutes.
 *
 *   npx tsx bench/peer-llama.ts --llama <dir> --gguf <model.gguf> --checkpoint <hf dir> [--ns 1,8] [--rounds 3]
 *
 * <dir> is a directory whose node_modules holds node-llama-cpp (it is not a dependency of this
 * package: `npm install node-llama-cpp` there). Both run N greedy sequences of 8-token prompts at
 * once, 128 new tokens each, end of text ignored, on `--threads` CPU threads (default 2);
 * aggregate tokens/s = tokens of all over the wall time of the decode phase. node-llama-cpp runs
 * two ways: its usual API (one `evaluate()` generator per sequence of one context, which batches
 * whatever is queued), and in lockstep (every sequence's next token submitted in the same tick,
 * so each llama_decode call carries exactly N rows: its best case).
 */
import { createRequire } from "node:module";
import { join, resolve } from "node:path";

import { Gpt } from "../lib/index.js";
import { median } from "./lib/stats.js";

const PROMPT_TOKENS = 8;
const NEW_TOKENS = 128;

function flag(name: string, fallback?: string): string {
  const at = process.argv.indexOf(`--${name}`);
  const value = at >= 0 ? process.argv[at + 1] : fallback;
  if (value === undefined) throw new Error(`bench/peer-llama.ts: --${name} is required (see the file's header)`);
  return value;
}

const llamaDir = resolve(flag("llama"));
const gguf = resolve(flag("gguf"));
const checkpoint = resolve(flag("checkpoint"));
const counts = flag("ns", "1,8").split(",").map(Number);
const rounds = Number(flag("rounds", "3"));
const threads = Number(flag("threads", "2"));

/** Prompt i: 8 ids, different for every sequence, the same for both engines. */
const prompt = (i: number) => Array.from({ length: PROMPT_TOKENS }, (_, j) => (i * 7919 + j * 104729 + 13) % 50000);

async function ours(gpt: Gpt, n: number): Promise<number> {
  const spans = await Promise.all(
    Array.from({ length: n }, async (_, i) => {
      const times: number[] = [];
      for await (const _chunk of gpt.stream(prompt(i), { maxTokens: NEW_TOKENS, temperature: 0, ignoreEos: true }))
        times.push(performance.now());
      return { first: times[0]!, last: times.at(-1)!, tokens: times.length - 1 };
    }),
  );
  const tokens = spans.reduce((t, s) => t + s.tokens, 0);
  return (tokens / (Math.max(...spans.map((s) => s.last)) - Math.min(...spans.map((s) => s.first)))) * 1000;
}

// node-llama-cpp's surface as used here (its own types are not available to this package).
interface LlamaSequence {
  clearHistory(): Promise<void>;
  evaluateWithoutGeneratingNewTokens(tokens: number[]): Promise<void>;
  evaluate(tokens: number[], options: object): AsyncIterable<number>;
  controlledEvaluate(input: unknown[]): Promise<{ next: { token: number } }[]>;
}
interface LlamaContext {
  getSequence(): LlamaSequence;
  dispose(): Promise<void>;
}

/** N sequences of one context; the clock runs from the first decode step (each prompt's last token). */
async function peer(seqs: LlamaSequence[], lockstep: boolean): Promise<number> {
  for (const s of seqs) await s.clearHistory();
  await Promise.all(seqs.map((s, i) => s.evaluateWithoutGeneratingNewTokens(prompt(i).slice(0, -1))));
  const t0 = performance.now();
  let tokens = 0;
  if (lockstep) {
    let last = seqs.map((_, i) => prompt(i).at(-1)!);
    for (let step = 0; step < NEW_TOKENS; step++) {
      const out = await Promise.all(
        seqs.map((s, i) => s.controlledEvaluate([[last[i], { generateNext: { token: true, options: { temperature: 0 } } }]])),
      );
      last = out.map((r) => r[0]!.next.token);
      tokens += seqs.length;
    }
  } else {
    await Promise.all(
      seqs.map(async (s, i) => {
        let made = 0;
        for await (const _token of s.evaluate([prompt(i).at(-1)!], { temperature: 0, yieldEogToken: true }))
          if (++made >= NEW_TOKENS) break;
        tokens += made;
      }),
    );
  }
  return (tokens / (performance.now() - t0)) * 1000;
}

const require = createRequire(join(llamaDir, "package.json"));
const llamaEntry = require.resolve("node-llama-cpp");
const { getLlama, LlamaLogLevel } = (await import(llamaEntry)) as {
  getLlama(o: object): Promise<{ loadModel(o: object): Promise<{ createContext(o: object): Promise<LlamaContext> }> }>;
  LlamaLogLevel: { warn: unknown };
};
const llama = await getLlama({ gpu: false, build: "never", maxThreads: threads, logLevel: LlamaLogLevel.warn });
const llamaModel = await llama.loadModel({ modelPath: gguf, gpuLayers: 0 });
const gpt = await Gpt.load(checkpoint, { device: "cpu", dtype: "float16", threads, maxSequences: Math.max(...counts) });

const results: Record<string, number[]> = {};
const record = (key: string, value: number) => (results[key] ??= []).push(value);
for (let round = 0; round < rounds; round++)
  for (const n of counts) {
    const context = await llamaModel.createContext({ sequences: n, contextSize: n * 256, batchSize: 512, threads });
    const seqs = Array.from({ length: n }, () => context.getSequence());
    record(`node-llama-cpp ${n}`, await peer(seqs, false));
    record(`node-llama-cpp lockstep ${n}`, await peer(seqs, true));
    await context.dispose();
    record(`gpt-cuda ${n}`, await ours(gpt, n));
    process.stderr.write(`round ${round + 1}/${rounds}, ${n} sequence${n === 1 ? "" : "s"} done\n`);
  }
gpt.dispose();

const rows = Object.entries(results).map(([key, runs]) => ({ engine: key, medianTokensPerSecond: median(runs), runs }));
console.log(JSON.stringify({ gguf, checkpoint, threads, promptTokens: PROMPT_TOKENS, newTokens: NEW_TOKENS, rounds, rows }, null, 2));
