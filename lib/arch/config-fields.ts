// Reading config.json's fields for an architecture description: each check names the file, the
// key and the value at fault (E_CHECKPOINT for a malformed value, E_UNSUPPORTED for a
// well-formed one the engine does not run).
import { GptLoadError } from "../errors.js";
import { showValue } from "../checkpoint/fs-util.js";

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

  positiveInt(key: string): number {
    const value = this.json[key];
    if (value === undefined) throw this.bad(`missing ${key}`);
    if (typeof value !== "number" || !Number.isSafeInteger(value) || value <= 0)
      throw this.bad(`${key} must be a positive integer, got ${showValue(value)}`);
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
