// The shape of a bench run's results (what --json prints and what is saved under bench/results/),
// and saving them.
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";

import type { GptConfig } from "../../lib/index.js";
import type { BatchResult } from "./batch.js";
import type { MachineInfo } from "./machine.js";

export const SCHEMA = "gpt-cuda-bench/2";

export interface MemoryReadResult {
  /** Whose memory was read: the host's by CPU threads, or the GPU's (for a model on cuda). */
  device: "cpu" | "cuda";
  bytes: number;
  passes: number;
  /** CPU threads reading; null for the GPU. */
  threads: number | null;
  bestGBs: number;
  medianGBs: number;
}

export interface PrefillResult {
  promptTokens: number;
  /** Prefill time of each run (ms), and their median. */
  runsMs: number[];
  medianMs: number;
  tokensPerSecond: number;
}

export interface DecodeResult {
  /** The decoded positions are centred on this context length. */
  context: number;
  promptTokens: number;
  tokensPerRun: number;
  runs: number;
  /** Per-token times (ms) pooled over the runs: gaps between consecutive stream chunks. */
  msPerToken: { p50: number; p99: number; mean: number; samples: number };
  /** 1000 / p50. */
  tokensPerSecond: number;
  /** KV-cache bytes one decode step reads at this context. */
  kvBytesReadPerToken: number;
  /** (weight + KV bytes read per token) × tokens/s, in 10⁹ bytes/s. */
  achievedGBs: number;
  /** achievedGBs over the machine's measured read bandwidth (best pass). Above 1: part of it came from cache. */
  fractionOfMemoryRead: number | null;
}

export interface KernelResult {
  kernel: "matmul" | "lm_head" | "attention";
  /** Where it ran: the CPU kernels, or the CUDA kernels timed with CUDA events (a run whose model loaded on cuda). */
  device: "cpu" | "cuda";
  phase: "decode" | "prefill";
  /** Where the shape occurs, e.g. "attention q|k|v" or "context 512". */
  name: string;
  /** matmul / lm_head: in[rows, k] · W[k, n]. attention: rows new positions after start cached ones. */
  shape: { rows: number; k?: number; n?: number; context?: number };
  medianMs: number;
  minMs: number;
  iterations: number;
  gflops: number;
  /** Bytes the kernel must move (weights, inputs and outputs once) per second, in 10⁹. */
  gbs: number;
  /** Weights cycled through copies larger than the last-level cache (the GPU's: twice its L2): each call reads them from memory. */
  coldWeights: boolean;
}

export interface MemoryResult {
  rssBeforeLoadBytes: number;
  peakRssBytes: number;
  /** False when the peak could not be reset before this model: it is the process's peak so far. */
  peakIsThisModels: boolean;
}

export interface ModelResult {
  model: string;
  /** The weights' dtype, e.g. "float16"; "float16 (stored)" when a checkpoint's own dtype was kept. */
  dtype: string;
  device: "cpu" | "cuda";
  config: GptConfig;
  parameters: number;
  weightBytes: number;
  kvCacheBytes: number;
  /** Bytes of weights one decode step reads: all of them, except the unused rows of wpe. */
  weightBytesReadPerToken: number;
  loadSeconds: number;
  prefill: PrefillResult[];
  decode: DecodeResult[];
  memory: MemoryResult | null;
  /**
   * Share of the CPUs other processes used while the end-to-end timings ran (from /proc/stat);
   * on a shared machine, a large share means these numbers are slowed by others.
   */
  otherCpuShare: number | null;
  /** The batched engine's figures; null with --no-batch. */
  batch: BatchResult | null;
  /** The block's matmuls and the LM head; on cuda also attention, whose KV cache there is in the weights' dtype. */
  kernels: KernelResult[];
}

export interface BenchResult {
  schema: typeof SCHEMA;
  timestamp: string;
  durationSeconds: number;
  command: string;
  machine: MachineInfo;
  settings: { model: string; dtypes: string[]; device: string; threads: number; quick: boolean };
  memoryRead: MemoryReadResult | null;
  models: ModelResult[];
  /** CPU attention keeps its cache in fp32 whatever the weights: timed once per run, here (on cuda: per model, in its kernels). */
  attention: KernelResult[];
}

/** A file-name-safe stamp: 2026-11-29T18-40-12Z. */
export function fileStamp(iso: string): string {
  return iso.replace(/\.\d+Z$/, "Z").replace(/:/g, "-");
}

/** Writes <stamp>-<model>.json (and .svg when given) into dir; returns the paths written. */
export function saveResults(result: BenchResult, svg: string | null, dir: string): string[] {
  mkdirSync(dir, { recursive: true });
  const stem = join(dir, `${fileStamp(result.timestamp)}-${result.settings.model.replace(/[^\w.-]+/g, "_")}`);
  const written = [`${stem}.json`];
  writeFileSync(written[0]!, `${JSON.stringify(result, null, 2)}\n`);
  if (svg !== null) {
    written.push(`${stem}-decode.svg`);
    writeFileSync(written[1]!, svg);
  }
  return written;
}
