/**
 * serve(): an OpenAI-compatible HTTP server for a model, in this process. `gpt-cuda serve` is
 * this plus signals; a program can run it beside its own work.
 */
import { basename } from "node:path";

import type { Gpt } from "../gpt.js";
import { GptInputError } from "../errors.js";
import { checkObject, describe, integer } from "../option-checks.js";
import { App } from "./app.js";
import type { ConnectionLimits } from "./connections.js";

export interface ServeOptions {
  /** Default "127.0.0.1": only this machine. "0.0.0.0" (or "::") to take connections from others. */
  host?: string;
  /** Default 8080; 0 picks a free port (read it from `url`). */
  port?: number;
  /** Clients must send `Authorization: Bearer <apiKey>` (/health and /metrics excepted). Default: none asked. */
  apiKey?: string;
  /** The id clients name the model by. Default: the checkpoint directory's name. */
  modelId?: string;
  /** Sequences taken beyond what the model runs at once (maxSequences) before a 429. Default 4 × maxSequences. */
  maxQueue?: number;
  /** Request bodies over this many bytes get 413. Default 1 MiB. */
  bodyLimit?: number;
  /** A Jinja chat template used instead of the checkpoint's. */
  chatTemplate?: string;
  /** pino's log level for the one line per request (and errors); false for none. Default "info". */
  logLevel?: string | false;
  /** Client connections open at once; more are closed as they arrive. Default 1024. */
  maxConnections?: number;
  /**
   * A connection's first request must have sent its headers this many ms after the connection
   * opened (a connection that sends nothing is closed then; one part way through gets 408). Default 10 s.
   */
  headersTimeoutMs?: number;
  /** A request must be sent in full (body included; not the response) within this many ms, else 408. Default 30 s. */
  requestTimeoutMs?: number;
}

export interface GptServer {
  /** Where it listens, e.g. "http://127.0.0.1:8080". */
  readonly url: string;
  /**
   * Stops taking requests (503 from then on, /health included), lets those in flight finish —
   * cut short after `drainTimeoutMs` (default 30 s) — and closes. The model is not disposed.
   */
  close(drainTimeoutMs?: number): Promise<void>;
  /** The server's Prometheus metrics as /metrics serves them. */
  metrics(): Promise<string>;
}

const KNOWN = new Set([
  "host",
  "port",
  "apiKey",
  "modelId",
  "maxQueue",
  "bodyLimit",
  "chatTemplate",
  "logLevel",
  "maxConnections",
  "headersTimeoutMs",
  "requestTimeoutMs",
]);
const DEFAULT_BODY_LIMIT = 1 << 20;
const DEFAULT_MAX_CONNECTIONS = 1024;
const DEFAULT_HEADERS_TIMEOUT_MS = 10_000;
export const DEFAULT_REQUEST_TIMEOUT_MS = 30_000;
/** The longest delay a Node timer takes. */
const MAX_TIMER_MS = 2 ** 31 - 1;

/**
 * Serves `model` over HTTP. Given a promise of a model (a load still running), it listens at once
 * and answers 503 — /health says "loading" — until the model is there.
 */
export async function serve(model: Gpt | PromiseLike<Gpt>, options: ServeOptions = {}): Promise<GptServer> {
  const o = checkObject(options, "serve options", KNOWN) as ServeOptions;
  const port = o.port === undefined ? 8080 : integer("port", o.port, 0, 65535);
  const host = o.host ?? "127.0.0.1";
  if (typeof host !== "string" || host === "") throw new GptInputError(`host must be a host name or address, got ${describe(host)}`);
  if (o.apiKey !== undefined && (typeof o.apiKey !== "string" || o.apiKey === ""))
    throw new GptInputError(`apiKey must be a non-empty string, got ${describe(o.apiKey)}`);
  const pending = isPromise(model);
  const loaded = pending ? null : (model as Gpt);
  const app = new App({
    modelId: o.modelId ?? (loaded ? basename(loaded.path) : "default"),
    apiKey: o.apiKey,
    bodyLimit: o.bodyLimit === undefined ? DEFAULT_BODY_LIMIT : integer("bodyLimit", o.bodyLimit, 1),
    chatTemplate: o.chatTemplate,
    logLevel: o.logLevel ?? "info",
    limits: connectionLimits(o),
  });
  const maxQueue = o.maxQueue === undefined ? undefined : integer("maxQueue", o.maxQueue, 0);
  const setUp = (gpt: Gpt) => app.ready(gpt, maxQueue ?? 4 * gpt.limits.maxSequences);
  // A failed load is the caller's to report (the server stays 503); so is one whose model cannot be served.
  if (pending) void Promise.resolve(model as PromiseLike<Gpt>).then(setUp).catch(() => {});
  else setUp(model as Gpt);
  const address = await app.fastify.listen({ host, port });
  return {
    url: address,
    close: (drainTimeoutMs = 30_000) => app.drain(drainTimeoutMs),
    metrics: () => app.metrics.registry.metrics(),
  };
}

function connectionLimits(o: ServeOptions): ConnectionLimits {
  const requestTimeoutMs = o.requestTimeoutMs === undefined ? DEFAULT_REQUEST_TIMEOUT_MS : integer("requestTimeoutMs", o.requestTimeoutMs, 1, MAX_TIMER_MS);
  // The headers are part of the request: their limit is never the longer one.
  const headersTimeoutMs =
    o.headersTimeoutMs === undefined
      ? Math.min(DEFAULT_HEADERS_TIMEOUT_MS, requestTimeoutMs)
      : integer("headersTimeoutMs", o.headersTimeoutMs, 1, requestTimeoutMs);
  const maxConnections = o.maxConnections === undefined ? DEFAULT_MAX_CONNECTIONS : integer("maxConnections", o.maxConnections, 1);
  return { maxConnections, headersTimeoutMs, requestTimeoutMs };
}

function isPromise(value: unknown): value is PromiseLike<unknown> {
  return typeof (value as { then?: unknown } | null)?.then === "function";
}
