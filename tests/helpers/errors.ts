// How far one vector of results is from another: the errors the kernel and model tests bound.
/** ‖a − b‖ / ‖b‖ and max |a − b| / max |b|, in double. Non-finite entries make both Infinity. */
export function errors(a: Float32Array, b: Float32Array): { rel: number; maxRel: number; worst: number } {
  let diff2 = 0;
  let ref2 = 0;
  let maxDiff = 0;
  let maxRef = 0;
  let worst = -1;
  for (let i = 0; i < b.length; i++) {
    const x = a[i]!;
    const y = b[i]!;
    if (!Number.isFinite(x) || !Number.isFinite(y)) return { rel: Infinity, maxRel: Infinity, worst: i };
    const d = Math.abs(x - y);
    diff2 += d * d;
    ref2 += y * y;
    if (d > maxDiff) {
      maxDiff = d;
      worst = i;
    }
    maxRef = Math.max(maxRef, Math.abs(y));
  }
  if (ref2 === 0) return { rel: diff2 === 0 ? 0 : Infinity, maxRel: maxDiff === 0 ? 0 : Infinity, worst };
  return { rel: Math.sqrt(diff2 / ref2), maxRel: maxDiff / maxRef, worst };
}
