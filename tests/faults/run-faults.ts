/**
 * A bounded storm of misbehaving clients (tests/faults/clients.ts) against a server in this
 * process: `count` clients, `concurrency` at a time, each of a kind and seed drawn from `seed`.
 * Then the server must come back to rest: no request running or waiting, no sequence admitted,
 * no KV block held, no connection open. tests/server-faults.test.ts runs a CI-sized storm;
 * `npm run faults` a long one (tests/faults/run.ts).
 */
import { Gpt } from "../../lib/index.js";
import { serve, type GptServer } from "../../lib/server/index.js";
import { deriveSeed, Prng } from "../helpers/random.js";
import { metricValue } from "../helpers/test-server.js";
import { ALLOWED, FAULT_KINDS, type Target } from "./clients.js";

export interface FaultServer {
  gpt: Gpt;
  server: GptServer;
  target: Target;
  close(): Promise<void>;
}

export interface FaultServerOptions {
  model: string;
  headersTimeoutMs: number;
  requestTimeoutMs: number;
  maxConnections?: number;
}

/** The model served on loopback with short timeouts, and greedy completions from the model itself as the oracle. */
export async function startFaultServer(o: FaultServerOptions): Promise<FaultServer> {
  const gpt = await Gpt.load(o.model, { device: "cpu" });
  const server = await serve(gpt, {
    port: 0,
    logLevel: false,
    headersTimeoutMs: o.headersTimeoutMs,
    requestTimeoutMs: o.requestTimeoutMs,
    ...(o.maxConnections === undefined ? {} : { maxConnections: o.maxConnections }),
  });
  const url = new URL(server.url);
  const expected = new Map<string, Promise<string>>();
  const target: Target = {
    host: url.hostname,
    port: Number(url.port),
    requestTimeoutMs: o.requestTimeoutMs,
    expected(prompt, maxTokens) {
      const key = `${maxTokens}\u0000${prompt}`;
      if (!expected.has(key)) expected.set(key, gpt.generate(prompt, { maxTokens, temperature: 0, ignoreEos: true }).then((r) => r.text));
      return expected.get(key)!;
    },
  };
  return {
    gpt,
    server,
    target,
    async close() {
      await server.close(1000);
      gpt.dispose();
    },
  };
}

export interface FaultFailure {
  kind: string;
  seed: number;
  outcome: string;
}

export interface FaultReport {
  /** Clients by kind, then outcome. */
  table: Map<string, Map<string, number>>;
  failures: FaultFailure[];
  ms: number;
}

export async function runFaults(target: Target, o: { count: number; seed: number; concurrency: number }): Promise<FaultReport> {
  const kinds = Object.keys(FAULT_KINDS);
  const table = new Map(kinds.map((k) => [k, new Map<string, number>()]));
  const failures: FaultFailure[] = [];
  const started = performance.now();
  let next = 0;
  const worker = async () => {
    while (next < o.count) {
      const seed = deriveSeed(o.seed, next++);
      const rng = new Prng(seed);
      const kind = kinds[rng.nextUint32() % kinds.length]!;
      const outcome = await FAULT_KINDS[kind]!(target, rng);
      const row = table.get(kind)!;
      row.set(outcome, (row.get(outcome) ?? 0) + 1);
      if (!ALLOWED[kind]!.includes(outcome)) failures.push({ kind, seed, outcome });
    }
  };
  await Promise.all(Array.from({ length: o.concurrency }, worker));
  return { table, failures, ms: performance.now() - started };
}

/** What a server holds for its clients; all zero at rest. */
export interface Held {
  running: number;
  waiting: number;
  admitted: number;
  kvCache: number;
  connections: number;
}

export async function heldByClients(server: GptServer): Promise<Held> {
  const text = await server.metrics();
  return {
    running: metricValue(text, "gptcuda_requests_running"),
    waiting: metricValue(text, "gptcuda_requests_waiting"),
    admitted: metricValue(text, "gptcuda_sequences_admitted"),
    kvCache: metricValue(text, "gptcuda_kv_cache_usage_ratio"),
    connections: metricValue(text, "gptcuda_http_connections"),
  };
}

/** Waits until the server holds nothing for its clients; resolves with what it held last. */
export async function atRest(server: GptServer, ms = 10_000): Promise<Held> {
  const deadline = Date.now() + ms;
  for (;;) {
    const held = await heldByClients(server);
    if (Object.values(held).every((v) => v === 0) || Date.now() > deadline) return held;
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** The report as a table: a row per kind, a column per outcome. */
export function formatFaultTable(report: FaultReport): string {
  const outcomes = [...new Set([...report.table.values()].flatMap((row) => [...row.keys()]))].sort();
  const rows = [["kind", ...outcomes, "allowed"]];
  for (const [kind, row] of report.table) rows.push([kind, ...outcomes.map((c) => String(row.get(c) ?? "")), ALLOWED[kind]!.join(" ")]);
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
  return rows.map((r) => r.map((cell, i) => cell.padEnd(widths[i]!)).join("  ")).join("\n");
}
