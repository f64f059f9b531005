/**
 * POST /v1/chat/completions: the conversation rendered with the model's chat template, n
 * replies, answered whole or streamed (delta.role first, then delta.content), with the chat
 * shape of logprobs.
 */
import type { FastifyReply } from "fastify";

import type { ChatMessage } from "../chat/messages.js";
import { contextLimit } from "../context-limit.js";
import type { StreamChunk } from "../gpt.js";
import { MAX_LOGPROBS } from "../generate-options.js";
import { describe } from "../option-checks.js";
import { invalid } from "./api-error.js";
import { finishReason, noteTokens, runChoices, streamChoices, usageOf } from "./choices.js";
import type { CallState, ServerState } from "./context.js";
import { checkContext } from "./context-check.js";
import { checkKnownFields, optionalBoolean, optionalInteger, optionalObject, present, requireObject, type Body } from "./fields.js";
import { chatLogprob, type ChatTokenLogprob } from "./logprobs.js";
import { readSamplingFields, SAMPLING_FIELDS } from "./sampling-fields.js";
import { SseWriter } from "./sse.js";
import { responseId } from "./response-id.js";

const FIELDS = new Set<string>([...SAMPLING_FIELDS, "messages", "logprobs", "top_logprobs", "max_completion_tokens", "response_format"]);
const MESSAGE_FIELDS = new Set(["role", "content"]);

export async function chatCompletions(server: ServerState, call: CallState, raw: unknown, reply: FastifyReply): Promise<unknown> {
  const { gpt } = server;
  const body = requireObject(raw);
  checkKnownFields(body, FIELDS, "/v1/chat/completions");
  const fields = readSamplingFields(body, gpt.config.vocabSize);
  const maxCompletion = optionalInteger(body, "max_completion_tokens", 1, Number.MAX_SAFE_INTEGER);
  if (fields.maxTokens !== null && maxCompletion !== undefined && fields.maxTokens !== maxCompletion)
    throw invalid("max_tokens and max_completion_tokens differ: give one", "max_tokens");
  if (fields.maxTokens === 0) throw invalid("max_tokens must be at least 1", "max_tokens");
  const format = optionalObject(body, "response_format", new Set(["type"]));
  if (format && format.type !== "text")
    throw invalid(`response_format ${describe(format.type)} is not supported (only "text")`, "response_format", "unsupported_parameter");
  const wantLogprobs = optionalBoolean(body, "logprobs") ?? false;
  const top = optionalInteger(body, "top_logprobs", 0, MAX_LOGPROBS);
  if (top !== undefined && !wantLogprobs) throw invalid("top_logprobs needs logprobs: true", "top_logprobs");
  if (fields.options.ignoreEos !== undefined)
    throw invalid("ignore_eos is not supported on chat completions: the end of the turn ends a reply", "ignore_eos", "unsupported_parameter");
  const messages = readMessages(body);

  const chatTemplate = server.chatTemplate;
  const promptTokens = gpt.tokenizer.encode(gpt.applyChatTemplate(messages, { chatTemplate }), { addSpecialTokens: false }).length;
  const maxTokens = fields.maxTokens ?? maxCompletion ?? contextLimit(gpt) - promptTokens;
  checkContext(gpt, promptTokens, Math.max(1, maxTokens), "messages");

  const release = server.admission.admit(fields.n);
  try {
    const streams = gpt.chatStream(messages, {
      ...fields.options,
      maxTokens,
      n: fields.n,
      ...(wantLogprobs ? { logprobs: top ?? 0 } : {}),
      ...(chatTemplate === undefined ? {} : { chatTemplate }),
      signal: call.signal,
    });
    const groups = [{ streams, first: 0 }];
    // What ends a reply is not part of it: no logprobs entry, as OpenAI's chat has none.
    const endTokens = new Set<number>([...gpt.endOfTurnTokens, ...(fields.options.stopTokens ?? []), gpt.tokenizer.eosTokenId]);
    const lp = (chunk: StreamChunk): ChatTokenLogprob | null =>
      !wantLogprobs || endTokens.has(chunk.token) ? null : chatLogprob(gpt.tokenizer, chunk.token, chunk.logprob, chunk.topLogprobs ?? []);
    const base = { id: responseId("chatcmpl"), created: call.created, model: server.modelId };

    if (!fields.stream) {
      const perChoice: ChatTokenLogprob[][] = streams.map(() => []);
      const results = await runChoices(groups, server.metrics, call.arrivedAt, (index, chunk) => {
        const entry = lp(chunk);
        if (entry) perChoice[index]!.push(entry);
      });
      if (call.signal.aborted) return null;
      const usage = usageOf(groups, results);
      noteTokens(call, usage);
      return {
        ...base,
        object: "chat.completion",
        choices: results.map((r, index) => ({
          index,
          message: { role: "assistant", content: r.text, refusal: null },
          logprobs: wantLogprobs ? { content: perChoice[index], refusal: null } : null,
          finish_reason: finishReason(r),
        })),
        usage,
      };
    }

    reply.hijack();
    const sse = new SseWriter(reply.raw, call.signal);
    const usageField = fields.includeUsage ? { usage: null } : {};
    const event = (index: number, delta: Record<string, string>, entry: ChatTokenLogprob | null, finish: string | null) => ({
      ...base,
      object: "chat.completion.chunk",
      choices: [{ index, delta, logprobs: entry ? { content: [entry], refusal: null } : null, finish_reason: finish }],
      ...usageField,
    });
    for (let i = 0; i < streams.length; i++) await sse.send(event(i, { role: "assistant", content: "" }, null, null));
    const results = await streamChoices(sse, call, groups, server.metrics, {
      chunk: (index, chunk) => {
        const entry = lp(chunk);
        return chunk.text !== "" || entry ? event(index, { content: chunk.text }, entry, null) : null;
      },
      end: (index, result) => event(index, {}, null, finishReason(result)),
    });
    if (!results) return null;
    const usage = usageOf(groups, results);
    noteTokens(call, usage);
    if (fields.includeUsage) await sse.send({ ...base, object: "chat.completion.chunk", choices: [], usage });
    sse.end();
    return null;
  } finally {
    release();
  }
}

