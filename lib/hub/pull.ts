/**
 * Gpt.pull: a checkpoint of a family gpt-cuda runs (lib/arch) from the Hugging Face Hub into the
 * models cache — config.json first (a model we cannot run is refused before its weights are
 * fetched), then the tokenizer
 * and generation files, then the weights; every file resumable and verified (download.ts), the
 * revision's ref written only once all are in (cache.ts), so a name never finds half a pull.
 */
import { basename, join } from "node:path";

import { readConfig, readShardIndex, SHARD_INDEX_FILE, SINGLE_WEIGHTS_FILE } from "../checkpoint/index.js";
import { TORCH_BIN_FILE, TORCH_BIN_INDEX_FILE } from "../checkpoint/torch-bin.js";
import { GptError, GptInputError } from "../errors.js";
import { cacheRoot, DEFAULT_REVISION, parseRepoName, snapshotDir, writeRef, type RepoName } from "./cache.js";
import { downloadFile, type DownloadProgress } from "./download.js";
import { Hub, type HubFile, type RepoInfo } from "./hub.js";

/** Files beside the weights that the loader reads (or that describe the model), fetched when present. */
const SIDE_FILES = [
  "tokenizer.json",
  "vocab.json",
  "merges.txt",
  "tokenizer_config.json",
  "special_tokens_map.json",
  "generation_config.json",
  "chat_template.jinja",
];

/** Where one file of a pull stands. */
export interface PullProgressEvent {
  file: string;
  /** Bytes of it on disk (a resumed file starts at what an earlier pull left). */
  bytes: number;
  /** Its size, when the hub says (always, for weights). */
  totalBytes: number | null;
}

export interface PullOptions {
  /** A branch, tag or commit. Default "main". */
  revision?: string;
  /** Stops the pull: the promise rejects with the signal's reason; what was fetched stays, and the next pull resumes it. */
  signal?: AbortSignal;
  /** Called each time bytes of a file arrive (every network chunk), and when a file is found already there. */
  onProgress?: (event: PullProgressEvent) => void;
  /** HF_ENDPOINT (a mirror), HF_TOKEN (private or gated repos) and GPT_CUDA_CACHE are read from here. Default: process.env. */
  env?: NodeJS.ProcessEnv;
  /** @internal The command line's progress bar, which also wants the pull's whole size. */
  reporter?: PullReporter;
}

export interface PullResult {
  repo: string;
  revision: string;
  commit: string;
  /** The snapshot directory: Gpt.load takes it, or the repo's name. */
  dir: string;
  files: string[];
  bytes: number;
  /** The hub the files came from. */
  endpoint: string;
}

/** What follows a pull as it goes: the whole size, each file's start and end, and the bytes. */
export interface PullReporter extends DownloadProgress {
  /** The files are planned: `label` is repo@commit, `dir` where they go. */
  start(totalBytes: number, where: { label: string; endpoint: string; dir: string }): void;
  /** A file starts; `growTotalBy`: bytes the total learns of now (the shards an index names). */
  beginFile(name: string, growTotalBy?: number): void;
  endFile(name: string, size: number): void;
  stop(): void;
}

/** The reporter behind onProgress: the bytes of the file being fetched. */
class EventReporter implements PullReporter {
  private event: PullProgressEvent = { file: "", bytes: 0, totalBytes: null };

  constructor(
    private readonly onProgress: (event: PullProgressEvent) => void,
    private readonly sizes: ReadonlyMap<string, number | undefined>,
  ) {}

  start(): void {}
  beginFile(name: string): void {
    this.event = { file: name, bytes: 0, totalBytes: this.sizes.get(name) ?? null };
  }
  endFile(): void {}
  stop(): void {}
  advance(bytes: number): void {
    this.move(bytes);
  }
  skip(bytes: number): void {
    this.move(bytes);
  }
  rewind(bytes: number): void {
    this.move(-bytes);
  }
  private move(bytes: number): void {
    this.event = { ...this.event, bytes: this.event.bytes + bytes };
    this.onProgress({ ...this.event });
  }
}

/** Several reporters as one. */
function allOf(reporters: PullReporter[]): PullReporter {
  return {
    start: (t, w) => reporters.forEach((r) => r.start(t, w)),
    beginFile: (n, g) => reporters.forEach((r) => r.beginFile(n, g)),
    endFile: (n, s) => reporters.forEach((r) => r.endFile(n, s)),
    stop: () => reporters.forEach((r) => r.stop()),
    advance: (b) => reporters.forEach((r) => r.advance(b)),
    skip: (b) => reporters.forEach((r) => r.skip(b)),
    rewind: (b) => reporters.forEach((r) => r.rewind(b)),
  };
}

/** A top-level file name, safe to join to the snapshot directory. */
function plainName(name: string): boolean {
  return name === basename(name) && !name.startsWith(".") && !name.includes("\\");
}

/**
 * config.json, then the weights layout, then the tokenizer and generation files, as the repo has
 * them. Safetensors when the repo has them, else PyTorch .bin files (which many OPT, BLOOM and
 * GPT-Neo repos have alone).
 */
