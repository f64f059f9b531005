// Flag value parsers for commander, and the error class that means "the command line is wrong".
import { InvalidArgumentError } from "commander";

/** A mistake in the command line: reported in one line, exit code 2. */
export class UsageError extends Error {
  override name = "UsageError";
}

/** A runtime failure the CLI itself detects (network, cache, checksum): one line, exit code 1. */
export class CliError extends Error {
  override name = "CliError";
}

function range(min: number, max: number): string {
  if (max === Infinity || max === Number.MAX_SAFE_INTEGER) return `≥ ${min}`;
  return `in [${min}, ${max}]`;
}

/** Parser for an integer flag in [min, max]. */
export function integerArg(min: number, max = Number.MAX_SAFE_INTEGER): (value: string) => number {
  return (value) => {
    const n = Number(value);
    if (!/^[+-]?\d+$/.test(value.trim()) || !Number.isSafeInteger(n) || n < min || n > max)
      throw new InvalidArgumentError(`expected an integer ${range(min, max)}`);
    return n;
  };
}

/** Parser for a finite number flag in [min, max]; `exclusiveMin` makes min itself invalid. */
export function numberArg(min: number, max: number, exclusiveMin = false): (value: string) => number {
  return (value) => {
    const n = Number(value);
    if (value.trim() === "" || !Number.isFinite(n) || n < min || (exclusiveMin && n === min) || n > max)
      throw new InvalidArgumentError(`expected a number ${exclusiveMin ? `in (${min}, ${max}]` : range(min, max)}`);
    return n;
  };
}

/** Collector for a repeatable, non-empty string flag (e.g. --stop a --stop b). */
export function collectNonEmpty(value: string, previous: string[] | undefined): string[] {
  if (value.length === 0) throw new InvalidArgumentError("expected a non-empty string");
  return [...(previous ?? []), value];
}
