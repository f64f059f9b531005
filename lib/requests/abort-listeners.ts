/**
 * Callbacks for an AbortSignal's abort, through one listener per signal however many calls share
 * it: a server that passes one shutdown signal to hundreds of concurrent calls would otherwise
 * trip Node's "possible EventTarget memory leak" warning (more than 10 listeners).
 */
const callbacks = new WeakMap<AbortSignal, Set<() => void>>();

/** Calls `fn` once when `signal` aborts; the returned function takes it back. */
export function onAbort(signal: AbortSignal, fn: () => void): () => void {
  let set = callbacks.get(signal);
  if (!set) {
    const fresh = new Set<() => void>();
    set = fresh;
    callbacks.set(signal, fresh);
    signal.addEventListener(
      "abort",
      () => {
        callbacks.delete(signal);
        for (const f of fresh) f();
      },
      { once: true },
    );
  }
  const own = set;
  own.add(fn);
  return () => void own.delete(fn);
}
