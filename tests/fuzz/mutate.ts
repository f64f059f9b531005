// Seeded mutations of checkpoint files: bytes (flips, random bytes, boundary values, cuts,
// deleted or repeated ranges — mostly where a file's structure is) and, for JSON files, values
// (a key's value swapped for one of the kinds that break naive readers, a key dropped or repeated).
export type Random = () => number;

/** mulberry32: small and seeded, so every mutant is reproducible from its seed. */
export function seededRandom(seed: number): Random {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const pick = (random: Random, n: number) => Math.floor(random() * n);

function concat(...parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) out.set(p, (at += p.length) - p.length);
  return out;
}

/** One byte-level mutation of `base`; `hot` ranges ([from, to)) get most of them. */
export function mutateBytes(base: Uint8Array, random: Random, hot: readonly [number, number][]): Uint8Array {
  const at = (): number => {
    if (hot.length > 0 && random() < 0.8) {
      const [from, to] = hot[pick(random, hot.length)]!;
      return from + pick(random, Math.max(1, to - from));
    }
    return pick(random, base.length);
  };
  const out = base.slice();
  switch (pick(random, 5)) {
    case 0:
      for (let i = 0, n = 1 + pick(random, 4); i < n; i++) out[at()]! ^= 1 << pick(random, 8);
      return out;
    case 1:
      for (let i = 0, n = 1 + pick(random, 8); i < n; i++) out[at()] = pick(random, 256);
      return out;
    case 2: {
      // Lengths and counts at their limits.
      const p = at();
      const v = [0x00, 0xff, 0x7f, 0x80][pick(random, 4)]!;
      for (let i = 0; i < 8 && p + i < out.length; i++) out[p + i] = v;
      return out;
    }
    case 3:
      return out.subarray(0, pick(random, base.length));
    default: {
      const p = at();
      const n = 1 + pick(random, 64);
      return random() < 0.5 ? concat(out.subarray(0, p), out.subarray(p + n)) : concat(out.subarray(0, p + n), out.subarray(p));
    }
  }
}

/** Values that break readers that trust a config: huge, negative, fractional, the wrong type. */
const NASTY: readonly unknown[] = [
  0, -1, 1, 2, 3, 7, 1.5, -0.5, 2 ** 31, 2 ** 32 + 1, 2 ** 53, 1e308, -1e308, 1e-300,
  "", "x", "relu", "gelu", "1024", true, false, null, [], [1, 2], {}, { rope_type: "yarn" },
];

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

/** Every path to a value in `v` (object keys and array indices), the root excluded. */
function paths(v: Json, prefix: (string | number)[] = [], out: (string | number)[][] = []): (string | number)[][] {
  if (Array.isArray(v)) v.forEach((x, i) => (out.push([...prefix, i]), paths(x, [...prefix, i], out)));
  else if (v !== null && typeof v === "object") for (const [k, x] of Object.entries(v)) out.push([...prefix, k]), paths(x, [...prefix, k], out);
  return out;
}

/** One value-level mutation of the JSON document `text`; null when it does not parse. */
export function mutateJson(text: string, random: Random): string | null {
  let doc: Json;
  try {
    doc = JSON.parse(text) as Json;
  } catch {
    return null;
  }
  const all = paths(doc);
  if (all.length === 0) return null;
  // Large documents (a tokenizer's vocabulary) have most of their paths in one table: favour
  // the top two levels, where the settings are.
  const shallow = all.filter((p) => p.length <= 2);
  const pool = random() < 0.7 && shallow.length > 0 ? shallow : all;
  const path = pool[pick(random, pool.length)]!;
  let parent: Json = doc;
  for (const key of path.slice(0, -1)) parent = (parent as Record<string, Json>)[key as string]!;
  const last = path[path.length - 1]!;
  const container = parent as Record<string | number, Json>;
  const kind = pick(random, 4);
  if (kind === 0 && !Array.isArray(parent)) {
    delete container[last];
  } else if (kind === 1 && !Array.isArray(parent) && path.length === 1) {
    // The same key twice: JSON.parse keeps the last one, a careless reader might not.
    const body = JSON.stringify(doc);
    return `${body.slice(0, -1)}${body.length > 2 ? "," : ""}${JSON.stringify(last)}:${JSON.stringify(NASTY[pick(random, NASTY.length)])}}`;
  } else {
    container[last] = NASTY[pick(random, NASTY.length)] as Json;
  }
  return JSON.stringify(doc, null, random() < 0.5 ? 2 : undefined);
}
