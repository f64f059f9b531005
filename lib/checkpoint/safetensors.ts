/**
 * Read and validate the header of one safetensors file without touching its tensor data.
 *
 * Layout: 8 bytes little-endian u64 N, then N bytes of UTF-8 JSON
 * { name: { dtype, shape, data_offsets: [begin, end] }, "__metadata__"?: {...} },
 * then the data region; offsets are relative to the start of the data region.
 */
import type { FileHandle } from "node:fs/promises";
import { GptLoadError } from "../errors.js";
import { fsProblem, isJsonObject, openRegularFile, showShape, showValue } from "./fs-util.js";

/** Bytes per element of every dtype the safetensors format defines. */
export const SAFETENSORS_DTYPE_SIZES: Readonly<Record<string, number>> = {
  BOOL: 1,
  U8: 1,
  I8: 1,
  F8_E4M3: 1,
  F8_E5M2: 1,
  U16: 2,
  I16: 2,
  F16: 2,
  BF16: 2,
  U32: 4,
  I32: 4,
  F32: 4,
  U64: 8,
  I64: 8,
  F64: 8,
};

/** A header longer than this is not a real checkpoint header (GPT-2 XL's is ~40 KB). */
export const MAX_HEADER_BYTES = 100 * 1024 * 1024;

/** One tensor entry of a safetensors header, validated against the file. */
export interface SafetensorsEntry {
  /** The name exactly as stored in the file. */
  name: string;
  dtype: string;
  shape: number[];
  /** data_offsets as stored: relative to the start of the data region. */
  begin: number;
  end: number;
  /** Absolute offset of the first byte in the file: 8 + headerLength + begin. */
  offset: number;
  byteLength: number;
}

export interface SafetensorsHeader {
  file: string;
  fileSize: number;
  headerLength: number;
  /** Absolute offset where the data region starts: 8 + headerLength. */
  dataStart: number;
  /** Tensor entries by stored name, in header order; "__metadata__" is not among them. */
  tensors: Map<string, SafetensorsEntry>;
  /** The "__metadata__" object when present (not validated further). */
  metadata: Record<string, unknown> | null;
}

const utf8 = new TextDecoder("utf-8", { fatal: true });

/**
 * Open `file`, read its length prefix and JSON header, and validate every entry against the
 * file's size. Every failure is a GptLoadError("E_CHECKPOINT") naming `file`.
 */
export async function readSafetensorsHeader(file: string): Promise<SafetensorsHeader> {
  let fh: FileHandle;
  let fileSize: number;
  try {
    ({ fh, size: fileSize } = await openRegularFile(file, "a safetensors file"));
  } catch (err) {
    if (err instanceof GptLoadError) throw err;
    throw new GptLoadError("E_CHECKPOINT", file, fsProblem(err), { cause: err });
  }
  try {
    if (fileSize < 8) {
      throw new GptLoadError(
        "E_CHECKPOINT",
        file,
        `truncated: the file is ${fileSize} bytes, shorter than the 8-byte header length that starts a safetensors file`,
      );
    }
    const prefix = await readExactly(fh, file, 0, 8);
    const declared = prefix.readBigUInt64LE(0);
    if (declared > BigInt(fileSize - 8)) {
      throw new GptLoadError(
        "E_CHECKPOINT",
        file,
        `header length ${declared} bytes is larger than the file (${fileSize} bytes in all): truncated, or not a safetensors file`,
      );
    }
    if (declared > BigInt(MAX_HEADER_BYTES)) {
      throw new GptLoadError(
        "E_CHECKPOINT",
        file,
        `header length ${declared} bytes is implausibly large (limit ${MAX_HEADER_BYTES} bytes): not a safetensors file?`,
      );
    }
    const headerLength = Number(declared);
    const headerBytes = await readExactly(fh, file, 8, headerLength);
    return parseSafetensorsHeader(file, headerBytes, fileSize);
  } catch (err) {
    if (err instanceof GptLoadError) throw err;
    throw new GptLoadError("E_CHECKPOINT", file, fsProblem(err), { cause: err });
  } finally {
    await fh.close().catch(() => undefined);
  }
}

/**
 * The first key that the top-level object of `text` (valid JSON, an object) has twice, or null.
 * Scans the text for the strings at depth one that are followed by a colon.
 */
export function repeatedTopLevelKey(text: string): string | null {
  const seen = new Set<string>();
  let depth = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (c === "{" || c === "[") depth++;
    else if (c === "}" || c === "]") depth--;
    else if (c === '"') {
      const start = i;
      for (i++; text[i] !== '"'; i++) if (text[i] === "\\") i++;
      if (depth !== 1) continue;
      let j = i + 1;
      while (j < text.length && " \t\n\r".includes(text[j]!)) j++;
      if (text[j] !== ":") continue;
      const key = JSON.parse(text.slice(start, i + 1)) as string;
      if (seen.has(key)) return key;
      seen.add(key);
    }
  }
  return null;
}

