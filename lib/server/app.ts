/**
 * The HTTP server (fastify): routes, API key, OpenAI-shaped errors for everything (fastify's
 * own included: bad JSON, body too large, unknown route), one log line per request, and the
 * drain that SIGTERM starts.
 */
import type { Socket } from "node:net";

import Fastify, { LogController, type FastifyInstance, type FastifyReply, type FastifyRequest } from "fastify";

import type { Gpt } from "../gpt.js";
import { Admission } from "./admission.js";
import { ApiError, fromGptError, invalid, unavailable } from "./api-error.js";
import { apiKeyCheck } from "./auth.js";
import { parseJsonBodies } from "./body.js";
import { chatCompletions } from "./chat-completions.js";
import { completions } from "./completions.js";
import { guardConnections, httpServerOptions, type ConnectionLimits } from "./connections.js";
import type { CallState, ServerState } from "./context.js";
import { ServerMetrics } from "./metrics.js";

export interface AppOptions {
  modelId: string;
  apiKey: string | undefined;
  bodyLimit: number;
  chatTemplate: string | undefined;
  /** pino's level, or false for no log. */
  logLevel: string | false;
  limits: ConnectionLimits;
}

/** After the drain timeout, how long cut-short responses get to reach their clients. */
const DRAIN_GRACE_MS = 1000;

interface Call extends CallState {
  controller: AbortController;
}

declare module "fastify" {
  interface FastifyRequest {
    call: Call;
  }
}

export class App {
  readonly fastify: FastifyInstance;
  readonly metrics: ServerMetrics;
  private gpt: Gpt | null = null;
  private admission: Admission | null = null;
  private draining = false;
  private readonly inFlight = new Set<Call>();

  constructor(private readonly options: AppOptions) {
    this.metrics = new ServerMetrics(
      () => this.gpt,
      () => this.admission?.inUse ?? 0,
    );
    this.fastify = Fastify({
      logger: options.logLevel === false ? false : { level: options.logLevel },
      logController: new LogController({ disableRequestLogging: true }), // our own line per request, with its tokens
      bodyLimit: options.bodyLimit,
      return503OnClosing: false, // a draining server answers 503 in OpenAI's shape (below)
      forceCloseConnections: "idle",
      http: httpServerOptions(options.limits),
      clientErrorHandler: answerClientError,
    });
    guardConnections(this.fastify.server, options.limits, this.metrics.connections);
    parseJsonBodies(this.fastify);
    this.hooks(options.apiKey === undefined ? null : apiKeyCheck(options.apiKey));
    this.routes();
  }

  /**
   * The model is ready: generation routes answer from now on (503 before). `maxQueue`: sequences
   * taken beyond what the engine runs at once, before answering 429.
   */
  ready(gpt: Gpt, maxQueue: number): void {
    this.gpt = gpt;
    this.admission = new Admission(gpt.limits.maxSequences + maxQueue);
  }

  get isDraining(): boolean {
    return this.draining;
  }

  /**
   * Stops taking requests (new ones get 503, /health too) and closes idle connections; the
   * requests in flight finish, or after `timeoutMs` are cut short. Resolves once all are done.
   */
  async drain(timeoutMs: number): Promise<void> {
    this.draining = true;
    const timers = [
      setTimeout(() => {
        for (const call of this.inFlight) call.controller.abort(new Error("the server is shutting down"));
      }, timeoutMs),
      // A client that does not even read the end of its cut-short stream: close its connection.
      setTimeout(() => this.fastify.server.closeAllConnections(), timeoutMs + DRAIN_GRACE_MS),
    ];
    try {
      await this.fastify.close();
    } finally {
      for (const timer of timers) clearTimeout(timer);
    }
  }

  private hooks(checkKey: ((authorization: string | undefined) => void) | null): void {
    const app = this.fastify;
    app.decorateRequest("call", null as unknown as Call);
    app.addHook("onRequest", async (request, reply) => {
      const controller = new AbortController();
      const call: Call = {
        controller,
        signal: controller.signal,
        arrivedAt: performance.now(),
        created: Math.floor(Date.now() / 1000),
        tokens: { prompt: 0, completion: 0 },
      };
      request.call = call;
      this.inFlight.add(call);
      const res = reply.raw;
      res.on("close", () => {
        this.inFlight.delete(call);
        // Closed before the response was all sent: the client is gone, and so are its sequences.
        if (!res.writableFinished) controller.abort(new Error("the client disconnected"));
        // By route, not URL: an unknown URL must not make a new series.
        this.metrics.requests.inc({ endpoint: request.routeOptions.url ?? "unmatched", status: res.statusCode });
        this.logLine(request, res.statusCode, call);
        // While draining, a connection is closed once its response is out.
        if (this.draining) setImmediate(() => app.server.closeIdleConnections());
      });
      const route = request.routeOptions.url;
      const open = route === "/health" || route === "/metrics";
      if (this.draining && !open) {
        reply.header("connection", "close");
        throw unavailable("the server is shutting down: retry on another replica");
      }
      if (checkKey && !open) checkKey(request.headers.authorization);
    });
    app.addHook("onSend", async (_request, reply) => {
      if (this.draining) reply.header("connection", "close");
    });
    app.setErrorHandler((error, _request, reply) => {
      const e = apiErrorOf(error, this.options.bodyLimit);
      if (e.status >= 500 && e.status !== 503) app.log.error({ err: error }, "request failed");
      return reply.code(e.status).headers(e.headers).send(e.body());
    });
    app.setNotFoundHandler((request, reply) => {
      const e = new ApiError(404, "invalid_request_error", `no route ${request.method} ${request.url}`, null, "unknown_url");
      return reply.code(404).send(e.body());
    });
  }

