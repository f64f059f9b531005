// Run in a child process by tests/memory.test.ts: loads a checkpoint and prints, as JSON, the
// process's resident memory before loading and its peak while loading (kB, from /proc).
import { readFileSync, writeFileSync } from "node:fs";

import { Gpt, type WeightDtype } from "../../lib/index.js";
import { native } from "../../lib/native.js";

function status(field: "VmRSS" | "VmHWM"): number {
  const line = readFileSync("/proc/self/status", "utf8").split("\n").find((l) => l.startsWith(field + ":"));
  return Number(line!.split(/\s+/)[1]);
}

const [dir, dtype] = process.argv.slice(2);
native(); // the addon's own pages are not the weights'
const before = status("VmRSS");
writeFileSync("/proc/self/clear_refs", "5"); // reset VmHWM to the current RSS
const gpt = await Gpt.load(dir!, { dtype: (dtype || undefined) as WeightDtype | undefined, threads: 2 });
const peak = status("VmHWM");
const weightBytes = gpt.weightBytes;
const kvCacheBytes = gpt.kvCacheBytes;
gpt.dispose();
console.log(JSON.stringify({ before, peak, weightBytes, kvCacheBytes }));
