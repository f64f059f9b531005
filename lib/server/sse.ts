/**
 * Server-Sent Events as the OpenAI API streams them: `data: <json>` events, then
 * `data: [DONE]`. Writes wait for the socket to drain, so a client that reads slowly slows its
 * own generation (its streams pause) instead of filling the server's memory.
 */
import type { ServerResponse } from "node:http";

/**
 * A client that reads nothing for this long while a write waits is taken as gone: its
 * connection is closed (and so its sequences cancelled), so that it holds no slot, no blocks and
 * no drain open for good.
 */
export const STALL_MS = 30_000;

export class SseWriter {
  private started = false;

  /** `signal`: the request's; once it aborts, a write waiting for the socket waits no more. */
  constructor(
    private readonly res: ServerResponse,
    private readonly signal: AbortSignal,
  ) {}

  /** Whether the client is gone (the connection closed before the stream ended). */
  get closed(): boolean {
    return this.res.destroyed || this.res.writableEnded;
  }

  async send(event: unknown): Promise<void> {
    this.start();
    if (this.closed) return;
    if (!this.res.write(`data: ${JSON.stringify(event)}\n\n`)) await this.drained();
  }

  /** The last event, `data: [DONE]`, and the end of the response. */
  end(): void {
    this.start();
    if (this.closed) return;
    this.res.end("data: [DONE]\n\n");
  }

  private start(): void {
    if (this.started) return;
    this.started = true;
    this.res.writeHead(200, {
      "content-type": "text/event-stream; charset=utf-8",
      "cache-control": "no-cache",
      // nginx and other proxies would otherwise buffer the events.
      "x-accel-buffering": "no",
    });
  }

  /** Resolves once the socket takes more, the connection closes, or the request is aborted; a stall closes it. */
  private drained(): Promise<void> {
    return new Promise((resolve) => {
      const stall = setTimeout(() => this.res.destroy(), STALL_MS);
      const done = () => {
        clearTimeout(stall);
        this.res.off("drain", done);
        this.res.off("close", done);
        this.signal.removeEventListener("abort", done);
        resolve();
      };
      this.res.on("drain", done);
      this.res.on("close", done);
      this.signal.addEventListener("abort", done, { once: true });
    });
  }
}

/** An error after the stream has started (its status already sent): one event in OpenAI's error shape. */
export function errorEvent(e: unknown) {
  const message = e instanceof Error ? e.message : String(e);
  return { error: { message, type: "server_error", param: null, code: null } };
}

/**
 * Runs a streamed request's generation: its results, or null once the stream has been ended
 * with an error event — the engine failed, or the request was cut short (the client left, or
 * the drain timed out).
 */
export async function runStreamed<T>(sse: SseWriter, signal: AbortSignal, run: () => Promise<T>): Promise<T | null> {
  let results: T;
  try {
    results = await run();
  } catch (e) {
    await sse.send(errorEvent(e));
    sse.end();
    return null;
  }
  if (signal.aborted) {
    if (!sse.closed) await sse.send(errorEvent(new Error("the server is shutting down")));
    sse.end();
    return null;
  }
  return results;
}
