// `gpt-cuda pull <repo>`: fetch a GPT-2 checkpoint from the Hugging Face Hub into the cache.
import { basename, join } from "node:path";

import { readConfig, readShardIndex, SHARD_INDEX_FILE, SINGLE_WEIGHTS_FILE } from "../checkpoint/index.js";
import { GptError } from "../errors.js";
import { CliError, UsageError } from "./args.js";
import { cacheRoot, DEFAULT_REVISION, parseRepoName, snapshotDir, writeRef, type RepoName } from "../hub/cache.js";
import { downloadFile } from "./download.js";
import { Hub, type HubFile, type RepoInfo } from "./hub.js";
import { formatBytes, PullProgress } from "./progress.js";

/** Files beside the weights that the loader reads (or that describe the model), fetched when present. */
const SIDE_FILES = ["tokenizer.json", "vocab.json", "merges.txt", "tokenizer_config.json", "generation_config.json"];

export interface PullOptions {
  revision?: string;
  env?: NodeJS.ProcessEnv;
  userAgent?: string;
  /** Where the progress and the summary go (stderr). */
  log?: NodeJS.WriteStream;
}

export interface PullResult {
  repo: string;
  revision: string;
  commit: string;
  dir: string;
  files: string[];
  bytes: number;
}

/** A top-level file name, safe to join to the snapshot directory. */
function plainName(name: string): boolean {
  return name === basename(name) && !name.startsWith(".") && !name.includes("\\");
}

/** config.json, then the weights layout, then the tokenizer and generation files, as the repo has them. */
function planFiles(info: RepoInfo, repo: string): { config: HubFile; index?: HubFile; weights: HubFile[]; side: HubFile[] } {
  const byName = new Map(info.files.filter((f) => plainName(f.name)).map((f) => [f.name, f]));
  const where = `${repo} at ${info.revision}`;
  const config = byName.get("config.json");
  if (!config) throw new CliError(`${where} has no config.json: not a Hugging Face transformers checkpoint`);
  const side = SIDE_FILES.flatMap((n) => byName.get(n) ?? []);
  const single = byName.get(SINGLE_WEIGHTS_FILE);
  if (single) return { config, weights: [single], side };
  const index = byName.get(SHARD_INDEX_FILE);
  if (index) return { config, index, weights: [], side }; // the shards are named by the index
  const others = [...byName.values()].filter((f) => f.name.endsWith(".safetensors"));
  if (others.length > 0) return { config, weights: others, side };
  const pytorch = info.files.map((f) => f.name).filter((n) => /\.(bin|pt|pth|ckpt)$/.test(n));
  throw new CliError(
    `${where} has no safetensors weights` +
      (pytorch.length > 0
        ? ` (only ${pytorch.join(", ")}): PyTorch .bin-only repos are unsupported; convert the checkpoint to safetensors`
        : ""),
  );
}

export async function pull(repoText: string, options: PullOptions = {}): Promise<PullResult> {
  const env = options.env ?? process.env;
  const log = options.log ?? process.stderr;
  const repo: RepoName | null = parseRepoName(repoText);
  if (!repo)
    throw new UsageError(`"${repoText}" is not a Hugging Face repo: expected <org>/<name>, e.g. openai-community/gpt2`);
  const revision = options.revision ?? DEFAULT_REVISION;
  if (revision.trim() === "") throw new UsageError("--revision must not be empty");

  const hub = new Hub({ endpoint: env.HF_ENDPOINT, token: env.HF_TOKEN, userAgent: options.userAgent ?? "gpt-cuda" });
  const info = await hub.repoInfo(repo.id, revision);
  const plan = planFiles(info, repo.id);
  // Files are fetched at the commit the revision points to now, so they all match.
  const at = info.commit ?? revision;
  const root = cacheRoot(env);
  const dir = snapshotDir(root, repo, at);
  const label = info.commit ? `${repo.id}@${info.commit.slice(0, 12)}` : `${repo.id}@${revision}`;
  log.write(`pulling ${label} from ${hub.endpoint} into ${dir}\n`);

  const progress = new PullProgress(log);
  const fetched: HubFile[] = [];
  const fetch = async (file: HubFile) => {
    progress.beginFile(file.name);
    await downloadFile({ hub, repo: repo.id, revision: at, file, dir, progress });
    progress.endFile(file.name, file.size ?? 0);
    fetched.push(file);
  };
  const sized = (files: HubFile[]) => files.reduce((n, f) => n + (f.size ?? 0), 0);

  try {
    progress.start(sized([plan.config, ...(plan.index ? [plan.index] : []), ...plan.weights, ...plan.side]));
    await fetch(plan.config);
    try {
      await readConfig(join(dir, "config.json"));
    } catch (e) {
      if (!(e instanceof GptError)) throw e;
      throw new CliError(`${repo.id} is not a GPT-2 checkpoint gpt-cuda can run: ${e.message}`);
    }
    let weights = plan.weights;
    if (plan.index) {
      await fetch(plan.index);
      const index = await readShardIndex(join(dir, SHARD_INDEX_FILE));
      const byName = new Map(info.files.map((f) => [f.name, f]));
      weights = index.shards.map((path) => {
        const name = basename(path);
        const file = byName.get(name);
        if (!file) throw new CliError(`${repo.id}: ${SHARD_INDEX_FILE} names ${name}, which the repo does not have`);
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
  const bytes = sized(fetched);
  const name = revision === DEFAULT_REVISION ? repoText : `${repo.id}@${revision}`;
  log.write(`pulled ${label} (${fetched.length} files, ${formatBytes(bytes)}): use --model ${name}\n`);
  return { repo: repo.id, revision, commit: at, dir, files: fetched.map((f) => f.name), bytes };
}
