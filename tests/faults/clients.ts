/**
 * Misbehaving clients of the OpenAI-compatible server, one kind per function. Each talks to the
 * server over its own connection and resolves with an outcome class: the HTTP status it got
 * ("200", "400", "408", …), "closed" when the server closed without an answer, "cut" when the
 * client went away itself first, or "wrong" for a 200 whose text is not the one expected.
 * Nothing here throws: what a client sees is the result.
 */
import { request as httpRequest } from "node:http";
import { connect, type Socket } from "node:net";

import type { Prng } from "../helpers/random.js";

export interface Target {
  host: string;
  port: number;
  /** The server's request timeout, ms: a slow client must be answered within it (plus slack). */
  requestTimeoutMs: number;
  /** The text a greedy completion of `prompt` with `maxTokens` must have. */
  expected(prompt: string, maxTokens: number): Promise<string>;
}

export type FaultKind = (target: Target, rng: Prng) => Promise<string>;

const PROMPTS = ["Once upon a time", "The capital of", "Hello, my name is", "In 1999,", "Numbers: 1, 2, 3,", "Ünïcödé text ☃"];

function pick<T>(rng: Prng, items: readonly T[]): T {
  return items[rng.nextUint32() % items.length]!;
}

function below(rng: Prng, n: number): number {
  return rng.nextUint32() % n;
}

function completionBody(rng: Prng, extra: Record<string, unknown> = {}): { prompt: string; max_tokens: number; body: string } {
  const prompt = pick(rng, PROMPTS);
  const max_tokens = 1 + below(rng, 12);
  return { prompt, max_tokens, body: JSON.stringify({ prompt, max_tokens, temperature: 0, ignore_eos: true, ...extra }) };
}

function head(path: string, length: number, extra = ""): string {
  return `POST ${path} HTTP/1.1\r\nHost: loopback\r\nContent-Type: application/json\r\nContent-Length: ${length}\r\nConnection: close\r\n${extra}\r\n`;
}

/**
 * Writes `chunks` on a fresh connection, `gapMs` apart, then waits for the server; resolves with
 * the status of what came back, or "closed". `stopAfterMs`: the client gives up ("timeout").
 */
function exchange(target: Target, chunks: (string | Buffer)[], gapMs = 0, stopAfterMs = target.requestTimeoutMs + 5000): Promise<string> {
  return new Promise((resolve) => {
    const socket: Socket = connect(target.port, target.host);
    let answer = "";
    let done = false;
    const finish = (outcome: string) => {
      if (done) return;
      done = true;
      clearTimeout(limit);
      socket.destroy();
      resolve(outcome);
    };
    const limit = setTimeout(() => finish("timeout"), stopAfterMs);
    socket.setEncoding("latin1");
    socket.on("data", (data: string) => (answer += data));
    socket.on("error", () => {}); // a reset shows as the close below
    socket.on("close", () => finish(/^HTTP\/1\.1 (\d{3})/.exec(answer)?.[1] ?? "closed"));
    let i = 0;
    const writeNext = () => {
      if (done || socket.destroyed || i === chunks.length) return;
      socket.write(chunks[i++]!);
      if (gapMs > 0) setTimeout(writeNext, gapMs);
      else writeNext();
    };
    socket.once("connect", writeNext);
  });
}

/** A valid greedy completion, streamed or not, through node:http: its text must be exact. */
export const control: FaultKind = async (target, rng) => {
  const stream = below(rng, 2) === 1;
  const { prompt, max_tokens, body } = completionBody(rng, stream ? { stream: true } : {});
  const result = await new Promise<{ status: number; text: string }>((resolve) => {
    const req = httpRequest(
      { host: target.host, port: target.port, path: "/v1/completions", method: "POST", agent: false, headers: { "content-type": "application/json" } },
      (res) => {
        let raw = "";
        res.setEncoding("utf8");
        res.on("data", (s: string) => (raw += s));
        res.on("end", () => resolve({ status: res.statusCode ?? 0, text: res.statusCode === 200 ? completionText(raw, stream) : "" }));
        res.on("error", () => resolve({ status: 0, text: "" }));
      },
    );
    req.on("error", () => resolve({ status: 0, text: "" }));
    req.end(body);
  });
  if (result.status === 0) return "closed";
  if (result.status !== 200) return String(result.status);
  return result.text === (await target.expected(prompt, max_tokens)) ? "200" : "wrong";
};

function completionText(raw: string, stream: boolean): string {
  if (!stream) return (JSON.parse(raw) as { choices: { text: string }[] }).choices[0]!.text;
  let text = "";
  for (const line of raw.split("\n")) {
    if (!line.startsWith("data: ") || line === "data: [DONE]") continue;
    const event = JSON.parse(line.slice(6)) as { choices?: { text: string }[]; error?: unknown };
    if (event.error) return "(error event)";
    text += event.choices?.[0]?.text ?? "";
  }
  return raw.trimEnd().endsWith("data: [DONE]") ? text : "(no [DONE])";
}

