// Reading config.json's fields for an architecture description: each check names the file, the
// key and the value at fault (E_CHECKPOINT for a malformed value, E_UNSUPPORTED for a
// well-formed one the engine does not run).
import { GptLoadError } from "../errors.js";
import { showValue } from "../checkpoint/fs-util.js";

/**
 * The largest value the engine accepts for each size config.json gives (any other integer key:
 * 2^31 − 1), checked before anything is sized from it: far past every released model (Llama 3.1
 * 405B has 126 layers, 16,384 wide, 53,248 in its MLP, 131,072 positions; Qwen2.5's vocabulary is
 * 152,064), and small enough that the plans built from a config stay small — a config claiming
 * 1,500,000 layers took 23 s and 2.4 GB to fail.
 */
const SIZE_LIMITS: Readonly<Record<string, number>> = {
  ...Object.fromEntries(["n_layer", "num_hidden_layers", "num_layers"].map((k) => [k, 1024])),
  ...Object.fromEntries(["n_head", "num_attention_heads", "num_heads", "num_key_value_heads"].map((k) => [k, 1024])),
  ...Object.fromEntries(["n_embd", "n_embed", "hidden_size", "word_embed_proj_dim"].map((k) => [k, 65_536])),
  ...Object.fromEntries(["head_dim", "rotary_dim"].map((k) => [k, 1024])),
  ...Object.fromEntries(["n_inner", "intermediate_size", "ffn_dim"].map((k) => [k, 262_144])),
  ...Object.fromEntries(["n_positions", "n_ctx", "max_position_embeddings", "seq_length", "window_size"].map((k) => [k, 1_048_576])),
  vocab_size: 1_048_576,
  pretraining_tp: 1024,
};
const INT_LIMIT = 2 ** 31 - 1;

export class ConfigFields {
  constructor(
    readonly json: Record<string, unknown>,
    readonly file: string,
  ) {}

  bad(problem: string): GptLoadError {
    return new GptLoadError("E_CHECKPOINT", this.file, problem);
  }

  unsupported(problem: string): GptLoadError {
    return new GptLoadError("E_UNSUPPORTED", this.file, problem);
  }

  /** Set: present and not null. */
  has(key: string): boolean {
    return this.json[key] !== undefined && this.json[key] !== null;
  }

  /** A positive integer, at most its SIZE_LIMITS entry. */
  positiveInt(key: string): number {
    const value = this.json[key];
    if (value === undefined) throw this.bad(`missing ${key}`);
    if (typeof value !== "number" || !Number.isSafeInteger(value) || value <= 0)
      throw this.bad(`${key} must be a positive integer, got ${showValue(value)}`);
    const limit = SIZE_LIMITS[key] ?? INT_LIMIT;
    if (value > limit) throw this.bad(`${key} is ${value}, past the limit of ${limit} this engine accepts`);
    return value;
  }

  /** The first of `keys` that is set (families name one size several ways), as a positive integer. */
  firstPositiveInt(...keys: string[]): number {
    const key = keys.find((k) => this.has(k));
    if (key === undefined) throw this.bad(`missing ${keys[0]}${keys.length > 1 ? ` (and no ${keys.slice(1).join(" or ")})` : ""}`);
    return this.positiveInt(key);
  }

  optionalPositiveInt(key: string, fallback: number): number {
    return this.has(key) ? this.positiveInt(key) : fallback;
  }

  boolean(key: string, fallback: boolean): boolean {
    const value = this.json[key];
    if (value === undefined || value === null) return fallback;
    if (typeof value !== "boolean") throw this.bad(`${key} must be true or false, got ${showValue(value)}`);
    return value;
  }

  string(key: string, fallback: string): string {
    const value = this.json[key];
    if (value === undefined || value === null) return fallback;
    if (typeof value !== "string") throw this.bad(`${key} must be a string, got ${showValue(value)}`);
    return value;
  }

  positiveNumber(key: string, fallback: number): number {
    const value = this.json[key];
    if (value === undefined) return fallback;
    if (typeof value !== "number" || !Number.isFinite(value) || value <= 0)
      throw this.bad(`${key} must be a positive finite number, got ${showValue(value)}`);
    return value;
  }

  /** `key` as one of `supported` (config name → what it means), E_UNSUPPORTED naming the rest. */
  oneOf<T>(key: string, fallback: string, supported: Readonly<Record<string, T>>): T {
    const name = this.string(key, fallback);
    const value = Object.hasOwn(supported, name) ? supported[name] : undefined;
    if (value === undefined)
      throw this.unsupported(`${key} "${name}" is not supported (supported: ${Object.keys(supported).map((s) => `"${s}"`).join(", ")})`);
    return value;
  }

  /** E_UNSUPPORTED when boolean flag `key` is set to the value the engine does not run. */
  refuseFlag(key: string, refused: boolean, why: string): void {
    if (this.boolean(key, !refused) === refused) throw this.unsupported(`${key}: ${refused} is not supported (${why})`);
  }

  /** The MLP width must not make the model's heads uneven: n_embd a multiple of n_head. */
  checkHeads(embdKey: string, nEmbd: number, headKey: string, nHead: number): void {
    if (nEmbd % nHead !== 0) throw this.bad(`${embdKey} (${nEmbd}) is not divisible by ${headKey} (${nHead})`);
  }
}
