// Rotary position embeddings as config.json describes them: the base (theta), the rotated share
// of each head, and rope_scaling's adjustment of the frequencies — in either of the forms configs
// come in: the Hub's classic top-level rope_theta + rope_scaling (and GPT-NeoX's rotary_emb_base,
// rotary_pct), or transformers 5's rope_parameters. The frequencies are computed as transformers'
// rope initialisation functions compute them (modeling_rope_utils), in float32 at the end.
import { showValue } from "../checkpoint/fs-util.js";
import type { ConfigFields } from "./config-fields.js";

/** rope_scaling's types the engine runs: they change only the frequencies (no attention scaling, no dependence on the sequence). */
const SUPPORTED_SCALING = ["default", "linear", "llama3"] as const;

export interface RopeParameters {
  theta: number;
  /** rope_type: "default", "linear" or "llama3". */
  type: (typeof SUPPORTED_SCALING)[number];
  /** The type's own parameters (factor, low_freq_factor, …), as the config gives them. */
  params: Record<string, unknown>;
}

function asObject(f: ConfigFields, key: string): Record<string, unknown> | null {
  const value = f.json[key];
  if (value === undefined || value === null) return null;
  if (typeof value !== "object" || Array.isArray(value)) throw f.bad(`${key} must be an object, got ${showValue(value)}`);
  return value as Record<string, unknown>;
}

/** The config's rotary parameters; `thetaKeys` the family's names for the base, tried in order, then `fallback`. */
export function ropeParameters(f: ConfigFields, thetaKeys: readonly string[], fallback: number): RopeParameters {
  // transformers 5 writes rope_parameters (theta inside); the Hub's configs have the classic keys.
  const modern = asObject(f, "rope_parameters");
  const scaling = modern ?? asObject(f, "rope_scaling") ?? {};
  const where = modern ? "rope_parameters" : "rope_scaling";
  const typeValue = scaling["rope_type"] ?? scaling["type"] ?? "default";
  if (typeof typeValue !== "string") throw f.bad(`${where}.rope_type must be a string, got ${showValue(typeValue)}`);
  if (!(SUPPORTED_SCALING as readonly string[]).includes(typeValue))
    throw f.unsupported(
      `${where} type "${typeValue}" is not supported (supported: ${SUPPORTED_SCALING.map((t) => `"${t}"`).join(", ")})`,
    );
  const thetaValue = modern?.["rope_theta"] ?? thetaKeys.map((k) => f.json[k]).find((v) => v !== undefined && v !== null) ?? fallback;
  if (typeof thetaValue !== "number" || !Number.isFinite(thetaValue) || thetaValue <= 1)
    throw f.bad(`the rotary base (${modern ? "rope_parameters.rope_theta" : thetaKeys.join(" or ")}) must be a number above 1, got ${showValue(thetaValue)}`);
  return { theta: thetaValue, type: typeValue as RopeParameters["type"], params: scaling };
}

function positiveParam(f: ConfigFields, rope: RopeParameters, key: string, fallback?: number): number {
  const value = rope.params[key] ?? fallback;
  if (typeof value !== "number" || !Number.isFinite(value) || value <= 0)
    throw f.bad(`rope scaling "${rope.type}" needs a positive ${key}, got ${showValue(value)}`);
  return value;
}

/**
 * The dims / 2 frequencies of a rotation over `dims` values: base^(−2i/dims), then as the scaling
 * type says — linear divides them by its factor; llama3 divides the low ones (wavelengths past
 * original_max_position_embeddings / low_freq_factor) by its factor, keeps the high ones (below
 * … / high_freq_factor) and blends those between.
 */
export function ropeInvFreq(f: ConfigFields, rope: RopeParameters, dims: number): number[] {
  const base = Array.from({ length: dims / 2 }, (_, i) => Math.fround(1 / rope.theta ** Math.fround((2 * i) / dims)));
  if (rope.type === "default") return base;
  const factor = positiveParam(f, rope, "factor");
  if (rope.type === "linear") return base.map((v) => Math.fround(v / factor));
  const low = positiveParam(f, rope, "low_freq_factor", 1);
  const high = positiveParam(f, rope, "high_freq_factor", 4);
  const context = positiveParam(f, rope, "original_max_position_embeddings", 8192);
  if (!(high > low)) throw f.bad(`rope scaling "llama3" needs high_freq_factor (${high}) above low_freq_factor (${low})`);
  const lowWavelen = context / low;
  const highWavelen = context / high;
  return base.map((v) => {
    const wavelen = (2 * Math.PI) / v;
    if (wavelen < highWavelen) return v;
    if (wavelen > lowWavelen) return Math.fround(v / factor);
    const smooth = (context / wavelen - low) / (high - low);
    return Math.fround((1 - smooth) * (v / factor) + smooth * v);
  });
}
