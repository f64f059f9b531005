// Per-kernel timings at the shapes a model's forward pass runs, timed natively on the device the
// model ran on (CPU: native/napi/bench_wrap.cpp; CUDA: native/napi/cuda_bench_wrap.cpp): the four
// matmuls of a block and the LM head at decode (one row) and prefill (many rows), and attention at
// several context lengths. FLOPs count a multiply-add as two.
import type { NativeBench, NativeBenchTiming, NativeCudaBench, NativeDtype, NativeKernelTime } from "../../bindings.js";
import type { ModelConfig } from "../../lib/checkpoint/index.js";
import type { ComputeMode, GptConfig } from "../../lib/index.js";
import type { Progress } from "./progress.js";
import type { KernelResult } from "./results.js";

export interface KernelPlan {
  decode: NativeBenchTiming;
  prefill: NativeBenchTiming;
  prefillRows: number[];
  /** CPU decode-shape weights cycle through copies spanning this many bytes (more than the last-level cache); the GPU bench sizes its own from its L2. */
  coldBytes: number;
  attentionContexts: number[];
  attentionPrefillRows: number[];
}

const MiB = 1024 ** 2;

export function kernelPlan(config: GptConfig, l3CacheBytes: number | null, quick: boolean): KernelPlan {
  const fits = (n: number) => n <= config.nCtx;
  return {
    decode: quick ? { warmup: 1, iterations: 5, maxSeconds: 0.05 } : { warmup: 3, iterations: 40, maxSeconds: 0.25 },
    prefill: quick ? { warmup: 0, iterations: 1, maxSeconds: 0.05 } : { warmup: 1, iterations: 7, maxSeconds: 0.3 },
    prefillRows: (quick ? [128] : [128, 512]).filter(fits),
    coldBytes: quick ? 16 * MiB : Math.max(256 * MiB, Math.ceil(1.25 * (l3CacheBytes ?? 0))),
    attentionContexts: (quick ? [128] : [128, 512, 1024]).filter(fits),
    attentionPrefillRows: (quick ? [128] : [128, 512]).filter(fits),
  };
}

type WeightKernelTime = NativeKernelTime & { weightCopies: number };

/**
 * Times one kernel shape on one device. `cold`: cycle the weight through copies larger than the
 * device's last-level cache, so each call reads it from memory, as a decode step does.
 */
export interface KernelTimer {
  device: "cpu" | "cuda";
  /** Matmul weights as compute "bfloat16" keeps them (bf16 in AMX tiles, whatever `dtype` says); the LM head stays as stored. */
  bf16Tiles: boolean;
  matmul(shape: { rows: number; k: number; n: number }, dtype: NativeDtype, cold: boolean, timing: NativeBenchTiming): WeightKernelTime;
  lmHead(shape: { rows: number; vocab: number; c: number }, dtype: NativeDtype, cold: boolean, timing: NativeBenchTiming): WeightKernelTime;
  /** One layer's KV append + attention for `rows` new positions after `start` cached ones. */
  attention(
    shape: { heads: number; kvHeads: number; headDim: number; capacity: number; rows: number; start: number },
    cacheDtype: NativeDtype,
    timing: NativeBenchTiming,
  ): NativeKernelTime;
}

/** The CPU kernels on a pool of `threads`, the matmuls in `compute`; cold weights span `coldBytes`. */
export function cpuTimer(bench: NativeBench, threads: number, coldBytes: number, compute: ComputeMode = "float32"): KernelTimer {
  return {
    device: "cpu",
    bf16Tiles: compute === "bfloat16",
    matmul: (shape, dtype, cold, timing) => bench.matmul({ ...shape, dtype, threads, coldBytes: cold ? coldBytes : 0, compute, ...timing }),
    lmHead: (shape, dtype, cold, timing) => bench.lmHead({ ...shape, dtype, threads, coldBytes: cold ? coldBytes : 0, ...timing }),
    attention: (shape, cacheDtype, timing) => {
      if (cacheDtype !== "F32") throw new Error(`the CPU backend keeps its KV cache in F32, not ${cacheDtype}`);
      return bench.attention({ ...shape, threads, ...timing });
    },
  };
}

/** The CUDA kernels on the current GPU, CUDA-event timed; cold weights span twice its L2 cache. */
export function cudaTimer(bench: NativeCudaBench): KernelTimer {
  return {
    device: "cuda",
    bf16Tiles: false,
    matmul: (shape, dtype, cold, timing) => bench.matmul({ ...shape, dtype, coldWeights: cold, ...timing }),
    lmHead: (shape, dtype, cold, timing) => bench.lmHead({ ...shape, dtype, coldWeights: cold, ...timing }),
    attention: (shape, cacheDtype, timing) => bench.attention({ ...shape, cacheDtype, ...timing }),
  };
}

/** A block's sizes as the engine runs it (lib/arch's ModelConfig): its matmuls' and attention's shapes. */
export interface BlockShape {
  nEmbd: number;
  nInner: number;
  heads: number;
  kvHeads: number;
  headDim: number;
  /** The MLP's first matmul is gate and up interleaved, twice nInner wide (Llama's SwiGLU). */
  swiglu: boolean;
}

export function blockShape(config: ModelConfig): BlockShape {
  const { nEmbd, nInner, nHead, nKvHead, headDim, activation } = config;
  return { nEmbd, nInner, heads: nHead, kvHeads: nKvHead, headDim, swiglu: activation === "swiglu" };
}

