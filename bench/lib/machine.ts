// What the bench ran on: CPU, memory, Node, the addon's build, the git commit; and the process's
// resident memory from /proc (Linux; null elsewhere).
import { execFileSync } from "node:child_process";
import { readFileSync, writeFileSync } from "node:fs";
import os from "node:os";

import type { NativeBuildInfo } from "../../bindings.js";

export interface MachineInfo {
  cpuModel: string;
  /** Logical CPUs the OS reports, and how many this process may use. */
  cpus: number;
  availableParallelism: number;
  memoryBytes: number;
  /** Size of the last-level (L3) cache, when the OS says. */
  l3CacheBytes: number | null;
  os: string;
  arch: string;
  node: string;
  buildInfo: NativeBuildInfo;
  git: { commit: string; dirty: boolean } | null;
  /** 1-minute load average when the bench started: other work on a shared machine skews every number. */
  loadAverage: number;
}

function readText(path: string): string | null {
  try {
    return readFileSync(path, "utf8");
  } catch {
    return null;
  }
}

/** Parses sysfs cache sizes such as "307200K" or "32M". */
export function parseCacheSize(text: string): number | null {
  const m = /^\s*(\d+)\s*([KMG]?)/i.exec(text);
  if (!m) return null;
  const unit = { "": 1, K: 1024, M: 1024 ** 2, G: 1024 ** 3 }[m[2]!.toUpperCase() as "" | "K" | "M" | "G"];
  return Number(m[1]) * unit;
}

function l3CacheBytes(): number | null {
  for (let index = 0; index < 8; index++) {
    const dir = `/sys/devices/system/cpu/cpu0/cache/index${index}`;
    if (readText(`${dir}/level`)?.trim() === "3") return parseCacheSize(readText(`${dir}/size`) ?? "");
  }
  return null;
}

function git(root: string): MachineInfo["git"] {
  try {
    const run = (...args: string[]) => execFileSync("git", args, { cwd: root, encoding: "utf8", stdio: ["ignore", "pipe", "ignore"] });
    const commit = run("rev-parse", "HEAD").trim();
    const dirty = run("status", "--porcelain", "--untracked-files=no").trim().length > 0;
    return { commit, dirty };
  } catch {
    return null;
  }
}

export function machineInfo(buildInfo: NativeBuildInfo, root: string): MachineInfo {
  const cpus = os.cpus();
  return {
    cpuModel: cpus[0]?.model.trim() ?? "unknown",
    cpus: cpus.length,
    availableParallelism: os.availableParallelism(),
    memoryBytes: os.totalmem(),
    l3CacheBytes: l3CacheBytes(),
    os: `${os.type()} ${os.release()}`,
    arch: process.arch,
    node: process.version,
    buildInfo,
    git: git(root),
    loadAverage: os.loadavg()[0] ?? 0,
  };
}

/** Resident and peak resident memory of this process (VmRSS, VmHWM), in bytes. */
export function residentMemory(): { rss: number; peak: number } | null {
  const status = readText("/proc/self/status");
  if (status === null) return null;
  const field = (name: string) => {
    const m = new RegExp(`^${name}:\\s+(\\d+)\\s+kB`, "m").exec(status);
    return m ? Number(m[1]) * 1024 : null;
  };
  const rss = field("VmRSS");
  const peak = field("VmHWM");
  return rss === null || peak === null ? null : { rss, peak };
}

/** Resets the peak (VmHWM) to the current RSS, so each model's peak is its own; false if the kernel refuses. */
export function resetPeakMemory(): boolean {
  try {
    writeFileSync("/proc/self/clear_refs", "5");
    return true;
  } catch {
    return false;
  }
}

/** CPU time so far: all CPUs' busy time (steal included) from /proc/stat, and this process's own. */
export interface CpuSnapshot {
  wallSeconds: number;
  busySeconds: number | null;
  selfSeconds: number;
}

export function cpuSnapshot(): CpuSnapshot {
  const usage = process.cpuUsage();
  const self = (usage.user + usage.system) / 1e6;
  const line = readText("/proc/stat")?.split("\n")[0] ?? "";
  // cpu  user nice system idle iowait irq softirq steal ..., in USER_HZ (100 per second on Linux).
  const f = line.trim().split(/\s+/).slice(1).map(Number);
  const busy = line.startsWith("cpu ") && f.length >= 8 ? (f[0]! + f[1]! + f[2]! + f[5]! + f[6]! + f[7]!) / 100 : null;
  return { wallSeconds: performance.now() / 1000, busySeconds: busy, selfSeconds: self };
}

/**
 * Share of the machine's CPUs that other processes (or the hypervisor) used between two
 * snapshots: 0 on a quiet machine; anything large means this stretch's timings are slowed.
 */
export function otherCpuShare(from: CpuSnapshot, to: CpuSnapshot, cpus: number): number | null {
  if (from.busySeconds === null || to.busySeconds === null) return null;
  const wall = to.wallSeconds - from.wallSeconds;
  if (!(wall > 0)) return null;
  const others = to.busySeconds - from.busySeconds - (to.selfSeconds - from.selfSeconds);
  return Math.min(1, Math.max(0, others / (wall * cpus)));
}
