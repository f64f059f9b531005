// One file from the hub into the cache: resumable (.part + Range), verified (size, sha256 or git
// blob sha1), and moved into place by rename only once verified.
import { createHash } from "node:crypto";
import { createReadStream } from "node:fs";
import { mkdir, open, rename, stat, truncate, unlink } from "node:fs/promises";
import { dirname, join } from "node:path";

import { GptError } from "../errors.js";
import type { Hub, HubFile } from "./hub.js";

export interface DownloadProgress {
  /** Bytes received and written to disk. */
  advance(bytes: number): void;
  /** Bytes already on disk from an earlier run (a .part resumed, a file already complete). */
  skip(bytes: number): void;
  /** Bytes counted by advance() that were thrown away (a restart from zero). */
  rewind(bytes: number): void;
}

export interface DownloadTarget {
  hub: Hub;
  repo: string;
  /** Commit (or revision) the URL names. */
  revision: string;
  file: HubFile;
  dir: string;
  progress: DownloadProgress;
  /** Attempts per file when the connection fails mid-way (each resumes where the last stopped). */
  attempts?: number;
  /** Wait before attempt n (1-based, n ≥ 2), in ms. */
  backoffMs?: (attempt: number) => number;
  /** Stops the download (the .part stays, for a later pull to resume); it rejects with the signal's reason. */
  signal?: AbortSignal;
}

async function sizeOf(path: string): Promise<number | null> {
  try {
    return (await stat(path)).size;
  } catch {
    return null;
  }
}

async function digest(path: string, algorithm: "sha256" | "sha1", prefix?: string): Promise<string> {
  const hash = createHash(algorithm);
  if (prefix) hash.update(prefix);
  for await (const chunk of createReadStream(path)) hash.update(chunk as Buffer);
  return hash.digest("hex");
}

/** The start offset a 206 response's Content-Range announces, or null when it has none. */
function contentRangeStart(header: string | null): number | null {
  const m = header && /^bytes (\d+)-/.exec(header.trim());
  return m ? Number(m[1]) : null;
}

class RetryableError extends Error {}

/** Waits `ms`, or until `signal` aborts (then rejects with its reason). */
function sleep(ms: number, signal: AbortSignal | undefined): Promise<void> {
  return new Promise((resolve, reject) => {
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal!.reason);
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener("abort", onAbort);
      resolve();
    }, ms);
    signal?.addEventListener("abort", onAbort, { once: true });
  });
}

/** Downloads `file` into `dir`, unless a file of that name (and size) is already there. */
export async function downloadFile(t: DownloadTarget): Promise<void> {
  const final = join(t.dir, t.file.name);
  const part = `${final}.part`;
  await mkdir(dirname(final), { recursive: true });
  const present = await sizeOf(final);
  if (present !== null && (t.file.size === undefined || present === t.file.size)) {
    t.progress.skip(present);
    return;
  }

  const attempts = t.attempts ?? 5;
  const backoff = t.backoffMs ?? ((n) => 500 * 2 ** (n - 2));
  // A .part left by an earlier run may be from a download that went wrong: if it fails the
  // checksum, it gets one fresh download before the mismatch is reported.
  let resumedFromEarlierRun = ((await sizeOf(part)) ?? 0) > 0;
  let counted = 0; // bytes of this file reported to progress
  const sink: ByteSink = {
    resetTo(onDisk) {
      if (onDisk > counted) t.progress.skip(onDisk - counted);
      else if (onDisk < counted) t.progress.rewind(counted - onDisk);
      counted = onDisk;
    },
    bytes(n) {
      counted += n;
      t.progress.advance(n);
    },
  };
  let lastError = "";

  for (let attempt = 1; attempt <= attempts; attempt++) {
    if (attempt > 1) await sleep(backoff(attempt), t.signal);
    t.signal?.throwIfAborted();
    let offset = (await sizeOf(part)) ?? 0;
    if (t.file.size !== undefined && offset > t.file.size) {
      await truncate(part, 0);
      offset = 0;
    }
    sink.resetTo(offset);

    let expectedSha256 = t.file.sha256;
    if (t.file.size === undefined || offset < t.file.size) {
      try {
        const announced = await fetchInto(t, part, offset, sink);
        expectedSha256 ??= announced;
      } catch (e) {
        if (!(e instanceof RetryableError)) throw e;
        lastError = e.message;
        continue;
      }
      const size = (await sizeOf(part)) ?? 0;
      if (t.file.size !== undefined && size < t.file.size) {
        lastError = `the connection ended at byte ${size} of ${t.file.size}`;
        continue;
      }
    }

    const problem = await verify(part, t.file, expectedSha256);
    if (problem === null) {
      await rename(part, final);
      return;
    }
    await unlink(part).catch(() => {});
    sink.resetTo(0);
    if (resumedFromEarlierRun) {
      resumedFromEarlierRun = false;
      attempt--; // a fresh download, not a retry of a failing connection
      continue;
    }
    throw new GptError("E_DOWNLOAD", `${t.repo}: ${t.file.name}: ${problem}; the download was deleted, run the pull again`);
  }
  throw new GptError("E_DOWNLOAD", 
    `${t.repo}: ${t.file.name}: download failed after ${attempts} attempts (${lastError}); run the pull again to resume`,
  );
}

