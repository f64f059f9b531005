// `gpt-cuda info`: what this build can do here, and with --model, what a checkpoint holds.
import { readFileSync, statSync } from "node:fs";
import { availableParallelism } from "node:os";
import { basename, join } from "node:path";

import type { NativeBuildInfo, NativeDevice } from "../../bindings.js";
import { loadCheckpoint, type ModelConfig } from "../checkpoint/index.js";
import { autoDevice, type AutoChoice } from "../device.js";
import { native, packageRoot } from "../native.js";
import { cacheRoot, resolveModel, type ResolvedModel } from "../hub/cache.js";
import type { Io } from "./io.js";
import { formatBytes } from "./progress.js";

export function packageVersion(): string {
  const pkg = JSON.parse(readFileSync(join(packageRoot, "package.json"), "utf8")) as { version?: string };
  return pkg.version ?? "unknown";
}

export interface ModelSummary {
  path: string;
  hub?: ResolvedModel["hub"];
  config: ModelConfig;
  parameters: number;
  /** Tensors per stored dtype, e.g. { F16: 148 }. */
  dtypes: Record<string, number>;
  files: { name: string; bytes: number }[];
  bytes: number;
  tokenizer: "tokenizer.json" | "vocab.json + merges.txt" | "GPT-2 default (assets/gpt2)";
}

export interface Info {
  version: string;
  node: string;
  platform: string;
  /** null when the native addon does not load (buildError says why). */
  build: NativeBuildInfo | null;
  buildError?: string;
  /** GPUs the CUDA runtime sees ([] without CUDA, a driver or a GPU). */
  gpus: NativeDevice[];
  /** Where device "auto" runs here and why (null when the addon does not load). */
  auto: AutoChoice | null;
  threads: number;
  cache: string;
  model?: ModelSummary;
}

export async function summarizeModel(spec: string): Promise<ModelSummary> {
  const resolved = await resolveModel(spec);
  const ckpt = await loadCheckpoint(resolved.path);
  const dtypes: Record<string, number> = {};
  let parameters = 0;
  for (const t of ckpt.tensors.values()) {
    dtypes[t.dtype] = (dtypes[t.dtype] ?? 0) + 1;
    parameters += t.shape.reduce((a, b) => a * b, 1);
  }
  const files = ckpt.files.map((f) => ({ name: basename(f), bytes: statSync(f).size }));
  const tk = ckpt.tokenizer;
  return {
    path: ckpt.dir,
    ...(resolved.hub ? { hub: resolved.hub } : {}),
    config: ckpt.config,
    parameters,
    dtypes,
    files,
    bytes: ckpt.totalBytes,
    tokenizer: tk === null ? "GPT-2 default (assets/gpt2)" : tk.kind === "tokenizer.json" ? "tokenizer.json" : "vocab.json + merges.txt",
  };
}

export async function collectInfo(model: string | undefined): Promise<Info> {
  let build: NativeBuildInfo | null = null;
  let buildError: string | undefined;
  let gpus: NativeDevice[] = [];
  try {
    const binding = native();
    build = binding.buildInfo();
    // devices() is newer than buildInfo(): an older addon binary may lack it.
    if (typeof binding.devices === "function") gpus = binding.devices();
  } catch (e) {
    buildError = e instanceof Error ? (e.message.split("\n")[0] ?? e.message).replace(/^gpt-cuda: /, "") : String(e);
  }
  return {
    version: packageVersion(),
    node: process.version,
    platform: `${process.platform}-${process.arch}`,
    build,
    ...(buildError ? { buildError } : {}),
    gpus,
    auto: build ? await autoDevice() : null,
    threads: availableParallelism(),
    cache: cacheRoot(),
    ...(model ? { model: await summarizeModel(model) } : {}),
  };
}

function formatInfo(info: Info): string {
  const lines = [`gpt-cuda ${info.version}`, `node      ${info.node} (${info.platform})`];
  const b = info.build;
  if (b) {
    const nvcc = b.cudaVersion ? ` (nvcc ${b.cudaVersion}${b.archs?.length ? `, ${b.archs.join(" ")}` : ""})` : "";
    const cuda = b.cuda ? `compiled${nvcc}` : "no (CPU-only build)";
    lines.push(`engine    CPU ${b.cpuIsa}, CUDA: ${cuda}; built with ${b.compiler}`);
    for (const [i, g] of info.gpus.entries())
      lines.push(
        `gpu ${i}     ${g.name}, ${(g.totalMemory / 2 ** 30).toFixed(0)} GiB, compute ${g.computeCapability}, ` +
          `${g.multiprocessors} SMs`,
      );
    if (info.auto) lines.push(`auto      ${info.auto.device} (${info.auto.reason})`);
  } else {
    lines.push(`engine    not loaded: ${info.buildError}`);
  }
  lines.push(`threads   ${info.threads} (the default --threads)`, `cache     ${info.cache}`);
  const m = info.model;
  if (m) {
    const c = m.config;
    const dtypes = Object.entries(m.dtypes)
      .map(([d, n]) => `${d} (${n} tensors)`)
      .join(", ");
    lines.push(
      `model     ${m.path}` + (m.hub ? ` (${m.hub.repo}@${m.hub.revision}, commit ${m.hub.commit.slice(0, 12)})` : ""),
      `  config    ${c.modelType}: ${c.nLayer} layers, ${c.nHead} heads, ${c.nEmbd} wide (MLP ${c.nInner}), ` +
        `${c.nCtx} positions, vocabulary ${c.vocabSize}`,
      `  weights   ${(m.parameters / 1e6).toFixed(1)}M parameters, ${dtypes}`,
      `  files     ${m.files.map((f) => `${f.name} (${formatBytes(f.bytes)})`).join(", ")}`,
      `  tokenizer ${m.tokenizer}`,
    );
  }
  return `${lines.join("\n")}\n`;
}

export async function infoCommand(flags: { model?: string; json?: boolean }, io: Io): Promise<number> {
  const info = await collectInfo(flags.model);
  io.stdout.write(flags.json ? `${JSON.stringify(info, null, 2)}\n` : formatInfo(info));
  return info.build ? 0 : 1;
}
