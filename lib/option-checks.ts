// The checks every option goes through: each failure is a GptInputError naming the option, the
// range and the value.
import { GptInputError } from "./errors.js";

export function checkObject(value: unknown, what: string, known: ReadonlySet<string>): Record<string, unknown> {
  if (value === undefined) return {};
  if (value === null || typeof value !== "object" || Array.isArray(value))
    throw new GptInputError(`${what} must be an object, got ${describe(value)}`);
  for (const key of Object.keys(value))
    if (!known.has(key)) throw new GptInputError(`${what}: unknown option "${key}" (known: ${[...known].join(", ")})`);
  return value as Record<string, unknown>;
}

export function describe(value: unknown): string {
  if (typeof value === "string") return JSON.stringify(value);
  if (typeof value === "number" || typeof value === "boolean" || value == null) return String(value);
  return Array.isArray(value) ? "an array" : `a ${typeof value}`;
}

export function integer(name: string, value: unknown, min: number, max = Number.MAX_SAFE_INTEGER): number {
  if (typeof value !== "number" || !Number.isInteger(value) || value < min || value > max)
    throw new GptInputError(`${name} must be an integer in [${min}, ${max}], got ${describe(value)}`);
  return value;
}

export function finite(name: string, value: unknown, min: number, max: number): number {
  if (typeof value !== "number" || !Number.isFinite(value) || value < min || value > max)
    throw new GptInputError(`${name} must be a number in [${min}, ${max}], got ${describe(value)}`);
  return value;
}
