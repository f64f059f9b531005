/**
 * The server bench/serve.ts measures, in a process of its own (as a real deployment runs it):
 * a random GPT-2 (--preset) or a checkpoint (--model), served on a free loopback port. Prints
 * one line, the URL, once it listens.
 */
import { parseArgs } from "node:util";

import { Gpt, type WeightDtype } from "../../lib/index.js";
import { serve } from "../../lib/server/index.js";

const { values } = parseArgs({
  options: {
    preset: { type: "string" },
    model: { type: "string" },
    dtype: { type: "string", default: "float16" },
    threads: { type: "string" },
    "max-sequences": { type: "string", default: "32" },
  },
});
const load = {
  device: "cpu" as const,
  dtype: values.dtype as WeightDtype,
  maxSequences: Number(values["max-sequences"]),
  ...(values.threads ? { threads: Number(values.threads) } : {}),
};
const gpt = values.model ? await Gpt.load(values.model, load) : await Gpt.random((values.preset ?? "gpt2") as "gpt2", { ...load, seed: 1 });
const server = await serve(gpt, { port: 0, logLevel: false, modelId: "bench" });
process.stdout.write(`${server.url}\n`);
const stop = async () => {
  await server.close(1000);
  gpt.dispose();
  process.exit(0);
};
process.once("SIGTERM", () => void stop());