/** A valid request with one byte changed, cut, or added (no digits: max_tokens stays small). */
export const malformedJson: FaultKind = (target, rng) => {
  const { body } = completionBody(rng);
  const at = below(rng, body.length);
  const junk = pick(rng, ["{", "}", "[", "]", ",", ":", '"', "\\", " ", "x", "\u0000", "\u00e9"]);
  const mutants = [body.slice(0, at), body.slice(0, at) + junk + body.slice(at), body.slice(0, at) + junk + body.slice(at + 1)];
  const mutated = Buffer.from(pick(rng, mutants));
  return exchange(target, [head("/v1/completions", mutated.length), mutated]);
};

/** A prompt holding bytes that are not UTF-8 (a lone continuation byte, a cut sequence, 0xff). */
export const invalidUtf8: FaultKind = (target, rng) => {
  const bad = pick(rng, [[0x80], [0xc3], [0xe2, 0x82], [0xff], [0xfe, 0xff], [0xed, 0xa0, 0x80]]);
  const body = Buffer.concat([Buffer.from('{"prompt": "ab'), Buffer.from(bad), Buffer.from('cd", "max_tokens": 2}')]);
  return exchange(target, [head("/v1/completions", body.length), body]);
};

/** Content-Length promises more than is sent: the server must not wait for ever. */
export const truncatedBody: FaultKind = (target, rng) => {
  const { body } = completionBody(rng);
  return exchange(target, [head("/v1/completions", Buffer.byteLength(body) + 1 + below(rng, 100)), body]);
};

/** Headers sent a few bytes at a time and never finished (slowloris). */
export const slowHeaders: FaultKind = (target, rng) => {
  const text = head("/v1/completions", 10).slice(0, -2); // never the blank line
  const step = 1 + below(rng, 8);
  const chunks: string[] = [];
  for (let i = 0; i < text.length; i += step) chunks.push(text.slice(i, i + step));
  return exchange(target, chunks, 50 + below(rng, 150));
};

/** Headers in full, then a body a byte at a time, slower than the request timeout allows. */
export const slowBody: FaultKind = (target, rng) => {
  const { body } = completionBody(rng);
  const bytes = [...Buffer.from(body)].map((b) => Buffer.from([b]));
  return exchange(target, [head("/v1/completions", bytes.length), ...bytes], Math.ceil(target.requestTimeoutMs / 4));
};

/** A connection that sends nothing. */
export const silent: FaultKind = (target) => exchange(target, []);

/** Random bytes where a request line should be. */
export const garbage: FaultKind = (target, rng) => {
  const bytes = Buffer.alloc(1 + below(rng, 300));
  for (let i = 0; i < bytes.length; i++) bytes[i] = below(rng, 256);
  return exchange(target, [bytes, "\r\n\r\n"]);
};

/**
 * A valid request (streamed or not, one or two choices), its connection destroyed by the client
 * at a random point: part way through sending, while waiting, or after some of the answer.
 */
export const disconnect: FaultKind = (target, rng) =>
  new Promise((resolve) => {
    const stream = below(rng, 2) === 1;
    const { body } = completionBody(rng, { n: 1 + below(rng, 2), max_tokens: 8 + below(rng, 56), stream });
    const bytes = Buffer.concat([Buffer.from(head("/v1/completions", Buffer.byteLength(body))), Buffer.from(body)]);
    const socket = connect(target.port, target.host);
    let answer = "";
    let settled = false;
    const settle = (outcome: string) => {
      if (settled) return;
      settled = true;
      socket.destroy();
      resolve(outcome);
    };
    socket.setEncoding("latin1");
    socket.on("error", () => {});
    socket.on("close", () => settle(/^HTTP\/1\.1 (\d{3})/.exec(answer)?.[1] ?? "closed"));
    const point = below(rng, 3);
    socket.once("connect", () => {
      if (point === 0) {
        socket.write(bytes.subarray(0, below(rng, bytes.length)));
        setTimeout(() => settle("cut"), below(rng, 20));
        return;
      }
      socket.write(bytes);
      if (point === 1) setTimeout(() => settle("cut"), below(rng, 200));
    });
    const afterBytes = 1 + below(rng, 2000);
    socket.on("data", (data: string) => {
      answer += data;
      if (point === 2 && answer.length >= afterBytes) settle("cut");
    });
  });

export const FAULT_KINDS: Record<string, FaultKind> = {
  control,
  "malformed-json": malformedJson,
  "invalid-utf8": invalidUtf8,
  "truncated-body": truncatedBody,
  "slow-headers": slowHeaders,
  "slow-body": slowBody,
  silent,
  garbage,
  disconnect,
};

/** What each kind may see. Anything else, a 5xx above all, is a failure. */
export const ALLOWED: Record<string, readonly string[]> = {
  control: ["200", "429"],
  // A change inside a string, or a space, can leave the request valid.
  "malformed-json": ["400", "200", "429"],
  "invalid-utf8": ["400"],
  "truncated-body": ["408"],
  "slow-headers": ["408"],
  "slow-body": ["408"],
  silent: ["408"],
  garbage: ["400", "431"],
  // Cut by the client, or answered before the cut came; a cut mid-request may leave the server
  // a request it cannot parse.
  disconnect: ["cut", "200", "429", "400"],
};
