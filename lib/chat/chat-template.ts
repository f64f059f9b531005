/**
 * A chat template: the Jinja source that turns a conversation into a prompt, rendered by
 * @huggingface/jinja (Hugging Face's own port, with transformers' settings: trim_blocks,
 * lstrip_blocks, raise_exception) with the checkpoint's special tokens and
 * add_generation_prompt: true, as apply_chat_template renders it.
 */
import { Template } from "@huggingface/jinja";

import { GptInputError } from "../errors.js";
import type { ChatMessage } from "./messages.js";

export interface SpecialTokens {
  bosToken: string;
  eosToken: string;
}

export class ChatTemplate {
  private readonly template: Template;

  /**
   * `origin` names where the source came from (a file, or the chatTemplate option), for errors.
   * Throws the error `invalid(problem)` makes when the source does not parse.
   */
  constructor(
    readonly source: string,
    private readonly tokens: SpecialTokens,
    private readonly origin: string,
    invalid: (problem: string) => Error,
  ) {
    try {
      this.template = new Template(source);
    } catch (e) {
      throw invalid(`the chat template does not parse: ${(e as Error).message}`);
    }
  }

  /** The prompt for `messages`; a template that rejects them (raise_exception) is E_INVALID_ARGUMENT. */
  render(messages: ChatMessage[]): string {
    try {
      return this.template.render({
        messages,
        bos_token: this.tokens.bosToken,
        eos_token: this.tokens.eosToken,
        add_generation_prompt: true,
      });
    } catch (e) {
      throw new GptInputError(`the chat template (${this.origin}) refused the messages: ${(e as Error).message}`);
    }
  }
}
