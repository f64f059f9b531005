// The checkpoint fuzzer: `count` seeded mutants of the fixture files (tests/fuzz/targets.ts), each
// loaded (and, when it loads, run for two tokens) by a pool of child processes with a time limit.
// A mutant must load or give a GptError; a crash (the child dies), a hang (no answer in time) or
// any other error is a failure, named by its target and seed so it can be reproduced.
//
//   npm run fuzz -- --count 20000 --seed 7 [--jobs 2] [--timeout-ms 20000] [--keep <dir>]
//
// npm test runs a batch of 2,000 (tests/fuzz.test.ts).
import { fork, type ChildProcess } from "node:child_process";
import { cp, mkdtemp, rm } from "node:fs/promises";
import { availableParallelism, tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

import type { Outcome } from "./child.js";
import { seededRandom } from "./mutate.js";
import { mutant, TARGETS, writeMutant } from "./targets.js";

export interface FuzzOptions {
  count: number;
  seed: number;
  jobs?: number;
  timeoutMs?: number;
  /** Where to copy the checkpoints of failing mutants. */
  keep?: string;
}

export interface Failure {
  target: string;
  seed: number;
  outcome: string;
}

export interface FuzzReport {
  /** Mutants by outcome class ("loaded", "error E_CHECKPOINT", "hang", "crash SIGSEGV", …). */
  outcomes: Map<string, number>;
  /** Mutants by target, then outcome. */
  byTarget: Map<string, Map<string, number>>;
  failures: Failure[];
}

const CHILD = fileURLToPath(new URL("./child.ts", import.meta.url));

/** The seed of mutant `i` of a run seeded `seed`. */
export const mutantSeed = (seed: number, i: number) => (Math.imul(seed, 1_000_003) + i) >>> 0;

/** One child process (tests/fuzz/child.ts) that loads mutants one at a time; replaced when it dies or hangs. */
export class FuzzChild {
  private child!: ChildProcess;
  private ready!: Promise<void>;
  private pending: { id: number; settle: (outcome: string) => void; timer: NodeJS.Timeout } | null = null;

  constructor(private readonly timeoutMs: number) {
    this.start();
  }

  private start(): void {
    this.child = fork(CHILD, [], { execArgv: ["--import", "tsx"], stdio: ["ignore", "ignore", "pipe", "ipc"] });
    this.child.stderr!.resume(); // warnings must not fill the pipe
    this.ready = new Promise((resolve) => this.child.once("message", () => resolve()));
    this.child.on("message", (m: { id?: number; outcome?: Outcome }) => {
      if (this.pending && m.id === this.pending.id) this.finish(m.outcome!);
    });
    this.child.on("exit", (code, signal) => {
      if (this.pending) this.finish(signal ? `crash ${signal}` : `crash: exit code ${code}`, true);
    });
  }

  private finish(outcome: string, died = false): void {
    const p = this.pending!;
    this.pending = null;
    clearTimeout(p.timer);
    if (died) this.start();
    p.settle(outcome);
  }

  async run(id: number, dir: string): Promise<string> {
    await this.ready;
    return new Promise((settle) => {
      const timer = setTimeout(() => {
        // Silent past the limit: a hang. The child is killed (its exit then restarts one).
        const p = this.pending!;
        this.pending = null;
        this.child.removeAllListeners("exit");
        this.child.kill("SIGKILL");
        this.start();
        p.settle("hang");
      }, this.timeoutMs);
      this.pending = { id, settle, timer };
      this.child.send({ id, dir });
    });
  }

  stop(): void {
    this.child.removeAllListeners("exit");
    this.child.kill();
  }
}

const failing = (outcome: string) => outcome !== "loaded" && !outcome.startsWith("error ");

export async function fuzz(options: FuzzOptions, onProgress?: (done: number) => void): Promise<FuzzReport> {
  const jobs = options.jobs ?? Math.max(1, availableParallelism());
  const root = await mkdtemp(join(tmpdir(), "gpt-cuda-fuzz-"));
  const workers = Array.from({ length: jobs }, () => new FuzzChild(options.timeoutMs ?? 20_000));
  const report: FuzzReport = { outcomes: new Map(), byTarget: new Map(), failures: [] };
  let next = 0;
  let done = 0;
  try {
    await Promise.all(
      workers.map(async (worker) => {
        for (let i = next++; i < options.count; i = next++) {
          const target = TARGETS[i % TARGETS.length]!;
          const seed = mutantSeed(options.seed, i);
          const dir = join(root, String(i));
          await writeMutant(target, mutant(target, seededRandom(seed)), dir);
          const outcome = await worker.run(i, dir);
          const key = outcome.startsWith("not a GptError") ? "not a GptError" : outcome;
          report.outcomes.set(key, (report.outcomes.get(key) ?? 0) + 1);
          const perTarget = report.byTarget.get(target.name) ?? new Map<string, number>();
          report.byTarget.set(target.name, perTarget.set(key, (perTarget.get(key) ?? 0) + 1));
          if (failing(outcome)) {
            report.failures.push({ target: target.name, seed, outcome });
            if (options.keep) await cp(dir, join(options.keep, `${target.name.replace("/", "--")}-${seed}`), { recursive: true });
          }
          await rm(dir, { recursive: true, force: true });
          onProgress?.(++done);
        }
      }),
    );
  } finally {
    for (const w of workers) w.stop();
    await rm(root, { recursive: true, force: true });
  }
  return report;
}

/** The outcome table: one row per class, with the targets' counts. */
export function formatReport(report: FuzzReport): string {
  const classes = [...report.outcomes.keys()].sort();
  const rows = [["target", ...classes]];
  for (const [target, counts] of [...report.byTarget].sort()) rows.push([target, ...classes.map((c) => String(counts.get(c) ?? 0))]);
  rows.push(["all", ...classes.map((c) => String(report.outcomes.get(c)))]);
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
  const lines = rows.map((r) => r.map((cell, i) => (i === 0 ? cell.padEnd(widths[i]!) : cell.padStart(widths[i]!))).join("  "));
  for (const f of report.failures) lines.push(`FAIL ${f.target} seed ${f.seed}: ${f.outcome}`);
  return lines.join("\n");
}

function flag(args: string[], name: string): string | undefined {
  const at = args.indexOf(`--${name}`);
  return at >= 0 ? args[at + 1] : undefined;
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const args = process.argv.slice(2);
  const count = Number(flag(args, "count") ?? 2000);
  const seed = Number(flag(args, "seed") ?? 1);
  const jobs = flag(args, "jobs") === undefined ? undefined : Number(flag(args, "jobs"));
  const timeoutMs = Number(flag(args, "timeout-ms") ?? 20_000);
  if (![count, seed, timeoutMs, jobs ?? 1].every((n) => Number.isInteger(n) && n >= 0)) {
    console.error("usage: npm run fuzz -- [--count N] [--seed S] [--jobs J] [--timeout-ms T] [--keep DIR]");
    process.exit(2);
  }
  const t0 = performance.now();
  const report = await fuzz({ count, seed, jobs, timeoutMs, keep: flag(args, "keep") }, (done) => {
    if (done % 500 === 0) console.error(`${done} / ${count} mutants`);
  });
  console.log(formatReport(report));
  console.log(`${count} mutants (seed ${seed}) in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
  process.exit(report.failures.length > 0 ? 1 : 0);
}
