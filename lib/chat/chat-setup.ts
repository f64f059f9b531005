/**
 * One model's chat: its template (the checkpoint's, or the chatTemplate option's), the special
 * tokens the template uses, and the tokens that end an assistant's turn. Built from what
 * template-files.ts read at load; a template is parsed on first use, so a checkpoint with a
 * broken one still loads for plain generation.
 */
import { GptError, GptInputError, GptLoadError } from "../errors.js";
import type { Tokenizer } from "../tokenizer/index.js";
import { ChatTemplate, type SpecialTokens } from "./chat-template.js";
import { checkMessages } from "./messages.js";
import type { ChatFiles } from "./template-files.js";

export class ChatSetup {
  /** Token ids that end a reply: the eos token, and generation_config.json's eos_token_id. */
  readonly endOfTurn: readonly number[];
  private readonly tokens: SpecialTokens;
  private own: ChatTemplate | undefined;
  private readonly given = new Map<string, ChatTemplate>();

  /** `files`: null for a model with no directory (Gpt.random), named `model` in errors. */
  constructor(
    private readonly files: ChatFiles | null,
    tokenizer: Tokenizer,
    private readonly model: string,
  ) {
    const eosText = tokenizer.tokenText(tokenizer.eosTokenId);
    this.tokens = { bosToken: files?.bosToken ?? eosText, eosToken: files?.eosToken ?? eosText };
    const ids = new Set([tokenizer.eosTokenId]);
    const eos = tokenizer.tokenToId(this.tokens.eosToken);
    if (eos !== null) ids.add(eos);
    for (const id of files?.eosTokenIds ?? []) if (id < tokenizer.vocabSize) ids.add(id);
    this.endOfTurn = [...ids];
  }

  /** Whether the checkpoint has a template of its own (else only the chatTemplate option renders). */
  get hasOwnTemplate(): boolean {
    return this.files?.template != null;
  }

  /** The prompt text for `messages`, rendered with `chatTemplate` when given, else the model's own template. */
  prompt(messages: unknown, chatTemplate: unknown): string {
    return this.template(chatTemplate).render(checkMessages(messages));
  }

  private template(chatTemplate: unknown): ChatTemplate {
    if (chatTemplate !== undefined) {
      if (typeof chatTemplate !== "string" || chatTemplate.length === 0)
        throw new GptInputError(`chatTemplate must be a non-empty Jinja template string, got ${typeof chatTemplate}`);
      let template = this.given.get(chatTemplate);
      if (!template) {
        template = new ChatTemplate(chatTemplate, this.tokens, "the chatTemplate option", (p) => new GptInputError(p));
        if (this.given.size >= 16) this.given.clear(); // a server passes few distinct templates
        this.given.set(chatTemplate, template);
      }
      return template;
    }
    if (this.own) return this.own;
    const found = this.files?.template;
    if (!found) {
      const pass = "pass the chatTemplate option (a Jinja template string; on the command line, --chat-template <file>)";
      if (!this.files) throw new GptError("E_UNSUPPORTED", `${this.model} has no chat template; ${pass}`);
      const [jinja, config] = this.files.lookedIn;
      throw new GptLoadError("E_UNSUPPORTED", config!, `no chat_template here, and no ${jinja}; ${pass}`);
    }
    this.own = new ChatTemplate(found.source, this.tokens, found.file, (p) => new GptLoadError("E_TOKENIZER", found.file, p));
    return this.own;
  }
}
