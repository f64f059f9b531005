/**
 * Read the central directory of a zip archive (ZIP64 included) and find where each entry's
 * bytes lie, without reading or decompressing them. torch.save writes its checkpoints as
 * zip archives whose entries are stored uncompressed, so a stored entry's bytes can be
 * memory-mapped where they are.
 *
 * Layout (APPNOTE.TXT): entries (local header + data), then the central directory (one record
 * per entry), then, for ZIP64 archives, the ZIP64 end record and its locator, then the end of
 * central directory record (22 bytes + comment) at the very end of the file.
 */
import type { FileHandle } from "node:fs/promises";
import { GptLoadError } from "../errors.js";

/** Random access to the bytes of one file: an open file on disk, or a buffer in memory (tests, tools). */
export interface ByteSource {
  /** Path of the file, for error messages. */
  readonly file: string;
  readonly size: number;
  /** Exactly `length` bytes at `position`; fails naming the file as truncated when it ends first. */
  read(position: number, length: number): Promise<Uint8Array>;
}

export function bufferSource(file: string, bytes: Uint8Array): ByteSource {
  return {
    file,
    size: bytes.length,
    read: async (position, length) => {
      if (position < 0 || length < 0 || position + length > bytes.length) throw truncated(file, position, length, bytes.length);
      return bytes.subarray(position, position + length);
    },
  };
}

export function fileSource(file: string, fh: FileHandle, size: number): ByteSource {
  return {
    file,
    size,
    read: async (position, length) => {
      if (position < 0 || length < 0 || position + length > size) throw truncated(file, position, length, size);
      const buf = Buffer.alloc(length);
      let done = 0;
      while (done < length) {
        const { bytesRead } = await fh.read(buf, done, length - done, position + done);
        if (bytesRead === 0) throw truncated(file, position, length, position + done);
        done += bytesRead;
      }
      return buf;
    },
  };
}

function truncated(file: string, position: number, length: number, size: number): GptLoadError {
  return new GptLoadError(
    "E_CHECKPOINT",
    file,
    `truncated: expected ${length} bytes at offset ${position}, but the file ends at ${size}`,
  );
}

/** One entry of the central directory. */
export interface ZipEntry {
  name: string;
  /** 0 = stored, 8 = deflate, ... */
  method: number;
  /** General-purpose flags; bit 0 = encrypted. */
  flags: number;
  compressedSize: number;
  size: number;
  localHeaderOffset: number;
}

export interface ZipDirectory {
  /** Entries by name, in central directory order. */
  entries: Map<string, ZipEntry>;
}

const EOCD_SIGNATURE = 0x06054b50;
const EOCD_SIZE = 22;
const ZIP64_LOCATOR_SIGNATURE = 0x07064b50;
const ZIP64_LOCATOR_SIZE = 20;
const ZIP64_EOCD_SIGNATURE = 0x06064b50;
const ZIP64_EOCD_SIZE = 56;
const CENTRAL_SIGNATURE = 0x02014b50;
const CENTRAL_SIZE = 46;
const LOCAL_SIGNATURE = 0x04034b50;
const LOCAL_SIZE = 30;
const ZIP64_EXTRA_ID = 0x0001;
/** The zip comment is at most 65535 bytes, so the end record lies within this many bytes of the end. */
const EOCD_SEARCH = EOCD_SIZE + 0xffff;
/** A checkpoint's directory is ~100 bytes per tensor; past this it is not a checkpoint. */
export const MAX_CENTRAL_DIRECTORY_BYTES = 64 * 1024 * 1024;

const utf8 = new TextDecoder("utf-8");

/**
 * Read the central directory, or answer null when the file has no end of central directory
 * record (not a zip archive, or one cut short). Malformed records are GptLoadError("E_CHECKPOINT").
 */
