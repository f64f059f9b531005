// `gpt-cuda generate [prompt]`: stream a continuation to stdout, or print the result as JSON.
import { DEFAULT_MODEL_DIR, Gpt, type GenerateResult } from "../gpt.js";
import type { GenerateOptions } from "../generate-options.js";
import type { Device, LoadOptions, WeightDtype } from "../options.js";
import { UsageError } from "./args.js";
import { resolveModel, type ResolvedModel } from "./cache.js";

export interface GenerateFlags {
  model?: string;
  maxTokens?: number;
  temperature?: number;
  topK?: number;
  topP?: number;
  seed?: number;
  stop?: string[];
  device?: Device;
  dtype?: WeightDtype;
  threads?: number;
  json?: boolean;
  verbose?: boolean;
}

export interface Io {
  stdin: NodeJS.ReadStream;
  stdout: NodeJS.WriteStream;
  stderr: NodeJS.WriteStream;
}

/** Exit code of a generation stopped by Ctrl-C (128 + SIGINT). */
export const EXIT_INTERRUPTED = 130;

/** All of stdin as text, one trailing newline dropped; null when `signal` aborts first. */
function readStdin(stdin: NodeJS.ReadStream, signal: AbortSignal): Promise<string | null> {
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

function defined<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}

function rate(tokens: number, ms: number): string {
  return ms > 0 ? `${((tokens * 1000) / ms).toFixed(1)} tok/s` : "-- tok/s";
}

function timingLine(promptTokens: number, prefillMs: number, decodeSteps: number, decodeMs: number): string {
  return (
    `prefill: ${promptTokens} tokens in ${prefillMs.toFixed(1)} ms (${rate(promptTokens, prefillMs)}), ` +
    `decode: ${decodeSteps} tokens in ${decodeMs.toFixed(1)} ms (${rate(decodeSteps, decodeMs)})\n`
  );
}

export async function generateCommand(promptArg: string | undefined, flags: GenerateFlags, io: Io): Promise<number> {
  // Ctrl-C once: generation ends within one decode step and what was generated is kept.
  // Twice: exit at once.
  const controller = new AbortController();
  const onSigint = () => {
    if (controller.signal.aborted) process.exit(EXIT_INTERRUPTED);
    controller.abort();
  };
  process.on("SIGINT", onSigint);
  let gpt: Gpt | undefined;
  try {
    let prompt = promptArg;
    if (prompt === undefined) {
      if (io.stdin.isTTY)
        throw new UsageError("no prompt: pass it as an argument, or pipe it in (echo 'Hello' | gpt-cuda generate …)");
      if (flags.verbose) io.stderr.write("reading the prompt from stdin\n");
      const text = await readStdin(io.stdin, controller.signal);
      if (text === null) return EXIT_INTERRUPTED;
      prompt = text;
    }

    // Without --model: the demo model that ships with the package.
    const model: ResolvedModel = flags.model ? await resolveModel(flags.model) : { path: DEFAULT_MODEL_DIR };
    const loadOptions: LoadOptions = defined({ device: flags.device, dtype: flags.dtype, threads: flags.threads });
    const t0 = performance.now();
    gpt = await Gpt.load(model.path, loadOptions);
    if (flags.verbose) {
      const c = gpt.config;
      const from = model.hub ? ` (${model.hub.repo}@${model.hub.commit.slice(0, 12)})` : "";
      io.stderr.write(
        `loaded ${gpt.path}${from} in ${(performance.now() - t0).toFixed(0)} ms: ${c.nLayer} layers, ` +
          `${c.nEmbd} wide, ${c.nCtx} positions, on ${gpt.device}\n`,
      );
    }
    if (controller.signal.aborted) return EXIT_INTERRUPTED;

    const options: GenerateOptions & { n?: undefined } = {
      ...defined({
        maxTokens: flags.maxTokens,
        temperature: flags.temperature,
        topK: flags.topK,
        topP: flags.topP,
        seed: flags.seed,
      }),
      ...(flags.stop && flags.stop.length > 0 ? { stop: flags.stop } : {}),
      signal: controller.signal,
    };

    if (flags.json) {
      const result: GenerateResult = await gpt.generate(prompt, options);
      io.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
      if (flags.verbose) {
        const { usage, timings } = result;
        io.stderr.write(
          timingLine(usage.promptTokens, timings.prefillMs, Math.max(0, usage.completionTokens - 1), timings.decodeMs),
        );
      }
      return result.finishReason === "abort" ? EXIT_INTERRUPTED : 0;
    }

    // Streaming: the first token comes out of the prefill, each later one out of a decode step.
    const start = performance.now();
    let firstAt = start;
    let chunks = 0;
    for await (const chunk of gpt.stream(prompt, options)) {
      if (chunks++ === 0) firstAt = performance.now();
      if (chunk.text) io.stdout.write(chunk.text);
    }
    io.stdout.write("\n");
    if (flags.verbose && chunks > 0) {
      const promptTokens = Math.max(1, gpt.tokenizer.encode(prompt).length);
      io.stderr.write(timingLine(promptTokens, firstAt - start, chunks - 1, performance.now() - firstAt));
    }
    return controller.signal.aborted ? EXIT_INTERRUPTED : 0;
  } finally {
    process.off("SIGINT", onSigint);
    gpt?.dispose();
  }
}
