// Where pulled checkpoints live, and how a model name (Gpt.load's path, the CLI's --model) becomes
// a checkpoint path.
//
// Layout: <root>/<org>/<name>/<commit>/  holds one revision's files, and
//         <root>/<org>/<name>/refs/<revision>  holds the commit a revision (e.g. "main") was pulled at.
// A ref is written only after every file of its snapshot is downloaded and verified, so a name
// never resolves to a half-pulled checkpoint.
import { mkdir, readdir, readFile, rename, stat, writeFile } from "node:fs/promises";
import { homedir } from "node:os";
import { join, resolve } from "node:path";

import { GptLoadError } from "../errors.js";

/**
 * Short names where the Hub's are unambiguous: the GPT-2 checkpoints as the Hub used to spell
 * them, and the sizes of the OPT, BLOOM and GPT-Neo releases.
 */
export const HUB_ALIASES: Readonly<Record<string, string>> = {
  gpt2: "openai-community/gpt2",
  "gpt2-medium": "openai-community/gpt2-medium",
  "gpt2-large": "openai-community/gpt2-large",
  "gpt2-xl": "openai-community/gpt2-xl",
  distilgpt2: "distilbert/distilgpt2",
  ...Object.fromEntries(["125m", "350m", "1.3b", "2.7b", "6.7b", "13b", "30b", "66b"].map((size) => [`opt-${size}`, `facebook/opt-${size}`])),
  ...Object.fromEntries(["560m", "1b1", "1b7", "3b", "7b1"].map((size) => [`bloom-${size}`, `bigscience/bloom-${size}`])),
  bloom: "bigscience/bloom",
  "gpt-neo-125m": "EleutherAI/gpt-neo-125m",
  "gpt-neo-1.3b": "EleutherAI/gpt-neo-1.3B",
  "gpt-neo-2.7b": "EleutherAI/gpt-neo-2.7B",
  "gpt-j-6b": "EleutherAI/gpt-j-6b",
  ...Object.fromEntries(["14m", "70m", "160m", "410m", "1b", "1.4b", "2.8b", "6.9b", "12b"].map((size) => [`pythia-${size}`, `EleutherAI/pythia-${size}`])),
  ...Object.fromEntries(
    ["135M", "360M", "1.7B"].flatMap((size) => [
      [`smollm2-${size.toLowerCase()}`, `HuggingFaceTB/SmolLM2-${size}`],
      [`smollm2-${size.toLowerCase()}-instruct`, `HuggingFaceTB/SmolLM2-${size}-Instruct`],
    ]),
  ),
  "tinyllama-1.1b-chat": "TinyLlama/TinyLlama-1.1B-Chat-v1.0",
  ...Object.fromEntries(
    ["0.5B", "1.5B", "3B", "7B"].flatMap((size) => [
      [`qwen2.5-${size.toLowerCase()}`, `Qwen/Qwen2.5-${size}`],
      [`qwen2.5-${size.toLowerCase()}-instruct`, `Qwen/Qwen2.5-${size}-Instruct`],
    ]),
  ),
};

export const DEFAULT_REVISION = "main";

/** The models cache: $GPT_CUDA_CACHE, else ~/.cache/gpt-cuda/models. */
export function cacheRoot(env: NodeJS.ProcessEnv = process.env): string {
  const custom = env.GPT_CUDA_CACHE;
  if (custom) return resolve(custom);
  return join(homedir(), ".cache", "gpt-cuda", "models");
}

export interface RepoName {
  org: string;
  name: string;
  /** "org/name" */
  id: string;
}

const SEGMENT = /^[A-Za-z0-9][A-Za-z0-9._-]*$/;

/** Parses "org/name" or a known alias ("gpt2"); null when the text is not a repo name. */
export function parseRepoName(text: string): RepoName | null {
  const id = HUB_ALIASES[text] ?? text;
  const parts = id.split("/");
  if (parts.length !== 2 || !parts.every((p) => SEGMENT.test(p) && !p.includes(".."))) return null;
  return { org: parts[0]!, name: parts[1]!, id };
}

export function repoDir(root: string, repo: RepoName): string {
  return join(root, repo.org, repo.name);
}

/** A ref file name for a revision: "main" stays "main", "refs/pr/1" becomes "refs%2Fpr%2F1". */
function refFile(root: string, repo: RepoName, revision: string): string {
  return join(repoDir(root, repo), "refs", encodeURIComponent(revision));
}

/** The directory a snapshot's files go in: the commit when the Hub names one, else the revision. */
export function snapshotDir(root: string, repo: RepoName, commitOrRevision: string): string {
  return join(repoDir(root, repo), encodeURIComponent(commitOrRevision));
}

/** Records that `revision` of `repo` is the snapshot at `commit` (atomically). */
export async function writeRef(root: string, repo: RepoName, revision: string, commit: string): Promise<void> {
  const file = refFile(root, repo, revision);
  await mkdir(join(repoDir(root, repo), "refs"), { recursive: true });
  const tmp = `${file}.${process.pid}.tmp`;
  await writeFile(tmp, `${commit}\n`);
  await rename(tmp, file);
}

async function exists(path: string): Promise<boolean> {
  try {
    await stat(path);
    return true;
  } catch {
    return false;
  }
}

/** Pulled revisions of a repo, decoded ("main", "v1", …). */
async function pulledRevisions(root: string, repo: RepoName): Promise<string[]> {
  try {
    return (await readdir(join(repoDir(root, repo), "refs"))).filter((n) => !n.endsWith(".tmp")).map(decodeURIComponent);
  } catch {
    return [];
  }
}

export interface ResolvedModel {
  /** A path Gpt.load accepts. */
  path: string;
  /** Set when the model came from the pull cache. */
  hub?: { repo: string; revision: string; commit: string };
}

/**
 * Turns a model name (Gpt.load's path, the CLI's --model) into a checkpoint path: an existing directory or file is used as is;
 * "org/name[@revision]" or an alias ("gpt2") is looked up in the pull cache.
 */
export async function resolveModel(spec: string, root = cacheRoot()): Promise<ResolvedModel> {
  if (await exists(spec)) return { path: resolve(spec) };
  const at = spec.lastIndexOf("@");
  const name = at > 0 ? spec.slice(0, at) : spec;
  const revision = at > 0 ? spec.slice(at + 1) : DEFAULT_REVISION;
  const repo = parseRepoName(name);
  // Anything that is not a repo name is a path; let the loader say it is not there.
  if (!repo || revision === "") return { path: resolve(spec) };

  const ref = refFile(root, repo, revision);
  let commit: string | null = null;
  try {
    commit = (await readFile(ref, "utf8")).trim();
  } catch {
    // Not a pulled revision; it may be a commit pulled under another name.
    if (at > 0 && (await exists(snapshotDir(root, repo, revision)))) commit = revision;
  }
  if (commit !== null) {
    const dir = snapshotDir(root, repo, commit);
    if (await exists(dir)) return { path: dir, hub: { repo: repo.id, revision, commit } };
  }
  const others = await pulledRevisions(root, repo);
  const hint =
    others.length > 0
      ? `pulled revisions: ${others.join(", ")} (name one as ${repo.id}@<revision>)`
      : `pull it first: \`gpt-cuda pull ${repo.id}${revision === DEFAULT_REVISION ? "" : ` --revision ${revision}`}\``;
  throw new GptLoadError("E_CHECKPOINT", spec, `neither a path nor a pulled model in ${root}; ${hint}`);
}
