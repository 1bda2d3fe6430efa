// Classifier-free guidance with the per-token norm rescale, and the Euler step, on packed latents [S, C],
// rounding every result in the model's dtype as the reference pipeline does. float32 runs through loops with
// Math.fround written out (what `rounder("float32")` does, without a call per operation); other dtypes take the
// generic loops with their rounding function. Both give the same numbers for float32.
import { type ModelDType, rounder } from "./precision.js";

/**
 * A token's squared norm from its four partial sums at `sums[at..at+4]` (squares in double precision, by channel
 * mod 4), added as (s0 + s1) + (s2 + s3). Every loop here sums in this order (the WebAssembly step's SIMD lanes),
 * so that all give the same bits.
 */
function partialSumsTotal(sums: Float64Array, at: number): number {
  return sums[at]! + sums[at + 1]! + (sums[at + 2]! + sums[at + 3]!);
}

/**
 * comb = uncond + g · (cond − uncond), then each token is rescaled to the conditional prediction's norm:
 * v = comb · ‖cond‖ / ‖comb‖ (L2 over the token's channels). Returns the model-sign prediction.
 */
export function guidedPrediction(
  cond: Float32Array,
  uncond: Float32Array,
  scale: number,
  channels: number,
  round: (value: number) => number,
): Float32Array {
  if (round === Math.fround) return guidedPredictionFloat32(cond, uncond, scale, channels);
  const out = new Float32Array(cond.length);
  const combined = new Float64Array(channels);
  const sums = new Float64Array(8);
  const scale32 = Math.fround(scale);  // torch multiplies by the guidance scale as a float32 scalar
  for (let token = 0; token < cond.length / channels; token++) {
    const base = token * channels;
    sums.fill(0);
    for (let c = 0; c < channels; c++) {
      const difference = round(cond[base + c]! - uncond[base + c]!);
      const value = round(uncond[base + c]! + round(scale32 * difference));
      combined[c] = value;
      sums[c & 3] += cond[base + c]! * cond[base + c]!;
      sums[4 + (c & 3)] += value * value;
    }
    const ratio = round(round(Math.sqrt(partialSumsTotal(sums, 0))) / round(Math.sqrt(partialSumsTotal(sums, 4))));
    for (let c = 0; c < channels; c++) out[base + c] = round(combined[c]! * ratio);
  }
  return out;
}

function guidedPredictionFloat32(cond: Float32Array, uncond: Float32Array, scale: number, channels: number): Float32Array {
  const out = new Float32Array(cond.length);
  const tokens = cond.length / channels;
  const fround = Math.fround;
  const sums = new Float64Array(8);
  const scale32 = Math.fround(scale);  // torch multiplies by the guidance scale as a float32 scalar
  for (let token = 0; token < tokens; token++) {
    const base = token * channels;
    sums.fill(0);
    for (let i = base; i < base + channels; i++) {
      const u = uncond[i]!;
      const c = cond[i]!;
      const value = fround(u + fround(scale32 * fround(c - u)));
      out[i] = value;  // float32 storage keeps `value` exactly
      sums[(i - base) & 3] += c * c;
      sums[4 + ((i - base) & 3)] += value * value;
    }
    const ratio = fround(fround(Math.sqrt(partialSumsTotal(sums, 0))) / fround(Math.sqrt(partialSumsTotal(sums, 4))));
    for (let i = base; i < base + channels; i++) out[i] = out[i]! * ratio;  // the store rounds to float32
  }
  return out;
}

/**
 * One Euler step of the flow: the model predicts x0 − noise, the scheduler expects its negation, so
 * latents ← latents + (σ_next − σ) · (−prediction). As in diffusers, the product is taken in the prediction's
 * dtype (a 0-d float32 tensor does not promote it), the sum in float32, and the result rounded to the dtype.
 */
export function eulerStep(
  latents: Float32Array,
  prediction: Float32Array,
  sigma: number,
  sigmaNext: number,
  round: (value: number) => number,
): Float32Array {
  const dt = Math.fround(sigmaNext - sigma);
  const out = new Float32Array(latents.length);
  if (round === Math.fround) {
    const fround = Math.fround;
    for (let i = 0; i < latents.length; i++) out[i] = latents[i]! + fround(dt * -prediction[i]!);  // the store rounds the sum
    return out;
  }
  for (let i = 0; i < latents.length; i++) {
    out[i] = round(Math.fround(latents[i]! + round(dt * -prediction[i]!)));
  }
  return out;
}

/**
 * `eulerStep(latents, guidedPrediction(cond, uncond, scale, channels, Math.fround), sigma, sigmaNext, Math.fround)`
 * in one pass and without intermediate arrays, writing into `out` (which must not be `latents`): the sampling
 * loop's float32 step with CFG.
 */
export function guidedEulerStepFloat32(
  latents: Float32Array,
  cond: Float32Array,
  uncond: Float32Array,
  scale: number,
  channels: number,
  sigma: number,
  sigmaNext: number,
  out: Float32Array = new Float32Array(latents.length),
): Float32Array {
  if (out === latents) throw new Error("guidedEulerStepFloat32 cannot write over its input latents");
  const fround = Math.fround;
  const dt = fround(sigmaNext - sigma);
  const combined = new Float32Array(channels);
  const tokens = cond.length / channels;
  const sums = new Float64Array(8);
  const scale32 = Math.fround(scale);  // torch multiplies by the guidance scale as a float32 scalar
  for (let token = 0; token < tokens; token++) {
    const base = token * channels;
    sums.fill(0);
    for (let c = 0; c < channels; c++) {
      const u = uncond[base + c]!;
      const v = cond[base + c]!;
      const value = fround(u + fround(scale32 * fround(v - u)));
      combined[c] = value;
      sums[c & 3] += v * v;
      sums[4 + (c & 3)] += value * value;
    }
    const ratio = fround(fround(Math.sqrt(partialSumsTotal(sums, 0))) / fround(Math.sqrt(partialSumsTotal(sums, 4))));
    for (let c = 0; c < channels; c++) {
      const prediction = fround(combined[c]! * ratio);
      out[base + c] = latents[base + c]! + fround(dt * -prediction);  // the store rounds the sum
    }
  }
  return out;
}

/** Rounds every value to `dtype` in place (no-op for float32 arrays). */
export function roundInPlace(values: Float32Array, dtype: ModelDType): Float32Array {
  if (dtype === "float32") return values;
  const round = rounder(dtype);
  for (let i = 0; i < values.length; i++) values[i] = round(values[i]!);
  return values;
}
