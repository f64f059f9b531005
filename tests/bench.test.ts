/**
 * `npm run bench`'s pieces at tiny sizes: argument parsing and its errors, the statistics, the
 * table and SVG writers, the native timing entry points, and the whole script on the tiny test
 * checkpoint (the JSON it prints, the errors it reports). Nothing here checks a speed.
 */
import { execFile } from "node:child_process";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { describe, expect, it } from "vitest";

import { ArgError, parseArgs } from "../bench/lib/args.js";
import { endToEndPlan, IdSource, kvBytesReadPerToken, tensorFacts, weightBytesReadPerToken } from "../bench/lib/end-to-end.js";
import { randomPreset } from "../lib/random-spec.js";
import { blockMatmuls, blockShape, kernelPlan } from "../bench/lib/kernels.js";
import { otherCpuShare, parseCacheSize } from "../bench/lib/machine.js";
import { fileStamp, SCHEMA, type BenchResult } from "../bench/lib/results.js";
import { mean, median, quantile } from "../bench/lib/stats.js";
import { Gpt } from "../lib/index.js";
import { escapeXml, lineChart, niceStep } from "../bench/lib/svg.js";
import { formatTable, renderReport, sig } from "../bench/lib/table.js";
import { native } from "../lib/native.js";

const ROOT = fileURLToPath(new URL("..", import.meta.url));
const TINY = fileURLToPath(new URL("./fixtures/models/tiny-f32", import.meta.url));
const GPT2 = { nLayer: 12, nHead: 12, nEmbd: 768, nCtx: 1024, vocabSize: 50257 };

const parse = (...argv: string[]) => parseArgs(argv, 4, "/out");

describe("bench arguments", () => {
  it("default to random GPT-2 weights as float32 and float16, saved, on every core", () => {
    expect(parse()).toEqual({
      model: { kind: "random", preset: "gpt2" },
      dtypes: ["float32", "float16"],
      computes: ["float32"],
      device: "auto",
      threads: 4,
      json: false,
      outDir: "/out",
      quick: false,
      kernels: true,
      batch: true,
      help: false,
    });
  });

  it("take a checkpoint path (its stored dtype by default) or a preset, and every flag in both spellings", () => {
    expect(parse("./gpt2")).toMatchObject({ model: { kind: "checkpoint", path: "./gpt2" }, dtypes: [null] });
    const a = parse("--random", "gpt2-xl", "--dtype=bfloat16,float16", "--threads", "3", "--device=cpu", "--json", "--no-save");
    expect(a).toMatchObject({ model: { kind: "random", preset: "gpt2-xl" }, dtypes: ["bfloat16", "float16"], threads: 3 });
    expect(a).toMatchObject({ device: "cpu", json: true, outDir: null });
    expect(parse("--quick", "--no-kernels", "--out", "x")).toMatchObject({ quick: true, kernels: false, outDir: "x" });
    expect(parse("--no-batch")).toMatchObject({ batch: false, kernels: true });
    expect(parse("-h").help).toBe(true);
    expect(parse("--dtype", "float16", "--compute", "float32,bfloat16")).toMatchObject({ dtypes: ["float16"], computes: ["float32", "bfloat16"] });
  });

  it.each([
    [["--frobnicate"], /unknown option "--frobnicate"/],
    [["--dtype", "float64"], /--dtype must be one of float32, float16, bfloat16, int8, got "float64"/],
    [["--dtype", "float16,float16"], /lists a dtype twice/],
    [["--compute", "int4"], /--compute must be one of float32, bfloat16, got "int4"/],
    [["--compute", "bfloat16,bfloat16"], /lists a mode twice/],
    [["--dtype", "int8", "--compute", "bfloat16"], /does not combine with --dtype int8/],
    [["--random", "gpt3"], /--random must be one of gpt2, gpt2-medium, gpt2-large, gpt2-xl, opt-125m, opt-350m, bloom-560m, gpt-neo-125m, pythia-160m, smollm2-135m, tinyllama-1.1b, qwen2.5-0.5b, got "gpt3"/],
    [["--device", "tpu"], /--device must be one of auto, cpu, cuda/],
    [["--threads", "0"], /--threads must be a positive integer, got "0"/],
    [["--threads", "two"], /--threads must be a positive integer, got "two"/],
    [["--threads"], /--threads needs a value/],
    [["--threads", "--json"], /--threads needs a value/],
    [["a", "b"], /one checkpoint at most/],
    [["./gpt2", "--random", "gpt2"], /not both/],
    [["--threads", "2", "--threads", "3"], /--threads is given twice/],
    [["--out", "x", "--no-save"], /contradict/],
    [["--json=yes"], /unknown option "--json=yes"/],
  ])("reject %j naming the flag and value", (argv, message) => {
    expect(() => parse(...argv)).toThrow(ArgError);
    expect(() => parse(...argv)).toThrow(message);
  });
});