/**
 * Validate the JSON header bytes (without the 8-byte prefix) of a safetensors file of
 * `fileSize` bytes. Exposed for tests and tools; readSafetensorsHeader is the usual entry.
 */
export function parseSafetensorsHeader(file: string, headerBytes: Uint8Array, fileSize: number): SafetensorsHeader {
  const bad = (problem: string): GptLoadError => new GptLoadError("E_CHECKPOINT", file, problem);
  const headerLength = headerBytes.length;
  const dataStart = 8 + headerLength;
  const dataSize = fileSize - dataStart;

  let text: string;
  try {
    text = utf8.decode(headerBytes);
  } catch {
    throw bad(`header (${headerLength} bytes) is not valid UTF-8: not a safetensors file?`);
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (err) {
    const why = err instanceof Error ? err.message : String(err);
    throw bad(`header (${headerLength} bytes) is not valid JSON (${why})`);
  }
  if (!isJsonObject(json)) {
    throw bad(`header must be a JSON object, got ${Array.isArray(json) ? "an array" : showValue(json)}`);
  }
  // JSON.parse keeps the last of two equal keys: a tensor named twice would silently be the second.
  const twice = repeatedTopLevelKey(text);
  if (twice !== null) throw bad(`header names tensor "${twice}" twice`);

  const tensors = new Map<string, SafetensorsEntry>();
  let metadata: Record<string, unknown> | null = null;
  for (const [name, raw] of Object.entries(json)) {
    if (name === "__metadata__") {
      if (isJsonObject(raw)) metadata = raw;
      continue;
    }
    const where = `tensor "${name}"`;
    if (!isJsonObject(raw)) throw bad(`${where}: header entry must be an object, got ${showValue(raw)}`);
    for (const key of ["dtype", "shape", "data_offsets"]) {
      if (raw[key] === undefined) throw bad(`${where}: header entry has no "${key}"`);
    }
    const dtype = raw["dtype"];
    if (typeof dtype !== "string") throw bad(`${where}: dtype must be a string, got ${showValue(dtype)}`);
    const shape = raw["shape"];
    if (!Array.isArray(shape) || !shape.every(isNonNegativeInt)) {
      throw bad(`${where}: shape must be a list of non-negative integers, got ${showValue(shape)}`);
    }
    const offsets = raw["data_offsets"];
    if (!Array.isArray(offsets) || offsets.length !== 2 || !offsets.every(isNonNegativeInt)) {
      throw bad(`${where}: data_offsets must be two non-negative integers [begin, end], got ${showValue(offsets)}`);
    }
    const [begin, end] = offsets as [number, number];
    if (begin > end) throw bad(`${where}: data_offsets [${begin}, ${end}] begin after end`);
    const byteLength = end - begin;
    const elementSize = SAFETENSORS_DTYPE_SIZES[dtype];
    // An unknown dtype (a newer format revision) cannot be size-checked; the loader rejects it
    // if the tensor is one it needs.
    if (elementSize !== undefined) {
      const expected = (shape as number[]).reduce((a, b) => a * b, 1) * elementSize;
      if (expected !== byteLength) {
        throw bad(
          `${where}: data_offsets [${begin}, ${end}] span ${byteLength} bytes, but shape ${showShape(shape as number[])} of ${dtype} needs ${expected} bytes`,
        );
      }
    }
    if (end > dataSize) {
      throw bad(
        `${where}: data_offsets [${begin}, ${end}] run past the end of the file (the data region holds ${Math.max(dataSize, 0)} bytes): truncated?`,
      );
    }
    tensors.set(name, {
      name,
      dtype,
      shape: [...(shape as number[])],
      begin,
      end,
      offset: dataStart + begin,
      byteLength,
    });
  }
  return { file, fileSize, headerLength, dataStart, tensors, metadata };
}

function isNonNegativeInt(value: unknown): value is number {
  return typeof value === "number" && Number.isSafeInteger(value) && value >= 0;
}

/** Read exactly `length` bytes at `position`, or fail naming the file as truncated. */
async function readExactly(fh: FileHandle, file: string, position: number, length: number): Promise<Buffer> {
  const buf = Buffer.alloc(length);
  let done = 0;
  while (done < length) {
    const { bytesRead } = await fh.read(buf, done, length - done, position + done);
    if (bytesRead === 0) {
      throw new GptLoadError(
        "E_CHECKPOINT",
        file,
        `truncated: expected ${length} bytes at offset ${position}, the file ended after ${done}`,
      );
    }
    done += bytesRead;
  }
  return buf;
}
