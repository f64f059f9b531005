/**
 * Resolve the path a user gave (a checkpoint directory, or a .safetensors file inside one)
 * to the directory, its config.json, and how its weights are laid out.
 */
import { readdir } from "node:fs/promises";
import { basename, dirname, join, resolve } from "node:path";
import { GptInputError, GptLoadError } from "../errors.js";
import { statOrNull } from "./fs-util.js";
import { readShardIndex, type ShardIndex } from "./shard-index.js";

export const CONFIG_FILE = "config.json";
export const SINGLE_WEIGHTS_FILE = "model.safetensors";
export const SHARD_INDEX_FILE = "model.safetensors.index.json";

export type WeightsLayout = { kind: "single"; file: string } | { kind: "sharded"; index: ShardIndex };

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
    throw new GptLoadError("E_CHECKPOINT", target, "not found (expected a checkpoint directory or a .safetensors file)");
  }

  let dir: string;
  let givenFile: string | null = null;
  if (st.isDirectory()) {
    dir = target;
  } else if (st.isFile() && (target.endsWith(".safetensors") || basename(target) === SHARD_INDEX_FILE)) {
    dir = dirname(target);
    givenFile = target;
  } else {
    throw new GptLoadError(
      "E_CHECKPOINT",
      target,
      "is not a checkpoint: expected a checkpoint directory or a .safetensors file inside one",
    );
  }

  const configFile = join(dir, CONFIG_FILE);
  const configStat = await statOrNull(configFile);
  if (configStat === null) {
    throw new GptLoadError(
      "E_CHECKPOINT",
      configFile,
      "not found (a GPT-2 checkpoint needs config.json beside its weights)",
    );
  }

  return { dir, configFile, givenFile };
}

/**
 * Decide how the weights are laid out. `givenFile` (a .safetensors file or the index the user
 * named) wins; otherwise model.safetensors, then model.safetensors.index.json.
 */
export async function findWeights(dir: string, givenFile: string | null): Promise<WeightsLayout> {
  const indexFile = join(dir, SHARD_INDEX_FILE);

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

  let hint = "";
  try {
    const names = await readdir(dir);
    const others = names.filter((n) => n.endsWith(".safetensors")).sort();
    const pytorch = names.filter((n) => n.endsWith(".bin") || n.endsWith(".pt") || n.endsWith(".pth")).sort();
    if (others.length > 0) {
      hint = `; found ${others.join(", ")}: pass the file's path to load it`;
    } else if (pytorch.length > 0) {
      hint = `; found ${pytorch.join(", ")}, but only safetensors weights are supported (convert the checkpoint to safetensors)`;
    }
  } catch {
    // The hint is a courtesy; the error below stands without it.
  }
  throw new GptLoadError(
    "E_CHECKPOINT",
    dir,
    `no weights found: looked for ${SINGLE_WEIGHTS_FILE} and ${SHARD_INDEX_FILE}${hint}`,
  );
}
