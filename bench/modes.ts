// Prefill and batch-1 decode of one model in one compute mode and dtype, for rounds interleaved
// with peers (bench/NOTES.md §15): one JSON line. `npm run bench` is the full benchmark.
//   npx tsx bench/modes.ts <float32|bfloat16> <dtype> [prompt tokens] [prefill runs] [decode tokens]
import { Gpt, type ComputeMode, type WeightDtype } from "../lib/index.js";

const [compute, dtype] = [process.argv[2] as ComputeMode, process.argv[3] as WeightDtype];
const [tokens, runs, decodeTokens] = [Number(process.argv[4] ?? 512), Number(process.argv[5] ?? 5), Number(process.argv[6] ?? 64)];
const gpt = await Gpt.random("gpt2", { threads: 2, compute, dtype, maxBatchTokens: Math.max(256, tokens) });
let seed = 1;
const fresh = (n: number) => Array.from({ length: n }, () => (seed = (seed * 1103515245 + 12345) % 2 ** 31) % 50000);
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[xs.length >> 1]!;
const greedy = { temperature: 0, ignoreEos: true } as const;
await gpt.generate(fresh(64), { ...greedy, maxTokens: 2 });
const prefillMs: number[] = [];
for (let r = 0; r < runs; r++) prefillMs.push((await gpt.generate(fresh(tokens), { ...greedy, maxTokens: 1 })).timings.prefillMs);
const msPerToken: number[] = [];
for (let r = 0; r < 3 && decodeTokens > 1; r++) {
  const t = (await gpt.generate(fresh(16), { ...greedy, maxTokens: decodeTokens })).timings;
  msPerToken.push(t.decodeMs / (decodeTokens - 1));
}
console.log(JSON.stringify({
  compute: gpt.compute,
  dtype,
  prefillTokens: tokens,
  prefillTokensPerSecond: (tokens / median(prefillMs)) * 1000,
  decodeTokensPerSecond: msPerToken.length ? 1000 / median(msPerToken) : null,
}));
gpt.dispose();
