/**
 * PyTorch `.bin` checkpoints (pytorch_model.bin, or pytorch_model-0000k-of-0000n.bin shards with
 * pytorch_model.bin.index.json): where every tensor lies in the file, so that the engine can
 * map them in place like safetensors tensors. Reading never runs anything from the file: the
 * pickled state dict is interpreted by a restricted unpickler that accepts only what
 * torch.save writes for a state dict (see pickle.ts and torch-pickle.ts).
 *
 * Every failure is a GptLoadError naming the file: E_CHECKPOINT for a missing, truncated,
 * corrupt or suspicious file (a pickle naming any other global, e.g. os.system), E_UNSUPPORTED
 * for a well-formed one we cannot map (legacy pre-1.6 format, big-endian, compressed storages,
 * non-contiguous tensors, tensor subclasses).
 */
import type { FileHandle } from "node:fs/promises";
import { basename, join } from "node:path";
import { GptLoadError } from "../errors.js";
import { fsProblem, openRegularFile, statOrNull } from "./fs-util.js";
import { readShardIndex, type ShardIndex } from "./shard-index.js";
import { readTorchArchive, type TorchBinFile, type TorchBinTensor } from "./torch-archive.js";
import { bufferSource, fileSource } from "./zip.js";

export { MAX_PICKLE_BYTES, type TorchBinFile, type TorchBinTensor } from "./torch-archive.js";
export type { TorchDtype } from "./torch-pickle.js";
export type { ShardIndex } from "./shard-index.js";

export const TORCH_BIN_FILE = "pytorch_model.bin";
export const TORCH_BIN_INDEX_FILE = "pytorch_model.bin.index.json";

/** Read the zip directory and the pickled state dict of one .bin file; tensor data is not read. */
export async function readTorchBin(file: string): Promise<TorchBinFile> {
  let fh: FileHandle;
  let size: number;
  try {
    ({ fh, size } = await openRegularFile(file, "a PyTorch .bin file"));
  } catch (err) {
    if (err instanceof GptLoadError) throw err;
    throw new GptLoadError("E_CHECKPOINT", file, fsProblem(err), { cause: err });
  }
  try {
    return await readTorchArchive(fileSource(file, fh, size));
  } catch (err) {
    if (err instanceof GptLoadError) throw err;
    throw new GptLoadError("E_CHECKPOINT", file, fsProblem(err), { cause: err });
  } finally {
    await fh.close().catch(() => undefined);
  }
}

/** readTorchBin for bytes already in memory (`file` names them in errors and results). For tests and tools. */
export async function parseTorchBin(file: string, bytes: Uint8Array): Promise<TorchBinFile> {
  return readTorchArchive(bufferSource(file, bytes));
}

/**
 * Read `dir`/pytorch_model.bin.index.json and check that every shard it names exists.
 * `shards` is in shard order. Failures: E_CHECKPOINT naming the index (malformed) or the
 * missing shard.
 */
export async function readTorchBinIndex(dir: string): Promise<ShardIndex> {
  const index = await readShardIndex(join(dir, TORCH_BIN_INDEX_FILE));
  for (const shard of index.shards) {
    if (!(await statOrNull(shard))?.isFile()) {
      const count = [...index.weightMap.values()].filter((f) => f === shard).length;
      throw new GptLoadError(
        "E_CHECKPOINT",
        shard,
        `not found (listed in ${basename(index.file)} as holding ${count} tensor${count === 1 ? "" : "s"})`,
      );
    }
  }
  return index;
}

export interface TorchBinShards {
  index: ShardIndex;
  /** One per shard, in shard order. */
  files: TorchBinFile[];
  /** Every tensor of every shard, by stored name. */
  tensors: Map<string, TorchBinTensor>;
  /** Sum of the shards' sizes in bytes. */
  totalBytes: number;
}

/**
 * Read every shard of `index` and check them against it: each tensor the index lists must be
 * in the shard it names, and no tensor may be stored in two shards. Tensors a shard holds but
 * the index omits are kept (the loader ignores names it does not need).
 */
export async function readTorchBinShards(index: ShardIndex): Promise<TorchBinShards> {
  const results = await Promise.allSettled(index.shards.map((f) => readTorchBin(f)));
  const files: TorchBinFile[] = [];
  for (const result of results) {
    if (result.status === "rejected") throw result.reason;
    files.push(result.value);
  }
  const indexName = basename(index.file);
  const tensors = new Map<string, TorchBinTensor>();
  for (const shard of files) {
    for (const tensor of shard.tensors.values()) {
      const seen = tensors.get(tensor.name);
      if (seen !== undefined) {
        throw new GptLoadError(
          "E_CHECKPOINT",
          index.file,
          `tensor "${tensor.name}" is stored in two shards, ${basename(seen.file)} and ${basename(tensor.file)}`,
        );
      }
      tensors.set(tensor.name, tensor);
    }
  }
  for (const [name, file] of index.weightMap) {
    const held = tensors.get(name);
    if (held === undefined || held.file !== file) {
      const actually = held === undefined ? "" : ` (it is in ${basename(held.file)})`;
      throw new GptLoadError("E_CHECKPOINT", file, `has no tensor "${name}", but ${indexName} says this file holds it${actually}`);
    }
  }
  return { index, files, tensors, totalBytes: files.reduce((sum, f) => sum + f.fileSize, 0) };
}
