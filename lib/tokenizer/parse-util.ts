/** Small helpers for reading tokenizer JSON; `Fail` throws the file's E_TOKENIZER error. */

export type Fail = (problem: string) => never;

export function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

export function describe(v: unknown): string {
  if (v === null) return "null";
  if (Array.isArray(v)) return "an array";
  if (typeof v === "string") return `the string ${JSON.stringify(v.length > 40 ? v.slice(0, 40) + "…" : v)}`;
  return typeof v === "object" ? "an object" : `${typeof v} ${String(v)}`;
}

export function quote(token: string): string {
  return JSON.stringify(token);
}

export function optionalBool(fail: Fail, where: string, v: unknown, fallback: boolean): boolean {
  if (v === undefined || v === null) return fallback;
  if (typeof v !== "boolean") fail(`${where} must be true or false, found ${describe(v)}`);
  return v;
}

export function requireString(fail: Fail, where: string, v: unknown): string {
  if (typeof v !== "string") fail(`${where} must be a string, found ${describe(v)}`);
  return v;
}

/** A component's "type" (for messages): its string, or a description of what is there. */
export function typeOf(v: unknown): string {
  return isObject(v) && typeof v.type === "string" ? v.type : describe(v);
}
