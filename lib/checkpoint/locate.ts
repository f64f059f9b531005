/**
 * Resolve the path a user gave (a checkpoint directory, or a weights file inside one) to the
 * directory, its config.json, and how its weights are laid out: safetensors, or — for the many
 * Hub checkpoints that have no safetensors — PyTorch .bin files (read safely by torch-bin.ts).
 */
import { readdir } from "node:fs/promises";
import { basename, dirname, join, resolve } from "node:path";
import { GptInputError, GptLoadError } from "../errors.js";
import { statOrNull } from "./fs-util.js";
import { readShardIndex, type ShardIndex } from "./shard-index.js";
import { readTorchBinIndex, TORCH_BIN_FILE, TORCH_BIN_INDEX_FILE } from "./torch-bin.js";

export const CONFIG_FILE = "config.json";
export const SINGLE_WEIGHTS_FILE = "model.safetensors";
export const SHARD_INDEX_FILE = "model.safetensors.index.json";

export type WeightsLayout =
  | { kind: "single"; file: string }
  | { kind: "sharded"; index: ShardIndex }
  | { kind: "bin"; file: string }
  | { kind: "bin-sharded"; index: ShardIndex };

const isWeightsFile = (path: string) =>
  path.endsWith(".safetensors") || path.endsWith(".bin") || [SHARD_INDEX_FILE, TORCH_BIN_INDEX_FILE].includes(basename(path));

export interface CheckpointLocation {
  /** Absolute checkpoint directory. */
  dir: string;
  /** Absolute path of config.json (checked to exist). */
  configFile: string;
  /** The .safetensors (or index) file the user named, or null when they named the directory. */
  givenFile: string | null;
}

/** Resolve the user's path to the checkpoint directory and its config.json (which must exist). */
export async function locateCheckpoint(userPath: string): Promise<CheckpointLocation> {
  if (typeof userPath !== "string" || userPath.trim() === "") {
    throw new GptInputError("checkpoint path must be a non-empty string");
  }
  const target = resolve(userPath);
  const st = await statOrNull(target);
  if (st === null) {
    throw new GptLoadError("E_CHECKPOINT", target, "not found (expected a checkpoint directory or a .safetensors or .bin file)");
  }

  let dir: string;
  let givenFile: string | null = null;
  if (st.isDirectory()) {
    dir = target;
  } else if (st.isFile() && isWeightsFile(target)) {
    dir = dirname(target);
    givenFile = target;
  } else {
    throw new GptLoadError(
      "E_CHECKPOINT",
      target,
      "is not a checkpoint: expected a checkpoint directory or a .safetensors or .bin file inside one",
    );
  }

  const configFile = join(dir, CONFIG_FILE);
  const configStat = await statOrNull(configFile);
  if (configStat === null) {
    throw new GptLoadError(
      "E_CHECKPOINT",
      configFile,
      "not found (a checkpoint needs config.json beside its weights)",
    );
  }

  return { dir, configFile, givenFile };
}

/**
 * Decide how the weights are laid out. `givenFile` (a weights file or an index the user named)
 * wins; otherwise model.safetensors, then model.safetensors.index.json, then pytorch_model.bin,
 * then pytorch_model.bin.index.json: safetensors first where a repo has both.
 */
export async function findWeights(dir: string, givenFile: string | null): Promise<WeightsLayout> {
  const indexFile = join(dir, SHARD_INDEX_FILE);
  const binIndexFile = join(dir, TORCH_BIN_INDEX_FILE);

  if (givenFile !== null && givenFile.endsWith(".bin") || givenFile === binIndexFile) {
    if (givenFile === binIndexFile) return { kind: "bin-sharded", index: await readTorchBinIndex(dir) };
    if (basename(givenFile) !== TORCH_BIN_FILE && (await statOrNull(binIndexFile))?.isFile()) {
      const index = await readTorchBinIndex(dir);
      if (index.shards.includes(givenFile)) return { kind: "bin-sharded", index };
    }
    return { kind: "bin", file: givenFile };
  }
  if (givenFile !== null) {
    if (givenFile === indexFile) return { kind: "sharded", index: await readShardIndex(indexFile) };
    // A shard named directly: load the whole sharded checkpoint it belongs to. Any other
    // .safetensors file (model.safetensors included) is taken as the complete weights.
    if (basename(givenFile) !== SINGLE_WEIGHTS_FILE && (await statOrNull(indexFile))?.isFile()) {
      const index = await readShardIndex(indexFile);
      if (index.shards.includes(givenFile)) return { kind: "sharded", index };
    }
    return { kind: "single", file: givenFile };
  }

  const single = join(dir, SINGLE_WEIGHTS_FILE);
  if ((await statOrNull(single)) !== null) return { kind: "single", file: single };
  if ((await statOrNull(indexFile)) !== null) return { kind: "sharded", index: await readShardIndex(indexFile) };
  const bin = join(dir, TORCH_BIN_FILE);
  if ((await statOrNull(bin)) !== null) return { kind: "bin", file: bin };
  if ((await statOrNull(binIndexFile)) !== null) return { kind: "bin-sharded", index: await readTorchBinIndex(dir) };

  let hint = "";
  try {
    const names = await readdir(dir);
    const others = names.filter((n) => n.endsWith(".safetensors") || n.endsWith(".bin")).sort();
    const pytorch = names.filter((n) => n.endsWith(".pt") || n.endsWith(".pth")).sort();
    if (others.length > 0) {
      hint = `; found ${others.join(", ")}: pass the file's path to load it`;
    } else if (pytorch.length > 0) {
      hint = `; found ${pytorch.join(", ")}: rename a torch.save'd state dict to ${TORCH_BIN_FILE}, or convert it to safetensors`;
    }
  } catch {
    // The hint is a courtesy; the error below stands without it.
  }
  throw new GptLoadError(
    "E_CHECKPOINT",
    dir,
    `no weights found: looked for ${SINGLE_WEIGHTS_FILE}, ${SHARD_INDEX_FILE}, ${TORCH_BIN_FILE} and ${TORCH_BIN_INDEX_FILE}${hint}`,
  );
}
