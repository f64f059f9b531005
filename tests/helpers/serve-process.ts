/** `gpt-cuda serve` as a child process (from source), once it says where it listens. */
import { spawn, type ChildProcess } from "node:child_process";

import { repoRoot } from "./run-cli.js";

export interface ServeProcess {
  url: string;
  child: ChildProcess;
  stdout: () => string;
  stderr: () => string;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

export async function startServeProcess(args: string[], env: Record<string, string> = {}, ms = 30_000): Promise<ServeProcess> {
  const child = spawn(process.execPath, ["--import", "tsx", "lib/cli/main.ts", "serve", ...args], {
    cwd: repoRoot,
    env: { ...process.env, ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let stdout = "";
  let stderr = "";
  child.stdout!.setEncoding("utf8").on("data", (s: string) => (stdout += s));
  child.stderr!.setEncoding("utf8").on("data", (s: string) => (stderr += s));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.on("close", (code, signal) => resolve({ code, signal })),
  );
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`serve did not start in ${ms} ms: ${stderr}`)), ms);
    const check = () => {
      const m = / at (http:\/\/\S+) /.exec(stderr);
      if (m) {
        clearTimeout(timer);
        resolve(m[1]!);
      }
    };
    child.stderr!.on("data", check);
    void exited.then(({ code }) => {
      clearTimeout(timer);
      reject(new Error(`serve exited (${code}) before it listened: ${stderr}`));
    });
  });
  return { url, child, stdout: () => stdout, stderr: () => stderr, exited };
}
