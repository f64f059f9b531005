/** loadCheckpoint: locate, read config and safetensors headers, and check them against each other. */
import { basename } from "node:path";
import { GptLoadError } from "../errors.js";
import { readConfig } from "./config.js";
import { showShape, statOrNull } from "./fs-util.js";
import { findWeights, locateCheckpoint } from "./locate.js";
import { readSafetensorsHeader, type SafetensorsEntry, type SafetensorsHeader } from "./safetensors.js";
import type { ShardIndex } from "./shard-index.js";
import { expectedTensorShapes, storedNameCandidates } from "./tensor-names.js";
import { findTokenizerFiles } from "./tokenizer-files.js";
import type { Checkpoint, ModelConfig, StoredDtype, TensorRef } from "./types.js";

const STORED_DTYPES: readonly string[] = ["F32", "F16", "BF16"] satisfies StoredDtype[];

/** A stored tensor and the file it lives in. */
interface Located {
  entry: SafetensorsEntry;
  file: string;
}

/**
 * Load and validate a Hugging Face GPT-2 checkpoint: `path` is the checkpoint directory or a
 * .safetensors file inside it. Reads config.json and the safetensors headers only, never the
 * tensor data. Throws GptLoadError: E_CHECKPOINT for missing, unreadable, malformed or
 * inconsistent files, E_UNSUPPORTED for a well-formed checkpoint we cannot run.
 */
export async function loadCheckpoint(path: string): Promise<Checkpoint> {
  const location = await locateCheckpoint(path);
  const config = await readConfig(location.configFile);
  const weights = await findWeights(location.dir, location.givenFile);

  let files: string[];
  let headers: SafetensorsHeader[];
  let stored: Map<string, Located>;
  /** Where a missing tensor was looked for: the file for the error, and words for its message. */
  let searched: { file: string; description: string };

  if (weights.kind === "single") {
    const file = weights.file;
    files = [file];
    headers = await readHeaders(files);
    stored = new Map();
    for (const header of headers) {
      for (const entry of header.tensors.values()) stored.set(entry.name, { entry, file });
    }
    searched = { file, description: basename(file) };
  } else {
    const index = weights.index;
    files = index.shards;
    await checkShardsExist(index);
    headers = await readHeaders(files);
    stored = resolveIndex(index, headers);
    searched = {
      file: index.file,
      description: `${files.map((f) => basename(f)).join(", ")} (per ${basename(index.file)})`,
    };
  }

  const tensors = resolveTensors(config, location.configFile, stored, searched);
  const totalBytes = headers.reduce((sum, h) => sum + h.fileSize, 0);
  const tokenizer = await findTokenizerFiles(location.dir);

  return { dir: location.dir, config, files, tensors, tokenizer, totalBytes };
}

/** Read every header in parallel; on failure, report the first failing file in shard order. */
async function readHeaders(files: string[]): Promise<SafetensorsHeader[]> {
  const results = await Promise.allSettled(files.map((f) => readSafetensorsHeader(f)));
  const headers: SafetensorsHeader[] = [];
  for (const result of results) {
    if (result.status === "rejected") throw result.reason;
    headers.push(result.value);
  }
  return headers;
}

async function checkShardsExist(index: ShardIndex): Promise<void> {
  for (const shard of index.shards) {
    const st = await statOrNull(shard);
    if (st === null) {
      const count = [...index.weightMap.values()].filter((f) => f === shard).length;
      throw new GptLoadError(
        "E_CHECKPOINT",
        shard,
        `not found (listed in ${basename(index.file)} as holding ${count} tensor${count === 1 ? "" : "s"})`,
      );
    }
  }
}

/** Map each tensor the index lists to its entry in its shard's header; the index is authoritative. */
function resolveIndex(index: ShardIndex, headers: SafetensorsHeader[]): Map<string, Located> {
  const byFile = new Map(headers.map((h) => [h.file, h]));
  const stored = new Map<string, Located>();
  for (const [name, file] of index.weightMap) {
    const entry = byFile.get(file)?.tensors.get(name);
    if (entry === undefined) {
      throw new GptLoadError(
        "E_CHECKPOINT",
        file,
        `has no tensor "${name}", but ${basename(index.file)} says this file holds it`,
      );
    }
    stored.set(name, { entry, file });
  }
  return stored;
}

function resolveTensors(
  config: ModelConfig,
  configFile: string,
  stored: Map<string, Located>,
  searched: { file: string; description: string },
): Map<string, TensorRef> {
  const expected = expectedTensorShapes(config);

  // First: every required tensor present exactly once (under either name).
  const found = new Map<string, Located>();
  const missing: string[] = [];
  for (const canonical of expected.keys()) {
    const [plain, prefixed] = storedNameCandidates(canonical);
    const a = stored.get(plain);
    const b = stored.get(prefixed);
    if (a !== undefined && b !== undefined) {
      const file = a.file === b.file ? a.file : searched.file;
      throw new GptLoadError(
        "E_CHECKPOINT",
        file,
        `tensor "${canonical}" is stored twice, as "${plain}" and as "${prefixed}"`,
      );
    }
    const hit = a ?? b;
    if (hit === undefined) missing.push(canonical);
    else found.set(canonical, hit);
  }
  if (missing.length > 0) {
    const shown = missing.slice(0, 8).map((n) => `"${n}"`).join(", ");
    const more = missing.length > 8 ? ` and ${missing.length - 8} more` : "";
    const what =
      missing.length === 1 ? `missing required tensor ${shown}` : `missing ${missing.length} required tensors: ${shown}${more}`;
    throw new GptLoadError(
      "E_CHECKPOINT",
      searched.file,
      `${what} (looked in ${searched.description}, with or without the "transformer." prefix)`,
    );
  }

  // Then: dtype and shape of each.
  const tensors = new Map<string, TensorRef>();
  for (const [canonical, shape] of expected) {
    const { entry, file } = found.get(canonical)!;
    if (!STORED_DTYPES.includes(entry.dtype)) {
      throw new GptLoadError(
        "E_UNSUPPORTED",
        file,
        `tensor "${entry.name}" has dtype ${entry.dtype}; supported dtypes are ${STORED_DTYPES.join(", ")}`,
      );
    }
    if (entry.shape.length !== shape.length || entry.shape.some((d, i) => d !== shape[i])) {
      throw new GptLoadError(
        "E_CHECKPOINT",
        file,
        `tensor "${entry.name}" has shape ${showShape(entry.shape)}, but ${basename(configFile)} implies ${showShape(shape)}`,
      );
    }
    tensors.set(canonical, {
      name: canonical,
      dtype: entry.dtype as StoredDtype,
      shape: [...entry.shape],
      file,
      offset: entry.offset,
      byteLength: entry.byteLength,
    });
  }
  return tensors;
}
