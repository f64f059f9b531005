// Per-kernel timings at the shapes a model's forward pass runs, timed natively (native/napi/bench_wrap.cpp):
// the four matmuls of a block and the LM head at decode (one row) and prefill (many rows), and
// attention at several context lengths. FLOPs count a multiply-add as two.
import type { NativeBench, NativeBenchTiming, NativeDtype, NativeKernelTime } from "../../bindings.js";
import type { GptConfig } from "../../lib/index.js";
import type { Progress } from "./progress.js";
import type { KernelResult } from "./results.js";

export interface KernelPlan {
  decode: NativeBenchTiming;
  prefill: NativeBenchTiming;
  prefillRows: number[];
  /** Decode-shape weights cycle through copies spanning this many bytes (more than the last-level cache). */
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

/** The matmuls of one transformer block, as in[rows, k] · W[k, n]. */
export function blockMatmuls(config: GptConfig, nInner: number): { name: string; k: number; n: number }[] {
  const c = config.nEmbd;
  return [
    { name: "attn.c_attn", k: c, n: 3 * c },
    { name: "attn.c_proj", k: c, n: c },
    { name: "mlp.c_fc", k: c, n: nInner },
    { name: "mlp.c_proj", k: nInner, n: c },
  ];
}

function dtypeBytes(dtype: NativeDtype): number {
  return dtype === "F32" ? 4 : 2;
}

function result(
  base: Omit<KernelResult, "medianMs" | "minMs" | "iterations" | "gflops" | "gbs">,
  time: NativeKernelTime,
  flops: number,
  bytes: number,
): KernelResult {
  return {
    ...base,
    medianMs: time.medianSeconds * 1000,
    minMs: time.minSeconds * 1000,
    iterations: time.iterations,
    gflops: flops / time.medianSeconds / 1e9,
    gbs: bytes / time.medianSeconds / 1e9,
  };
}

/** The matmuls and the LM head at decode and prefill shapes, with weights in `dtype`. */
export function measureMatmuls(
  bench: NativeBench,
  config: GptConfig,
  nInner: number,
  dtype: NativeDtype,
  threads: number,
  plan: KernelPlan,
  progress: Progress,
  label: string,
): KernelResult[] {
  const out: KernelResult[] = [];
  const w = dtypeBytes(dtype);
  const matmul = (phase: "decode" | "prefill", name: string, rows: number, k: number, n: number) => {
    progress.step(`${label}: matmul ${name} ${rows}×${k}×${n}`);
    const cold = phase === "decode";
    const timing = cold ? plan.decode : plan.prefill;
    const time = bench.matmul({ rows, k, n, dtype, threads, coldBytes: cold ? plan.coldBytes : 0, ...timing });
    const bytes = k * n * w + (rows * k + rows * n + n) * 4;
    out.push(result({ kernel: "matmul", phase, name, shape: { rows, k, n }, coldWeights: time.weightCopies > 1 }, time, 2 * rows * k * n, bytes));
  };
  for (const m of blockMatmuls(config, nInner)) matmul("decode", m.name, 1, m.k, m.n);

  const V = config.vocabSize;
  const C = config.nEmbd;
  progress.step(`${label}: lm_head 1×${C}×${V}`);
  const head = bench.lmHead({ rows: 1, vocab: V, c: C, dtype, threads, coldBytes: plan.coldBytes, ...plan.decode });
  out.push(
    result(
      { kernel: "lm_head", phase: "decode", name: "lm_head (wteᵀ)", shape: { rows: 1, k: C, n: V }, coldWeights: head.weightCopies > 1 },
      head,
      2 * V * C,
      V * C * w + (C + V) * 4,
    ),
  );

  for (const rows of plan.prefillRows) for (const m of blockMatmuls(config, nInner)) matmul("prefill", m.name, rows, m.k, m.n);
  return out;
}

/** One layer's kv_append + attention: decode at each context, prefill of each length from an empty cache. */
export function measureAttention(
  bench: NativeBench,
  config: GptConfig,
  threads: number,
  plan: KernelPlan,
  progress: Progress,
): KernelResult[] {
  const heads = config.nHead;
  const headDim = config.nEmbd / config.nHead;
  const C = config.nEmbd;
  const common = { heads, headDim, capacity: config.nCtx, threads };
  const out: KernelResult[] = [];
  for (const context of plan.attentionContexts) {
    progress.step(`attention: decode at context ${context}`);
    const time = bench.attention({ ...common, rows: 1, start: context - 1, ...plan.decode });
    // q·k and p·v over `context` positions per head; K and V read once.
    const flops = 4 * heads * headDim * context;
    const bytes = 2 * heads * context * headDim * 4 + 4 * C * 4;
    out.push(
      result({ kernel: "attention", phase: "decode", name: `context ${context}`, shape: { rows: 1, context }, coldWeights: false }, time, flops, bytes),
    );
  }
  for (const rows of plan.attentionPrefillRows) {
    progress.step(`attention: prefill ${rows} positions`);
    const time = bench.attention({ ...common, rows, start: 0, ...plan.prefill });
    // Causal: row t attends to t + 1 positions.
    const flops = 4 * heads * headDim * ((rows * (rows + 1)) / 2);
    const bytes = 2 * heads * rows * headDim * 4 + 4 * rows * C * 4;
    out.push(
      result({ kernel: "attention", phase: "prefill", name: `prefill ${rows}`, shape: { rows, context: rows }, coldWeights: false }, time, flops, bytes),
    );
  }
  return out;
}

/** The machine's read bandwidth: a buffer four times the last-level cache (1 GiB at least), read several times. */
export function memoryReadPlan(l3CacheBytes: number | null, quick: boolean): { bytes: number; passes: number } {
  if (quick) return { bytes: 256 * MiB, passes: 2 };
  return { bytes: Math.max(1024 * MiB, 4 * (l3CacheBytes ?? 0)), passes: 7 };
}
