// The human-readable report: plain-text tables, one column per measured model (dtype).
import type { BenchResult, DecodeResult, KernelResult, ModelResult } from "./results.js";

/** Aligned columns: the first left-aligned, the rest right-aligned, a rule under the header. */
export function formatTable(header: readonly string[], rows: readonly (readonly string[])[]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? "").length)));
  const line = (cells: readonly string[]) =>
    widths
      .map((w, i) => (i === 0 ? (cells[i] ?? "").padEnd(w) : (cells[i] ?? "").padStart(w)))
      .join("  ")
      .trimEnd();
  return [line(header), widths.map((w) => "-".repeat(w)).join("  "), ...rows.map(line)].join("\n");
}

/** Three significant figures, without exponent notation for ordinary magnitudes. */
export function sig(x: number): string {
  if (!Number.isFinite(x)) return String(x);
  if (Math.abs(x) >= 1000) return Math.round(x).toString();
  return Number(x.toPrecision(3)).toString();
}

const MB = (bytes: number) => `${sig(bytes / 1e6)} MB`;

function decodeAt(m: ModelResult, context: number): DecodeResult | undefined {
  return m.decode.find((d) => d.context === context);
}

function headlineContexts(result: BenchResult): number[] {
  const first = result.models[0];
  if (!first) return [];
  const contexts = first.decode.map((d) => d.context);
  const wanted = [128, 900].filter((c) => contexts.includes(c));
  return wanted.length > 0 ? wanted : contexts.slice(-1);
}

function endToEndTable(result: BenchResult): string {
  const models = result.models;
  const rows: string[][] = [];
  const row = (name: string, cell: (m: ModelResult) => string) => rows.push([name, ...models.map(cell)]);
  row("load", (m) => `${sig(m.loadSeconds)} s`);
  for (const p of models[0]?.prefill ?? []) {
    row(`prefill ${p.promptTokens} tokens`, (m) => {
      const r = m.prefill.find((x) => x.promptTokens === p.promptTokens);
      return r ? `${sig(r.tokensPerSecond)} tok/s` : "-";
    });
  }
  for (const c of headlineContexts(result)) {
    row(`decode at context ~${c}`, (m) => {
      const d = decodeAt(m, c);
      return d ? `${sig(d.tokensPerSecond)} tok/s` : "-";
    });
    row("  ms/token p50 / p99", (m) => {
      const d = decodeAt(m, c);
      return d ? `${sig(d.msPerToken.p50)} / ${sig(d.msPerToken.p99)}` : "-";
    });
  }
  row("weights read per token", (m) => MB(m.weightBytesReadPerToken));
  for (const c of headlineContexts(result)) {
    row(`KV cache read per token ~${c}`, (m) => {
      const d = decodeAt(m, c);
      return d ? MB(d.kvBytesReadPerToken) : "-";
    });
    row(`bandwidth at context ~${c}`, (m) => {
      const d = decodeAt(m, c);
      if (!d) return "-";
      const share = d.fractionOfMemoryRead === null ? "" : ` (${Math.round(d.fractionOfMemoryRead * 100)}%)`;
      return `${sig(d.achievedGBs)} GB/s${share}`;
    });
  }
  row("peak RSS", (m) => (m.memory ? MB(m.memory.peakRssBytes) : "n/a"));
  row("  RSS before load", (m) => (m.memory ? MB(m.memory.rssBeforeLoadBytes) : "n/a"));
  row("weights + KV cache capacity", (m) => `${MB(m.weightBytes)} + ${MB(m.kvCacheBytes)}`);
  row("CPU used by other processes", (m) => (m.otherCpuShare === null ? "n/a" : `${Math.round(m.otherCpuShare * 100)}%`));
  return formatTable(["end to end", ...models.map((m) => m.dtype)], rows);
}

function decodeSweepTable(result: BenchResult): string {
  const contexts = [...new Set(result.models.flatMap((m) => m.decode.map((d) => d.context)))].sort((a, b) => a - b);
  const rows = result.models.map((m) => [m.dtype, ...contexts.map((c) => (decodeAt(m, c) ? sig(decodeAt(m, c)!.tokensPerSecond) : "-"))]);
  return formatTable(["decode tok/s at context", ...contexts.map(String)], rows);
}

function batchTable(result: BenchResult): string | null {
  const models = result.models.filter((m) => m.batch !== null);
  const first = models[0]?.batch;
  if (!first) return null;
  const rows: string[][] = [];
  const row = (name: string, cell: (b: NonNullable<ModelResult["batch"]>) => string) =>
    rows.push([name, ...models.map((m) => cell(m.batch!))]);
  for (const d of first.decode)
    row(`${d.sequences} sequence${d.sequences === 1 ? "" : "s"}: decode tok/s (× one)`, (b) => {
      const x = b.decode.find((e) => e.sequences === d.sequences);
      return x ? `${sig(x.tokensPerSecond)} (${sig(x.speedup)}×)` : "-";
    });
  const last = first.decode.at(-1);
  if (last)
    row(`  KV cache in use at ${last.sequences}`, (b) => {
      const x = b.decode.find((e) => e.sequences === last.sequences);
      return x ? MB(x.peakKvBytes) : "-";
    });
  if (first.ttft) {
    const t = first.ttft;
    row(`first token, ${t.promptTokens}-token prompt, cold`, (b) => (b.ttft ? `${sig(b.ttft.coldMs)} ms` : "-"));
    row(`  ${t.cachedTokens} of them cached (÷ cold)`, (b) =>
      b.ttft ? `${sig(b.ttft.hitMs)} ms (${sig(b.ttft.ratio)})` : "-",
    );
  }
  if (first.abort) {
    row(`abort during a ${first.abort.promptTokens}-token prefill: settled`, (b) =>
      b.abort ? `${sig(b.abort.medianSettleMs)} ms (max ${sig(Math.max(...b.abort.settleMs))})` : "-",
    );
    row("  its blocks free (the running step ended)", (b) =>
      b.abort ? `${sig(b.abort.medianFreedMs)} ms (max ${sig(Math.max(...b.abort.freedMs))})` : "-",
    );
  }
  return formatTable(["batched engine", ...models.map((m) => m.dtype)], rows);
}