describe("bench statistics", () => {
  it("median, quantiles (interpolated between ranks) and mean", () => {
    expect(median([3, 1, 2])).toBe(2);
    expect(median([4, 1, 3, 2])).toBe(2.5);
    expect(quantile([10, 20, 30, 40, 50], 0.99)).toBeCloseTo(49.6);
    expect(quantile([7], 0.99)).toBe(7);
    expect(mean([1, 2, 3, 6])).toBe(3);
    expect(() => median([])).toThrow();
  });
});

describe("bench plans and byte counts", () => {
  it("the end-to-end plan keeps only lengths that fit the model's positions", () => {
    const full = endToEndPlan(1024, false);
    expect(full.prefillTokens).toEqual([128, 512]);
    expect(full.decodeContexts).toEqual([16, 128, 256, 512, 900]);
    expect(full.headlineContexts).toEqual([128, 900]);
    const tiny = endToEndPlan(64, true);
    expect(tiny.prefillTokens).toEqual([32]);
    expect(tiny.decodeContexts).toEqual([16]);
    expect(tiny.headlineContexts).toEqual([]);
  });

  it("the kernel plan has the block's four matmul shapes and weights colder than the L3 cache", () => {
    expect(blockMatmuls(blockShape(randomPreset("gpt2").config)).map((m) => [m.k, m.n])).toEqual([
      [768, 2304],
      [768, 768],
      [768, 3072],
      [3072, 768],
    ]);
    // SmolLM2-135M: 9 query heads on 3 KV heads of 64, gate and up interleaved.
    expect(blockMatmuls(blockShape(randomPreset("smollm2-135m").config)).map((m) => [m.name, m.k, m.n])).toEqual([
      ["attention q|k|v", 576, 960],
      ["attention out", 576, 576],
      ["mlp gate|up", 576, 3072],
      ["mlp down", 1536, 576],
    ]);
    const plan = kernelPlan(GPT2, 300 * 2 ** 20, false);
    expect(plan.coldBytes).toBeGreaterThan(300 * 2 ** 20);
    expect(plan.prefillRows).toEqual([128, 512]);
    expect(plan.attentionContexts).toEqual([128, 512, 1024]);
  });

  it("counts each family's engine weights from its architecture: transformers' parameter counts", () => {
    expect(tensorFacts(randomPreset("gpt2").tensors)).toEqual({ parameters: 124_439_808, positionRows: 1024 });
    // BLOOM-560m as transformers counts it, and no position table (ALiBi).
    expect(tensorFacts(randomPreset("bloom-560m").tensors)).toEqual({ parameters: 559_214_592, positionRows: 0 });
    // OPT-125m's 125,239,296 less the two padding rows of its positions, which the engine never reads.
    expect(tensorFacts(randomPreset("opt-125m").tensors)).toEqual({ parameters: 125_239_296 - 2 * 768, positionRows: 2048 });
  });

  it("a decode step reads every weight but the unused rows of wpe, and the cache up to its context", () => {
    // GPT-2 124M in float32: 124,439,808 parameters.
    const params = 124_439_808;
    const read = weightBytesReadPerToken(params * 4, params, 1024, 768);
    expect(read).toBe((params - 1023 * 768) * 4);
    // BLOOM has no position table: every weight is read.
    expect(weightBytesReadPerToken(1000, 500, 0, 64)).toBe(1000);
    expect(kvBytesReadPerToken(2 * 12 * 768 * 4, 900)).toBe(2 * 12 * 900 * 768 * 4);
  });

  it("prompts never share a first token, so no prefill reuses the cache", () => {
    const ids = new IdSource(50257);
    const a = ids.fresh(16);
    const b = ids.fresh(16);
    expect(a).toHaveLength(16);
    expect(a[0]).not.toBe(b[0]);
    expect([...a, ...b].every((id) => Number.isInteger(id) && id >= 0 && id < 50257)).toBe(true);
  });

  it("reads sysfs cache sizes and makes file-name-safe stamps", () => {
    expect(parseCacheSize("307200K\n")).toBe(300 * 2 ** 20);
    expect(parseCacheSize("32M")).toBe(32 * 2 ** 20);
    expect(parseCacheSize("junk")).toBeNull();
    expect(fileStamp("2026-11-29T18:40:12.345Z")).toBe("2026-11-29T18-40-12Z");
  });

  it("counts the CPU time other processes took from the machine while a stretch ran", () => {
    const from = { wallSeconds: 10, busySeconds: 100, selfSeconds: 5 };
    // 4 s of wall on 2 CPUs; the machine was busy 7 s, 5 of them ours: others took 2 of 8.
    expect(otherCpuShare(from, { wallSeconds: 14, busySeconds: 107, selfSeconds: 10 }, 2)).toBe(0.25);
    expect(otherCpuShare(from, { ...from, busySeconds: null }, 2)).toBeNull();
  });
});

