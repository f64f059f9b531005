/**
 * A tiny safetensors writer for tests: header + random (or given) data for each tensor,
 * plus a raw writer for deliberately broken files.
 */
import { randomBytes } from "node:crypto";
import { writeFile } from "node:fs/promises";

export const TEST_DTYPE_SIZES: Readonly<Record<string, number>> = {
  BOOL: 1,
  U8: 1,
  I8: 1,
  I16: 2,
  F16: 2,
  BF16: 2,
  I32: 4,
  F32: 4,
  I64: 8,
  F64: 8,
};

export interface TensorSpec {
  name: string;
  dtype: string;
  shape: number[];
  /** Bytes to store; random bytes of the right length when omitted. */
  data?: Buffer;
}

export interface WrittenTensor {
  name: string;
  dtype: string;
  shape: number[];
  /** data_offsets as written (relative to the data region). */
  begin: number;
  end: number;
  /** Absolute offset in the file: 8 + headerLength + begin. */
  offset: number;
  data: Buffer;
}

export interface WrittenSafetensors {
  file: string;
  headerLength: number;
  size: number;
  tensors: Map<string, WrittenTensor>;
}

/** Write a valid safetensors file. The header is space-padded to a multiple of 8, as the reference writer does. */
export async function writeSafetensors(
  file: string,
  tensors: TensorSpec[],
  options: { metadata?: Record<string, string> } = {},
): Promise<WrittenSafetensors> {
  const header: Record<string, unknown> = {};
  if (options.metadata) header["__metadata__"] = options.metadata;
  const chunks: Buffer[] = [];
  const placed: Omit<WrittenTensor, "offset">[] = [];
  let cursor = 0;
  for (const t of tensors) {
    const size = TEST_DTYPE_SIZES[t.dtype];
    if (size === undefined) throw new Error(`test writer: unknown dtype ${t.dtype}`);
    const byteLength = t.shape.reduce((a, b) => a * b, 1) * size;
    const data = t.data ?? randomBytes(byteLength);
    if (data.length !== byteLength) throw new Error(`test writer: ${t.name} data is ${data.length} bytes, needs ${byteLength}`);
    header[t.name] = { dtype: t.dtype, shape: t.shape, data_offsets: [cursor, cursor + byteLength] };
    placed.push({ name: t.name, dtype: t.dtype, shape: t.shape, begin: cursor, end: cursor + byteLength, data });
    chunks.push(data);
    cursor += byteLength;
  }
  let json = JSON.stringify(header);
  while (Buffer.byteLength(json) % 8 !== 0) json += " ";
  const headerBytes = Buffer.from(json, "utf8");
  const prefix = Buffer.alloc(8);
  prefix.writeBigUInt64LE(BigInt(headerBytes.length));
  const bytes = Buffer.concat([prefix, headerBytes, ...chunks]);
  await writeFile(file, bytes);
  const dataStart = 8 + headerBytes.length;
  return {
    file,
    headerLength: headerBytes.length,
    size: bytes.length,
    tensors: new Map(placed.map((t) => [t.name, { ...t, offset: dataStart + t.begin }])),
  };
}

/**
 * Write a safetensors-shaped file verbatim: the 8-byte length (the header's real length unless
 * `declaredLength` is given), the header (an object is JSON-encoded; a string or Buffer is
 * written as is) and then `data`.
 */
export async function writeRawSafetensors(
  file: string,
  header: object | string | Buffer,
  data: Buffer = Buffer.alloc(0),
  options: { declaredLength?: bigint } = {},
): Promise<void> {
  const headerBytes = Buffer.isBuffer(header)
    ? header
    : Buffer.from(typeof header === "string" ? header : JSON.stringify(header), "utf8");
  const prefix = Buffer.alloc(8);
  prefix.writeBigUInt64LE(options.declaredLength ?? BigInt(headerBytes.length));
  await writeFile(file, Buffer.concat([prefix, headerBytes, data]));
}
