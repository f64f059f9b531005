/**
 * Reading a request body's fields: each check names the field (OpenAI's name, as the client
 * sent it) in the 400's message and `param`. A field that is null counts as left out, as the
 * OpenAI API takes it.
 */
import { describe } from "../option-checks.js";
import { invalid } from "./api-error.js";

export type Body = Record<string, unknown>;

export function requireObject(body: unknown): Body {
  if (body === null || typeof body !== "object" || Array.isArray(body))
    throw invalid(`the request body must be a JSON object, got ${describe(body)}`);
  return body as Body;
}

/**
 * Every field of the body must be one this endpoint implements: one it does not (tools,
 * suffix, a typo) is a 400 naming it, never silently ignored.
 */
export function checkKnownFields(body: Body, known: ReadonlySet<string>, endpoint: string): void {
  for (const key of Object.keys(body)) {
    if (!known.has(key))
      throw invalid(`${key} is not supported by this server's ${endpoint} (supported: ${[...known].sort().join(", ")})`, key, "unsupported_parameter");
  }
}

export function present(body: Body, name: string): boolean {
  return body[name] !== undefined && body[name] !== null;
}

export function optionalNumber(body: Body, name: string, min: number, max: number, openMin = false): number | undefined {
  if (!present(body, name)) return undefined;
  const v = body[name];
  if (typeof v !== "number" || !Number.isFinite(v) || v < min || v > max || (openMin && v === min))
    throw invalid(`${name} must be a number in ${openMin ? "(" : "["}${min}, ${max}], got ${describe(v)}`, name);
  return v;
}

export function optionalInteger(body: Body, name: string, min: number, max: number): number | undefined {
  if (!present(body, name)) return undefined;
  const v = body[name];
  if (typeof v !== "number" || !Number.isInteger(v) || v < min || v > max)
    throw invalid(`${name} must be an integer in [${min}, ${max}], got ${describe(v)}`, name);
  return v;
}

export function optionalBoolean(body: Body, name: string): boolean | undefined {
  if (!present(body, name)) return undefined;
  const v = body[name];
  if (typeof v !== "boolean") throw invalid(`${name} must be true or false, got ${describe(v)}`, name);
  return v;
}

export function optionalString(body: Body, name: string): string | undefined {
  if (!present(body, name)) return undefined;
  const v = body[name];
  if (typeof v !== "string") throw invalid(`${name} must be a string, got ${describe(v)}`, name);
  return v;
}

/** An object of fields, itself checked for unknown ones. */
export function optionalObject(body: Body, name: string, known: ReadonlySet<string>): Body | undefined {
  if (!present(body, name)) return undefined;
  const v = body[name];
  if (typeof v !== "object" || Array.isArray(v)) throw invalid(`${name} must be an object, got ${describe(v)}`, name);
  for (const key of Object.keys(v as Body))
    if (!known.has(key)) throw invalid(`${name}.${key} is not supported (supported: ${[...known].join(", ")})`, `${name}.${key}`, "unsupported_parameter");
  return v as Body;
}
