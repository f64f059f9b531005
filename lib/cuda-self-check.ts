// Whether the CUDA backend gives the CPU engine's results on this machine's GPU: checked once per
// process, on a small random model, before device "auto" picks the GPU. A GPU whose results
// disagree (or that fails to run the model at all) is not "usable"; "auto" then stays on the CPU
// and says why in a process warning, while device "cuda" still runs it when asked.
import type { NativeLogitsMode, NativeModel, NativeSampling } from "../bindings.js";
import type { ModelDims } from "./checkpoint/index.js";
import { native } from "./native.js";
import { randomModelSpec } from "./random-spec.js";

/** Big enough for every kernel path: a prompt of > 16 rows (tensor-core GEMM, flash attention), then decode steps. */
const CONFIG: ModelDims = { nLayer: 2, nHead: 4, nEmbd: 128, nInner: 512, nCtx: 64, vocabSize: 1000, layerNormEpsilon: 1e-5 };
const PROMPT = Array.from({ length: 40 }, (_, i) => (i * 379 + 11) % CONFIG.vocabSize);
/** The whole context in one sequence's blocks, 0, 1, 2, …. */
const BLOCKS = Int32Array.from({ length: Math.ceil(CONFIG.nCtx / 16) }, (_, i) => i);
const GREEDY: NativeSampling = { temperature: 0, topK: 0, topP: 1, u: 0.5 };
/** Decode steps: the first runs eagerly, the second is captured as a CUDA graph, the rest replay it. */
const STEPS = 5;
/** ‖Δ‖/‖cpu‖ allowed on the prompt's logits: float16 weights, as the tensor cores round to them. */
const LOGITS_TOLERANCE = 2e-2;
/** How far below the CPU's best logit (as a share of the largest |logit|) the candidate's pick may be. */
const PICK_TOLERANCE = 2e-2;
const LOGPROB_TOLERANCE = 5e-2;

/**
 * Runs PROMPT and STEPS greedy decode steps on `candidate` and checks them against `reference`
 * (the same weights on the CPU). Resolves with null when they agree, else with what differed.
 */
export async function compareBackends(reference: NativeModel, candidate: NativeModel): Promise<string | null> {
  const run = (model: NativeModel, tokens: number[], start: number, logits: NativeLogitsMode, sample: boolean) =>
    model.step({
      tokens: Int32Array.from(tokens),
      segments: [{ rows: tokens.length, start, blocks: BLOCKS, logits, sample: sample ? GREEDY : null }],
    });
  const want = (await run(reference, PROMPT, 0, "all", false)).logits;
  let next = await run(candidate, PROMPT, 0, "all", true);
  const got = next.logits;
  let diff2 = 0;
  let ref2 = 0;
  for (let i = 0; i < want.length; i++) {
    diff2 += (got[i]! - want[i]!) ** 2;
    ref2 += want[i]! ** 2;
  }
  const error = Math.sqrt(diff2 / ref2);
  if (!(error <= LOGITS_TOLERANCE)) return `prompt logits differ from the CPU's by ${error.toPrecision(3)} (relative norm)`;

  // Greedy decode steps as generate() runs them, the candidate's picks fed to both models.
  let row = want.subarray(want.length - CONFIG.vocabSize);
  for (let step = 0; step < STEPS; step++) {
    const token = next.tokens[0]!;
    let best = 0;
    let scale = 0;
    for (let i = 0; i < row.length; i++) {
      if (row[i]! > row[best]!) best = i;
      scale = Math.max(scale, Math.abs(row[i]!));
    }
    if (!(row[token]! >= row[best]! - PICK_TOLERANCE * scale))
      return `decode step ${step} picked token ${token}, which the CPU scores ${row[token]} against its best ${row[best]}`;
    let sum = 0;
    for (const x of row) sum += Math.exp(x - row[best]!);
    const logprob = row[token]! - row[best]! - Math.log(sum);
    if (!(Math.abs(next.logprobs[0]! - logprob) <= LOGPROB_TOLERANCE))
      return `decode step ${step}: logprob ${next.logprobs[0]} where the CPU has ${logprob}`;
    const position = PROMPT.length + step;
    row = (await run(reference, [token], position, "last", false)).logits;
    next = await run(candidate, [token], position, "none", true);
  }
  return null;
}

const checked = new Map<number, Promise<string | null>>();

/** Null when CUDA device `device` runs the engine as the CPU does; else the reason it does not. */
export function cudaSelfCheck(device: number): Promise<string | null> {
  let result = checked.get(device);
  if (!result) {
    result = run(device);
    checked.set(device, result);
  }
  return result;
}

/** The check's model, float16 random weights from `seed`, on `cudaDevice` (null: the CPU). */
export function selfCheckModel(seed: number, cudaDevice: number | null): Promise<NativeModel> {
  return native().loadModel(randomModelSpec(CONFIG, "F16", seed, 1, cudaDevice, BLOCKS.length));
}

async function run(device: number): Promise<string | null> {
  let cpu: NativeModel | undefined;
  let gpu: NativeModel | undefined;
  try {
    cpu = await selfCheckModel(7, null);
    gpu = await selfCheckModel(7, device);
    return await compareBackends(cpu, gpu);
  } catch (e) {
    return `the check model failed on the GPU: ${(e as Error).message}`;
  } finally {
    cpu?.dispose();
    gpu?.dispose();
  }
}
