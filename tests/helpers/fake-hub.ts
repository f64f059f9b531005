/**
 * A stand-in for the Hugging Face Hub on 127.0.0.1, for the pull tests: the model-info API
 * (`/api/models/{repo}/revision/{rev}`, with `?blobs=true` sizes and checksums), `resolve`
 * downloads, and a second server playing the storage host that LFS files redirect to (another
 * origin, as on the real hub). Serves Range requests, and can cut a download short or corrupt a file.
 */
import { createHash } from "node:crypto";
import { readdirSync, readFileSync } from "node:fs";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { join } from "node:path";

export interface RecordedRequest {
  /** "hub" or "cdn": which server saw it. */
  server: "hub" | "cdn";
  method: string;
  /** Path and query, decoded. */
  url: string;
  headers: IncomingMessage["headers"];
  /** The repo file a download request was for, if any. */
  file?: string;
}

export interface FakeHubOptions {
  /** "org/name" */
  repo: string;
  /** Repo file name → content. */
  files: Record<string, Buffer>;
  /** Commit id the revision resolves to; default a fixed 40-hex id. */
  commit?: string;
  /** Files stored with LFS (sha256 known, served via the storage host); default: *.safetensors, *.bin. */
  isLfs?: (name: string) => boolean;
  /** Give sizes and checksums when asked with ?blobs=true (default true). */
  blobs?: boolean;
  /** Cut the connection after `bytes` body bytes on the first `times` (default 1) downloads of `file`. */
  cut?: { file: string; bytes: number; times?: number };
  /** Serve these files with one byte flipped (the announced checksums stay those of the true content). */
  corrupt?: string[];
  /** When set, every hub request must carry `Authorization: Bearer <token>` (401 otherwise). */
  token?: string;
}

export interface FakeHub {
  endpoint: string;
  commit: string;
  requests: RecordedRequest[];
  /** Download requests (those that served file bytes) for a file, in order. */
  downloads(file: string): RecordedRequest[];
  close(): Promise<void>;
}

/** The files of a fixture directory, without the test-only reference files. */
export function fixtureFiles(dir: string): Record<string, Buffer> {
  const files: Record<string, Buffer> = {};
  for (const name of readdirSync(dir)) {
    if (name.startsWith("reference")) continue;
    files[name] = readFileSync(join(dir, name));
  }
  return files;
}

export const sha256 = (b: Buffer): string => createHash("sha256").update(b).digest("hex");
const gitSha1 = (b: Buffer): string => createHash("sha1").update(`blob ${b.length}\0`).update(b).digest("hex");

