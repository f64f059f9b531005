/**
 * The server under faults (issue 15): misbehaving clients of every kind in tests/faults/clients.ts
 * at once, 1,000 connections held open, a bound on connections, and timeouts that cut slow
 * clients but never a slow answer. The server keeps answering exactly, never with a 5xx, and
 * holds nothing for its clients afterwards. `npm run faults` runs the long storm.
 */
import { connect, type Socket } from "node:net";

import { afterAll, beforeAll, describe, expect, it } from "vitest";

import { firstBadByte } from "../lib/server/body.js";
import { serve } from "../lib/server/index.js";
import { control, type Target } from "./faults/clients.js";
import { atRest, formatFaultTable, heldByClients, runFaults, startFaultServer, type FaultServer } from "./faults/run-faults.js";
import { repoRoot } from "./helpers/run-cli.js";
import { Prng, testSeed } from "./helpers/random.js";
import { eventually } from "./helpers/test-server.js";

const MODEL = `${repoRoot}/assets/default-model`;
const HEADERS_TIMEOUT_MS = 400;
const REQUEST_TIMEOUT_MS = 800;
const REST = { running: 0, waiting: 0, admitted: 0, kvCache: 0, connections: 0 };

/** Raw bytes on a fresh connection; resolves with all the server sent before it closed. */
function exchange(target: Target, data: string | Buffer): Promise<string> {
  return new Promise((resolve) => {
    const socket = connect(target.port, target.host);
    let answer = "";
    socket.setEncoding("latin1");
    socket.on("data", (s: string) => (answer += s));
    socket.on("error", () => {});
    socket.on("close", () => resolve(answer));
    socket.write(data);
  });
}

function post(body: string | Buffer): Buffer {
  const bytes = Buffer.from(body);
  const head = `POST /v1/completions HTTP/1.1\r\nHost: loopback\r\nContent-Type: application/json\r\nContent-Length: ${bytes.length}\r\nConnection: close\r\n\r\n`;
  return Buffer.concat([Buffer.from(head), bytes]);
}

/** The status and OpenAI-shaped error of a raw answer. */
function parsed(answer: string): { status: number; error: { message: string; type: string; code: string | null } } {
  const status = Number(/^HTTP\/1\.1 (\d{3})/.exec(answer)?.[1]);
  const body = Buffer.from(answer.slice(answer.indexOf("\r\n\r\n") + 4), "latin1").toString("utf8");
  return { status, error: (JSON.parse(body) as { error: { message: string; type: string; code: string | null } }).error };
}

/** `count` connections to `target`, each sent `first` (nothing if empty), kept open until the server closes them. */
function holdOpen(target: Target, count: number, first: string): Promise<{ sockets: Socket[]; closed: Promise<string[]> }> {
  const sockets: Socket[] = [];
  const answers: Promise<string>[] = [];
  const connected: Promise<void>[] = [];
  for (let i = 0; i < count; i++) {
    const socket = connect(target.port, target.host);
    sockets.push(socket);
    let answer = "";
    socket.setEncoding("latin1");
    socket.on("data", (s: string) => (answer += s));
    socket.on("error", () => {});
    answers.push(new Promise((resolve) => socket.on("close", () => resolve(answer))));
    connected.push(new Promise((resolve) => socket.once("connect", () => (first ? socket.write(first, () => resolve()) : resolve()))));
  }
  return Promise.all(connected).then(() => ({ sockets, closed: Promise.all(answers) }));
}

