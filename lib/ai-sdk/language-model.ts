/**
 * A gpt-cuda model as an AI SDK language model (@ai-sdk/provider's LanguageModelV4), run in this
 * process: no HTTP. The model loads on the first call and serves every later one (concurrent
 * calls batch in its engine). A conversation goes through the model's chat template (gpt.chat);
 * on a model without one, a lone user message is continued as plain text and any other
 * conversation is E_UNSUPPORTED, naming the template files looked for.
 */
import type {
  LanguageModelV4,
  LanguageModelV4CallOptions,
  LanguageModelV4GenerateResult,
  LanguageModelV4StreamPart,
  LanguageModelV4StreamResult,
  SharedV4Warning,
} from "@ai-sdk/provider";

import { contextLimit } from "../context-limit.js";
import { GptError, GptInputError } from "../errors.js";
import { Gpt, type ChatOptions, type GenerateResult, type GenerationStream } from "../gpt.js";
import { modelIdOf } from "../model-id.js";
import { checkObject, describe } from "../option-checks.js";
import { LOAD_OPTION_KEYS, resolveLoadOptions, type LoadOptions } from "../options.js";
import { mapCallOptions } from "./call-options.js";
import { chatMessagesOf, loneUserText } from "./prompt.js";
import { finishReasonOf, metadataOf, UNKNOWN_USAGE, usageOf } from "./results.js";

export interface GptCudaSettings extends LoadOptions {
  /** A Jinja chat template used instead of the checkpoint's (providerOptions.gptCuda.chatTemplate overrides it per call). */
  chatTemplate?: string;
}

const SETTINGS_KEYS = new Set([...LOAD_OPTION_KEYS, "chatTemplate"]);
const TEXT_ID = "text";

/** One call made ready: what gpt-cuda runs, and what the AI SDK is told about it. */
interface PreparedCall {
  run: (gpt: Gpt) => GenerationStream;
  generate: (gpt: Gpt) => Promise<GenerateResult>;
  /** The text the model is given (the rendered template for a chat). */
  prompt: string;
  warnings: SharedV4Warning[];
}

export class GptCudaLanguageModel implements LanguageModelV4, Disposable {
  readonly specificationVersion = "v4" as const;
  readonly provider = "gpt-cuda";
  /** The name it was given ("gpt2", "org/name@rev"), a checkpoint directory's name, or "default" (the bundled model). */
  readonly modelId: string;
  /** No URLs: gpt-cuda's models take no files. */
  readonly supportedUrls: Record<string, RegExp[]> = {};
  private readonly load: LoadOptions;
  private readonly chatTemplate: string | undefined;
  private loading: Promise<Gpt> | null = null;
  private disposed = false;

  constructor(
    private readonly source: string | Gpt | undefined,
    settings: GptCudaSettings = {},
  ) {
    if (source !== undefined && !(source instanceof Gpt) && (typeof source !== "string" || source === ""))
      throw new GptInputError(`gptCuda needs a checkpoint path, a pulled model's name or a loaded Gpt, got ${describe(source)}`);
    const { chatTemplate, ...load } = checkObject(settings, "gptCuda settings", SETTINGS_KEYS);
    if (chatTemplate !== undefined && (typeof chatTemplate !== "string" || chatTemplate === ""))
      throw new GptInputError(`chatTemplate must be a non-empty Jinja template string, got ${describe(chatTemplate)}`);
    if (source instanceof Gpt && Object.keys(load).length > 0)
      throw new GptInputError(`gptCuda was given a loaded Gpt: load options (${Object.keys(load).join(", ")}) do not apply to it`);
    resolveLoadOptions(load); // bad settings fail here, not at the first call
    this.load = load as LoadOptions;
    this.chatTemplate = chatTemplate as string | undefined;
    this.modelId = source instanceof Gpt ? modelIdOf(source.path) : modelIdOf(source);
  }

  /** The model: loaded by the first call (a failed load is tried again by the next), or the Gpt given. */
  gpt(): Promise<Gpt> {
    if (this.disposed) return Promise.reject(new GptError("E_DISPOSED", `the gptCuda model ${this.modelId} was disposed`));
    if (this.loading) return this.loading;
    const loading = this.source instanceof Gpt ? Promise.resolve(this.source) : Gpt.load(this.source, this.load);
    this.loading = loading;
    loading.catch(() => {
      if (this.loading === loading) this.loading = null;
    });
    return loading;
  }

