/**
 * `npm run bench`: end-to-end and per-kernel speed of one model, against the machine's own
 * memory read bandwidth.
 *
 *   npm run bench                                    random GPT-2 124M weights, as float32 and as float16
 *   npm run bench -- ./gpt2                          a checkpoint directory, in its stored dtype
 *   npm run bench -- --random gpt2-medium --dtype bfloat16 --threads 4 --json
 *
 * For each dtype: load time, prefill tokens/s (128 and 512 tokens), decode tokens/s and p50/p99
 * ms per token at several context lengths, weight and KV bytes read per token and the bandwidth
 * that makes, peak RSS; the batched engine (aggregate decode with 1 to 16 sequences at once, time
 * to first token cold and from the prefix cache, an abort during a long prefill); then the
 * block's matmuls, the LM head and attention timed natively, on the
 * device the model ran on (with --device cuda, the CUDA kernels, timed with CUDA events).
 * Progress goes to stderr; the table (or --json) to stdout; the JSON and a decode-speed chart
 * (SVG) are saved under bench/results/. `npm run bench -- --help` lists the flags.
 */
import { availableParallelism } from "node:os";
import { basename } from "node:path";
import { fileURLToPath } from "node:url";

import type { NativeDtype } from "../bindings.js";
import { loadCheckpoint } from "../lib/checkpoint/index.js";
import { randomPreset } from "../lib/random-spec.js";
import { Gpt, GptError, type ComputeMode, type GptConfig, type WeightDtype } from "../lib/index.js";
import { native } from "../lib/native.js";
import { ArgError, parseArgs, USAGE, type BenchArgs } from "./lib/args.js";
import { BENCH_MAX_SEQUENCES, batchPlan, measureBatch } from "./lib/batch.js";
import {
  endToEndPlan,
  IdSource,
  kvBytesReadPerToken,
  measureDecode,
  measurePrefill,
  warmUp,
  tensorFacts,
  weightBytesReadPerToken,
} from "./lib/end-to-end.js";
import { blockShape, cpuTimer, cudaTimer, kernelPlan, measureAttention, measureMatmuls, memoryReadPlan, type BlockShape } from "./lib/kernels.js";
import { cpuSnapshot, machineInfo, otherCpuShare, resetPeakMemory, residentMemory, type MachineInfo } from "./lib/machine.js";
import { Progress } from "./lib/progress.js";
import { saveResults, SCHEMA, type BenchResult, type KernelResult, type MemoryReadResult, type ModelResult } from "./lib/results.js";
import { lineChart } from "./lib/svg.js";
import { renderReport } from "./lib/table.js";

const ROOT = fileURLToPath(new URL("../", import.meta.url));
const RESULTS_DIR = fileURLToPath(new URL("./results/", import.meta.url));
const NATIVE_DTYPE: Record<Exclude<WeightDtype, "int8">, NativeDtype> = { float32: "F32", float16: "F16", bfloat16: "BF16" };
const STORED_NAME: Record<NativeDtype, WeightDtype> = { F32: "float32", F16: "float16", BF16: "bfloat16" };

/** What the bench needs to know of a model besides GptConfig, found before loading it. */
interface ModelFacts {
  name: string;
  /** The block's matmul and attention shapes (GQA, SwiGLU, head width), for the kernel timings. */
  block: BlockShape;
  /** The checkpoint's own dtype of its token embedding (the LM head), for the kernels when the dtype is kept. */
  storedDtype: NativeDtype;
  /** The engine's weights, as its architecture lays them out (lib/arch). */
  parameters: number;
  /** Rows of the learned position table (0 for BLOOM's ALiBi): a decode step reads one of them. */
  positionRows: number;
}

async function modelFacts(args: BenchArgs): Promise<ModelFacts> {
  if (args.model.kind === "random") {
    const { config, tensors } = randomPreset(args.model.preset);
    return { name: `random:${args.model.preset}`, block: blockShape(config), storedDtype: "F32", ...tensorFacts(tensors) };
  }
  const checkpoint = await loadCheckpoint(args.model.path);
  return {
    name: basename(checkpoint.dir),
    block: blockShape(checkpoint.config),
    storedDtype: checkpoint.engineTensors[0]?.dtype ?? "F32",
    ...tensorFacts(checkpoint.engineTensors),
  };
}

