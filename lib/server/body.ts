/**
 * Request bodies: JSON in strict UTF-8. Fastify's own parser decodes bytes that are not UTF-8 into
 * U+FFFD, and a prompt would go on with characters the client never sent; here they are a 400.
 * Keys that would reach an object's prototype (`__proto__`, `constructor.prototype`) are refused,
 * as fastify's parser refuses them.
 */
import type { FastifyInstance } from "fastify";
import secureJsonParse from "secure-json-parse";

import { invalid } from "./api-error.js";

const strictUtf8 = new TextDecoder("utf-8", { fatal: true });

export function parseJsonBodies(app: FastifyInstance): void {
  app.removeContentTypeParser("application/json");
  app.addContentTypeParser("application/json", { parseAs: "buffer" }, (_request, body: Buffer, done) => {
    if (body.length === 0) return done(invalid("the request body is empty: send a JSON object"), undefined);
    let text: string;
    try {
      text = strictUtf8.decode(body);
    } catch {
      return done(invalid(`the request body is not valid UTF-8 (near byte ${firstBadByte(body)})`), undefined);
    }
    try {
      done(null, secureJsonParse.parse(text, undefined, { protoAction: "error", constructorAction: "error" }));
    } catch (e) {
      done(invalid(`the request body is not valid JSON: ${(e as Error).message}`), undefined);
    }
  });
}

/** Where the first byte sequence that is not UTF-8 starts. */
export function firstBadByte(bytes: Buffer): number {
  let i = 0;
  for (let n = sequenceLength(bytes, i); n > 0 && i < bytes.length; n = sequenceLength(bytes, i)) i += n;
  return i;
}

/**
 * The length of the well-formed UTF-8 sequence at `i` (the Unicode Standard's table 3-7: no
 * overlong forms, no surrogates, nothing above U+10FFFF), 0 when none starts there.
 */
function sequenceLength(b: Buffer, i: number): number {
  const c = b[i]!;
  if (c < 0x80) return 1;
  const [n, lo, hi] =
    c >= 0xc2 && c <= 0xdf ? [2, 0x80, 0xbf]
    : c === 0xe0 ? [3, 0xa0, 0xbf]
    : c === 0xed ? [3, 0x80, 0x9f]
    : c >= 0xe1 && c <= 0xef ? [3, 0x80, 0xbf]
    : c === 0xf0 ? [4, 0x90, 0xbf]
    : c >= 0xf1 && c <= 0xf3 ? [4, 0x80, 0xbf]
    : c === 0xf4 ? [4, 0x80, 0x8f]
    : [0, 0, 0];
  if (n === 0 || i + n > b.length || b[i + 1]! < lo || b[i + 1]! > hi) return 0;
  for (let k = 2; k < n; k++) if ((b[i + k]! & 0xc0) !== 0x80) return 0;
  return n;
}