describe("the server under faults", () => {
  let served: FaultServer;

  beforeAll(async () => {
    served = await startFaultServer({ model: MODEL, headersTimeoutMs: HEADERS_TIMEOUT_MS, requestTimeoutMs: REQUEST_TIMEOUT_MS });
  });
  afterAll(() => served.close());

  it("bad bodies and bad HTTP get 400s in OpenAI's shape that say what is wrong", async () => {
    const t = served.target;
    const notUtf8 = Buffer.concat([Buffer.from('{"prompt": "ab'), Buffer.from([0xe2, 0x82]), Buffer.from('cd", "max_tokens": 2}')]);
    expect(parsed(await exchange(t, post(notUtf8)))).toMatchObject({ status: 400, error: { message: "the request body is not valid UTF-8 (near byte 14)" } });
    expect(parsed(await exchange(t, post('{"prompt": "a",}'))).error.message).toMatch(/^the request body is not valid JSON: .*position 15/);
    expect(parsed(await exchange(t, post('{"prompt": "a", "__proto__": {"max_tokens": 9}}'))).error.message).toBe(
      "the request body is not valid JSON: Object contains forbidden prototype property",
    );
    expect(parsed(await exchange(t, "\u0000GARBAGE\r\n\r\n"))).toMatchObject({
      status: 400,
      error: { type: "invalid_request_error", message: "the request is not valid HTTP (HPE_INVALID_METHOD)" },
    });
    expect(parsed(await exchange(t, `GET /health HTTP/1.1\r\nX-Big: ${"a".repeat(20_000)}\r\n\r\n`))).toMatchObject({
      status: 431,
      error: { code: "headers_too_large" },
    });
    // The same prompt in valid UTF-8 is answered.
    expect(parsed(await exchange(t, post('{"prompt": "ab\u20accd", "max_tokens": 2}'))).status).toBe(200);
  });

  it("a client too slow to send its request gets 408 at the timeout; a slow answer is never cut", async () => {
    const t = served.target;
    let started = performance.now();
    const silent = parsed(await exchange(t, ""));
    const silentMs = performance.now() - started;
    expect(silent).toMatchObject({ status: 408, error: { code: "request_timeout" } });
    expect(silentMs).toBeGreaterThanOrEqual(HEADERS_TIMEOUT_MS - 50);
    expect(silentMs).toBeLessThan(HEADERS_TIMEOUT_MS + 1500);
    started = performance.now();
    const head = `POST /v1/completions HTTP/1.1\r\nHost: loopback\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n`;
    expect(parsed(await exchange(t, `${head}{"prompt": "a"`)).status).toBe(408);
    expect(performance.now() - started).toBeLessThan(REQUEST_TIMEOUT_MS + 1500);

    // An answer that takes longer than the request timeout: the request was in long before. How
    // long an answer takes depends on the machine, so it grows (more choices) until it outlasts the
    // timeout by half again; every one of them must be answered in full.
    for (let n = 6; ; n *= 2) {
      started = performance.now();
      const long = parsed(await exchange(t, post(`{"prompt": "a", "n": ${n}, "max_tokens": 250, "ignore_eos": true, "temperature": 0}`)));
      const ms = performance.now() - started;
      expect(long.status, `n ${n}, ${ms.toFixed(0)} ms`).toBe(200);
      if (ms > REQUEST_TIMEOUT_MS * 1.5) break;
      expect(n, "no answer outlasted the request timeout, so this check means nothing").toBeLessThan(96);
    }
  });

  it("a storm of every fault at once: each gets only what its kind allows, exact answers go on, nothing is held after", async () => {
    const seed = testSeed();
    const report = await runFaults(served.target, { count: 500, seed, concurrency: 48 });
    const table = formatFaultTable(report);
    expect(report.failures, `seed ${seed}\n${table}`).toEqual([]);
    // Every kind ran, and exact answers came back while the rest misbehaved.
    for (const [kind, row] of report.table) expect([...row.values()].reduce((a, b) => a + b, 0), `${kind}\n${table}`).toBeGreaterThan(10);
    expect(report.table.get("control")!.get("200"), table).toBeGreaterThan(10);
    expect(await atRest(served.server)).toEqual(REST);
  });

  it("the offset a non-UTF-8 body's error names ends the longest valid prefix", () => {
    const rng = new Prng(testSeed());
    const strict = new TextDecoder("utf-8", { fatal: true });
    const valid = (b: Uint8Array) => {
      try {
        strict.decode(b);
        return true;
      } catch {
        return false;
      }
    };
    // Bytes drawn mostly from UTF-8's lead and continuation ranges, so that many are valid.
    const pool = [0x20, 0x41, 0x61, 0x7f, 0x80, 0x8f, 0x90, 0x9f, 0xa0, 0xbf, 0xc0, 0xc2, 0xdf, 0xe0, 0xe1, 0xed, 0xef, 0xf0, 0xf4, 0xf5, 0xff];
    let validSeen = 0;
    for (let i = 0; i < 5000; i++) {
      const bytes = Buffer.from(Array.from({ length: 1 + (rng.nextUint32() % 8) }, () => pool[rng.nextUint32() % pool.length]!));
      const at = firstBadByte(bytes);
      // The longest valid prefix ends there: every longer one holds the ill-formed sequence.
      expect(valid(bytes.subarray(0, at)), bytes.toString("hex")).toBe(true);
      for (let k = at + 1; k <= bytes.length; k++) expect(valid(bytes.subarray(0, k)), `${bytes.toString("hex")} [0, ${k})`).toBe(false);
      if (at === bytes.length) validSeen++;
    }
    expect(validSeen, "some of the byte strings are valid UTF-8").toBeGreaterThan(50);
  });
});

