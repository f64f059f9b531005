/**
 * The Server-Sent Events writer against a real socket whose client stops reading: a write then
 * waits for the socket (so the stream's sequence pauses instead of the server buffering without
 * bound), and stops waiting when the request is aborted or the client leaves.
 */
import { createServer, type ServerResponse } from "node:http";
import { connect, type AddressInfo, type Socket } from "node:net";

import { afterEach, describe, expect, it } from "vitest";

import { SseWriter } from "../lib/server/sse.js";

let cleanup: (() => void)[] = [];
afterEach(() => {
  for (const f of cleanup) f();
  cleanup = [];
});

/** A server whose one response is handed to the test, and a raw client that never reads it. */
async function stalledResponse(): Promise<{ res: ServerResponse; client: Socket }> {
  let handed!: (res: ServerResponse) => void;
  const got = new Promise<ServerResponse>((r) => (handed = r));
  const server = createServer((_req, res) => handed(res));
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const client = connect((server.address() as AddressInfo).port, "127.0.0.1");
  client.write("GET / HTTP/1.1\r\nHost: x\r\n\r\n");
  client.pause(); // reads nothing from here on
  cleanup.push(() => {
    client.destroy();
    server.closeAllConnections();
    server.close();
  });
  return { res: await got, client };
}

/** Sends events until one has to wait for the socket; resolves with that send's promise. */
async function fillUntilWaiting(sse: SseWriter): Promise<{ waiting: Promise<void>; sent: number }> {
  const event = { text: "x".repeat(16 * 1024) };
  for (let sent = 0; sent < 10_000; sent++) {
    let settled = false;
    const p = sse.send(event).then(() => void (settled = true));
    await new Promise((r) => setImmediate(r));
    if (!settled) return { waiting: p, sent };
  }
  throw new Error("the socket never pushed back");
}

describe("SseWriter", () => {
  it("a write waits while the client reads nothing, until the request is aborted", async () => {
    const { res } = await stalledResponse();
    const controller = new AbortController();
    const sse = new SseWriter(res, controller.signal);
    const { waiting, sent } = await fillUntilWaiting(sse);
    expect(sent).toBeGreaterThan(0);
    let done = false;
    void waiting.then(() => (done = true));
    await new Promise((r) => setTimeout(r, 50));
    expect(done).toBe(false); // still waiting: the writer holds back, it does not buffer on
    controller.abort();
    await waiting;
  });

  it("a write waiting on a client that leaves ends when the connection closes", async () => {
    const { res, client } = await stalledResponse();
    const sse = new SseWriter(res, new AbortController().signal);
    const { waiting } = await fillUntilWaiting(sse);
    client.destroy();
    await waiting;
    expect(sse.closed).toBe(true);
    await sse.send({ after: true }); // a closed stream takes writes and drops them
    sse.end();
  });
});
