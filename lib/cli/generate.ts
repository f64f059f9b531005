// `gpt-cuda generate [prompt]`: stream a continuation to stdout, or print the result as JSON.
import type { Gpt, GenerateResult } from "../gpt.js";
import { UsageError } from "./args.js";
import { EXIT_INTERRUPTED, interruptOnCtrlC, readStdin, type Io } from "./io.js";
import { loadFromFlags, samplingOptions, type LoadFlags, type SamplingFlags } from "./model-flags.js";

export interface GenerateFlags extends LoadFlags, SamplingFlags {
  json?: boolean;
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
  const ctrlC = interruptOnCtrlC();
  let gpt: Gpt | undefined;
  try {
    let prompt = promptArg;
    if (prompt === undefined) {
      if (io.stdin.isTTY)
        throw new UsageError("no prompt: pass it as an argument, or pipe it in (echo 'Hello' | gpt-cuda generate …)");
      if (flags.verbose) io.stderr.write("reading the prompt from stdin\n");
      const text = await readStdin(io.stdin, ctrlC.signal);
      if (text === null) return EXIT_INTERRUPTED;
      prompt = text;
    }

    gpt = (await loadFromFlags(flags, io)).gpt;
    if (ctrlC.signal.aborted) return EXIT_INTERRUPTED;
    const options = { ...samplingOptions(flags), signal: ctrlC.signal };

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
    return ctrlC.signal.aborted ? EXIT_INTERRUPTED : 0;
  } finally {
    ctrlC.release();
    gpt?.dispose();
  }
}