/** The matmuls of one transformer block, as in[rows, k] · W[k, n]. */
export function blockMatmuls(b: BlockShape): { name: string; k: number; n: number }[] {
  const c = b.nEmbd;
  return [
    { name: "attention q|k|v", k: c, n: (b.heads + 2 * b.kvHeads) * b.headDim },
    { name: "attention out", k: b.heads * b.headDim, n: c },
    { name: b.swiglu ? "mlp gate|up" : "mlp up", k: c, n: b.swiglu ? 2 * b.nInner : b.nInner },
    { name: "mlp down", k: b.nInner, n: c },
  ];
}

function dtypeBytes(dtype: NativeDtype): number {
  return dtype === "F32" ? 4 : 2;
}

function result(
  base: Omit<KernelResult, "device" | "medianMs" | "minMs" | "iterations" | "gflops" | "gbs">,
  device: KernelResult["device"],
  time: NativeKernelTime,
  flops: number,
  bytes: number,
): KernelResult {
  return {
    ...base,
    device,
    medianMs: time.medianSeconds * 1000,
    minMs: time.minSeconds * 1000,
    iterations: time.iterations,
    gflops: flops / time.medianSeconds / 1e9,
    gbs: bytes / time.medianSeconds / 1e9,
  };
}

/** The matmuls and the LM head at decode and prefill shapes, with weights in `dtype`. */
export function measureMatmuls(
  timer: KernelTimer,
  config: GptConfig,
  block: BlockShape,
  dtype: NativeDtype,
  plan: KernelPlan,
  progress: Progress,
  label: string,
): KernelResult[] {
  const out: KernelResult[] = [];
  const w = dtypeBytes(dtype);
  const matmul = (phase: "decode" | "prefill", name: string, rows: number, k: number, n: number) => {
    progress.step(`${label}: matmul ${name} ${rows}×${k}×${n} on ${timer.device}`);
    const cold = phase === "decode";
    const time = timer.matmul({ rows, k, n }, dtype, cold, cold ? plan.decode : plan.prefill);
    const bytes = k * n * (timer.bf16Tiles ? 2 : w) + (rows * k + rows * n + n) * 4;
    const base = { kernel: "matmul", phase, name, shape: { rows, k, n }, coldWeights: time.weightCopies > 1 } as const;
    out.push(result(base, timer.device, time, 2 * rows * k * n, bytes));
  };
  for (const m of blockMatmuls(block)) matmul("decode", m.name, 1, m.k, m.n);

  const V = config.vocabSize;
  const C = config.nEmbd;
  progress.step(`${label}: lm_head 1×${C}×${V} on ${timer.device}`);
  const head = timer.lmHead({ rows: 1, vocab: V, c: C }, dtype, true, plan.decode);
  out.push(
    result(
      { kernel: "lm_head", phase: "decode", name: "lm_head (wteᵀ)", shape: { rows: 1, k: C, n: V }, coldWeights: head.weightCopies > 1 },
      timer.device,
      head,
      2 * V * C,
      V * C * w + (C + V) * 4,
    ),
  );

  for (const rows of plan.prefillRows) for (const m of blockMatmuls(block)) matmul("prefill", m.name, rows, m.k, m.n);
  return out;
}

/**
 * One layer's kv_append + attention, the KV cache in `cacheDtype`: decode at each context, prefill
 * of each length from an empty cache.
 */
export function measureAttention(
  timer: KernelTimer,
  config: GptConfig,
  block: BlockShape,
  cacheDtype: NativeDtype,
  plan: KernelPlan,
  progress: Progress,
): KernelResult[] {
  const { heads, kvHeads, headDim } = block;
  const C = heads * headDim;
  const kv = dtypeBytes(cacheDtype);
  const shape = { heads, kvHeads, headDim, capacity: config.nCtx };
  const where = `on ${timer.device}, ${cacheDtype} cache`;
  const out: KernelResult[] = [];
  for (const context of plan.attentionContexts) {
    progress.step(`attention: decode at context ${context} (${where})`);
    const time = timer.attention({ ...shape, rows: 1, start: context - 1 }, cacheDtype, plan.decode);
    // q·k and p·v over `context` positions per query head; each KV head's K and V read once.
    const flops = 4 * heads * headDim * context;
    const bytes = 2 * kvHeads * context * headDim * kv + 4 * C * 4;
    const base = { kernel: "attention", phase: "decode", name: `context ${context}`, shape: { rows: 1, context }, coldWeights: false } as const;
    out.push(result(base, timer.device, time, flops, bytes));
  }
  for (const rows of plan.attentionPrefillRows) {
    progress.step(`attention: prefill ${rows} positions (${where})`);
    const time = timer.attention({ ...shape, rows, start: 0 }, cacheDtype, plan.prefill);
    // Causal: row t attends to t + 1 positions.
    const flops = 4 * heads * headDim * ((rows * (rows + 1)) / 2);
    const bytes = 2 * kvHeads * rows * headDim * kv + 4 * rows * C * 4;
    const base = { kernel: "attention", phase: "prefill", name: `prefill ${rows}`, shape: { rows, context: rows }, coldWeights: false } as const;
    out.push(result(base, timer.device, time, flops, bytes));
  }
  return out;
}

/** The machine's read bandwidth: a buffer four times the last-level cache (1 GiB at least), read several times. */
export function memoryReadPlan(l3CacheBytes: number | null, quick: boolean): { bytes: number; passes: number } {
  if (quick) return { bytes: 256 * MiB, passes: 2 };
  return { bytes: Math.max(1024 * MiB, 4 * (l3CacheBytes ?? 0)), passes: 7 };
}