describe("1,000 connections held open", () => {
  it("silent, or part way through their headers: answers go on, then the server closes them all with 408", async () => {
    const served = await startFaultServer({ model: MODEL, headersTimeoutMs: 4000, requestTimeoutMs: 4000 });
    try {
      const t = served.target;
      const half = `POST /v1/completions HTTP/1.1\r\nHost: loopback\r\n`;
      const held = await Promise.all([holdOpen(t, 500, ""), holdOpen(t, 500, half)]);
      await eventually(async () => (await heldByClients(served.server)).connections >= 1000, "the server to accept 1,000 connections");
      const rng = new Prng(testSeed());
      const answers = await Promise.all(Array.from({ length: 16 }, () => control(t, rng)));
      expect(answers).toEqual(Array(16).fill("200"));
      expect((await heldByClients(served.server)).connections).toBeGreaterThanOrEqual(1000);
      // Each was answered 408 and closed by the server; none is left.
      for (const { closed } of held) for (const answer of await closed) expect(answer).toMatch(/^HTTP\/1\.1 408 /);
      expect(await atRest(served.server)).toEqual(REST);
    } finally {
      await served.close();
    }
  }, 30_000);
});

describe("maxConnections", () => {
  it("bounds the connections open at once: those beyond it are closed as they arrive, and the server recovers", async () => {
    const served = await startFaultServer({ model: MODEL, headersTimeoutMs: 2000, requestTimeoutMs: 2000, maxConnections: 40 });
    try {
      const t = served.target;
      const { sockets, closed } = await holdOpen(t, 200, "");
      // Those over the limit are dropped at once, without an answer; 40 stay.
      await eventually(async () => (await heldByClients(served.server)).connections === 40, "40 connections to stay open");
      await eventually(() => sockets.filter((s) => s.destroyed).length === 160, "160 connections to be dropped");
      for (const s of sockets) s.destroy();
      await closed;
      await eventually(async () => (await heldByClients(served.server)).connections === 0, "every connection to close");
      expect(await control(t, new Prng(testSeed()))).toBe("200");
      expect(await atRest(served.server)).toEqual(REST);
    } finally {
      await served.close();
    }
  });

  it("serve() refuses limits that cannot hold, naming them", async () => {
    const gpt = { limits: { maxSequences: 1 }, path: "/x" } as never;
    await expect(serve(gpt, { port: 0, maxConnections: 0 })).rejects.toThrow("maxConnections must be an integer in [1, ");
    await expect(serve(gpt, { port: 0, requestTimeoutMs: 1000, headersTimeoutMs: 2000 })).rejects.toThrow(
      "headersTimeoutMs must be an integer in [1, 1000], got 2000",
    );
    await expect(serve(gpt, { port: 0, requestTimeoutMs: 2 ** 31 })).rejects.toThrow("requestTimeoutMs must be an integer in [1, 2147483647]");
  });
});