async function loadModel(args: BenchArgs, dtype: WeightDtype | null, compute: ComputeMode): Promise<Gpt> {
  const options = { device: args.device, threads: args.threads, maxSequences: BENCH_MAX_SEQUENCES, compute };
  if (args.model.kind === "random") return Gpt.random(args.model.preset, { ...options, dtype: dtype ?? "float32" });
  return Gpt.load(args.model.path, dtype ? { ...options, dtype } : options);
}

interface Measured {
  model: ModelResult;
  attention: KernelResult[];
}

async function measureModel(
  args: BenchArgs,
  facts: ModelFacts,
  dtype: WeightDtype | null,
  compute: ComputeMode,
  machine: MachineInfo,
  withAttention: boolean,
  progress: Progress,
): Promise<Measured> {
  const stored = dtype ?? `${STORED_NAME[facts.storedDtype]} (stored)`;
  let label = compute === "bfloat16" ? `${stored}, bf16 compute` : stored;
  const peakReset = resetPeakMemory();
  const before = residentMemory();
  progress.step(`${label}: loading ${facts.name}`);
  const t0 = performance.now();
  const gpt = await loadModel(args, dtype, compute);
  const loadSeconds = (performance.now() - t0) / 1000;
  const ranCompute = gpt.compute;
  if (gpt.compute !== compute) label = `${stored}, ${compute} asked, ${gpt.compute} run (cpu ${native().buildInfo().cpuIsa})`;

  let model: ModelResult;
  try {
    const config = gpt.config;
    const { parameters } = facts;
    const plan = endToEndPlan(config.nCtx, args.quick);
    const ids = new IdSource(config.vocabSize);
    const cpuBefore = cpuSnapshot();
    progress.step(`${label}: warm-up`);
    await warmUp(gpt, ids);
    const deadline = performance.now() + plan.repeatSeconds * 1000;
    const prefill = await measurePrefill(gpt, plan, ids, progress, label, deadline);
    const decode = await measureDecode(gpt, plan, ids, progress, label, deadline);
    const kvBytesPerPosition = gpt.kvCacheUsage.bytesPerToken;
    const batch = args.batch
      ? await measureBatch(gpt, batchPlan(config.nCtx, gpt.limits.maxSequences, gpt.device, args.quick), ids, progress, label)
      : null;
    const after = residentMemory();
    const others = otherCpuShare(cpuBefore, cpuSnapshot(), machine.cpus);
    model = {
      model: facts.name,
      dtype: label,
      device: gpt.device,
      config,
      parameters,
      weightBytes: gpt.weightBytes,
      kvCacheBytes: gpt.kvCacheBytes,
      weightBytesReadPerToken: weightBytesReadPerToken(gpt.weightBytes, parameters, facts.positionRows, config.nEmbd),
      loadSeconds,
      prefill,
      decode: decode.map((d) => ({
        ...d,
        kvBytesReadPerToken: kvBytesReadPerToken(kvBytesPerPosition, d.context),
        achievedGBs: 0, // filled in once the read bandwidth is known
        fractionOfMemoryRead: null,
      })),
      memory:
        before && after ? { rssBeforeLoadBytes: before.rss, peakRssBytes: after.peak, peakIsThisModels: peakReset } : null,
      otherCpuShare: others,
      batch,
      kernels: [],
    };
  } finally {
    gpt.dispose();
  }

  let attention: KernelResult[] = [];
  // The kernel bench has no int8 matrices (yet): such a model's rows have no kernel timings.
  if (args.kernels && dtype !== "int8") {
    const plan = kernelPlan(model.config, machine.l3CacheBytes, args.quick);
    const nativeDtype = dtype ? NATIVE_DTYPE[dtype] : facts.storedDtype;
    const { block } = facts;
    if (model.device === "cuda") {
      const timer = cudaTimer(native().cudaBench);
      // The CUDA backend keeps the KV cache in the weights' dtype: attention is timed per model.
      model.kernels = [
        ...measureMatmuls(timer, model.config, block, nativeDtype, plan, progress, label),
        ...measureAttention(timer, model.config, block, nativeDtype, plan, progress),
      ];
    } else {
      const timer = cpuTimer(native().bench, args.threads, plan.coldBytes, ranCompute);
      model.kernels = measureMatmuls(timer, model.config, block, nativeDtype, plan, progress, label);
      if (withAttention) attention = measureAttention(timer, model.config, block, "F32", plan, progress);
    }
  }
  return { model, attention };
}

