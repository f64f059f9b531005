// The streams a command talks through (process's, or a test's), and exit codes every command shares.

export interface Io {
  stdin: NodeJS.ReadStream;
  stdout: NodeJS.WriteStream;
  stderr: NodeJS.WriteStream;
}

/** Exit code of a command stopped by Ctrl-C (128 + SIGINT). */
export const EXIT_INTERRUPTED = 130;

/** All of stdin as text, one trailing newline dropped; null when `signal` aborts first. */
export function readStdin(stdin: NodeJS.ReadStream, signal: AbortSignal): Promise<string | null> {
  return new Promise((resolve, reject) => {
    let text = "";
    const onAbort = () => {
      stdin.destroy();
      resolve(null);
    };
    signal.addEventListener("abort", onAbort, { once: true });
    stdin.setEncoding("utf8");
    stdin.on("data", (chunk: string) => (text += chunk));
    stdin.on("error", reject);
    stdin.on("end", () => {
      signal.removeEventListener("abort", onAbort);
      resolve(text.replace(/\r?\n$/, ""));
    });
  });
}

/**
 * Ctrl-C for a command that runs one generation: the first aborts `signal` (generation ends
 * within one step and what was made is kept), a second exits at once. `release()` stops
 * listening.
 */
export function interruptOnCtrlC(): { signal: AbortSignal; release: () => void } {
  const controller = new AbortController();
  const onSigint = () => {
    if (controller.signal.aborted) process.exit(EXIT_INTERRUPTED);
    controller.abort();
  };
  process.on("SIGINT", onSigint);
  return { signal: controller.signal, release: () => void process.off("SIGINT", onSigint) };
}
