/** A model served on loopback by serve() in the test's own process, with an `openai` client for it. */
import OpenAI from "openai";

import { Gpt, type LoadOptions } from "../../lib/index.js";
import { serve, type GptServer, type ServeOptions } from "../../lib/server/index.js";

export interface TestServer {
  gpt: Gpt;
  server: GptServer;
  url: string;
  /** The official client, without retries (a test wants to see each answer). */
  client: OpenAI;
  /** POSTs `body` (JSON unless a string) to `path`; resolves with the status, headers and parsed body. */
  post(path: string, body: unknown, headers?: Record<string, string>): Promise<{ status: number; headers: Headers; json: any }>;
  close(): Promise<void>;
}

export async function startTestServer(dir: string, load: LoadOptions = {}, options: ServeOptions = {}): Promise<TestServer> {
  const gpt = await Gpt.load(dir, { device: "cpu", ...load });
  const server = await serve(gpt, { port: 0, logLevel: false, ...options });
  const client = new OpenAI({ baseURL: `${server.url}/v1`, apiKey: options.apiKey ?? "unused", maxRetries: 0 });
  return {
    gpt,
    server,
    url: server.url,
    client,
    async post(path, body, headers = {}) {
      const res = await fetch(server.url + path, {
        method: "POST",
        headers: { "content-type": "application/json", ...headers },
        body: typeof body === "string" ? body : JSON.stringify(body),
      });
      const text = await res.text();
      let json: unknown = text;
      try {
        json = JSON.parse(text);
      } catch {
        // a stream, or not JSON: the text itself
      }
      return { status: res.status, headers: res.headers, json };
    },
    async close() {
      await server.close(1000);
      gpt.dispose();
    },
  };
}

/** Polls `check` every 10 ms until it returns true; rejects after `ms`. */
export async function eventually(check: () => boolean | Promise<boolean>, what: string, ms = 10_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

/** One sample of a metric from Prometheus text (labels included in `name` when given, e.g. 'x{a="b"}'). */
export function metricValue(text: string, name: string): number {
  const line = text.split("\n").find((l) => l.startsWith(`${name} `));
  if (line === undefined) throw new Error(`no metric ${name}`);
  return Number(line.slice(name.length + 1));
}