export async function readZipDirectory(source: ByteSource): Promise<ZipDirectory | null> {
  const bad = (problem: string): GptLoadError => new GptLoadError("E_CHECKPOINT", source.file, `zip archive: ${problem}`);
  if (source.size < EOCD_SIZE) return null;

  const tailStart = Math.max(0, source.size - EOCD_SEARCH);
  const tail = await source.read(tailStart, source.size - tailStart);
  const tv = view(tail);
  // The record whose comment runs exactly to the end of the file; searching from the end
  // finds the real one even when tensor data happens to contain the signature.
  let eocd = -1;
  for (let i = tail.length - EOCD_SIZE; i >= 0; i--) {
    if (tv.getUint32(i, true) === EOCD_SIGNATURE && i + EOCD_SIZE + tv.getUint16(i + 20, true) === tail.length) {
      eocd = i;
      break;
    }
  }
  if (eocd < 0) return null;

  const disk = tv.getUint16(eocd + 4, true);
  const cdDisk = tv.getUint16(eocd + 6, true);
  let count: number = tv.getUint16(eocd + 10, true);
  let cdSize: number = tv.getUint32(eocd + 12, true);
  let cdOffset: number = tv.getUint32(eocd + 16, true);
  if (disk !== 0 || cdDisk !== 0) throw bad("spans several disks, which a checkpoint never does");

  const eocdPos = tailStart + eocd;
  if (eocdPos >= ZIP64_LOCATOR_SIZE) {
    const locator = view(await source.read(eocdPos - ZIP64_LOCATOR_SIZE, ZIP64_LOCATOR_SIZE));
    if (locator.getUint32(0, true) === ZIP64_LOCATOR_SIGNATURE) {
      const at = u64(locator, 8, bad, "ZIP64 end record offset");
      if (at + ZIP64_EOCD_SIZE > source.size) throw bad(`ZIP64 end record at ${at} lies past the end of the file: truncated?`);
      const z = view(await source.read(at, ZIP64_EOCD_SIZE));
      if (z.getUint32(0, true) !== ZIP64_EOCD_SIGNATURE) throw bad(`no ZIP64 end record at offset ${at}, where its locator points`);
      count = u64(z, 32, bad, "entry count");
      cdSize = u64(z, 40, bad, "central directory size");
      cdOffset = u64(z, 48, bad, "central directory offset");
    }
  }

  if (cdOffset + cdSize > source.size) {
    throw bad(`central directory (${cdSize} bytes at offset ${cdOffset}) runs past the end of the file (${source.size} bytes): truncated?`);
  }
  if (cdSize > MAX_CENTRAL_DIRECTORY_BYTES) throw bad(`central directory of ${cdSize} bytes is implausibly large`);
  if (count * CENTRAL_SIZE > cdSize) throw bad(`${count} entries cannot fit in a central directory of ${cdSize} bytes`);

  const cd = await source.read(cdOffset, cdSize);
  const v = view(cd);
  const entries = new Map<string, ZipEntry>();
  let p = 0;
  for (let i = 0; i < count; i++) {
    if (p + CENTRAL_SIZE > cd.length || v.getUint32(p, true) !== CENTRAL_SIGNATURE) {
      throw bad(`central directory record ${i} of ${count} is missing or malformed (at offset ${cdOffset + p})`);
    }
    const flags = v.getUint16(p + 8, true);
    const method = v.getUint16(p + 10, true);
    let compressedSize: number = v.getUint32(p + 20, true);
    let size: number = v.getUint32(p + 24, true);
    const nameLength = v.getUint16(p + 28, true);
    const extraLength = v.getUint16(p + 30, true);
    const commentLength = v.getUint16(p + 32, true);
    const diskStart = v.getUint16(p + 34, true);
    let localHeaderOffset: number = v.getUint32(p + 42, true);
    const end = p + CENTRAL_SIZE + nameLength + extraLength + commentLength;
    if (end > cd.length) throw bad(`central directory record ${i} runs past the end of the directory`);
    const name = utf8.decode(cd.subarray(p + CENTRAL_SIZE, p + CENTRAL_SIZE + nameLength));

    // ZIP64: each field saturated at 0xFFFFFFFF is in the 0x0001 extra field instead, in this order.
    if (size === 0xffffffff || compressedSize === 0xffffffff || localHeaderOffset === 0xffffffff || diskStart === 0xffff) {
      const extra = findExtra(cd.subarray(p + CENTRAL_SIZE + nameLength, p + CENTRAL_SIZE + nameLength + extraLength), ZIP64_EXTRA_ID);
      if (extra === null) throw bad(`entry "${name}" has ZIP64 sizes but no ZIP64 extra field`);
      const ev = view(extra);
      let q = 0;
      const next = (what: string): number => {
        if (q + 8 > extra.length) throw bad(`entry "${name}": ZIP64 extra field too short for its ${what}`);
        const value = u64(ev, q, bad, `entry "${name}" ${what}`);
        q += 8;
        return value;
      };
      if (size === 0xffffffff) size = next("size");
      if (compressedSize === 0xffffffff) compressedSize = next("compressed size");
      if (localHeaderOffset === 0xffffffff) localHeaderOffset = next("local header offset");
    }
    if (entries.has(name)) throw bad(`holds two entries named "${name}"`);
    entries.set(name, { name, method, flags, compressedSize, size, localHeaderOffset });
    p = end;
  }
  return { entries };
}

