/**
 * A command run in a pseudo-terminal (util-linux's `script`), so that its stdin is a TTY: for
 * the interactive parts of the command line. Keys are written as a terminal sends them
 * ("\r" for Enter, "\x03" for Ctrl-C, "\x04" for Ctrl-D).
 */
import { spawn, spawnSync, type ChildProcess } from "node:child_process";

import { repoRoot } from "./run-cli.js";

/** Whether `script` is here; tests that need a terminal skip visibly without it. */
export const haveScript = spawnSync("script", ["--version"]).status === 0;

export interface Terminal {
  /** All the terminal has shown so far, its escape sequences (cursor moves) left out. */
  readonly output: () => string;
  send(keys: string): void;
  /** Resolves once the output matches `pattern` after `from` (an offset into it); rejects after `ms`. */
  waitFor(pattern: RegExp, from?: number, ms?: number): Promise<void>;
  /** The command's exit code once it ends. */
  readonly exited: Promise<number | null>;
  kill(): void;
}

const quote = (s: string) => `'${s.replaceAll("'", "'\\''")}'`;

/** Runs `gpt-cuda <args>` from source in a terminal. */
export function cliInTerminal(args: string[], env: Record<string, string> = {}): Terminal {
  const command = [process.execPath, "--import", "tsx", "lib/cli/main.ts", ...args].map(quote).join(" ");
  // -q: no "Script started" banner; -f: flush at once; -e: exit with the command's code.
  const child: ChildProcess = spawn("script", ["-qfec", command, "/dev/null"], {
    cwd: repoRoot,
    env: { ...process.env, ...env },
  });
  let output = "";
  // readline moves the cursor with CSI sequences ("\x1b[3G"); what matters is the text.
  child.stdout!.setEncoding("utf8").on("data", (s: string) => (output += s.replace(/\x1b\[[0-9;?]*[A-Za-z]/g, "")));
  const exited = new Promise<number | null>((resolve) => child.on("close", (code) => resolve(code)));
  return {
    output: () => output,
    send: (keys) => void child.stdin!.write(keys),
    async waitFor(pattern, from = 0, ms = 30_000) {
      const deadline = Date.now() + ms;
      while (!pattern.test(output.slice(from))) {
        if (Date.now() > deadline) throw new Error(`no ${pattern} in the terminal after ${ms} ms; it shows ${JSON.stringify(output)}`);
        await new Promise((r) => setTimeout(r, 20));
      }
    },
    exited,
    kill: () => void child.kill("SIGKILL"),
  };
}
