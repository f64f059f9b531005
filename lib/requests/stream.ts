/**
 * What gpt.stream() returns: an async iterable (and iterator) of chunks with a `result` promise.
 * Leaving a for-await loop, calling return() or throw(), or dropping the stream so that it is
 * garbage-collected cancels its generation (result: finishReason "abort") and frees its blocks.
 * The wrapper is all the caller holds; the engine only reaches the request behind it, so an
 * abandoned stream can be collected while its sequence is queued, running or paused.
 */
import type { GenerationRequest } from "./generation-request.js";
import type { GenerateResult, StreamChunk } from "./results.js";

const abandoned = new FinalizationRegistry<GenerationRequest>((request) => request.cancel());

export class GenerationStream implements AsyncIterableIterator<StreamChunk, undefined> {
  /**
   * Settles when generation ends, with finishReason, usage and timings. A cancelled or abandoned
   * stream resolves with finishReason "abort"; an engine failure rejects it (and the iterator).
   * It never causes an unhandled rejection. A stream whose reader stops pauses after 16 unread
   * chunks, so await `result` after reading the chunks, not instead.
   */
  readonly result: Promise<GenerateResult>;

  constructor(private readonly request: GenerationRequest) {
    this.result = request.result;
    abandoned.register(this, request, this);
  }

  [Symbol.asyncIterator](): this {
    return this;
  }

  next(): Promise<IteratorResult<StreamChunk, undefined>> {
    return this.request.next();
  }

  async return(): Promise<IteratorResult<StreamChunk, undefined>> {
    this.leave();
    return { value: undefined, done: true };
  }

  async throw(error?: unknown): Promise<IteratorResult<StreamChunk, undefined>> {
    this.leave();
    throw error;
  }

  private leave(): void {
    abandoned.unregister(this);
    this.request.cancel();
  }
}
