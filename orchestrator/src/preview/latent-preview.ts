// Previews while denoising: the predicted clean latents x0 of a step, mapped to RGB by a linear projection of the
// latent channels (see fit-projection.ts), at the latent resolution (1/8 of the image's width and height).
import type { RGBImage } from "../image/png.js";
import type { AffineMap } from "./linear-fit.js";

/** Latent channels (before packing, in the transformer's normalised space) → RGB in [−1, 1]. */
export interface LatentProjection extends AffineMap {
  /** Latent channels the projection takes (16 for the release VAE). */
  channels: number;
}

/**
 * The clean image the model predicts at noise level σ. The flow is x_σ = (1 − σ)·x0 + σ·ε and the model outputs
 * the negated velocity x0 − ε (diffusers' sign; the pipeline flips it before the Euler step), so
 * x0 = x_σ − σ·(ε − x0) = x_σ + σ·prediction.
 */
export function predictedClean(latents: Float32Array, prediction: Float32Array, sigma: number): Float32Array {
  const clean = new Float32Array(latents.length);
  for (let i = 0; i < latents.length; i++) clean[i] = latents[i]! + sigma * prediction[i]!;
  return clean;
}

/**
 * Packed latents [h·w, C·p²] (token row·w + col, channel c·p² + dy·p + dx, diffusers' _pack_latents) → the
 * projection's RGB at every latent pixel: an image of (p·w) × (p·h).
 */
export function projectLatents(packed: Float32Array, grid: { height: number; width: number }, projection: LatentProjection): RGBImage {
  const channels = projection.channels;
  const tokenChannels = packed.length / (grid.height * grid.width);
  const patch = Math.round(Math.sqrt(tokenChannels / channels));
  if (patch * patch * channels !== tokenChannels) {
    throw new Error(`preview: ${tokenChannels} channels per token do not unpack into ${channels} latent channels`);
  }
  const width = grid.width * patch;
  const height = grid.height * patch;
  const data = Buffer.alloc(width * height * 3);
  const latent = new Float64Array(channels);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const token = Math.floor(y / patch) * grid.width + Math.floor(x / patch);
      const within = (y % patch) * patch + (x % patch);
      for (let c = 0; c < channels; c++) latent[c] = packed[token * tokenChannels + c * patch * patch + within]!;
      for (let o = 0; o < 3; o++) {
        let value = projection.bias[o]!;
        const weights = projection.weights[o]!;
        for (let c = 0; c < channels; c++) value += weights[c]! * latent[c]!;
        // [−1, 1] → 0…255 as the pipeline's image processor does for the decoded image.
        data[(y * width + x) * 3 + o] = Math.round(Math.min(1, Math.max(0, value / 2 + 0.5)) * 255);
      }
    }
  }
  return { width, height, data };
}
