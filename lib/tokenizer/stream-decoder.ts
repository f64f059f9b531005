import type { Tokenizer } from "./tokenizer.js";

/**
 * Turns token ids into text as they are generated. push() returns the text that is complete
 * so far and keeps back the bytes of a UTF-8 character that a later token will finish, so an
 * emoji or CJK character split across tokens never shows up as U+FFFD; bytes that can never
 * become valid UTF-8 become U+FFFD at once. The pushes and the final flush() together give
 * exactly tokenizer.decode(allIds).
 */
export class StreamDecoder {
  private readonly tok: Tokenizer;
  private readonly utf8 = new TextDecoder("utf-8", { ignoreBOM: true });

  constructor(tok: Tokenizer) {
    this.tok = tok;
  }

  /** Add one token; returns the text it completes (possibly ""). Throws GptInputError for an unknown id. */
  push(id: number): string {
    return this.utf8.decode(this.tok.decodeBytes([id]), { stream: true });
  }

  /** End of the stream: returns what is held back (a cut-off character becomes U+FFFD) and resets. */
  flush(): string {
    return this.utf8.decode();
  }
}
