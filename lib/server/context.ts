// What an endpoint's handler works with: the server's model and state, and this request's own.
import type { Gpt } from "../gpt.js";
import type { Admission } from "./admission.js";
import type { ServerMetrics } from "./metrics.js";

export interface ServerState {
  gpt: Gpt;
  /** The id clients name the model by (the `model` field, /v1/models). */
  modelId: string;
  metrics: ServerMetrics;
  admission: Admission;
  /** A chat template to use instead of the checkpoint's. */
  chatTemplate: string | undefined;
}

export interface CallState {
  /** Aborted when the client disconnects, or the drain timeout passes. */
  signal: AbortSignal;
  /** performance.now() at the request's arrival. */
  arrivedAt: number;
  /** Unix seconds, for `created`. */
  created: number;
  /** The request's token counts, for its log line. */
  tokens: { prompt: number; completion: number };
}
