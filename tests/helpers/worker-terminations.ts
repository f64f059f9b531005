// Starts `count` workers (tests/helpers/generating-worker.ts), each stopped at a random point of
// its generation — terminated from here, or exiting by itself — while this thread keeps a model
// of its own; prints "alive <tokens>" with that model's greedy tokens at the end, which the test
// compares with a run that saw no workers. Run with tsx: node --import tsx worker-terminations.ts <model> <count> <seed>.
import { Worker } from "node:worker_threads";

import { Gpt } from "../../lib/index.js";

const [model, countText, seedText] = process.argv.slice(2);
const count = Number(countText);
let state = Number(seedText) >>> 0 || 1;
const random = () => ((state = (Math.imul(state, 1664525) + 1013904223) >>> 0) / 2 ** 32);

const gpt = await Gpt.load(model!, { threads: 1 });
const greedy = () => gpt.generate("The meaning of", { maxTokens: 8, temperature: 0, ignoreEos: true });
for (let i = 0; i < count; i++) {
  const selfExit = random() < 0.5;
  const worker = new Worker(new URL("./generating-worker.mjs", import.meta.url), {
    workerData: { model, exitAfterMs: selfExit ? Math.floor(random() * 40) : null },
  });
  const exited = new Promise<number>((resolve) => worker.on("exit", resolve));
  worker.on("error", (e) => {
    console.error(`worker ${i}: ${e.message}`);
    process.exitCode = 1;
  });
  await new Promise((resolve) => worker.once("message", resolve));
  // Our own model works while the worker generates.
  if (i % 10 === 0) await greedy();
  if (!selfExit) {
    await new Promise((resolve) => setTimeout(resolve, random() * 40));
    await worker.terminate();
  }
  await exited;
}
console.log(`alive ${(await greedy()).tokens.join(",")}`);
gpt.dispose();
