/**
 * GPT-2's reversible byte ↔ character map. Byte-level BPE works on strings whose characters
 * stand for single bytes: printable bytes ("!".."~", "¡".."¬", "®".."ÿ") stand for
 * themselves, and the other 68 bytes (controls, space, 0x7F–0xA0, 0xAD) are shifted to
 * U+0100 and up in byte order, so that space (0x20) becomes "Ġ" and "\n" becomes "Ċ".
 */

function isPrintableByte(b: number): boolean {
  return (b >= 0x21 && b <= 0x7e) || (b >= 0xa1 && b <= 0xac) || (b >= 0xae && b <= 0xff);
}

function buildByteToChar(): string[] {
  const chars: string[] = new Array<string>(256);
  let shifted = 0;
  for (let b = 0; b < 256; b++) {
    chars[b] = String.fromCharCode(isPrintableByte(b) ? b : 0x100 + shifted++);
  }
  return chars;
}

/** BYTE_TO_CHAR[b] is the one-character string that stands for byte b. */
export const BYTE_TO_CHAR: readonly string[] = buildByteToChar();

/** Highest character code used by the map (U+0143 "Ń"). */
const MAX_CHAR_CODE = 0x100 + 67;

/** CHAR_TO_BYTE[charCode] is the byte a mapped character stands for, or -1. */
const CHAR_TO_BYTE: Int16Array = (() => {
  const table = new Int16Array(MAX_CHAR_CODE + 1).fill(-1);
  BYTE_TO_CHAR.forEach((ch, b) => {
    table[ch.charCodeAt(0)] = b;
  });
  return table;
})();

/** The byte that character code `code` stands for, or -1 when it is not a byte character. */
export function byteOfCharCode(code: number): number {
  return code <= MAX_CHAR_CODE ? (CHAR_TO_BYTE[code] ?? -1) : -1;
}

/**
 * The bytes a vocabulary string stands for, or null when some character of it is not a
 * byte character (such a token is not byte-level; callers fall back to its UTF-8 bytes,
 * as Hugging Face's ByteLevel decoder does).
 */
export function bytesOfTokenString(token: string): Uint8Array | null {
  const out = new Uint8Array(token.length);
  for (let i = 0; i < token.length; i++) {
    const b = byteOfCharCode(token.charCodeAt(i));
    if (b < 0) return null;
    out[i] = b;
  }
  return out;
}

/** The mapped string for a run of bytes. */
export function charsOfBytes(bytes: Uint8Array): string {
  let s = "";
  for (let i = 0; i < bytes.length; i++) s += BYTE_TO_CHAR[bytes[i]!]!;
  return s;
}