  async doGenerate(options: LanguageModelV4CallOptions): Promise<LanguageModelV4GenerateResult> {
    const gpt = await this.gpt();
    const call = this.prepare(gpt, options);
    const timestamp = new Date();
    const result = await call.generate(gpt);
    if (result.finishReason === "abort") throw abortError(options.abortSignal);
    return {
      content: result.text === "" ? [] : [{ type: "text", text: result.text }],
      finishReason: finishReasonOf(result),
      usage: usageOf(result),
      providerMetadata: metadataOf(result),
      request: { body: { prompt: call.prompt } },
      response: { timestamp, modelId: this.modelId },
      warnings: call.warnings,
    };
  }

  async doStream(options: LanguageModelV4CallOptions): Promise<LanguageModelV4StreamResult> {
    const gpt = await this.gpt();
    const call = this.prepare(gpt, options);
    const stream = call.run(gpt);
    const metadata: LanguageModelV4StreamPart = { type: "response-metadata", timestamp: new Date(), modelId: this.modelId };
    const raw = options.includeRawChunks === true;
    let textStarted = false;
    const parts = new ReadableStream<LanguageModelV4StreamPart>({
      start(controller) {
        controller.enqueue({ type: "stream-start", warnings: call.warnings });
        controller.enqueue(metadata);
      },
      // One chunk with text per pull (a pull must enqueue something, or the stream would not pull
      // again): a reader that stops reading stops the sequence (it pauses unread).
      async pull(controller) {
        try {
          let next = await stream.next();
          // A chunk can hold no text yet (a character or stop string pending): read on.
          while (!raw && !next.done && next.value.text === "") next = await stream.next();
          if (!next.done) {
            if (raw) controller.enqueue({ type: "raw", rawValue: { ...next.value } });
            if (next.value.text === "") return;
            if (!textStarted) controller.enqueue({ type: "text-start", id: TEXT_ID });
            textStarted = true;
            controller.enqueue({ type: "text-delta", id: TEXT_ID, delta: next.value.text });
            return;
          }
          const result = await stream.result;
          if (result.finishReason === "abort") return controller.error(abortError(options.abortSignal));
          if (textStarted) controller.enqueue({ type: "text-end", id: TEXT_ID });
          controller.enqueue({ type: "finish", finishReason: finishReasonOf(result), usage: usageOf(result), providerMetadata: metadataOf(result) });
          controller.close();
        } catch (error) {
          controller.enqueue({ type: "error", error });
          controller.enqueue({ type: "finish", finishReason: { unified: "error", raw: undefined }, usage: UNKNOWN_USAGE });
          controller.close();
        }
      },
      // The AI SDK cancels on abort, and when its consumer stops: the sequence ends and frees its blocks.
      async cancel() {
        await stream.return();
      },
    });
    return { stream: parts, request: { body: { prompt: call.prompt } } };
  }

  /**
   * Frees the model if this provider loaded it (now, or when a load in flight ends); a Gpt that
   * was given stays the caller's. Later calls reject with E_DISPOSED.
   */
  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    if (this.loading && !(this.source instanceof Gpt)) void this.loading.then((gpt) => gpt.dispose(), () => {});
  }

  [Symbol.dispose](): void {
    this.dispose();
  }

  private prepare(gpt: Gpt, options: LanguageModelV4CallOptions): PreparedCall {
    const { generate, chatTemplate: callTemplate, warnings } = mapCallOptions(options);
    const messages = chatMessagesOf(options.prompt);
    const chatTemplate = callTemplate ?? this.chatTemplate;
    const plain = loneUserText(messages);
    if (plain !== null && chatTemplate === undefined && !gpt.hasChatTemplate)
      return { run: (g) => g.stream(plain, generate), generate: (g) => g.generate(plain, generate), prompt: plain, warnings };
    // Renders here so that a model without a template fails now, E_UNSUPPORTED naming the files looked in.
    const prompt = gpt.applyChatTemplate(messages, { chatTemplate });
    // A reply ends at the end of its turn: by default it may take the rest of the context.
    const chatOptions: ChatOptions & { n?: undefined } = {
      maxTokens: Math.max(1, contextLimit(gpt) - gpt.tokenizer.encode(prompt, { addSpecialTokens: false }).length),
      ...generate,
      ...(chatTemplate === undefined ? {} : { chatTemplate }),
    };
    return { run: (g) => g.chatStream(messages, chatOptions), generate: (g) => g.chat(messages, chatOptions), prompt, warnings };
  }
}

/** What fetch rejects with on abort: the signal's reason, an AbortError unless the caller gave another. */
function abortError(signal: AbortSignal | undefined): unknown {
  return signal?.reason ?? new DOMException("This operation was aborted", "AbortError");
}