function planFiles(info: RepoInfo, repo: string): { config: HubFile; index?: HubFile; weights: HubFile[]; side: HubFile[] } {
  const byName = new Map(info.files.filter((f) => plainName(f.name)).map((f) => [f.name, f]));
  const where = `${repo} at ${info.revision}`;
  const config = byName.get("config.json");
  if (!config) throw new GptError("E_UNSUPPORTED", `${where} has no config.json: not a Hugging Face transformers checkpoint`);
  const side = SIDE_FILES.flatMap((n) => byName.get(n) ?? []);
  const single = byName.get(SINGLE_WEIGHTS_FILE);
  if (single) return { config, weights: [single], side };
  const index = byName.get(SHARD_INDEX_FILE);
  if (index) return { config, index, weights: [], side }; // the shards are named by the index
  const others = [...byName.values()].filter((f) => f.name.endsWith(".safetensors"));
  if (others.length > 0) return { config, weights: others, side };
  const bin = byName.get(TORCH_BIN_FILE);
  if (bin) return { config, weights: [bin], side };
  const binIndex = byName.get(TORCH_BIN_INDEX_FILE);
  if (binIndex) return { config, index: binIndex, weights: [], side };
  const other = info.files.map((f) => f.name).filter((n) => /\.(bin|pt|pth|ckpt|h5|msgpack|gguf)$/.test(n));
  throw new GptError(
    "E_UNSUPPORTED",
    `${where} has no weights gpt-cuda reads (${SINGLE_WEIGHTS_FILE}, ${SHARD_INDEX_FILE}, ${TORCH_BIN_FILE} or ${TORCH_BIN_INDEX_FILE})` +
      (other.length > 0 ? `; it has ${other.join(", ")}` : ""),
  );
}

export async function pullModel(repoText: string, options: PullOptions = {}): Promise<PullResult> {
  const env = options.env ?? process.env;
  const { signal } = options;
  const repo: RepoName | null = typeof repoText === "string" ? parseRepoName(repoText) : null;
  if (!repo)
    throw new GptInputError(`${JSON.stringify(repoText)} is not a Hugging Face repo: expected <org>/<name>, e.g. openai-community/gpt2`);
  const revision = options.revision ?? DEFAULT_REVISION;
  if (typeof revision !== "string" || revision.trim() === "") throw new GptInputError("revision must be a non-empty string");
  signal?.throwIfAborted();

  const hub = new Hub({ endpoint: env.HF_ENDPOINT, token: env.HF_TOKEN, userAgent: "gpt-cuda" });
  const info = await hub.repoInfo(repo.id, revision, signal);
  const plan = planFiles(info, repo.id);
  // Files are fetched at the commit the revision points to now, so they all match.
  const at = info.commit ?? revision;
  const root = cacheRoot(env);
  const dir = snapshotDir(root, repo, at);

  const sizes = new Map(info.files.map((f) => [f.name, f.size]));
  const reporters = [...(options.onProgress ? [new EventReporter(options.onProgress, sizes)] : []), ...(options.reporter ? [options.reporter] : [])];
  const progress = allOf(reporters);
  const fetched: HubFile[] = [];
  const fetch = async (file: HubFile) => {
    progress.beginFile(file.name);
    await downloadFile({ hub, repo: repo.id, revision: at, file, dir, progress, ...(signal ? { signal } : {}) });
    progress.endFile(file.name, file.size ?? 0);
    fetched.push(file);
  };
  const sized = (files: HubFile[]) => files.reduce((n, f) => n + (f.size ?? 0), 0);

  try {
    const label = info.commit ? `${repo.id}@${info.commit.slice(0, 12)}` : `${repo.id}@${revision}`;
    progress.start(sized([plan.config, ...(plan.index ? [plan.index] : []), ...plan.weights, ...plan.side]), {
      label,
      endpoint: hub.endpoint,
      dir,
    });
    await fetch(plan.config);
    try {
      await readConfig(join(dir, "config.json"));
    } catch (e) {
      if (!(e instanceof GptError)) throw e;
      throw new GptError("E_UNSUPPORTED", `${repo.id} is not a checkpoint gpt-cuda can run: ${e.message}`, { cause: e });
    }
    let weights = plan.weights;
    if (plan.index) {
      await fetch(plan.index);
      const index = await readShardIndex(join(dir, plan.index.name));
      const byName = new Map(info.files.map((f) => [f.name, f]));
      weights = index.shards.map((path) => {
        const name = basename(path);
        const file = byName.get(name);
        if (!file) throw new GptError("E_DOWNLOAD", `${repo.id}: ${plan.index!.name} names ${name}, which the repo does not have`);
        return file;
      });
      progress.beginFile(plan.index.name, sized(weights));
    }
    for (const file of plan.side) await fetch(file);
    for (const file of weights) await fetch(file);
  } finally {
    progress.stop();
  }

  await writeRef(root, repo, revision, at);
  return { repo: repo.id, revision, commit: at, dir, files: fetched.map((f) => f.name), bytes: sized(fetched), endpoint: hub.endpoint };
}
