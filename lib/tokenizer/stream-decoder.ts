import type { Tokenizer } from "./tokenizer.js";

/**
 * Turns token ids into text as they are generated. push() returns the text that is complete
 * so far and keeps back the bytes of a UTF-8 character that a later token will finish, so an
 * emoji or CJK character split across tokens never shows up as U+FFFD; bytes that can never
 * become valid UTF-8 become U+FFFD at once. The pushes and the final flush() together give
 * exactly tokenizer.decode(allIds).
 *
 * SentencePiece-style tokenizers (Llama 2) decode by a chain that looks at the first token
 * (Strip drops its leading space, Metaspace its "▁") and at runs of "<0xXX>" byte tokens, so
 * there the text is decoded from the first token on: the first token plus the ids since the
 * last complete point, minus the first token's own text. A run of byte tokens is held back
 * until it is valid UTF-8 or ends. (A run that is never valid UTF-8 is one U+FFFD per byte,
 * as Hugging Face's ByteFallback makes it, once it ends.)
 */
export class StreamDecoder {
  private readonly tok: Tokenizer;
  private readonly utf8 = new TextDecoder("utf-8", { ignoreBOM: true });
  /** SentencePiece mode: the first id, and the ids since the last complete point. */
  private first: number | null = null;
  private firstText = "";
  private pending: number[] = [];
  /** SentencePiece mode: how much of decode([first, ...pending]) has been returned. */
  private emitted = 0;

  constructor(tok: Tokenizer) {
    this.tok = tok;
  }

  /** Add one token; returns the text it completes (possibly ""). Throws GptInputError for an unknown id. */
  push(id: number): string {
    if (!this.tok.sentencePiece) return this.utf8.decode(this.tok.decodeBytes([id]), { stream: true });
    this.tok.decodeBytes([id]); // an unknown id throws here
    if (this.first === null || this.tok.isByteToken(this.first)) {
      // Until the first token is a plain one, decode everything from the start.
      if (this.first === null) this.first = id;
      else this.pending.push(id);
      return this.take(false);
    }
    this.pending.push(id);
    return this.take(false);
  }

  /** End of the stream: returns what is held back (a cut-off character becomes U+FFFD) and resets. */
  flush(): string {
    if (!this.tok.sentencePiece) return this.utf8.decode();
    const out = this.first === null ? "" : this.take(true);
    this.first = null;
    this.firstText = "";
    this.pending = [];
    this.emitted = 0;
    return out;
  }

  private take(final: boolean): string {
    const first = this.first!;
    const ids = [first, ...this.pending];
    const text = this.tok.decode(ids);
    const last = ids[ids.length - 1]!;
    if (!final && this.tok.isByteToken(last) && text.endsWith("\ufffd")) return "";
    const out = text.slice(this.emitted);
    this.emitted = text.length;
    if (!this.tok.isByteToken(last) && !this.tok.isByteToken(first)) {
      // A complete point: later text depends only on the first token and what follows.
      if (this.pending.length > 0 || this.firstText === "") {
        if (this.firstText === "" && this.pending.length === 0) this.firstText = text;
        this.pending = [];
        this.emitted = this.firstText.length;
      }
    }
    return out;
  }
}
