// Run in a child process by tests/memory.test.ts: loads a checkpoint, then generates, and prints
// as JSON the process's resident memory before loading, its peak while loading and its peak
// after generating (kB, from /proc).
import { readFileSync, writeFileSync } from "node:fs";

import { Gpt, type ComputeMode, type WeightDtype } from "../../lib/index.js";
import { native } from "../../lib/native.js";

function status(field: "VmRSS" | "VmHWM"): number {
  const line = readFileSync("/proc/self/status", "utf8").split("\n").find((l) => l.startsWith(field + ":"));
  return Number(line!.split(/\s+/)[1]);
}

const [dir, dtype, compute] = process.argv.slice(2);
native(); // the addon's own pages are not the weights'
const before = status("VmRSS");
writeFileSync("/proc/self/clear_refs", "5"); // reset VmHWM to the current RSS
const gpt = await Gpt.load(dir!, {
  dtype: (dtype || undefined) as WeightDtype | undefined,
  compute: (compute || undefined) as ComputeMode | undefined,
  threads: 2,
});
const peak = status("VmHWM");
await gpt.generate([1, 2, 3, 4, 5, 6, 7, 8], { maxTokens: gpt.config.nCtx - 8, temperature: 0, ignoreEos: true });
const generatingPeak = status("VmHWM");
const weightBytes = gpt.weightBytes;
const kvCacheBytes = gpt.kvCacheBytes;
gpt.dispose();
console.log(JSON.stringify({ before, peak, generatingPeak, weightBytes, kvCacheBytes }));
