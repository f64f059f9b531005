/**
 * Describe every tensor of one torch.save'd state dict without reading tensor data.
 *
 * Layout (torch >= 1.6): a zip archive of uncompressed entries under one top folder
 * <archive>/ (the file's stem, or "archive"): data.pkl, the pickled state dict whose tensors
 * name their storages by key; data/<key>, each storage's raw bytes (64-byte aligned);
 * byteorder, "little" or "big" (absent before torch 1.10: little); and version files.
 */
import { GptLoadError } from "../errors.js";
import { showShape } from "./fs-util.js";
import { describe, PickleDict, unpickle } from "./pickle.js";
import { TorchTensor, torchStateDictHooks, type TorchDtype, type TorchStorage } from "./torch-pickle.js";
import {
  checkStoredSizes,
  describeMethod,
  entryDataOffset,
  readStoredEntry,
  readZipDirectory,
  type ByteSource,
  type ZipDirectory,
} from "./zip.js";

/** One tensor of a .bin state dict and where its elements lie in the file. */
export interface TorchBinTensor {
  /** The state-dict key exactly as stored (e.g. "transformer.h.0.attn.c_attn.weight"). */
  name: string;
  /** F32, F16 or BF16 for weights; other dtypes (I64 position ids, BOOL/U8 masks, F64) are reported as stored. */
  dtype: TorchDtype;
  /** [] for a scalar. */
  shape: number[];
  /** Path of the .bin file. */
  file: string;
  /** Absolute byte offset of the first element in `file`: the tensor can be mapped in place. */
  offset: number;
  byteLength: number;
  /** The archive entry holding its storage; tensors sharing a storage (tied weights) name the same one. */
  storage: string;
}

export interface TorchBinFile {
  file: string;
  fileSize: number;
  /** The archive's top folder, e.g. "pytorch_model" or "archive". */
  archive: string;
  /** Every tensor of the state dict, by stored name, in the pickle's order. */
  tensors: Map<string, TorchBinTensor>;
}

/** The state dict of GPT-2 XL pickles to ~100 KB; a data.pkl past this is not a state dict. */
export const MAX_PICKLE_BYTES = 64 * 1024 * 1024;

const RESAVE = "re-save it with a current torch (torch.save(torch.load(path), path)) or convert it to safetensors";

export async function readTorchArchive(source: ByteSource): Promise<TorchBinFile> {
  const file = source.file;
  const bad = (problem: string): GptLoadError => new GptLoadError("E_CHECKPOINT", file, problem);
  const unsupported = (problem: string): GptLoadError => new GptLoadError("E_UNSUPPORTED", file, problem);

  const zip = await readZipDirectory(source);
  if (zip === null) throw await notAZip(source);
  const archive = findArchive(zip, file);
  const entry = (name: string) => zip.entries.get(`${archive}/${name}`);

  if (entry("constants.pkl") !== undefined || [...zip.entries.keys()].some((n) => n.startsWith(`${archive}/code/`))) {
    throw unsupported("is a TorchScript archive (torch.jit.save), not a torch.save'd state dict");
  }

  const byteorder = entry("byteorder");
  if (byteorder !== undefined) {
    const order = new TextDecoder("latin1").decode(await readStoredEntry(source, byteorder, 16));
    if (order === "big") {
      throw unsupported(
        `stores its tensors big-endian ("${byteorder.name}" says "big"); only little-endian tensors can be mapped in place (convert it to safetensors, or re-save it with torch on a little-endian machine)`,
      );
    }
    if (order !== "little") throw bad(`"${byteorder.name}" says "${order.slice(0, 20)}", expected "little" or "big"`);
  }

  const pklEntry = entry("data.pkl")!;
  const pkl = await readStoredEntry(source, pklEntry, MAX_PICKLE_BYTES);
  const root = unpickle(pkl, torchStateDictHooks(), file, pklEntry.name);
  if (!(root instanceof PickleDict)) {
    throw bad(`${pklEntry.name} holds ${describe(root)}, not a state dict (a dict of tensor name to tensor)`);
  }

  /** Absolute offset of each storage's first byte, and the elements its entry really holds. */
  const placed = new Map<TorchStorage, { name: string; offset: number; capacity: number }>();
  const tensors = new Map<string, TorchBinTensor>();
  for (const [name, value] of root.entries) {
    if (typeof name !== "string") throw bad(`state dict key ${describe(name)} is not a string`);
    if (!(value instanceof TorchTensor)) {
      throw bad(`state dict entry "${name}" is ${describe(value)}, not a tensor: expected a flat state dict`);
    }
    const storage = value.storage;
    let where = placed.get(storage);
    if (where === undefined) {
      const stored = entry(`data/${storage.key}`);
      if (stored === undefined) {
        throw bad(`tensor "${name}": its storage "${storage.key}" has no entry "${archive}/data/${storage.key}" in the archive`);
      }
      if (stored.method !== 0 || (stored.flags & 1) !== 0) {
        throw unsupported(
          `tensor "${name}": its storage entry "${stored.name}" is ${describeMethod(stored)}, so it cannot be mapped in place (torch.save stores storages uncompressed: ${RESAVE})`,
        );
      }
      checkStoredSizes(file, stored);
      const capacity = Math.min(storage.numel, Math.floor(stored.size / storage.elementSize));
      where = { name: stored.name, offset: await entryDataOffset(source, stored), capacity };
      placed.set(storage, where);
    }
    tensors.set(name, placeTensor(file, name, value, where));
  }
  return { file, fileSize: source.size, archive, tensors };
}