/**
 * messages: { role, content } with role system, user or assistant ("developer" is OpenAI's
 * newer name for system), content a string or a list of text parts.
 */
function readMessages(body: Body): ChatMessage[] {
  if (!present(body, "messages")) throw invalid("messages is required", "messages");
  const list = body.messages;
  if (!Array.isArray(list) || list.length === 0) throw invalid(`messages must be a non-empty array, got ${describe(list)}`, "messages");
  return list.map((m: unknown, i) => {
    const where = `messages[${i}]`;
    if (m === null || typeof m !== "object" || Array.isArray(m)) throw invalid(`${where} must be an object, got ${describe(m)}`, where);
    // null is "left out": a reply sent back as the API returned it ({ role, content, refusal: null }) is taken.
    for (const [key, value] of Object.entries(m))
      if (!MESSAGE_FIELDS.has(key) && value !== null)
        throw invalid(`${where}.${key} is not supported (supported: role, content)`, `${where}.${key}`, "unsupported_parameter");
    const { role } = m as Body;
    // An assistant message may have no content (OpenAI's own replies can have null).
    const content = (m as Body).content ?? (role === "assistant" ? "" : undefined);
    const chatRole = role === "developer" ? "system" : role;
    if (chatRole !== "system" && chatRole !== "user" && chatRole !== "assistant")
      throw invalid(`${where}.role must be system, developer, user or assistant, got ${describe(role)}`, `${where}.role`);
    return { role: chatRole, content: messageText(content, where) };
  });
}

function messageText(content: unknown, where: string): string {
  if (typeof content === "string") return content;
  if (Array.isArray(content))
    return content
      .map((part: unknown, j) => {
        const p = part as Body | null;
        if (p === null || typeof p !== "object" || p.type !== "text" || typeof p.text !== "string")
          throw invalid(`${where}.content[${j}] must be a text part { type: "text", text }: other parts are not supported`, `${where}.content`);
        return p.text;
      })
      .join("");
  throw invalid(`${where}.content must be a string or a list of text parts, got ${describe(content)}`, `${where}.content`);
}
