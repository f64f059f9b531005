// `gpt-cuda pull <repo>`: Gpt.pull with a progress bar (or a line per file) and a summary on stderr.
import { DEFAULT_REVISION } from "../hub/cache.js";
import { pullModel, type PullResult } from "../hub/pull.js";
import { formatBytes, PullProgress } from "./progress.js";

export interface PullCommandOptions {
  revision?: string;
  /** Where the progress and the summary go (stderr). */
  log?: NodeJS.WriteStream;
}

export async function pullCommand(repoText: string, options: PullCommandOptions = {}): Promise<PullResult> {
  const log = options.log ?? process.stderr;
  const revision = options.revision ?? DEFAULT_REVISION;
  const result = await pullModel(repoText, { revision, reporter: new PullProgress(log) });
  const label = `${result.repo}@${result.commit.slice(0, 12)}`;
  const name = revision === DEFAULT_REVISION ? repoText : `${result.repo}@${revision}`;
  log.write(`pulled ${label} (${result.files.length} files, ${formatBytes(result.bytes)}) from ${result.endpoint}: use --model ${name}\n`);
  return result;
}
