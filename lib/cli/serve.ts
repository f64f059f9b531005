// `gpt-cuda serve`: the OpenAI-compatible server for one model, until SIGTERM or Ctrl-C drains it.

import type { Gpt } from "../gpt.js";
import { modelIdOf } from "../model-id.js";
import { DEFAULT_REQUEST_TIMEOUT_MS, serve } from "../server/index.js";
import { GptInputError } from "../errors.js";
import { UsageError } from "./args.js";
import { EXIT_INTERRUPTED, type Io } from "./io.js";
import { loadFromFlags, readChatTemplateFile, type LoadFlags } from "./model-flags.js";

export interface ServeFlags extends LoadFlags {
  host: string;
  port: number;
  apiKey?: string;
  servedModelName?: string;
  maxSequences?: number;
  kvCacheTokens?: number;
  maxBatchTokens?: number;
  maxQueue?: number;
  chatTemplate?: string;
  /** Seconds. */
  drainTimeout: number;
  maxConnections?: number;
  /** Seconds. */
  headersTimeout?: number;
  /** Seconds. */
  requestTimeout?: number;
  logLevel: string;
}

export async function serveCommand(flags: ServeFlags, io: Io): Promise<number> {
  const requestTimeout = flags.requestTimeout ?? DEFAULT_REQUEST_TIMEOUT_MS / 1000;
  if (flags.headersTimeout !== undefined && flags.headersTimeout > requestTimeout)
    throw new UsageError(`--headers-timeout (${flags.headersTimeout} s) must not be over --request-timeout (${requestTimeout} s): the headers are part of the request`);
  const chatTemplate = flags.chatTemplate === undefined ? undefined : await readChatTemplateFile(flags.chatTemplate);
  const extra = Object.fromEntries(
    Object.entries({ maxSequences: flags.maxSequences, kvCacheTokens: flags.kvCacheTokens, maxBatchTokens: flags.maxBatchTokens }).filter(
      ([, v]) => v !== undefined,
    ),
  );
  // Listen first, so that /health answers (503, "loading") while the weights load.
  const loading = loadFromFlags(flags, io, extra).then(({ gpt }) => gpt);
  loading.catch(() => {}); // reported below, once the server is up
  const apiKey = flags.apiKey ?? process.env.GPT_CUDA_API_KEY;
  const server = await serve(loading, {
    host: flags.host,
    port: flags.port,
    modelId: flags.servedModelName ?? modelIdOf(flags.model),
    logLevel: flags.logLevel === "silent" ? false : flags.logLevel,
    ...(apiKey ? { apiKey } : {}),
    ...(flags.maxQueue === undefined ? {} : { maxQueue: flags.maxQueue }),
    ...(flags.maxConnections === undefined ? {} : { maxConnections: flags.maxConnections }),
    ...(flags.headersTimeout === undefined ? {} : { headersTimeoutMs: Math.ceil(flags.headersTimeout * 1000) }),
    ...(flags.requestTimeout === undefined ? {} : { requestTimeoutMs: Math.ceil(flags.requestTimeout * 1000) }),
    ...(chatTemplate === undefined ? {} : { chatTemplate }),
  });
  // SIGTERM or Ctrl-C: stop taking requests, finish those in flight (up to --drain-timeout), exit 0.
  // A second signal exits at once. Installed before the load ends: a signal while it runs stops too.
  const stopped = new Promise<string>((resolve) => {
    process.once("SIGTERM", () => resolve("SIGTERM"));
    process.once("SIGINT", () => resolve("SIGINT"));
  });
  const loaded = await Promise.race([loading.then((gpt) => ({ gpt }), (error: unknown) => ({ error })), stopped.then((signal) => ({ signal }))]);
  if ("error" in loaded) {
    await server.close(0);
    throw loaded.error;
  }
  if ("signal" in loaded) {
    io.stderr.write(`gpt-cuda: ${loaded.signal} while loading: stopped\n`);
    await server.close(0);
    return 0;
  }
  const { gpt } = loaded;
  try {
    checkChatTemplate(gpt, chatTemplate);
  } catch (e) {
    await server.close(0);
    gpt.dispose();
    throw e;
  }
  io.stderr.write(
    `gpt-cuda: serving ${flags.servedModelName ?? modelIdOf(flags.model)} on ${gpt.device} at ${server.url} ` +
      `(OpenAI API under /v1, /health, /metrics${apiKey ? "; API key required" : ""})\n`,
  );
  const signal = await stopped;
  const now = () => process.exit(EXIT_INTERRUPTED);
  process.once("SIGTERM", now);
  process.once("SIGINT", now);
  io.stderr.write(`gpt-cuda: ${signal}: draining (at most ${flags.drainTimeout} s)\n`);
  await server.close(flags.drainTimeout * 1000);
  gpt.dispose();
  io.stderr.write("gpt-cuda: stopped\n");
  return 0;
}

/** A --chat-template that does not parse fails at start, not at the first chat request. */
function checkChatTemplate(gpt: Gpt, chatTemplate: string | undefined): void {
  if (chatTemplate === undefined) return;
  try {
    gpt.applyChatTemplate([{ role: "user", content: "Hello" }], { chatTemplate });
  } catch (e) {
    // raise_exception() refusing this one conversation is the template working; anything else is broken.
    if (!(e instanceof GptInputError && /refused the messages/.test(e.message))) throw new UsageError(`--chat-template: ${(e as Error).message}`);
  }
}
