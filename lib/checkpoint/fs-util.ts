/** Small file-system helpers shared by the checkpoint loader: errno → words, stat, small JSON files. */
import { constants } from "node:fs";
import { open, stat, type FileHandle } from "node:fs/promises";
import type { Stats } from "node:fs";
import { GptLoadError } from "../errors.js";

/** The codes a file the loader reads can fail with. */
type FileErrorCode = "E_CHECKPOINT" | "E_TOKENIZER";

/** Describe a file-system error in a few words, for a message that already names the file. */
export function fsProblem(err: unknown): string {
  const code = typeof err === "object" && err !== null ? (err as { code?: unknown }).code : undefined;
  switch (code) {
    case "ENOENT":
      return "not found";
    case "ENOTDIR":
      return "not found (a parent of this path is not a directory)";
    case "EACCES":
    case "EPERM":
      return "cannot be read: permission denied";
    case "EISDIR":
      return "is a directory, expected a file";
    case "ELOOP":
      return "cannot be read: too many levels of symbolic links";
    case "EMFILE":
    case "ENFILE":
      return "cannot be opened: too many open files";
    default: {
      const message = err instanceof Error ? err.message : String(err);
      return `cannot be read: ${message}`;
    }
  }
}

/** stat() that answers null for a path that does not exist; other failures throw GptLoadError. */
export async function statOrNull(path: string): Promise<Stats | null> {
  try {
    return await stat(path);
  } catch (err) {
    const code = (err as { code?: unknown }).code;
    if (code === "ENOENT" || code === "ENOTDIR") return null;
    throw new GptLoadError("E_CHECKPOINT", path, fsProblem(err), { cause: err });
  }
}

/** True when `path` exists and is a regular file (following symlinks). Never throws. */
export async function isRegularFile(path: string): Promise<boolean> {
  try {
    return (await stat(path)).isFile();
  } catch {
    return false;
  }
}

const utf8 = new TextDecoder("utf-8", { fatal: true });

/**
 * Opens `file` to read it, refusing anything but a regular file with a GptLoadError of `code`
 * that says what was `expected`. The open does not block (O_NONBLOCK: a FIFO would otherwise wait
 * for a writer for good, holding a libuv pool thread); the check is on the opened file, so no
 * rename between a check and the open can slip another file in. A failing open throws its fs error
 * for the caller to describe.
 */
export async function openRegularFile(
  file: string,
  expected: string,
  code: FileErrorCode = "E_CHECKPOINT",
): Promise<{ fh: FileHandle; size: number }> {
  const fh = await open(file, constants.O_RDONLY | constants.O_NONBLOCK);
  try {
    const st = await fh.stat();
    if (st.isDirectory()) throw new GptLoadError(code, file, `is a directory, expected ${expected}`);
    if (!st.isFile()) throw new GptLoadError(code, file, `is not a regular file (a FIFO, socket or device), expected ${expected}`);
    return { fh, size: st.size };
  } catch (err) {
    await fh.close().catch(() => undefined);
    throw err;
  }
}

/** A regular file's whole text (UTF-8, a leading BOM dropped); failures are GptLoadError of `code` naming `file`. */
export async function readTextFile(file: string, expected: string, code: FileErrorCode): Promise<string> {
  let bytes: Buffer;
  try {
    const { fh } = await openRegularFile(file, expected, code);
    try {
      bytes = await fh.readFile();
    } finally {
      await fh.close();
    }
  } catch (err) {
    if (err instanceof GptLoadError) throw err;
    throw new GptLoadError(code, file, fsProblem(err), { cause: err });
  }
  const text = bytes.toString("utf8");
  return text.charCodeAt(0) === 0xfeff ? text.slice(1) : text;
}

/**
 * Read and parse a small JSON file (config.json, the shard index). Every failure is a
 * GptLoadError naming `file`: missing, unreadable, a directory, too large, not UTF-8, not JSON.
 */
export async function readJsonFile(file: string, maxBytes: number): Promise<unknown> {
  let bytes: Buffer;
  try {
    const { fh, size } = await openRegularFile(file, "a JSON file");
    try {
      if (size > maxBytes) {
        throw new GptLoadError(
          "E_CHECKPOINT",
          file,
          `is ${size} bytes, too large for this JSON file (limit ${maxBytes} bytes)`,
        );
      }
      bytes = await fh.readFile();
    } finally {
      await fh.close();
    }
  } catch (err) {
    if (err instanceof GptLoadError) throw err;
    throw new GptLoadError("E_CHECKPOINT", file, fsProblem(err), { cause: err });
  }
  let text: string;
  try {
    text = utf8.decode(bytes);
  } catch (err) {
    throw new GptLoadError("E_CHECKPOINT", file, "is not valid UTF-8 text", { cause: err });
  }
  if (text.trim() === "") throw new GptLoadError("E_CHECKPOINT", file, "is empty, expected a JSON object");
  try {
    return JSON.parse(text) as unknown;
  } catch (err) {
    const why = err instanceof Error ? err.message : String(err);
    throw new GptLoadError("E_CHECKPOINT", file, `is not valid JSON (${why})`, { cause: err });
  }
}

/** A plain JSON object (not null, not an array). */
export function isJsonObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/** Render a JSON value briefly for an error message. */
export function showValue(value: unknown): string {
  if (value === undefined) return "nothing";
  let text: string;
  try {
    text = JSON.stringify(value) ?? String(value);
  } catch {
    text = String(value);
  }
  return text.length > 80 ? `${text.slice(0, 77)}...` : text;
}

/** "[768, 2304]" */
export function showShape(shape: readonly number[]): string {
  return `[${shape.join(", ")}]`;
}
