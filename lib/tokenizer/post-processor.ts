/**
 * The ids a post-processor puts around one encoded text when special tokens are added
 * (add_special_tokens=True, Hugging Face's default): ByteLevel adds none; TemplateProcessing
 * its "single" template's special tokens around $A; RobertaProcessing and BertProcessing
 * cls … sep; Sequence applies each in turn (the later ones wrap the earlier ones).
 */
import { describe, isObject, typeOf, type Fail } from "./parse-util.js";

export interface SpecialTokensAround {
  readonly prefix: readonly number[];
  readonly suffix: readonly number[];
}

export const NOTHING_AROUND: SpecialTokensAround = { prefix: [], suffix: [] };

const SUPPORTED = "ByteLevel, TemplateProcessing, RobertaProcessing, BertProcessing and Sequence";

function checkedId(fail: Fail, where: string, v: unknown): number {
  if (typeof v !== "number" || !Number.isInteger(v) || v < 0) fail(`${where} must be a non-negative integer id, found ${describe(v)}`);
  return v;
}

/** ["<s>", 0] → 0 (RobertaProcessing / BertProcessing's cls and sep). */
function pairId(fail: Fail, where: string, v: unknown): number {
  if (!Array.isArray(v) || v.length !== 2 || typeof v[0] !== "string") fail(`${where} must be ["token", id], found ${describe(v)}`);
  return checkedId(fail, `${where}[1]`, v[1]);
}

function template(fail: Fail, where: string, value: Record<string, unknown>): SpecialTokensAround {
  const single = value.single;
  if (!Array.isArray(single)) fail(`${where}.single must be an array, found ${describe(single)}`);
  const specials = value.special_tokens ?? {};
  if (!isObject(specials)) fail(`${where}.special_tokens must be an object, found ${describe(specials)}`);
  const prefix: number[] = [];
  const suffix: number[] = [];
  let seenA = false;
  single.forEach((piece: unknown, i) => {
    const at = `${where}.single[${i}]`;
    if (isObject(piece) && isObject(piece.Sequence)) {
      if (piece.Sequence.id !== "A") fail(`${at} is sequence ${describe(piece.Sequence.id)}; a single template holds $A only`);
      if (seenA) fail(`${at}: $A appears twice in the single template`);
      seenA = true;
      return;
    }
    if (isObject(piece) && isObject(piece.SpecialToken)) {
      const name = piece.SpecialToken.id;
      if (typeof name !== "string") fail(`${at}.SpecialToken.id must be a string, found ${describe(name)}`);
      const entry = specials[name];
      if (!isObject(entry) || !Array.isArray(entry.ids)) fail(`${at} uses special token ${JSON.stringify(name)}, which ${where}.special_tokens does not define with ids`);
      const ids = entry.ids.map((id: unknown, k) => checkedId(fail, `${where}.special_tokens[${JSON.stringify(name)}].ids[${k}]`, id));
      (seenA ? suffix : prefix).push(...ids);
      return;
    }
    fail(`${at} must be {"Sequence": …} or {"SpecialToken": …}, found ${describe(piece)}`);
  });
  if (!seenA) fail(`${where}.single has no $A`);
  return { prefix, suffix };
}

/** What `value` (tokenizer.json's "post_processor"; null: none) adds around one text. */
export function parsePostProcessor(fail: Fail, where: string, value: unknown): SpecialTokensAround {
  if (value === undefined || value === null) return NOTHING_AROUND;
  if (!isObject(value)) fail(`${where} must be an object, found ${describe(value)}`);
  switch (value.type) {
    case "ByteLevel":
      return NOTHING_AROUND;
    case "TemplateProcessing":
      return template(fail, where, value);
    case "RobertaProcessing":
    case "BertProcessing":
      return { prefix: [pairId(fail, `${where}.cls`, value.cls)], suffix: [pairId(fail, `${where}.sep`, value.sep)] };
    case "Sequence": {
      const list = value.processors;
      if (!Array.isArray(list)) fail(`${where}.processors must be an array, found ${describe(list)}`);
      let prefix: number[] = [];
      let suffix: number[] = [];
      list.forEach((p: unknown, i) => {
        const inner = parsePostProcessor(fail, `${where}.processors[${i}]`, p);
        prefix = [...inner.prefix, ...prefix];
        suffix = [...suffix, ...inner.suffix];
      });
      return { prefix, suffix };
    }
    default:
      return fail(`${where}.type is ${JSON.stringify(typeOf(value))}; the post-processors supported are ${SUPPORTED}`);
  }
}