interface ByteSink {
  /** The .part holds `onDisk` bytes now (resumed, or rewritten from zero): progress follows. */
  resetTo(onDisk: number): void;
  /** `n` bytes received and written. */
  bytes(n: number): void;
}

/** Fetches the bytes from `offset` on into `part`. Returns the sha256 the hub announced, if any. */
async function fetchInto(t: DownloadTarget, part: string, offset: number, sink: ByteSink): Promise<string | undefined> {
  const url = t.hub.fileUrl(t.repo, t.revision, t.file.name);
  let got: Awaited<ReturnType<Hub["get"]>>;
  try {
    got = await t.hub.get(url, offset > 0 ? { range: `bytes=${offset}-` } : {}, t.signal);
  } catch (e) {
    t.signal?.throwIfAborted();
    throw new RetryableError(e instanceof Error ? e.message : String(e));
  }
  const { response } = got;
  const status = response.status;
  let append: boolean;
  if (status === 200) {
    append = false; // no range asked, or the server ignored it: (re)start from zero
  } else if (status === 206 && offset > 0 && contentRangeStart(response.headers.get("content-range")) === offset) {
    append = true;
  } else {
    await response.body?.cancel();
    if ((status === 206 || status === 416) && offset > 0) {
      // The server cannot continue this .part: drop it, and start over on the next attempt.
      await truncate(part, 0);
      throw new RetryableError(`the server could not resume at byte ${offset} (HTTP ${status})`);
    }
    if (status >= 500 || status === 429) throw new RetryableError(`HTTP ${status}`);
    throw t.hub.statusError(status, `${t.repo}: ${t.file.name}`);
  }
  if (!append) sink.resetTo(0);
  const fh = await open(part, append ? "a" : "w");
  let written = 0;
  try {
    if (!response.body) throw new RetryableError("the response has no body");
    for await (const chunk of response.body) {
      await fh.write(chunk);
      written += chunk.byteLength;
      sink.bytes(chunk.byteLength);
    }
  } catch (e) {
    if (e instanceof RetryableError) throw e;
    t.signal?.throwIfAborted();
    const why = e instanceof Error ? ((e.cause as Error | undefined)?.message ?? e.message) : String(e);
    throw new RetryableError(`connection lost after ${written} bytes: ${why}`);
  } finally {
    await fh.close();
  }
  return got.etagSha256;
}

/** null when the file checks out, else what is wrong with it. */
async function verify(part: string, file: HubFile, sha256: string | undefined): Promise<string | null> {
  const size = (await sizeOf(part)) ?? 0;
  if (file.size !== undefined && size !== file.size)
    return `size mismatch: expected ${file.size} bytes, got ${size}`;
  if (sha256) {
    const got = await digest(part, "sha256");
    if (got !== sha256) return `checksum mismatch: expected sha256 ${sha256}, got ${got}`;
  } else if (file.gitSha1) {
    const got = await digest(part, "sha1", `blob ${size}\0`);
    if (got !== file.gitSha1) return `checksum mismatch: expected git blob ${file.gitSha1}, got ${got}`;
  }
  return null;
}
