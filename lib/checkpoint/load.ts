/** loadCheckpoint: locate, read config and safetensors headers, and check them against each other. */
import { basename } from "node:path";

import type { Architecture, EngineTensorPlan } from "../arch/index.js";
import { GptLoadError } from "../errors.js";
import { readConfig } from "./config.js";
import { showShape, statOrNull } from "./fs-util.js";
import { findWeights, locateCheckpoint } from "./locate.js";
import { readSafetensorsHeader, type SafetensorsEntry, type SafetensorsHeader } from "./safetensors.js";
import { readTorchBin, readTorchBinShards } from "./torch-bin.js";
import type { ShardIndex } from "./shard-index.js";
import { findTokenizerFiles } from "./tokenizer-files.js";
import type { Checkpoint, EngineTensor, StoredDtype, TensorRef } from "./types.js";

const STORED_DTYPES: readonly string[] = ["F32", "F16", "BF16"] satisfies StoredDtype[];

/** A stored tensor (from a safetensors header or a .bin's state dict) and the file it lives in. */
interface Located {
  entry: Pick<SafetensorsEntry, "name" | "dtype" | "shape" | "offset" | "byteLength">;
  file: string;
}

/**
 * Load and validate a Hugging Face checkpoint of a family lib/arch/ describes: `path` is the
 * checkpoint directory or a weights file inside it. Reads config.json, the safetensors headers or
 * the .bin state dicts only, never the tensor data. Throws GptLoadError: E_CHECKPOINT for
 * missing, unreadable, malformed or inconsistent files, E_UNSUPPORTED for a well-formed
 * checkpoint we cannot run.
 */
export async function loadCheckpoint(path: string): Promise<Checkpoint> {
  const location = await locateCheckpoint(path);
  const { architecture, config, fields } = await readConfig(location.configFile);
  const weights = await findWeights(location.dir, location.givenFile);

  let files: string[];
  let totalBytes: number;
  let stored: Map<string, Located>;
  /** Where a missing tensor was looked for: the file for the error, and words for its message. */
  let searched: { file: string; description: string };

  if (weights.kind === "single" || weights.kind === "bin") {
    const file = weights.file;
    files = [file];
    stored = new Map();
    if (weights.kind === "single") {
      const headers = await readHeaders(files);
      for (const header of headers) for (const entry of header.tensors.values()) stored.set(entry.name, { entry, file });
      totalBytes = headers.reduce((sum, h) => sum + h.fileSize, 0);
    } else {
      const bin = await readTorchBin(file);
      for (const entry of bin.tensors.values()) stored.set(entry.name, { entry, file });
      totalBytes = bin.fileSize;
    }
    searched = { file, description: basename(file) };
  } else {
    const index = weights.index;
    files = index.shards;
    if (weights.kind === "sharded") {
      await checkShardsExist(index);
      const headers = await readHeaders(files);
      stored = resolveIndex(index, headers);
      totalBytes = headers.reduce((sum, h) => sum + h.fileSize, 0);
    } else {
      // readTorchBinShards holds the shards to their index as resolveIndex does for safetensors.
      const shards = await readTorchBinShards(index);
      stored = new Map([...shards.tensors].map(([name, entry]) => [name, { entry, file: entry.file }]));
      totalBytes = shards.totalBytes;
    }
    searched = {
      file: index.file,
      description: `${files.map((f) => basename(f)).join(", ")} (per ${basename(index.file)})`,
    };
  }

  const plans = architecture.tensors(config, fields);
  const tensors = resolveTensors(architecture, plans, location.configFile, stored, searched);
  const engineTensors = plans.map((plan) => engineTensor(plan, tensors));
  const tokenizer = await findTokenizerFiles(location.dir);

  return { dir: location.dir, config, files, tensors, engineTensors, tokenizer, totalBytes };
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

/**
 * The stored tensors the plans read, by canonical name (the architecture's prefix dropped), each
 * checked for its dtype and the shape config.json implies. Throws for a tensor missing, stored
 * twice (with and without a prefix), or of the wrong dtype or shape.
 */
function resolveTensors(
  architecture: Architecture,
  plans: EngineTensorPlan[],
  configFile: string,
  stored: Map<string, Located>,
  searched: { file: string; description: string },
): Map<string, TensorRef> {
  // Canonical name → where it is stored; a name found under two prefixes is ambiguous.
  const byCanonical = new Map<string, { stored: string; at: Located }>();
  for (const [name, at] of stored) {
    const prefix = architecture.prefixes.find((p) => name.startsWith(p));
    const canonical = prefix ? name.slice(prefix.length) : name;
    const other = byCanonical.get(canonical);
    if (other) {
      const file = other.at.file === at.file ? at.file : searched.file;
      const [a, b] = [other.stored, name].sort((x, y) => x.length - y.length);
      throw new GptLoadError("E_CHECKPOINT", file, `tensor "${canonical}" is stored twice, as "${a}" and as "${b}"`);
    }
    byCanonical.set(canonical, { stored: name, at });
  }

  const wanted = new Map<string, number[]>();
  for (const plan of plans) for (const source of plan.sources) wanted.set(source.name, source.shape);
  const missing = [...wanted.keys()].filter((name) => !byCanonical.has(name));
  if (missing.length > 0) {
    const shown = missing.slice(0, 8).map((n) => `"${n}"`).join(", ");
    const more = missing.length > 8 ? ` and ${missing.length - 8} more` : "";
    const what =
      missing.length === 1 ? `missing required tensor ${shown}` : `missing ${missing.length} required tensors: ${shown}${more}`;
    const prefixes = architecture.prefixes.map((p) => `"${p}"`).join(" or ");
    throw new GptLoadError(
      "E_CHECKPOINT",
      searched.file,
      `${what} (looked in ${searched.description}, with or without the ${prefixes} prefix)`,
    );
  }

  const tensors = new Map<string, TensorRef>();
  for (const [canonical, shape] of wanted) {
    const { stored: name, at } = byCanonical.get(canonical)!;
    const { entry, file } = at;
    if (!STORED_DTYPES.includes(entry.dtype)) {
      throw new GptLoadError(
        "E_UNSUPPORTED",
        file,
        `tensor "${name}" has dtype ${entry.dtype}; supported dtypes are ${STORED_DTYPES.join(", ")}`,
      );
    }
    if (entry.shape.length !== shape.length || entry.shape.some((d, i) => d !== shape[i])) {
      throw new GptLoadError(
        "E_CHECKPOINT",
        file,
        `tensor "${name}" has shape ${showShape(entry.shape)}, but ${basename(configFile)} implies ${showShape(shape)}`,
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

/** A plan made concrete: its sources' bytes (a range of rows cut from a tensor where the plan takes only those). */
function engineTensor(plan: EngineTensorPlan, tensors: Map<string, TensorRef>): EngineTensor {
  const sources = plan.sources.map((source) => {
    const ref = tensors.get(source.name)!;
    if (!source.rows) return ref;
    const rowBytes = ref.byteLength / ref.shape[0]!;
    return {
      ...ref,
      shape: [source.rows.count, ...ref.shape.slice(1)],
      offset: ref.offset + source.rows.start * rowBytes,
      byteLength: source.rows.count * rowBytes,
    };
  });
  // Zeros (a bias the family leaves out) take the dtype of the weights beside them; F32 is exact for any.
  const dtype = sources[0]?.dtype ?? "F32";
  return {
    name: plan.name,
    dtype,
    shape: plan.shape,
    sources,
    ...(plan.rowOrder ? { rowOrder: plan.rowOrder } : {}),
    ...(plan.transpose ? { transpose: true } : {}),
  };
}
