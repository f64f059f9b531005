// The server under misbehaving clients, for as long as asked: the bundled demo model served on
// loopback with short timeouts, `count` clients of every kind in tests/faults/clients.ts,
// `concurrency` at a time, then a check that the server holds nothing for them any more.
// Prints the table of outcomes by kind; exits 1 on any outcome a kind does not allow (a 5xx, a
// wrong text, a hang) or on anything left held.
//
//   npm run faults -- --count 20000 --seed 7 [--concurrency 64] [--request-timeout-ms 1000]
//
// npm test runs a smaller storm (tests/server-faults.test.ts).
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";

import { atRest, formatFaultTable, runFaults, startFaultServer } from "./run-faults.js";

const { values } = parseArgs({
  options: {
    count: { type: "string", default: "2000" },
    seed: { type: "string", default: "1" },
    concurrency: { type: "string", default: "64" },
    "request-timeout-ms": { type: "string", default: "1000" },
    model: { type: "string", default: fileURLToPath(new URL("../../assets/default-model", import.meta.url)) },
  },
});
const [count, seed, concurrency, requestTimeoutMs] = [values.count, values.seed, values.concurrency, values["request-timeout-ms"]].map(Number);
if (![count, seed, concurrency, requestTimeoutMs].every((n) => Number.isInteger(n) && n! > 0)) {
  console.error("usage: npm run faults -- [--count N] [--seed S] [--concurrency C] [--request-timeout-ms T] [--model DIR]");
  process.exit(2);
}
const served = await startFaultServer({ model: values.model!, headersTimeoutMs: Math.ceil(requestTimeoutMs! / 2), requestTimeoutMs: requestTimeoutMs! });
const report = await runFaults(served.target, { count: count!, seed: seed!, concurrency: concurrency! });
const held = await atRest(served.server);
console.log(formatFaultTable(report));
console.log(`${count} clients (seed ${seed}, ${concurrency} at a time) in ${(report.ms / 1000).toFixed(1)} s`);
console.log(`held afterwards: ${Object.entries(held).map(([k, v]) => `${k} ${v}`).join(", ")}`);
for (const f of report.failures.slice(0, 20)) console.log(`FAIL ${f.kind} seed ${f.seed}: ${f.outcome}`);
await served.close();
process.exit(report.failures.length > 0 || Object.values(held).some((v) => v !== 0) ? 1 : 0);
