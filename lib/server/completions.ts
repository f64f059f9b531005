/**
 * POST /v1/completions: prompts (a string, strings, token ids, or lists of ids) continued, n
 * choices each, answered whole or streamed as Server-Sent Events, with the completions shape
 * of logprobs and echo.
 */
import type { FastifyReply } from "fastify";

import type { GenerateResult, StreamChunk } from "../gpt.js";
import { describe } from "../option-checks.js";
import { invalid } from "./api-error.js";
import { finishReason, noteTokens, openGroups, runChoices, streamChoices, usageOf, type ChoiceGroup } from "./choices.js";
import type { CallState, ServerState } from "./context.js";
import { checkContext } from "./context-check.js";
import { checkKnownFields, optionalBoolean, optionalInteger, present, requireObject, type Body } from "./fields.js";
import { CompletionLogprobsBuilder, joinCompletionLogprobs, type CompletionLogprobs } from "./logprobs.js";
import { readSamplingFields, SAMPLING_FIELDS } from "./sampling-fields.js";
import { SseWriter } from "./sse.js";
import { responseId } from "./response-id.js";

const FIELDS = new Set<string>([...SAMPLING_FIELDS, "prompt", "logprobs", "echo", "best_of"]);
/** OpenAI's limit on the completions endpoint's logprobs. */
const MAX_LOGPROBS = 5;
/** OpenAI's default max_tokens for completions. */
const DEFAULT_MAX_TOKENS = 16;

interface PromptInput {
  ids: number[];
  /** The prompt as text, for echo. */
  text: string;
}

export async function completions(server: ServerState, call: CallState, raw: unknown, reply: FastifyReply): Promise<unknown> {
  const { gpt } = server;
  const body = requireObject(raw);
  checkKnownFields(body, FIELDS, "/v1/completions");
  const fields = readSamplingFields(body, gpt.config.vocabSize);
  const prompts = readPrompts(body, gpt.tokenizer.encode.bind(gpt.tokenizer), gpt.tokenizer.decode.bind(gpt.tokenizer), gpt.config.vocabSize);
  const logprobs = optionalInteger(body, "logprobs", 0, MAX_LOGPROBS);
  const echo = optionalBoolean(body, "echo") ?? false;
  if (present(body, "best_of") && body.best_of !== fields.n)
    throw invalid(`best_of other than n is not supported (best_of ${describe(body.best_of)}, n ${fields.n})`, "best_of", "unsupported_parameter");
  const maxTokens = fields.maxTokens ?? DEFAULT_MAX_TOKENS;
  if (maxTokens === 0 && !echo) throw invalid("max_tokens must be at least 1 (0 only with echo: the prompt's own logprobs)", "max_tokens");
  for (const p of prompts) checkContext(gpt, Math.max(1, p.ids.length), maxTokens, "prompt");

  const release = server.admission.admit(prompts.length * fields.n);
  try {
    // echo with logprobs: the prompt's own tokens get theirs, from the model (one prompt at a time).
    const echoed: { entries: CompletionLogprobs[]; text: string }[] = [];
    for (const p of prompts) {
      const entries: CompletionLogprobs[] = [];
      if (echo && logprobs !== undefined && p.ids.length > 0) {
        const builder = new CompletionLogprobsBuilder(gpt.tokenizer);
        const scored = await gpt.promptLogprobs(p.ids, { top: logprobs, signal: call.signal }).catch((e: unknown) => {
          if (call.signal.aborted) return null; // the client left, or the drain timed out
          throw e;
        });
        if (!scored) return null;
        for (const [i, s] of scored.entries()) entries.push(builder.next(s.token, s.logprob, i === 0 ? null : s.topLogprobs));
      }
      echoed.push({ entries, text: echo ? p.text : "" });
    }
    const choiceCount = prompts.length * fields.n;
    const prefix = (index: number) => echoed[Math.floor(index / fields.n)]!;
    // Each choice's offsets run on from its echoed prompt's text (from 0 without echo).
    const builders = Array.from({ length: choiceCount }, (_, i) => {
      const builder = new CompletionLogprobsBuilder(gpt.tokenizer);
      if (echo) for (const id of prompts[Math.floor(i / fields.n)]!.ids) builder.next(id, null, null);
      return builder;
    });
    // A final end-of-text (or stop) token has its entry too, as OpenAI's and vLLM's have: scoring
    // harnesses count on one entry per generated token.
    const lp = (index: number, chunk: StreamChunk): CompletionLogprobs | null =>
      logprobs === undefined ? null : builders[index]!.next(chunk.token, chunk.logprob, chunk.topLogprobs ?? []);

    const groups: ChoiceGroup[] =
      maxTokens === 0
        ? []
        : openGroups(prompts, fields.n, (p) =>
            gpt.stream(p.ids, {
              ...fields.options,
              maxTokens,
              n: fields.n,
              ...(logprobs === undefined ? {} : { logprobs }),
              signal: call.signal,
            }),
          );
    const base = { id: responseId("cmpl"), object: "text_completion", created: call.created, model: server.modelId };

    if (!fields.stream) {
      const perChoice: CompletionLogprobs[][] = Array.from({ length: choiceCount }, (_, i) => [...prefix(i).entries]);
      const results = await runChoices(groups, server.metrics, call.arrivedAt, (index, chunk) => {
        const entry = lp(index, chunk);
        if (entry) perChoice[index]!.push(entry);
      });
      if (call.signal.aborted) return null; // the client is gone, or the server stopped waiting
      const usage = maxTokens === 0 ? echoUsage(prompts) : usageOf(groups, results);
      noteTokens(call, usage);
      return {
        ...base,
        choices: Array.from({ length: choiceCount }, (_, index) => ({
          index,
          text: prefix(index).text + (results[index]?.text ?? ""),
          logprobs: logprobs === undefined ? null : joinCompletionLogprobs(perChoice[index]!),
          finish_reason: finishOf(results[index]),
        })),
        usage,
      };
    }

    reply.hijack();
    const sse = new SseWriter(reply.raw, call.signal);
    const usageField = fields.includeUsage ? { usage: null } : {};
    const event = (index: number, text: string, logprobsEntry: CompletionLogprobs | null, finish: string | null) => ({
      ...base,
      choices: [{ index, text, logprobs: logprobsEntry, finish_reason: finish }],
      ...usageField,
    });
    for (let i = 0; i < choiceCount && echo; i++) {
      const entries = prefix(i).entries;
      await sse.send(event(i, prefix(i).text, logprobs === undefined ? null : joinCompletionLogprobs(entries), null));
    }
    const results = await streamChoices(sse, call, groups, server.metrics, {
      chunk: (index, chunk) => {
        const entry = lp(index, chunk);
        return chunk.text !== "" || entry ? event(index, chunk.text, entry, null) : null;
      },
      end: (index, result) => event(index, "", null, finishReason(result)),
    });
    if (!results) return null;
    if (maxTokens === 0) for (let i = 0; i < choiceCount; i++) await sse.send(event(i, "", null, "length"));
    const usage = maxTokens === 0 ? echoUsage(prompts) : usageOf(groups, results);
    noteTokens(call, usage);
    if (fields.includeUsage) await sse.send({ ...base, choices: [], usage });
    sse.end();
    return null;
  } finally {
    release();
  }
}