/** The read bandwidth the decode figures are held against: the GPU's for a model on cuda, else the host's. */
function measureMemoryRead(onGpu: boolean, l3CacheBytes: number | null, args: BenchArgs): MemoryReadResult {
  if (onGpu) {
    // Far beyond any L2 (an H200's is 60 MB), as a decode step's weights are.
    const plan = { bytes: (args.quick ? 512 : 2048) * 1024 ** 2, passes: args.quick ? 3 : 10 };
    const { checksum: _, ...read } = native().cudaBench.memoryRead(plan);
    return { device: "cuda", threads: null, ...read };
  }
  const plan = memoryReadPlan(l3CacheBytes, args.quick);
  const { checksum: _, ...read } = native().bench.memoryRead({ ...plan, threads: args.threads });
  return { device: "cpu", ...read };
}

function withBandwidth(model: ModelResult, read: MemoryReadResult | null): ModelResult {
  return {
    ...model,
    decode: model.decode.map((d) => {
      const achievedGBs = ((model.weightBytesReadPerToken + d.kvBytesReadPerToken) * d.tokensPerSecond) / 1e9;
      return { ...d, achievedGBs, fractionOfMemoryRead: read ? achievedGBs / read.bestGBs : null };
    }),
  };
}

function decodeChart(result: BenchResult): string {
  const m = result.machine;
  return lineChart(
    result.models.map((model) => ({
      name: model.dtype,
      points: model.decode.map((d) => ({ x: d.context, y: d.tokensPerSecond })),
    })),
    {
      title: `gpt-cuda decode speed: ${result.settings.model}, batch 1`,
      subtitle: `${m.cpuModel}, ${result.settings.threads} threads, ${result.models[0]?.device ?? "cpu"}; ${result.timestamp.slice(0, 10)}`,
      xLabel: "context length (tokens)",
      yLabel: "decode tokens/s (1000 / p50 ms per token)",
    },
  );
}

async function run(argv: string[]): Promise<number> {
  let args: BenchArgs;
  try {
    args = parseArgs(argv, availableParallelism(), RESULTS_DIR);
  } catch (e) {
    if (!(e instanceof ArgError)) throw e;
    process.stderr.write(`bench: ${e.message}\n\n${USAGE}\n`);
    return 2;
  }
  if (args.help) {
    process.stdout.write(`${USAGE}\n`);
    return 0;
  }

  const progress = new Progress(process.stderr);
  const timestamp = new Date().toISOString();
  const machine = machineInfo(native().buildInfo(), ROOT);
  const facts = await modelFacts(args);

  const models: ModelResult[] = [];
  let attention: KernelResult[] = [];
  const runs = args.dtypes.flatMap((dtype) => args.computes.map((compute) => ({ dtype, compute })));
  for (const [i, { dtype, compute }] of runs.entries()) {
    const measured = await measureModel(args, facts, dtype, compute, machine, i === 0, progress);
    models.push(measured.model);
    if (i === 0) attention = measured.attention;
  }

  progress.step("memory read bandwidth");
  const memoryRead = measureMemoryRead(models[0]?.device === "cuda", machine.l3CacheBytes, args);

  const result: BenchResult = {
    schema: SCHEMA,
    timestamp,
    durationSeconds: 0,
    command: ["npm run bench --", ...argv].join(" "),
    machine,
    settings: { model: facts.name, dtypes: models.map((m) => m.dtype), device: args.device, threads: args.threads, quick: args.quick },
    memoryRead,
    models: models.map((m) => withBandwidth(m, memoryRead)),
    attention,
  };
  result.durationSeconds = Math.round(progress.elapsed() * 10) / 10;
  const svg = decodeChart(result);
  const saved = args.outDir === null ? [] : saveResults(result, svg, args.outDir);
  progress.done(`done in ${result.durationSeconds.toFixed(1)} s${saved.length ? `; saved ${saved.join(", ")}` : ""}`);

  if (args.json) process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
  else process.stdout.write(renderReport(result) + (saved.length ? `\nSaved: ${saved.join(", ")}\n` : ""));
  return 0;
}

try {
  process.exitCode = await run(process.argv.slice(2));
} catch (e) {
  // The library's own errors (a missing checkpoint, device "cuda") already say what is wrong.
  if (e instanceof GptError) {
    process.stderr.write(`${process.stderr.isTTY ? "\n" : ""}bench: ${e.message.split("\n")[0]}\n`);
    process.exitCode = 1;
  } else throw e;
}
