/** Parse model.safetensors.index.json: which shard holds which tensor. */
import { basename, dirname, join } from "node:path";
import { GptLoadError } from "../errors.js";
import { isJsonObject, readJsonFile, showValue } from "./fs-util.js";

/** An index for a large model is ~100 KB; anything past this is not an index. */
const MAX_INDEX_BYTES = 64 * 1024 * 1024;

export interface ShardIndex {
  /** Absolute path of the index file. */
  file: string;
  /** Stored tensor name → absolute path of the shard that holds it. */
  weightMap: Map<string, string>;
  /** Absolute paths of the distinct shards, sorted by file name (shard order). */
  shards: string[];
}

/** Read and validate a shard index; failures are GptLoadError("E_CHECKPOINT") naming `file`. */
export async function readShardIndex(file: string): Promise<ShardIndex> {
  return parseShardIndex(await readJsonFile(file, MAX_INDEX_BYTES), file);
}

export function parseShardIndex(json: unknown, file: string): ShardIndex {
  const bad = (problem: string): GptLoadError => new GptLoadError("E_CHECKPOINT", file, problem);
  if (!isJsonObject(json)) throw bad(`expected a JSON object, got ${showValue(json)}`);
  const map = json["weight_map"];
  if (map === undefined) throw bad('has no "weight_map"');
  if (!isJsonObject(map)) throw bad(`weight_map must be an object of tensor name → file name, got ${showValue(map)}`);
  const dir = dirname(file);
  const weightMap = new Map<string, string>();
  const shardNames = new Set<string>();
  for (const [tensor, shard] of Object.entries(map)) {
    if (typeof shard !== "string" || shard === "") {
      throw bad(`weight_map["${tensor}"] must be a file name, got ${showValue(shard)}`);
    }
    // Shards live beside the index; a path that leaves the directory is not a shard name.
    if (shard !== basename(shard) || shard.includes("\\") || shard === "." || shard === "..") {
      throw bad(`weight_map["${tensor}"] is "${shard}": expected a plain file name in the same directory`);
    }
    weightMap.set(tensor, join(dir, shard));
    shardNames.add(shard);
  }
  if (weightMap.size === 0) throw bad("weight_map is empty");
  const shards = [...shardNames].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0)).map((s) => join(dir, s));
  return { file, weightMap, shards };
}