/** Checks that every tag opened in `xml` is closed in order; returns the tag names seen. */
function checkWellFormed(xml: string): string[] {
  const stack: string[] = [];
  const seen: string[] = [];
  for (const m of xml.matchAll(/<(\/?)([a-zA-Z]+)([^>]*?)(\/?)>/g)) {
    const [, close, name, , selfClose] = m;
    if (close) expect(stack.pop(), `</${name}>`).toBe(name);
    else {
      seen.push(name!);
      if (!selfClose) stack.push(name!);
    }
  }
  expect(stack).toEqual([]);
  return seen;
}

describe("bench chart (SVG)", () => {
  const series = [
    { name: "float32", points: [{ x: 16, y: 31.5 }, { x: 128, y: 29 }, { x: 900, y: 24.25 }] },
    { name: "float16 <&>", points: [{ x: 16, y: 20 }, { x: 900, y: 18 }] },
  ];
  const svg = lineChart(series, { title: "Decode", subtitle: "2 threads", xLabel: "context", yLabel: "tokens/s" });

  it("is one well-formed svg element with a line and a marker per data point", () => {
    expect(svg.startsWith('<svg xmlns="http://www.w3.org/2000/svg"')).toBe(true);
    expect(svg.trimEnd().endsWith("</svg>")).toBe(true);
    const tags = checkWellFormed(svg);
    expect(tags.filter((t) => t === "svg")).toHaveLength(1);
    expect(tags.filter((t) => t === "polyline")).toHaveLength(2);
    // 5 data points plus one legend marker per series.
    expect(tags.filter((t) => t === "circle")).toHaveLength(7);
  });

  it("labels every point with its value and escapes text", () => {
    for (const label of ["31.5", "29.0", "24.3", "20.0", "18.0"]) expect(svg).toContain(`>${label}</text>`);
    expect(svg).toContain("float16 &lt;&amp;&gt;");
    expect(svg).not.toContain("<&>");
    expect(escapeXml(`a"b'c`)).toBe("a&quot;b&apos;c");
  });

  it("puts the points in the plot area, higher tokens/s higher up", () => {
    const cy = [...svg.matchAll(/<circle cx="([\d.]+)" cy="([\d.]+)" r="4" fill="[^"]+"><title>float32/g)].map((m) => [
      Number(m[1]),
      Number(m[2]),
    ]);
    expect(cy).toHaveLength(3);
    expect(cy[0]![0]).toBeLessThan(cy[2]![0]!); // context 16 left of 900
    expect(cy[0]![1]).toBeLessThan(cy[2]![1]!); // 31.5 tok/s above 24.25
  });

  it("picks round tick steps", () => {
    expect(niceStep(900)).toBe(200);
    expect(niceStep(34.6)).toBe(10);
    expect(niceStep(0)).toBe(1);
  });
});

