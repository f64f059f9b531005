// The command line of `npm run bench`: parsed into a plain options object, every mistake an
// ArgError whose message names the flag and the value.
import type { ComputeMode, Device, RandomPreset, WeightDtype } from "../../lib/index.js";

export const PRESETS: readonly RandomPreset[] = [
  "gpt2",
  "gpt2-medium",
  "gpt2-large",
  "gpt2-xl",
  "opt-125m",
  "opt-350m",
  "bloom-560m",
  "gpt-neo-125m",
  "pythia-160m",
  "smollm2-135m",
  "tinyllama-1.1b",
  "qwen2.5-0.5b",
];
export const DTYPES: readonly WeightDtype[] = ["float32", "float16", "bfloat16", "int8"];
export const DEVICES: readonly Device[] = ["auto", "cpu", "cuda"];
export const COMPUTES: readonly ComputeMode[] = ["float32", "bfloat16"];

/** What the default run measures: random GPT-2 124M weights, held as float32 and as float16. */
export const DEFAULT_PRESET: RandomPreset = "gpt2";
export const DEFAULT_RANDOM_DTYPES: readonly WeightDtype[] = ["float32", "float16"];

export type ModelSource = { kind: "random"; preset: RandomPreset } | { kind: "checkpoint"; path: string };

export interface BenchArgs {
  model: ModelSource;
  /** One measured model per entry; null keeps a checkpoint's own dtype. */
  dtypes: (WeightDtype | null)[];
  /** Each dtype is measured once per compute mode. */
  computes: ComputeMode[];
  device: Device;
  threads: number;
  /** JSON on stdout instead of the table. */
  json: boolean;
  /** Where the JSON and SVG results go; null: not saved. */
  outDir: string | null;
  /** Fewer runs and tokens: checks the bench works, its numbers are rough. */
  quick: boolean;
  kernels: boolean;
  /** The batched-engine section (bench/lib/batch.ts). */
  batch: boolean;
  help: boolean;
}

export class ArgError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "ArgError";
  }
}

export const USAGE = `usage: npm run bench -- [<checkpoint dir> | --random <preset>] [options]

  <checkpoint dir>          a Hugging Face GPT-2 checkpoint (directory or .safetensors file)
  --random <preset>         random weights of a real shape: ${PRESETS.join(", ")}
                            (the default is --random ${DEFAULT_PRESET})
  --dtype <d>[,<d>...]      weight dtypes to measure, one model each: ${DTYPES.join(", ")}
                            (default: ${DEFAULT_RANDOM_DTYPES.join(",")} for --random, the stored dtype for a checkpoint)
  --compute <c>[,<c>...]    compute modes to measure each dtype in: ${COMPUTES.join(", ")} (default float32;
                            bfloat16 needs AMX, else it runs float32 and its row says so)
  --device <d>              ${DEVICES.join(", ")} (default auto)
  --threads <n>             CPU threads (default: the machine's cores)
  --json                    print the results as JSON on stdout instead of a table
  --out <dir>               where results are saved (default bench/results)
  --no-save                 do not save results
  --no-kernels              skip the per-kernel timings
  --no-batch                skip the batched-engine section (many sequences, prefix cache, abort)
  --quick                   a short run to check the bench works (rough numbers)
  --help                    this text`;

function positiveInteger(flag: string, value: string): number {
  const n = Number(value);
  if (!/^\d+$/.test(value) || !Number.isSafeInteger(n) || n < 1)
    throw new ArgError(`${flag} must be a positive integer, got ${JSON.stringify(value)}`);
  return n;
}

function oneOf<T extends string>(flag: string, value: string, allowed: readonly T[]): T {
  if (!(allowed as readonly string[]).includes(value))
    throw new ArgError(`${flag} must be one of ${allowed.join(", ")}, got ${JSON.stringify(value)}`);
  return value as T;
}

/** Parses argv (without node and the script); `defaultThreads` is the machine's cores. */
export function parseArgs(argv: readonly string[], defaultThreads: number, defaultOutDir: string): BenchArgs {
  const valued = new Set(["--random", "--dtype", "--compute", "--device", "--threads", "--out"]);
  const flags = new Set(["--json", "--no-save", "--no-kernels", "--no-batch", "--quick", "--help", "-h"]);
  const values = new Map<string, string>();
  const set = new Set<string>();
  const positional: string[] = [];

  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (!arg.startsWith("-") || arg === "-") {
      positional.push(arg);
      continue;
    }
    const eq = arg.indexOf("=");
    const name = eq > 0 ? arg.slice(0, eq) : arg;
    if (valued.has(name)) {
      let value: string | undefined;
      if (eq > 0) value = arg.slice(eq + 1);
      else {
        value = argv[i + 1];
        if (value === undefined || value.startsWith("--")) throw new ArgError(`${name} needs a value`);
        i++;
      }
      if (values.has(name)) throw new ArgError(`${name} is given twice`);
      values.set(name, value);
    } else if (flags.has(name) && eq < 0) {
      set.add(name === "-h" ? "--help" : name);
    } else {
      throw new ArgError(`unknown option ${JSON.stringify(arg)}`);
    }
  }

  if (positional.length > 1) throw new ArgError(`one checkpoint at most, got ${positional.map((p) => JSON.stringify(p)).join(" ")}`);
  const random = values.get("--random");
  if (positional.length === 1 && random !== undefined)
    throw new ArgError("give a checkpoint directory or --random, not both");
  const model: ModelSource =
    positional.length === 1
      ? { kind: "checkpoint", path: positional[0]! }
      : { kind: "random", preset: oneOf("--random", random ?? DEFAULT_PRESET, PRESETS) };

  const dtypeList = values.get("--dtype");
  let dtypes: (WeightDtype | null)[];
  if (dtypeList === undefined) dtypes = model.kind === "random" ? [...DEFAULT_RANDOM_DTYPES] : [null];
  else {
    dtypes = dtypeList.split(",").map((d) => oneOf("--dtype", d.trim(), DTYPES));
    if (new Set(dtypes).size !== dtypes.length) throw new ArgError(`--dtype lists a dtype twice: ${dtypeList}`);
  }

  const computes = (values.get("--compute") ?? "float32").split(",").map((c) => oneOf("--compute", c.trim(), COMPUTES));
  if (new Set(computes).size !== computes.length) throw new ArgError(`--compute lists a mode twice: ${values.get("--compute")}`);
  if (computes.includes("bfloat16") && dtypes.includes("int8")) throw new ArgError("--compute bfloat16 does not combine with --dtype int8 (not supported yet)");

  if (set.has("--no-save") && values.has("--out")) throw new ArgError("--out and --no-save contradict each other");
  return {
    model,
    dtypes,
    computes,
    device: oneOf("--device", values.get("--device") ?? "auto", DEVICES),
    threads: values.has("--threads") ? positiveInteger("--threads", values.get("--threads")!) : defaultThreads,
    json: set.has("--json"),
    outDir: set.has("--no-save") ? null : (values.get("--out") ?? defaultOutDir),
    quick: set.has("--quick"),
    kernels: !set.has("--no-kernels"),
    batch: !set.has("--no-batch"),
    help: set.has("--help"),
  };
}