/**
 * Absolute offset of the first data byte of `entry`. The local header's name and extra field
 * may differ in length from the central record's (torch pads the local extra field to align
 * the data to 64 bytes), so it has to be read.
 */
export async function entryDataOffset(source: ByteSource, entry: ZipEntry): Promise<number> {
  const bad = (problem: string): GptLoadError =>
    new GptLoadError("E_CHECKPOINT", source.file, `zip entry "${entry.name}": ${problem}`);
  if (entry.localHeaderOffset + LOCAL_SIZE > source.size) {
    throw bad(`local header at offset ${entry.localHeaderOffset} lies past the end of the file (${source.size} bytes): truncated?`);
  }
  const header = view(await source.read(entry.localHeaderOffset, LOCAL_SIZE));
  if (header.getUint32(0, true) !== LOCAL_SIGNATURE) throw bad(`no local header at offset ${entry.localHeaderOffset}`);
  const dataOffset = entry.localHeaderOffset + LOCAL_SIZE + header.getUint16(26, true) + header.getUint16(28, true);
  if (dataOffset + entry.compressedSize > source.size) {
    throw bad(
      `its ${entry.compressedSize} bytes at offset ${dataOffset} run past the end of the file (${source.size} bytes): truncated?`,
    );
  }
  return dataOffset;
}

/** Read a whole stored (uncompressed) entry, refusing more than `maxBytes`. */
export async function readStoredEntry(source: ByteSource, entry: ZipEntry, maxBytes: number): Promise<Uint8Array> {
  if (entry.method !== 0 || (entry.flags & 1) !== 0) {
    throw new GptLoadError(
      "E_UNSUPPORTED",
      source.file,
      `zip entry "${entry.name}" is ${describeMethod(entry)}; torch.save stores every entry uncompressed (re-save the checkpoint with torch.save, or convert it to safetensors)`,
    );
  }
  if (entry.size > maxBytes) {
    throw new GptLoadError("E_CHECKPOINT", source.file, `zip entry "${entry.name}" is ${entry.size} bytes, more than the ${maxBytes} it may hold`);
  }
  checkStoredSizes(source.file, entry);
  return source.read(await entryDataOffset(source, entry), entry.size);
}

/** A stored entry's compressed and uncompressed sizes must agree. */
export function checkStoredSizes(file: string, entry: ZipEntry): void {
  if (entry.compressedSize !== entry.size) {
    throw new GptLoadError(
      "E_CHECKPOINT",
      file,
      `zip entry "${entry.name}" is stored uncompressed but its sizes disagree (${entry.compressedSize} stored, ${entry.size} declared)`,
    );
  }
}

export function describeMethod(entry: ZipEntry): string {
  if ((entry.flags & 1) !== 0) return "encrypted";
  const names: Record<number, string> = { 8: "deflate", 9: "deflate64", 12: "bzip2", 14: "lzma", 93: "zstd", 95: "xz" };
  return `compressed (zip method ${entry.method}${names[entry.method] === undefined ? "" : `, ${names[entry.method]}`})`;
}

function findExtra(extra: Uint8Array, id: number): Uint8Array | null {
  const v = view(extra);
  for (let p = 0; p + 4 <= extra.length; ) {
    const length = v.getUint16(p + 2, true);
    if (p + 4 + length > extra.length) return null;
    if (v.getUint16(p, true) === id) return extra.subarray(p + 4, p + 4 + length);
    p += 4 + length;
  }
  return null;
}

function u64(v: DataView, at: number, bad: (problem: string) => GptLoadError, what: string): number {
  const value = v.getBigUint64(at, true);
  if (value > BigInt(Number.MAX_SAFE_INTEGER)) throw bad(`${what} ${value} is beyond any real file size`);
  return Number(value);
}

function view(bytes: Uint8Array): DataView {
  return new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}
