// A soak run (tests/soak.test.ts): `warmup` load → generate → dispose cycles of a model, then
// `cycles` more, then `calls` generate calls on one model; prints JSON with RSS (bytes) at the
// baseline (after the warm-up and a GC) and after each phase (after a GC). The warm-up lets the
// allocators reach their steady state: RSS rises 25–30 MB over the first few hundred cycles of
// the tiny fixture and then stays (1,600 cycles measured), which is glibc's and V8's retained
// free memory, not a leak. With "leak", every model is kept instead of disposed: the check must
// see that. Run with: node --expose-gc --import tsx soak.ts <model> <warmup> <cycles> <calls> [leak]
import { Gpt } from "../../lib/index.js";

const [model, warmupText, cyclesText, callsText, mode] = process.argv.slice(2);
const warmup = Number(warmupText), cycles = Number(cyclesText), calls = Number(callsText), leak = mode === "leak";
const exposed = (globalThis as { gc?: () => void }).gc;
if (!exposed) throw new Error("run with --expose-gc");
const gc: () => void = exposed;

/** RSS after the collector has run and freed what it can. */
async function settledRss(): Promise<number> {
  for (let i = 0; i < 3; i++) {
    gc();
    await new Promise((resolve) => setImmediate(resolve));
  }
  return process.memoryUsage.rss();
}

const kept: Gpt[] = [];
async function cycle(): Promise<void> {
  const gpt = await Gpt.load(model!, { threads: 1, maxSequences: 2, kvCacheTokens: 256 });
  await gpt.generate("Soak", { maxTokens: 2, ignoreEos: true, seed: 1 });
  if (leak) kept.push(gpt);
  else gpt.dispose();
}

for (let i = 0; i < Math.max(1, warmup); i++) await cycle();
const baseline = await settledRss();
for (let i = 0; i < cycles; i++) await cycle();
const afterCycles = await settledRss();

const gpt = await Gpt.load(model!, { threads: 1, maxSequences: 4, kvCacheTokens: 512 });
const first = await gpt.generate("The soak", { maxTokens: 4, temperature: 0, ignoreEos: true });
const beforeCalls = await settledRss();
let same = true;
for (let i = 0; i < calls; i++) {
  const out = await gpt.generate(i % 2 ? "The soak" : "Another prompt", { maxTokens: 4, temperature: 0, ignoreEos: true });
  if (i % 2 && out.tokens.join() !== first.tokens.join()) same = false;
}
const afterCalls = await settledRss();
gpt.dispose();
console.log(JSON.stringify({ baseline, afterCycles, beforeCalls, afterCalls, same, kept: kept.length }));
