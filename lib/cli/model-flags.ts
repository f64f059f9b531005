// The flags the commands that load a model share (generate, chat, serve): which model, where and
// how to hold it, and how to sample; and the load itself, with its --verbose line.
import { readFile } from "node:fs/promises";

import { Option, type Command } from "commander";

import { DEFAULT_MODEL_DIR, Gpt } from "../gpt.js";
import type { GenerateOptions } from "../generate-options.js";
import type { Device, LoadOptions, WeightDtype } from "../options.js";
import { collectNonEmpty, integerArg, numberArg, UsageError } from "./args.js";
import { resolveModel, type ResolvedModel } from "../hub/cache.js";
import type { Io } from "./io.js";

export interface LoadFlags {
  model?: string;
  device?: Device;
  dtype?: WeightDtype;
  threads?: number;
  /** --no-mmap: commander's negation of mmap, true unless given. */
  mmap?: boolean;
  verbose?: boolean;
}

export interface SamplingFlags {
  ignoreEos?: boolean;
  maxTokens?: number;
  temperature?: number;
  topK?: number;
  topP?: number;
  seed?: number;
  stop?: string[];
}

const MODEL_HELP =
  "checkpoint directory or .safetensors file, or a pulled model: gpt2, openai-community/gpt2[@revision] " +
  "(generate, chat, serve: default, the small demo model shipped with the package)";

export function modelOption(help = MODEL_HELP): Option {
  return new Option("-m, --model <dir|name>", help);
}

/** --model, --device, --dtype, --threads, --no-mmap. */
export function addLoadFlags(command: Command): Command {
  return command
    .addOption(modelOption())
    .addOption(new Option("--device <device>", "where to run (default auto)").choices(["auto", "cpu", "cuda"]))
    .addOption(
      new Option("--dtype <dtype>", "dtype to hold the weights in (default: as stored; int8: matrices quantized, CPU only)").choices([
        "float32",
        "float16",
        "bfloat16",
        "int8",
      ]),
    )
    .option("--threads <n>", "CPU threads (default: all cores)", integerArg(1, 1024))
    .option("--no-mmap", "read the weights into memory instead of mapping the files (the files may then change while loaded)");
}

/** -n, -t, --top-k, --top-p, -s, --stop. */
export function addSamplingFlags(command: Command, defaultMaxTokens = 64): Command {
  return command
    .option("-n, --max-tokens <n>", `tokens to generate at most (default ${defaultMaxTokens})`, integerArg(1))
    .option("-t, --temperature <t>", "sampling temperature; 0 is greedy (default 1)", numberArg(0, 100))
    .option("--top-k <k>", "sample among the k most likely tokens; 0: no limit (default 0)", integerArg(0))
    .option("--top-p <p>", "nucleus sampling threshold in (0, 1]; 1: no limit (default 1)", numberArg(0, 1, true))
    .option("-s, --seed <n>", "sampler seed: the same seed and options give the same text", integerArg(0, 2 ** 32 - 1))
    .option("--stop <text>", "end before this text (repeatable)", collectNonEmpty);
}

export function defined<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}

/** The generate options the sampling flags ask for. */
export function samplingOptions(flags: SamplingFlags): GenerateOptions & { n?: undefined } {
  return {
    ...defined({
      maxTokens: flags.maxTokens,
      temperature: flags.temperature,
      topK: flags.topK,
      topP: flags.topP,
      seed: flags.seed,
      ignoreEos: flags.ignoreEos,
    }),
    ...(flags.stop && flags.stop.length > 0 ? { stop: flags.stop } : {}),
  };
}

/** Loads the model the flags name (the demo model without --model); with --verbose, says what and how fast. */
export async function loadFromFlags(
  flags: LoadFlags,
  io: Io,
  extra: LoadOptions = {},
): Promise<{ gpt: Gpt; model: ResolvedModel }> {
  const model: ResolvedModel = flags.model ? await resolveModel(flags.model) : { path: DEFAULT_MODEL_DIR };
  const loadOptions: LoadOptions = {
    ...defined({ device: flags.device, dtype: flags.dtype, threads: flags.threads, mmap: flags.mmap === false ? false : undefined }),
    ...extra,
  };
  const t0 = performance.now();
  const gpt = await Gpt.load(model.path, loadOptions);
  if (flags.verbose) {
    const c = gpt.config;
    const from = model.hub ? ` (${model.hub.repo}@${model.hub.commit.slice(0, 12)})` : "";
    io.stderr.write(
      `loaded ${gpt.path}${from} in ${(performance.now() - t0).toFixed(0)} ms: ${c.nLayer} layers, ` +
        `${c.nEmbd} wide, ${c.nCtx} positions, on ${gpt.device}${loadOptions.mmap === false ? ", weights read into memory" : ""}\n`,
    );
  }
  return { gpt, model };
}

/** The template a --chat-template file holds. */
export async function readChatTemplateFile(file: string): Promise<string> {
  try {
    return await readFile(file, "utf8");
  } catch (e) {
    throw new UsageError(`--chat-template ${file}: ${(e as NodeJS.ErrnoException).code === "ENOENT" ? "not found" : (e as Error).message}`);
  }
}