async function listen(server: Server): Promise<string> {
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

export async function startFakeHub(options: FakeHubOptions): Promise<FakeHub> {
  const commit = options.commit ?? "0123456789abcdef0123456789abcdef01234567";
  const isLfs = options.isLfs ?? ((n: string) => n.endsWith(".safetensors") || n.endsWith(".bin"));
  const requests: RecordedRequest[] = [];
  const cutsLeft = new Map<string, number>();
  if (options.cut) cutsLeft.set(options.cut.file, options.cut.times ?? 1);
  const content = (name: string): Buffer => {
    const b = options.files[name]!;
    if (!options.corrupt?.includes(name)) return b;
    const bad = Buffer.from(b);
    bad[bad.length >> 1]! ^= 0xff;
    return bad;
  };

  /** Sends a file's bytes, honouring `Range: bytes=N-` / `bytes=N-M`, maybe cutting the connection. */
  const serveBytes = (req: IncomingMessage, res: ServerResponse, name: string, etag: string) => {
    const body = content(name);
    let start = 0;
    let end = body.length - 1;
    const range = req.headers.range && /^bytes=(\d+)-(\d*)$/.exec(req.headers.range);
    if (range) {
      start = Number(range[1]);
      if (range[2]) end = Math.min(end, Number(range[2]));
      if (start >= body.length) {
        res.writeHead(416, { "content-range": `bytes */${body.length}` }).end();
        return;
      }
    }
    const slice = body.subarray(start, end + 1);
    const headers = { "content-length": String(slice.length), etag: `"${etag}"`, "accept-ranges": "bytes" };
    if (range) res.writeHead(206, { ...headers, "content-range": `bytes ${start}-${end}/${body.length}` });
    else res.writeHead(200, headers);
    const cuts = cutsLeft.get(name) ?? 0;
    if (cuts > 0 && options.cut && slice.length > options.cut.bytes) {
      cutsLeft.set(name, cuts - 1);
      res.write(slice.subarray(0, options.cut.bytes), () => res.socket?.destroy());
      return;
    }
    res.end(slice);
  };

  // The storage host: /lfs/<sha256>/<file name>, no authentication (URLs are signed in reality).
  const cdn = createServer((req, res) => {
    const url = decodeURIComponent(req.url ?? "");
    const m = /^\/lfs\/[0-9a-f]{64}\/(.+)$/.exec(url);
    const file = m?.[1];
    requests.push({ server: "cdn", method: req.method ?? "", url, headers: req.headers, ...(file ? { file } : {}) });
    if (!file || !(file in options.files)) return void res.writeHead(404).end();
    // S3-style: the storage host's own ETag is not the sha256.
    serveBytes(req, res, file, createHash("md5").update(options.files[file]!).digest("hex"));
  });
  const cdnOrigin = await listen(cdn);

  const hub = createServer((req, res) => {
    const url = decodeURIComponent(req.url ?? "");
    const record: RecordedRequest = { server: "hub", method: req.method ?? "", url, headers: req.headers };
    requests.push(record);
    if (options.token && req.headers.authorization !== `Bearer ${options.token}`) {
      res.writeHead(401, { "content-type": "application/json" }).end('{"error":"Invalid credentials"}');
      return;
    }
    const api = /^\/api\/models\/(.+)\/revision\/([^?]+)(\?.*)?$/.exec(url);
    if (api) {
      if (api[1] !== options.repo) return void res.writeHead(404).end('{"error":"Repository not found"}');
      if (api[2] !== "main" && api[2] !== commit) return void res.writeHead(404).end('{"error":"Invalid rev id"}');
      const blobs = (options.blobs ?? true) && (api[3] ?? "").includes("blobs=true");
      const siblings = Object.entries(options.files).map(([name, b]) => {
        if (!blobs) return { rfilename: name };
        if (isLfs(name))
          return { rfilename: name, size: b.length, blobId: gitSha1(Buffer.from("pointer")), lfs: { sha256: sha256(b), size: b.length, pointerSize: 134 } };
        return { rfilename: name, size: b.length, blobId: gitSha1(b) };
      });
      res.writeHead(200, { "content-type": "application/json" });
      res.end(JSON.stringify({ id: options.repo, modelId: options.repo, sha: commit, siblings }));
      return;
    }
    const prefix = `/${options.repo}/resolve/`;
    if (url.startsWith(prefix)) {
      const rest = url.slice(prefix.length);
      const slash = rest.indexOf("/");
      const revision = rest.slice(0, slash);
      const file = rest.slice(slash + 1);
      record.file = file;
      if ((revision !== commit && revision !== "main") || !(file in options.files))
        return void res.writeHead(404, { "x-error-code": "EntryNotFound" }).end();
      const b = options.files[file]!;
      if (isLfs(file)) {
        const hash = sha256(b);
        res.writeHead(302, {
          location: `${cdnOrigin}/lfs/${hash}/${encodeURIComponent(file)}`,
          "x-linked-etag": `"${hash}"`,
          "x-linked-size": String(b.length),
          "x-repo-commit": commit,
        });
        res.end();
        return;
      }
      serveBytes(req, res, file, gitSha1(b));
      return;
    }
    res.writeHead(404).end();
  });
  const endpoint = await listen(hub);

  return {
    endpoint,
    commit,
    requests,
    downloads: (file) =>
      requests.filter((r) => r.file === file && (r.server === "cdn" || !isLfs(file)) && r.method === "GET"),
    close: async () => {
      for (const s of [hub, cdn]) {
        s.closeAllConnections();
        await new Promise<void>((resolve) => s.close(() => resolve()));
      }
    },
  };
}
