// A worker thread that loads a model and generates until it is stopped: from outside
// (worker.terminate()) or, with workerData.exitAfterMs, by calling process.exit() itself while a
// step is in flight (tests/worker-threads.test.ts).
import { parentPort, workerData } from "node:worker_threads";

import { Gpt } from "../../lib/index.js";

const { model, exitAfterMs } = workerData as { model: string; exitAfterMs: number | null };
const gpt = await Gpt.load(model, { threads: 1 });
parentPort!.postMessage("loaded");
if (exitAfterMs !== null) setTimeout(() => process.exit(0), exitAfterMs);
for (;;) await gpt.generate("Once upon a time", { maxTokens: 40, ignoreEos: true });