/** With max_tokens 0 (echo only) a choice has no result: it ended for length. */
function finishOf(result: GenerateResult | undefined): "stop" | "length" {
  return result ? finishReason(result) : "length";
}

function echoUsage(prompts: PromptInput[]) {
  const prompt = prompts.reduce((sum, p) => sum + p.ids.length, 0);
  return { prompt_tokens: prompt, completion_tokens: 0, total_tokens: prompt, prompt_tokens_details: { cached_tokens: 0 } };
}


/** `prompt`: a string, strings, token ids, or lists of ids. */
function readPrompts(body: Body, encode: (s: string) => number[], decode: (ids: number[]) => string, vocabSize: number): PromptInput[] {
  if (!present(body, "prompt")) throw invalid("prompt is required", "prompt");
  const p = body.prompt;
  const ids = (list: unknown[], where: string): number[] => {
    for (const id of list)
      if (!Number.isInteger(id) || (id as number) < 0 || (id as number) >= vocabSize)
        throw invalid(`${where} holds ${describe(id)}, not a token id (0–${vocabSize - 1})`, "prompt");
    return list as number[];
  };
  if (typeof p === "string") return [{ ids: encode(p), text: p }];
  if (!Array.isArray(p) || p.length === 0)
    throw invalid(`prompt must be a string, an array of strings, an array of token ids or an array of such arrays, got ${describe(p)}`, "prompt");
  if (p.every((x) => typeof x === "string")) return p.map((s: string) => ({ ids: encode(s), text: s }));
  if (p.every((x) => typeof x === "number")) {
    const list = ids(p, "prompt");
    return [{ ids: list, text: decode(list) }];
  }
  if (p.every((x) => Array.isArray(x)))
    return p.map((x: unknown[], i) => {
      if (x.length === 0) throw invalid(`prompt[${i}] is an empty list of token ids`, "prompt");
      const list = ids(x, `prompt[${i}]`);
      return { ids: list, text: decode(list) };
    });
  throw invalid("prompt must be one kind of thing: strings, token ids, or arrays of token ids, not a mix", "prompt");
}