/** Check that the tensor lies inside its storage and is C-contiguous, and say where it is. */
function placeTensor(
  file: string,
  name: string,
  tensor: TorchTensor,
  where: { name: string; offset: number; capacity: number },
): TorchBinTensor {
  const { storage, size, stride, storageOffset } = tensor;
  const dtype = storage.dtype;
  const shape = [...size];
  const numel = size.reduce((a, b) => a * BigInt(b), 1n);
  // The last element a view addresses; strides are non-negative, so this is its extent.
  const last = size.reduce((a, d, i) => a + BigInt(d - 1) * BigInt(stride[i]!), BigInt(storageOffset));
  const needed = numel === 0n ? BigInt(storageOffset) : last + 1n;
  if (needed > BigInt(where.capacity)) {
    throw new GptLoadError(
      "E_CHECKPOINT",
      file,
      `tensor "${name}" (${dtype} ${showShape(shape)} at element ${storageOffset} of its storage) needs ${needed} elements, but its storage "${where.name}" holds ${where.capacity}: the file is truncated or corrupt`,
    );
  }
  let expected = 1;
  for (let i = size.length - 1; i >= 0; i--) {
    if (size[i] !== 1 && numel !== 0n && stride[i] !== expected) {
      throw new GptLoadError(
        "E_UNSUPPORTED",
        file,
        `tensor "${name}" is not contiguous (shape ${showShape(shape)}, strides ${showShape(stride)}: a transposed or sliced view saved as is), so it cannot be mapped in place; save tensor.contiguous() instead, or convert the checkpoint to safetensors`,
      );
    }
    expected *= size[i]!;
  }
  // needed <= capacity <= the entry's size, which lies inside the file: both are safe integers.
  return {
    name,
    dtype,
    shape,
    file,
    offset: where.offset + storageOffset * storage.elementSize,
    byteLength: Number(numel) * storage.elementSize,
    storage: where.name,
  };
}

/** The top folder holding data.pkl: exactly one is expected. */
function findArchive(zip: ZipDirectory, file: string): string {
  const archives = [...zip.entries.keys()].filter((n) => /^[^/]+\/data\.pkl$/.test(n)).map((n) => n.slice(0, -"/data.pkl".length));
  if (archives.length === 1) return archives[0]!;
  if (archives.length === 0) {
    throw new GptLoadError("E_CHECKPOINT", file, "is a zip archive without a <archive>/data.pkl entry: not a torch.save checkpoint");
  }
  throw new GptLoadError(
    "E_CHECKPOINT",
    file,
    `holds ${archives.length} pickled objects (${archives.slice(0, 4).map((a) => `${a}/data.pkl`).join(", ")}), expected one torch.save'd state dict`,
  );
}

/** Why a file without a zip directory is not readable: legacy torch, truncated, or something else. */
async function notAZip(source: ByteSource): Promise<GptLoadError> {
  const file = source.file;
  if (source.size === 0) return new GptLoadError("E_CHECKPOINT", file, "is empty, expected a PyTorch checkpoint");
  const head = await source.read(0, Math.min(source.size, 512));
  const legacy = (what: string) =>
    new GptLoadError(
      "E_UNSUPPORTED",
      file,
      `is in the legacy torch.save format (${what}, written by torch before 1.6 or with _use_new_zipfile_serialization=False), which cannot be mapped in place; ${RESAVE}`,
    );
  if (head[0] === 0x80) return legacy("a bare pickle, not a zip archive");
  if (head.length >= 262 && new TextDecoder("latin1").decode(head.subarray(257, 262)) === "ustar") return legacy("a tar archive");
  if (head[0] === 0x50 && head[1] === 0x4b) {
    return new GptLoadError(
      "E_CHECKPOINT",
      file,
      "is a damaged zip archive: it has no end of central directory record (the file is truncated or corrupt)",
    );
  }
  if (head.length > 8 && head[8] === 0x7b) {
    return new GptLoadError("E_CHECKPOINT", file, "looks like a safetensors file, not a PyTorch .bin (a torch.save zip archive)");
  }
  return new GptLoadError(
    "E_CHECKPOINT",
    file,
    "is not a PyTorch checkpoint: neither a zip archive (torch.save since 1.6) nor a legacy torch pickle",
  );
}