  private routes(): void {
    const app = this.fastify;
    app.get("/health", async (_request, reply) => {
      const status = this.draining ? "draining" : this.gpt ? "ok" : "loading";
      return reply.code(status === "ok" ? 200 : 503).send({ status });
    });
    app.get("/metrics", async (_request, reply) => {
      const text = await this.metrics.registry.metrics();
      return reply.type(this.metrics.registry.contentType).send(text);
    });
    const model = () => ({ id: this.options.modelId, object: "model", created: 0, owned_by: "gpt-cuda" });
    app.get("/v1/models", async () => ({ object: "list", data: [model()] }));
    app.get<{ Params: { model: string } }>("/v1/models/:model", async (request) => {
      if (request.params.model !== this.options.modelId) throw unknownModel(request.params.model);
      return model();
    });
    app.post("/v1/completions", (request, reply) => this.generation(request, reply, completions));
    app.post("/v1/chat/completions", (request, reply) => this.generation(request, reply, chatCompletions));
  }

  private async generation(
    request: FastifyRequest,
    reply: FastifyReply,
    handler: (server: ServerState, call: CallState, body: unknown, reply: FastifyReply) => Promise<unknown>,
  ): Promise<unknown> {
    if (!this.gpt || !this.admission) throw unavailable("the model is still loading");
    const body = request.body;
    const asked = body !== null && typeof body === "object" ? (body as Record<string, unknown>).model : undefined;
    if (asked !== undefined && asked !== null && asked !== this.options.modelId) {
      if (typeof asked !== "string") throw invalid(`model must be a string, got ${typeof asked}`, "model");
      throw unknownModel(asked);
    }
    const server: ServerState = {
      gpt: this.gpt,
      modelId: this.options.modelId,
      metrics: this.metrics,
      admission: this.admission,
      chatTemplate: this.options.chatTemplate,
    };
    let response: unknown;
    try {
      response = await handler(server, request.call, body, reply);
    } catch (e) {
      throw fromGptError(e);
    }
    // Not streamed, and cut short: the client is gone, or the drain timed out.
    if (response === null && !reply.sent) throw unavailable("the server is shutting down: the request was stopped");
    return response ?? reply;
  }

  private logLine(request: FastifyRequest, status: number, call: Call): void {
    request.log.info(
      {
        method: request.method,
        route: request.routeOptions.url ?? request.url,
        status,
        promptTokens: call.tokens.prompt,
        completionTokens: call.tokens.completion,
        ms: Math.round(performance.now() - call.arrivedAt),
      },
      "request",
    );
  }
}

function unknownModel(name: string): ApiError {
  return new ApiError(404, "invalid_request_error", `the model ${JSON.stringify(name)} does not exist here`, "model", "model_not_found");
}

/** Fastify's own errors (body parsing, limits) in OpenAI's shape. */
function apiErrorOf(error: unknown, bodyLimit: number): ApiError {
  if (error instanceof ApiError) return error;
  const code = (error as { code?: string }).code;
  if (code === "FST_ERR_CTP_BODY_TOO_LARGE")
    return new ApiError(413, "invalid_request_error", `the request body is over the server's limit of ${bodyLimit} bytes`, null, "request_too_large");
  if (code === "FST_ERR_CTP_INVALID_MEDIA_TYPE") return invalid("the request body must be JSON (Content-Type: application/json)");
  return fromGptError(error);
}

/**
 * What Node's HTTP parser refused before any route saw it (a request line or header that is not
 * HTTP, headers over the size limit, a request not sent in time): the same answer in OpenAI's
 * shape, then the connection is closed, as Node itself would.
 */
function answerClientError(error: Error & { code?: string }, socket: Socket): void {
  if (error.code === "ECONNRESET" || socket.destroyed) return;
  const e =
    error.code === "ERR_HTTP_REQUEST_TIMEOUT"
      ? new ApiError(408, "invalid_request_error", "the request was not sent in time: the connection is closed", null, "request_timeout")
      : error.code === "HPE_HEADER_OVERFLOW"
        ? new ApiError(431, "invalid_request_error", "the request's headers are over the server's size limit", null, "headers_too_large")
        : invalid(`the request is not valid HTTP (${error.code ?? error.message})`);
  if (socket.writable) {
    const body = JSON.stringify(e.body());
    socket.write(
      `HTTP/1.1 ${e.status} ${STATUS_TEXT[e.status]}\r\nContent-Type: application/json\r\n` +
        `Content-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`,
    );
  }
  socket.destroy(error);
}

const STATUS_TEXT: Record<number, string> = { 400: "Bad Request", 408: "Request Timeout", 431: "Request Header Fields Too Large" };
