// A small client for the Hugging Face Hub's HTTP API: a repo's file list at a revision, and
// file downloads with redirects followed by hand (so the hub's checksum headers are seen and the
// token is not sent to another host).
import { GptError } from "../errors.js";

export const DEFAULT_ENDPOINT = "https://huggingface.co";

export interface HubFile {
  /** Path inside the repo ("model.safetensors", "onnx/model.onnx"). */
  name: string;
  /** Bytes, when the hub says. */
  size?: number;
  /** sha256 of an LFS file's content. */
  sha256?: string;
  /** Git blob id (sha1 of "blob <size>\0<content>") of a file stored in git itself. */
  gitSha1?: string;
}

export interface RepoInfo {
  repo: string;
  revision: string;
  /** The commit the revision points to, when the hub says. */
  commit?: string;
  files: HubFile[];
}

export interface HubOptions {
  endpoint?: string;
  token?: string;
  userAgent?: string;
}

interface Sibling {
  rfilename?: unknown;
  size?: unknown;
  blobId?: unknown;
  lfs?: { sha256?: unknown; size?: unknown } | null;
}

const HEX64 = /^[0-9a-f]{64}$/;
const HEX40 = /^[0-9a-f]{40}$/;
const MAX_REDIRECTS = 10;

/** A 64-hex-digit ETag (the hub's sha256 of an LFS file), without quotes or W/; else undefined. */
export function sha256FromEtag(etag: string | null): string | undefined {
  if (!etag) return undefined;
  const bare = etag.replace(/^W\//, "").replace(/"/g, "").trim().toLowerCase();
  return HEX64.test(bare) ? bare : undefined;
}

function encodePath(path: string): string {
  return path.split("/").map(encodeURIComponent).join("/");
}

function describeFetchError(e: unknown): string {
  if (!(e instanceof Error)) return String(e);
  const cause = e.cause as { code?: string; message?: string } | undefined;
  return cause?.code ? `${cause.code}${cause.message ? ` (${cause.message})` : ""}` : (cause?.message ?? e.message);
}

export class Hub {
  readonly endpoint: string;
  private readonly token: string | undefined;
  private readonly userAgent: string;

  constructor(options: HubOptions = {}) {
    this.endpoint = (options.endpoint || DEFAULT_ENDPOINT).replace(/\/+$/, "");
    this.token = options.token || undefined;
    this.userAgent = options.userAgent ?? "gpt-cuda";
  }

  /** The files of `repo` at `revision`, with sizes and checksums (`?blobs=true`). */
  async repoInfo(repo: string, revision: string, signal?: AbortSignal): Promise<RepoInfo> {
    const url = `${this.endpoint}/api/models/${encodePath(repo)}/revision/${encodeURIComponent(revision)}?blobs=true`;
    const res = await this.get(url, {}, signal);
    if (!res.response.ok) {
      await res.response.body?.cancel();
      throw this.statusError(res.response.status, `${repo} at revision ${revision}`);
    }
    let body: { sha?: unknown; siblings?: unknown };
    try {
      body = (await res.response.json()) as typeof body;
    } catch {
      throw new GptError("E_DOWNLOAD", `${url}: the hub's answer is not JSON (is HF_ENDPOINT a Hugging Face Hub?)`);
    }
    if (!Array.isArray(body.siblings)) throw new GptError("E_DOWNLOAD", `${url}: the hub's answer has no file list ("siblings")`);
    const files: HubFile[] = [];
    for (const s of body.siblings as Sibling[]) {
      if (typeof s.rfilename !== "string") continue;
      const file: HubFile = { name: s.rfilename };
      const lfsSize = s.lfs?.size;
      if (typeof lfsSize === "number") file.size = lfsSize;
      else if (typeof s.size === "number") file.size = s.size;
      const sha256 = typeof s.lfs?.sha256 === "string" ? s.lfs.sha256.toLowerCase() : undefined;
      if (sha256 && HEX64.test(sha256)) file.sha256 = sha256;
      else if (!s.lfs && typeof s.blobId === "string" && HEX40.test(s.blobId)) file.gitSha1 = s.blobId;
      files.push(file);
    }
    const commit = typeof body.sha === "string" && body.sha.length > 0 ? body.sha : undefined;
    return { repo, revision, ...(commit ? { commit } : {}), files };
  }

  /** The URL of one file at a revision (or commit). */
  fileUrl(repo: string, revision: string, file: string): string {
    return `${this.endpoint}/${encodePath(repo)}/resolve/${encodeURIComponent(revision)}/${encodePath(file)}`;
  }

  /**
   * GET with redirects followed by hand. Returns the final response and the sha256 the first
   * hops announced (X-Linked-Etag, or an ETag that is a sha256), if any.
   */
  async get(
    url: string,
    headers: Record<string, string> = {},
    signal?: AbortSignal,
  ): Promise<{ response: Response; etagSha256?: string }> {
    const origin = new URL(url).origin;
    let current = url;
    let etagSha256: string | undefined;
    for (let hop = 0; hop <= MAX_REDIRECTS; hop++) {
      const h: Record<string, string> = { "user-agent": this.userAgent, ...headers };
      // The token is for the hub only: never sent to the storage host a download redirects to.
      if (this.token && new URL(current).origin === origin) h.authorization = `Bearer ${this.token}`;
      let response: Response;
      try {
        response = await fetch(current, { headers: h, redirect: "manual", ...(signal ? { signal } : {}) });
      } catch (e) {
        if (signal?.aborted) throw e;
        throw new GptError("E_DOWNLOAD", `cannot reach ${new URL(current).origin}: ${describeFetchError(e)}`);
      }
      etagSha256 ??=
        sha256FromEtag(response.headers.get("x-linked-etag")) ??
        (response.status < 300 || response.status >= 400 ? sha256FromEtag(response.headers.get("etag")) : undefined);
      const location = response.headers.get("location");
      if (response.status >= 300 && response.status < 400 && location) {
        await response.body?.cancel();
        current = new URL(location, current).toString();
        continue;
      }
      return { response, ...(etagSha256 ? { etagSha256 } : {}) };
    }
    throw new GptError("E_DOWNLOAD", `${url}: more than ${MAX_REDIRECTS} redirects`);
  }

  /** An error for a failed request, with the usual reasons spelled out. */
  statusError(status: number, what: string): GptError {
    if (status === 401 || status === 403)
      return new GptError("E_DOWNLOAD", 
        `${what}: access denied (HTTP ${status}) by ${this.endpoint}: ` +
          (this.token
            ? "HF_TOKEN has no access to it (or it does not exist)"
            : "it does not exist, or it is private or gated (then set HF_TOKEN)"),
      );
    if (status === 404) return new GptError("E_DOWNLOAD", `${what}: not found on ${this.endpoint} (HTTP 404)`);
    return new GptError("E_DOWNLOAD", `${what}: ${this.endpoint} answered HTTP ${status}`);
  }
}
