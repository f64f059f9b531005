/** Runs the gpt-cuda command line from source (lib/cli/main.ts through tsx) as a child process. */
import { spawn } from "node:child_process";
import { fileURLToPath } from "node:url";

export const repoRoot = fileURLToPath(new URL("../..", import.meta.url));

export interface CliRun {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

export interface CliRunOptions {
  /** Written to stdin, which is then closed; by default stdin is closed empty. */
  input?: string;
  /** Added to the environment (undefined removes a variable). */
  env?: Record<string, string | undefined>;
  /** Called with the child once it runs (e.g. to send it a signal). */
  onSpawn?: (child: ReturnType<typeof spawn>) => void;
  /** Leave stdin open (for tests that signal a CLI waiting on it). */
  keepStdinOpen?: boolean;
}

/** Asynchronous, so that a server in the test process keeps answering while the CLI runs. */
export function runCli(args: string[], options: CliRunOptions = {}): Promise<CliRun> {
  const env: NodeJS.ProcessEnv = { ...process.env };
  for (const [k, v] of Object.entries(options.env ?? {})) {
    if (v === undefined) delete env[k];
    else env[k] = v;
  }
  const child = spawn(process.execPath, ["--import", "tsx", "lib/cli/main.ts", ...args], { cwd: repoRoot, env });
  let stdout = "";
  let stderr = "";
  child.stdout.setEncoding("utf8").on("data", (s: string) => (stdout += s));
  child.stderr.setEncoding("utf8").on("data", (s: string) => (stderr += s));
  if (!options.keepStdinOpen) child.stdin.end(options.input ?? "");
  options.onSpawn?.(child);
  return new Promise((resolve, reject) => {
    child.on("error", reject);
    child.on("close", (code, signal) => resolve({ code, signal, stdout, stderr }));
  });
}
