/**
 * Errors as the OpenAI API sends them, { error: { message, type, param, code } }, with the
 * status the `openai` client turns into the matching error class (BadRequestError for 400,
 * AuthenticationError for 401, NotFoundError for 404, RateLimitError for 429, …).
 */
import { GptError } from "../errors.js";

export type ApiErrorType = "invalid_request_error" | "authentication_error" | "not_found_error" | "rate_limit_error" | "server_error";

export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly type: ApiErrorType,
    message: string,
    readonly param: string | null = null,
    readonly code: string | null = null,
    /** Extra response headers (retry-after on a 429). */
    readonly headers: Record<string, string> = {},
  ) {
    super(message);
    this.name = "ApiError";
  }

  body(): { error: { message: string; type: ApiErrorType; param: string | null; code: string | null } } {
    return { error: { message: this.message, type: this.type, param: this.param, code: this.code } };
  }
}

/** 400: the request is wrong; `param` names the field at fault. */
export function invalid(message: string, param: string | null = null, code: string | null = null): ApiError {
  return new ApiError(400, "invalid_request_error", message, param, code);
}

/** 503 while the server drains (or has not loaded its model yet); clients retry elsewhere. */
export function unavailable(message: string): ApiError {
  return new ApiError(503, "server_error", message, null, "server_unavailable");
}

/**
 * What a library error means for the client: input errors are the request's fault (400), a
 * model without a chat template is too (it cannot serve chat), the rest are the server's (500).
 */
export function fromGptError(e: unknown): ApiError {
  if (e instanceof ApiError) return e;
  if (e instanceof GptError) {
    if (e.code === "E_INVALID_ARGUMENT") return invalid(e.message);
    if (e.code === "E_CONTEXT_OVERFLOW") return invalid(e.message, null, "context_length_exceeded");
    if (e.code === "E_UNSUPPORTED") return invalid(e.message, null, "unsupported");
    if (e.code === "E_DISPOSED") return unavailable("the model has been unloaded: the server is shutting down");
  }
  const message = e instanceof Error ? e.message : String(e);
  return new ApiError(500, "server_error", `the server failed: ${message}`);
}