function kernelShape(k: KernelResult): string {
  if (k.kernel === "attention") return k.phase === "decode" ? `1 query, ${k.shape.context} keys` : `${k.shape.rows} causal`;
  return `${k.shape.rows}×${k.shape.k}×${k.shape.n}`;
}

function kernelTable(result: BenchResult): string | null {
  const models = result.models.filter((m) => m.kernels.length > 0);
  const first = models[0];
  if (!first) return null;
  const key = (k: KernelResult) => `${k.phase} ${k.kernel} ${k.name} ${kernelShape(k)}`;
  const rows = first.kernels.map((k) => {
    const cells = [`${k.phase} ${k.kernel === "matmul" ? k.name : k.kernel}`, kernelShape(k), k.device];
    for (const m of models) {
      const same = m.kernels.find((x) => key(x) === key(k));
      cells.push(same ? sig(same.medianMs) : "-", same ? sig(same.gflops) : "-", same ? sig(same.gbs) : "-");
    }
    return cells;
  });
  const header = ["kernel (median)", "rows×k×n", "device", ...models.flatMap((m) => [`${m.dtype} ms`, "GFLOP/s", "GB/s"])];
  return formatTable(header, rows);
}

function attentionTable(result: BenchResult): string | null {
  if (result.attention.length === 0) return null;
  const rows = result.attention.map((k) => [`${k.phase} attention`, kernelShape(k), k.device, sig(k.medianMs), sig(k.gflops), sig(k.gbs)]);
  return formatTable(["attention, 1 layer (median)", "shape", "device", "ms", "GFLOP/s", "GB/s"], rows);
}

export function renderReport(result: BenchResult): string {
  const m = result.machine;
  const first = result.models[0];
  const params = first ? `${sig(first.parameters / 1e6)}M parameters, ` : "";
  const commit = m.git ? `commit ${m.git.commit.slice(0, 7)}${m.git.dirty ? " (dirty)" : ""}` : "no git commit";
  const lines = [
    `gpt-cuda bench: ${result.settings.model} (${params}${first?.device ?? result.settings.device}, ${result.settings.threads} threads)` +
      `${result.settings.quick ? " [--quick: rough numbers]" : ""}`,
    `${m.cpuModel}, ${m.cpus} CPUs, ${sig(m.memoryBytes / 1024 ** 3)} GiB, ISA ${m.buildInfo.cpuIsa}; node ${m.node}; ${commit}; ` +
      `${result.timestamp}; load average ${m.loadAverage.toFixed(2)} at start`,
  ];
  if (result.memoryRead) {
    const r = result.memoryRead;
    const who = r.device === "cuda" ? "GPU memory" : `${r.threads} threads`;
    lines.push(
      `memory read bandwidth (STREAM-style sum, ${who}, ${sig(r.bytes / 1024 ** 2)} MiB × ${r.passes}): ` +
        `${sig(r.bestGBs)} GB/s best, ${sig(r.medianGBs)} GB/s median`,
    );
  }
  const sections = [lines.join("\n")];
  if (result.models.length > 0) sections.push(endToEndTable(result), decodeSweepTable(result));
  const batch = batchTable(result);
  if (batch) sections.push(batch);
  const kernels = kernelTable(result);
  if (kernels) sections.push(kernels);
  const attention = attentionTable(result);
  if (attention) sections.push(attention);
  const samples = first?.decode.find((d) => d.runs > 1)?.msPerToken.samples ?? first?.decode[0]?.msPerToken.samples;
  sections.push(
    [
      `Decode: greedy, batch 1; tok/s = 1000 / p50 ms per token${samples ? `, p50/p99 over ${samples} tokens` : ""}. ` +
        "Prefill: median of runs.",
      ...(first?.batch
        ? [
            `Batched engine: N greedy sequences at once (${first.batch.promptTokens}-token prompts, ${first.batch.newTokens} new ` +
              "tokens each), the tokens of all over the decode phase's wall time (median of runs); first token: from the call.",
          ]
        : []),
      "Bandwidth = (weights + KV cache read per token) × tok/s, against the measured read bandwidth; " +
        "over 100% means part of the weights came from the CPU's cache.",
      "Decode-shape kernels cycle their weights through copies larger than the last-level cache (a GPU's: twice its L2), read from memory as in a real decode step; prefill shapes reuse one copy.",
    ].join("\n"),
  );
  return `${sections.join("\n\n")}\n`;
}
