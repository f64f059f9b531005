// The download progress line on stderr: bytes, speed and ETA, drawn by cli-progress on a
// terminal; on anything else (a pipe, a log file) one line per finished file instead.
import cliProgress from "cli-progress";

import type { PullReporter } from "../hub/pull.js";

export function formatBytes(n: number): string {
  const units = ["B", "kB", "MB", "GB", "TB"];
  let v = n;
  let i = 0;
  while (v >= 1000 && i < units.length - 1) {
    v /= 1000;
    i++;
  }
  return i === 0 ? `${v} B` : `${v.toFixed(v >= 100 ? 0 : 1)} ${units[i]}`;
}

function formatDuration(seconds: number): string {
  if (!Number.isFinite(seconds) || seconds < 0) return "--:--";
  const s = Math.round(seconds);
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const pad = (x: number) => String(x).padStart(2, "0");
  return h > 0 ? `${h}:${pad(m)}:${pad(s % 60)}` : `${pad(m)}:${pad(s % 60)}`;
}

export class PullProgress implements PullReporter {
  private readonly bar: InstanceType<typeof cliProgress.SingleBar> | null;
  private readonly stream: NodeJS.WriteStream;
  private total = 0;
  private done = 0;
  private file = "";
  /** Bytes/s, smoothed; and the sample it was last updated from. */
  private speed = 0;
  private sampleAt = performance.now();
  private sampleBytes = 0;

  constructor(stream: NodeJS.WriteStream = process.stderr) {
    this.stream = stream;
    this.bar = stream.isTTY
      ? new cliProgress.SingleBar({
          stream,
          format: "{bar} {percentage}% | {done} / {size} | {speed} | ETA {remaining} | {file}",
          barsize: 30,
          fps: 8,
          hideCursor: false,
          gracefulExit: false, // Ctrl-C is handled by the pull command (the .part files stay for resume)
          barCompleteChar: "\u2588",
          barIncompleteChar: "\u2591",
        })
      : null;
  }

  start(totalBytes: number, where: { label: string; endpoint: string; dir: string }): void {
    this.stream.write(`pulling ${where.label} from ${where.endpoint} into ${where.dir}\n`);
    this.total = totalBytes;
    this.bar?.start(Math.max(1, totalBytes), 0, this.payload());
  }

  /** The file being fetched now; `unknownSizeBytes` grows the total (e.g. by the shards an index names). */
  beginFile(name: string, unknownSizeBytes = 0): void {
    this.file = name;
    if (unknownSizeBytes > 0) {
      this.total += unknownSizeBytes;
      this.bar?.setTotal(this.total);
    }
    this.render();
  }

  endFile(name: string, size: number): void {
    if (!this.bar) this.stream.write(`  ${name}  ${formatBytes(size)}\n`);
  }

  advance(bytes: number): void {
    this.done += bytes;
    this.sampleSpeed();
    this.render();
  }

  skip(bytes: number): void {
    this.done += bytes;
    this.sampleBytes += bytes;
    this.render();
  }

  rewind(bytes: number): void {
    this.done -= bytes;
    this.sampleBytes -= bytes;
    this.render();
  }

  stop(): void {
    this.bar?.stop();
  }

  private sampleSpeed(): void {
    const now = performance.now();
    const dt = (now - this.sampleAt) / 1000;
    if (dt < 0.5) return;
    const rate = (this.done - this.sampleBytes) / dt;
    this.speed = this.speed === 0 ? rate : 0.7 * this.speed + 0.3 * rate;
    this.sampleAt = now;
    this.sampleBytes = this.done;
  }

  private payload(): Record<string, string> {
    const eta = this.speed > 0 ? (this.total - this.done) / this.speed : NaN;
    return {
      done: formatBytes(Math.max(0, this.done)),
      size: formatBytes(this.total),
      speed: this.speed > 0 ? `${formatBytes(this.speed)}/s` : "-- B/s",
      remaining: formatDuration(eta),
      file: this.file,
    };
  }

  private render(): void {
    this.bar?.update(Math.max(0, Math.min(this.done, this.total)), this.payload());
  }
}