describe("bench table", () => {
  it("aligns columns: the first to the left, numbers to the right", () => {
    const t = formatTable(["name", "tok/s"], [["decode", "31.5"], ["prefill 512", "214"]]).split("\n");
    expect(t).toEqual(["name         tok/s", "-----------  -----", "decode        31.5", "prefill 512    214"]);
    expect(sig(0.123456)).toBe("0.123");
    expect(sig(1234.5)).toBe("1235");
    expect(sig(29.04)).toBe("29");
  });
});

describe("native bench entry points", () => {
  const bench = native().bench;
  const timing = { warmup: 1, iterations: 3, maxSeconds: 1 };

  it("time a matmul, the LM head and attention, and say how many weight copies were cycled", () => {
    for (const dtype of ["F32", "F16", "BF16"] as const) {
      const m = bench.matmul({ rows: 2, k: 16, n: 24, dtype, threads: 2, coldBytes: 4096, ...timing });
      expect(m.iterations).toBe(3);
      expect(m.medianSeconds).toBeGreaterThan(0);
      expect(m.minSeconds).toBeLessThanOrEqual(m.medianSeconds);
      expect(m.weightCopies).toBe(Math.ceil(4096 / (16 * 24 * (dtype === "F32" ? 4 : 2))));
    }
    const head = bench.lmHead({ rows: 1, vocab: 64, c: 16, dtype: "F32", threads: 1, coldBytes: 0, ...timing });
    expect(head).toMatchObject({ iterations: 3, weightCopies: 1 });
    const att = bench.attention({ heads: 2, headDim: 8, capacity: 32, rows: 1, start: 31, threads: 2, ...timing });
    expect(att.iterations).toBe(3);
    expect(att.medianSeconds).toBeGreaterThan(0);
  });

  it("time a compute bfloat16 matmul on bf16 tiles (padded to 32 × 32), or say the CPU has no AMX", () => {
    const args = { rows: 3, k: 16, n: 24, dtype: "F32" as const, threads: 2, coldBytes: 4096, compute: "bfloat16" as const, ...timing };
    if (native().buildInfo().cpuIsa.includes("amx")) {
      // 32 · 32 bf16 elements a copy, whatever the dtype: 2 KiB, so two copies span 4096 bytes.
      expect(bench.matmul(args)).toMatchObject({ iterations: 3, weightCopies: 2 });
    } else {
      expect(() => bench.matmul(args)).toThrow(/compute bfloat16 needs AMX tiles, and this process's CPU level is/);
    }
    expect(bench.matmul({ ...args, compute: "float32" })).toMatchObject({ weightCopies: Math.ceil(4096 / (16 * 24 * 4)) });
  });

  it("measure memory read bandwidth with the given threads", () => {
    const r = bench.memoryRead({ bytes: 1 << 20, passes: 2, threads: 2 });
    expect(r).toMatchObject({ bytes: 1 << 20, passes: 2, threads: 2 });
    expect(r.bestGBs).toBeGreaterThanOrEqual(r.medianGBs);
    expect(r.medianGBs).toBeGreaterThan(0);
  });

  it("reject bad arguments naming the field", () => {
    const base = { rows: 1, k: 4, n: 4, dtype: "F32" as const, threads: 1, coldBytes: 0, ...timing };
    expect(() => bench.matmul({ ...base, dtype: "F64" as never })).toThrow(/dtype must be F32, F16 or BF16/);
    expect(() => bench.matmul({ ...base, rows: 0 })).toThrow(/rows must be a positive integer/);
    expect(() => bench.matmul({ ...base, maxSeconds: 0 })).toThrow(/maxSeconds/);
    expect(() => bench.matmul({ ...base, compute: "bf16" as never })).toThrow(/compute must be float32 or bfloat16, not bf16/);
    expect(() => bench.attention({ heads: 1, headDim: 4, capacity: 8, rows: 2, start: 7, threads: 1, ...timing })).toThrow(
      /start \+ rows \(9\) exceeds capacity 8/,
    );
  });
});

describe("native CUDA bench entry points", () => {
  const cudaBench = native().cudaBench;
  const hasGpu = Gpt.devices().length > 0;
  const timing = { warmup: 1, iterations: 3, maxSeconds: 1 };

  it("exist as matmul, lmHead, attention and memoryRead", () => {
    expect(Object.keys(cudaBench).sort()).toEqual(["attention", "lmHead", "matmul", "memoryRead"]);
  });

  it.skipIf(hasGpu)("without a GPU, throw an error that says why", () => {
    const why = /cudaBench needs (a CUDA device, and none is visible|the CUDA backend, and this binary was built without it)/;
    expect(() => cudaBench.matmul({ rows: 1, k: 64, n: 64, dtype: "F16", coldWeights: true, ...timing })).toThrow(why);
    expect(() => cudaBench.memoryRead({ bytes: 1 << 20, passes: 1 })).toThrow(why);
  });

  it.skipIf(!hasGpu)("read GPU memory at a positive, finite rate", () => {
    const r = cudaBench.memoryRead({ bytes: 256 << 20, passes: 3 });
    expect(r.bytes).toBe(256 << 20);
    expect(r.passes).toBe(3);
    expect(r.bestGBs).toBeGreaterThanOrEqual(r.medianGBs);
    expect(r.medianGBs).toBeGreaterThan(0);
    expect(Number.isFinite(r.bestGBs)).toBe(true);
  });

  it.skipIf(!hasGpu)("time a small matmul, LM head and attention: positive, finite, cold weights in several copies", () => {
    const positive = (t: { medianSeconds: number; minSeconds: number; iterations: number }) => {
      expect(t.iterations).toBe(3);
      expect(Number.isFinite(t.medianSeconds) && t.medianSeconds > 0).toBe(true);
      expect(t.minSeconds).toBeGreaterThan(0);
      expect(t.minSeconds).toBeLessThanOrEqual(t.medianSeconds);
    };
    for (const dtype of ["F32", "F16", "BF16"] as const) {
      const decode = cudaBench.matmul({ rows: 1, k: 64, n: 128, dtype, coldWeights: true, ...timing });
      positive(decode);
      expect(decode.weightCopies).toBeGreaterThan(1);
      const prefill = cudaBench.matmul({ rows: 128, k: 64, n: 128, dtype, coldWeights: false, ...timing });
      positive(prefill);
      expect(prefill.weightCopies).toBe(1);
    }
    positive(cudaBench.lmHead({ rows: 1, vocab: 256, c: 64, dtype: "F16", coldWeights: true, ...timing }));
    const shape = { heads: 2, headDim: 64, capacity: 64 };
    positive(cudaBench.attention({ ...shape, rows: 1, start: 63, cacheDtype: "F16", ...timing }));
    positive(cudaBench.attention({ ...shape, rows: 32, start: 0, cacheDtype: "F32", ...timing }));
  });

  it.skipIf(!hasGpu)("reject bad arguments naming the field", () => {
    const base = { rows: 1, k: 64, n: 64, dtype: "F16" as const, coldWeights: false, ...timing };
    expect(() => cudaBench.matmul({ ...base, rows: 0 })).toThrow(/rows must be a positive integer/);
    expect(() => cudaBench.matmul({ ...base, coldWeights: 1 as never })).toThrow(/coldWeights must be a boolean/);
    expect(() =>
      cudaBench.attention({ heads: 1, headDim: 64, capacity: 8, rows: 2, start: 7, cacheDtype: "F16", ...timing }),
    ).toThrow(/start \+ rows \(9\) exceeds capacity 8/);
  });
});

const exec = promisify(execFile);
const runBench = (...args: string[]) =>
  exec(process.execPath, ["--import", "tsx", "bench/run.ts", ...args], { cwd: ROOT, maxBuffer: 1 << 24 });

describe("npm run bench on the tiny checkpoint", () => {
  it("--json prints only the JSON result on stdout, progress on stderr", async () => {
    const { stdout, stderr } = await runBench(TINY, "--quick", "--json", "--no-save", "--threads", "2");
    const result = JSON.parse(stdout) as BenchResult;
    expect(result.schema).toBe(SCHEMA);
    expect(Object.keys(result).sort()).toEqual(
      ["attention", "command", "durationSeconds", "machine", "memoryRead", "models", "schema", "settings", "timestamp"].sort(),
    );
    expect(result.settings).toMatchObject({ model: "tiny-f32", threads: 2, quick: true });
    expect(result.machine.node).toBe(process.version);
    expect(result.machine.buildInfo.cpuIsa.length).toBeGreaterThan(0);
    expect(result.memoryRead!.bestGBs).toBeGreaterThan(0);
    expect(result.memoryRead!.device).toBe("cpu");
    expect(result.memoryRead!.threads).toBe(2);
    const [model] = result.models;
    expect(model!.dtype).toBe("float32 (stored)");
    expect(model!.weightBytes).toBeGreaterThan(0);
    expect(model!.prefill[0]).toMatchObject({ promptTokens: 32 });
    expect(model!.decode[0]).toMatchObject({ context: 16, promptTokens: 14, tokensPerRun: 4 });
    expect(model!.decode[0]!.msPerToken.samples).toBe(3);
    expect(model!.decode[0]!.achievedGBs).toBeGreaterThan(0);
    expect(model!.kernels.map((k) => k.name)).toEqual(["attention q|k|v", "attention out", "mlp up", "mlp down", "lm_head (wteᵀ)"]);
    expect([...model!.kernels, ...result.attention].every((k) => k.device === "cpu")).toBe(true);
    expect(model!.memory!.peakRssBytes).toBeGreaterThan(0);
    expect(model!.otherCpuShare).toBeGreaterThanOrEqual(0);
    // The batched engine: 1 and 4 sequences under --quick, a time to first token cold and cached, an abort.
    const batch = model!.batch!;
    expect(batch.decode.map((d) => d.sequences)).toEqual([1, 4]);
    expect(batch.decode.every((d) => d.tokensPerSecond > 0 && d.peakKvBytes > 0)).toBe(true);
    expect(batch.decode[0]!.speedup).toBe(1);
    expect(batch.ttft).toMatchObject({ promptTokens: 32, cachedTokens: 16, hitCachedTokens: 16 });
    expect(batch.abort!.settleMs).toHaveLength(1);
    expect(stderr).toMatch(/decode at context 16/);
    expect(stderr).toMatch(/done in/);

    // The table renders from the same result.
    const table = renderReport(result);
    expect(table).toMatch(/prefill 32 tokens/);
    expect(table).toMatch(/decode at context ~16/);
    expect(table).toMatch(/decode attention q\|k\|v +1×48×144/);
    expect(table).toMatch(/decode attention q\|k\|v +1×48×144 +cpu /);
    expect(table).toMatch(/4 sequences: decode tok\/s \(× one\)/);
    expect(table).toMatch(/16 of them cached/);
  });

  it.skipIf(Gpt.devices().length > 0)("device cuda without a GPU fails with the library's one-line E_DEVICE message", async () => {
    const err = (await runBench(TINY, "--device", "cuda", "--no-save").catch((e: unknown) => e)) as {
      code: number;
      stderr: string;
      stdout: string;
    };
    expect(err.code).toBe(1);
    expect(err.stderr).toMatch(/^bench: device "cuda": (no CUDA device is visible|this binary was built without)/m);
    expect(err.stderr.trim().split("\n").filter((l) => l.startsWith("bench:"))).toHaveLength(1);
    expect(err.stdout).toBe("");
  });

  it.skipIf(Gpt.devices().length === 0)("device cuda times the CUDA kernels, marked device cuda", async () => {
    const { stdout } = await runBench(TINY, "--device", "cuda", "--quick", "--json", "--no-save");
    const [model] = (JSON.parse(stdout) as BenchResult).models;
    expect(model!.device).toBe("cuda");
    // --quick on 64 positions: no prefill or attention shape fits, the decode shapes remain.
    expect(model!.kernels.map((k) => [k.name, k.device])).toEqual(
      ["attention q|k|v", "attention out", "mlp up", "mlp down", "lm_head (wteᵀ)"].map((name) => [name, "cuda"]),
    );
    expect(model!.kernels.every((k) => k.medianMs > 0 && k.coldWeights)).toBe(true);
  });

  it("a bad flag exits 2 with the usage", async () => {
    const err = (await runBench("--dtype", "float8").catch((e: unknown) => e)) as { code: number; stderr: string };
    expect(err.code).toBe(2);
    expect(err.stderr).toMatch(/bench: --dtype must be one of/);
    expect(err.stderr).toMatch(/usage: npm run bench/);
  });
});
