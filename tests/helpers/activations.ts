/** The MLP activations in double precision, written from their definitions: the oracles the native epilogues are held to. */
import type { NativeEpilogue } from "../../bindings.js";

export const geluTanh = (x: number): number => 0.5 * x * (1 + Math.tanh(Math.sqrt(2 / Math.PI) * (x + 0.044715 * x ** 3)));

/** erf by its Taylor series (|x| < 5, where 80 terms reach double precision) and ±1 beyond, where 1 − |erf| < 1.6e-12. */
export function erf(x: number): number {
  if (Math.abs(x) >= 5) return Math.sign(x);
  let term = x;
  let sum = x;
  for (let n = 1; n < 80; n++) {
    term *= (-x * x) / n;
    sum += term / (2 * n + 1);
  }
  return (2 / Math.sqrt(Math.PI)) * sum;
}

export const geluErf = (x: number): number => 0.5 * x * (1 + erf(x / Math.SQRT2));

export const relu = (x: number): number => (x < 0 ? 0 : x);

/** The activation an epilogue applies before it stores (store and residual apply none). */
export function activate(epilogue: NativeEpilogue, v: number): number {
  if (epilogue === "gelu-tanh") return geluTanh(v);
  if (epilogue === "gelu-erf") return geluErf(v);
  if (epilogue === "relu") return relu(v);
  return v;
}
