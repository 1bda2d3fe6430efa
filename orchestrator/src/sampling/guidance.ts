// Classifier-free guidance with the per-token norm rescale, and the Euler step, on packed latents [S, C],
// rounding every result in the model's dtype as the reference pipeline does.

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
  const out = new Float32Array(cond.length);
  const combined = new Float64Array(channels);
  for (let token = 0; token < cond.length / channels; token++) {
    const base = token * channels;
    let condNorm = 0;
    let combNorm = 0;
    for (let c = 0; c < channels; c++) {
      const difference = round(cond[base + c]! - uncond[base + c]!);
      const value = round(uncond[base + c]! + round(scale * difference));
      combined[c] = value;
      condNorm += cond[base + c]! * cond[base + c]!;
      combNorm += value * value;
    }
    const ratio = round(round(Math.sqrt(condNorm)) / round(Math.sqrt(combNorm)));
    for (let c = 0; c < channels; c++) out[base + c] = round(combined[c]! * ratio);
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
  for (let i = 0; i < latents.length; i++) {
    out[i] = round(Math.fround(latents[i]! + round(dt * -prediction[i]!)));
  }
  return out;
}
