/**
 * Bounds on what a client can hold: how many connections are open at once, and how long one may
 * take to send its request's headers (counted from the connection's start, so a connection that
 * sends nothing is closed too) and its whole request. Node enforces both timeouts with a 408;
 * fastify's defaults would leave a body that never ends holding its connection for good.
 */
import type { Server } from "node:http";
import type { Socket } from "node:net";

import type { Gauge } from "prom-client";

export interface ConnectionLimits {
  /** Connections open at once; beyond it new ones are closed as they arrive. */
  maxConnections: number;
  /** How long a request's headers may take to arrive; a new connection's clock starts when it opens. */
  headersTimeoutMs: number;
  /** From a request's first byte to its last (the body included; the response is not timed). */
  requestTimeoutMs: number;
}

/**
 * Node checks its timeouts on an interval (30 s by default), which would make a 10 s timeout
 * anything up to 40 s: check a few times per timeout, never less often than each second.
 */
function checkingInterval(limits: ConnectionLimits): number {
  return Math.max(25, Math.min(1000, Math.floor(Math.min(limits.headersTimeoutMs, limits.requestTimeoutMs) / 4)));
}

/** The options of `http.createServer` that carry these limits. */
export function httpServerOptions(limits: ConnectionLimits): { headersTimeout: number; requestTimeout: number; connectionsCheckingInterval: number } {
  return {
    headersTimeout: limits.headersTimeoutMs,
    requestTimeout: limits.requestTimeoutMs,
    connectionsCheckingInterval: checkingInterval(limits),
  };
}

/** Applies the limits to `server` and keeps `open` at the number of connections open now. */
export function guardConnections(server: Server, limits: ConnectionLimits, open: Gauge): void {
  server.maxConnections = limits.maxConnections;
  // Fastify sets requestTimeout after creating the server (its own default: none): ours wins.
  server.requestTimeout = limits.requestTimeoutMs;
  server.headersTimeout = limits.headersTimeoutMs;
  server.on("connection", (socket: Socket) => {
    open.inc();
    socket.once("close", () => open.dec());
  });
}
