// The preview projection, fitted to the model's own VAE decoder: a few smooth random latent fields are decoded by
// the engine (Decode), each decoded image is averaged over the pixel blocks that one latent pixel becomes, and an
// affine map latent channels → RGB is fitted by least squares. Nothing is downloaded; the result is kept in the
// cache folder, keyed by the VAE's config and weight files, so each VAE is fitted once.
import { createHash } from "node:crypto";
import { existsSync, readFileSync, readdirSync, statSync } from "node:fs";
import { join } from "node:path";

import type { EngineClient } from "../engine/client.js";
import { cacheDirectory } from "../files/cache-directory.js";
import { writeFileAtomic } from "../files/output.js";
import { DType } from "../generated/nucleus/engine/v1/engine.js";
import type { ModelFolder } from "../pipeline/model-folder.js";
import { packLatents, standardNormal } from "../sampling/noise.js";
import { toFloat32, fromProtoTensor } from "../tensors/convert.js";
import type { LatentProjection } from "./latent-preview.js";
import { fitAffineMap } from "./linear-fit.js";

/** Bump when the fitting procedure changes, so older cached fits are not used. */
const FIT_VERSION = 1;
/** Latent fields decoded for a fit, each FIT_GRID × FIT_GRID tokens (128 × 128 pixels for the release). */
const FIT_SAMPLES = 6;
const FIT_GRID = 8;
/** The fields are smooth (bilinear over a coarse grid of this many knots per side) plus a little white noise. */
const FIT_KNOTS = 4;
const FIT_WHITE = 0.25;

export interface FittedProjection extends LatentProjection {
  /** How it was made, and how well it explains the decoded images it was fitted to (R², 1 = perfectly). */
  fit: { version: number; samples: number; pixels: number; rSquared: number; vae: string };
}

/** A smooth random field [channels, size, size]: standard normal knots interpolated bilinearly, plus white noise. */
function smoothField(seed: number, channels: number, size: number): Float32Array {
  const knots = standardNormal(seed, channels * FIT_KNOTS * FIT_KNOTS);
  const white = standardNormal(seed + 1_000_003, channels * size * size);
  const field = new Float32Array(channels * size * size);
  const at = (c: number, ky: number, kx: number) => knots[(c * FIT_KNOTS + ky) * FIT_KNOTS + kx]!;
  for (let c = 0; c < channels; c++) {
    for (let y = 0; y < size; y++) {
      const fy = (y / (size - 1)) * (FIT_KNOTS - 1);
      const y0 = Math.min(Math.floor(fy), FIT_KNOTS - 2);
      const ty = fy - y0;
      for (let x = 0; x < size; x++) {
        const fx = (x / (size - 1)) * (FIT_KNOTS - 1);
        const x0 = Math.min(Math.floor(fx), FIT_KNOTS - 2);
        const tx = fx - x0;
        const smooth = (1 - ty) * ((1 - tx) * at(c, y0, x0) + tx * at(c, y0, x0 + 1)) + ty * ((1 - tx) * at(c, y0 + 1, x0) + tx * at(c, y0 + 1, x0 + 1));
        const index = (c * size + y) * size + x;
        field[index] = smooth + FIT_WHITE * white[index]!;
      }
    }
  }
  return field;
}

/** Fits the projection by decoding FIT_SAMPLES fields with the loaded VAE. */
export async function fitPreviewProjection(client: EngineClient, folder: ModelFolder): Promise<Omit<FittedProjection, "fit"> & { rSquared: number; pixels: number }> {
  const channels = folder.unpackedChannels;
  const patch = Math.round(Math.sqrt(folder.latentChannels / channels));
  const side = FIT_GRID * patch; // latent pixels per side
  const block = folder.pixelsPerToken / patch; // image pixels per latent pixel per side
  const inputs: number[] = [];
  const outputs: number[] = [];
  for (let sample = 0; sample < FIT_SAMPLES; sample++) {
    const field = smoothField(20_240_601 + 7919 * sample, channels, side);
    const packed = packLatents(field, channels, FIT_GRID, FIT_GRID);
    const decoded = await client.unary("decode", {
      latents: { dtype: DType.DTYPE_FLOAT32, shape: [FIT_GRID * FIT_GRID, folder.latentChannels], data: Buffer.from(packed.buffer) },
      gridHeight: FIT_GRID, gridWidth: FIT_GRID, floatOutput: true,
    });
    if (!decoded.floatImage) throw new Error("Decode sent no float image back");
    const image = toFloat32(fromProtoTensor(decoded.floatImage)); // [3, H, W] in [−1, 1]
    const width = side * block;
    for (let y = 0; y < side; y++) {
      for (let x = 0; x < side; x++) {
        for (let c = 0; c < channels; c++) inputs.push(field[(c * side + y) * side + x]!);
        for (let o = 0; o < 3; o++) {
          let sum = 0;
          for (let dy = 0; dy < block; dy++) {
            for (let dx = 0; dx < block; dx++) sum += image[(o * width + y * block + dy) * width + x * block + dx]!;
          }
          outputs.push(sum / (block * block));
        }
      }
    }
  }
  const map = fitAffineMap(inputs, outputs, channels, 3);
  return { ...map, channels, rSquared: rSquared(inputs, outputs, map, channels), pixels: outputs.length / 3 };
}

function rSquared(inputs: number[], outputs: number[], map: { weights: number[][]; bias: number[] }, channels: number): number {
  const rows = outputs.length / 3;
  let residual = 0;
  let total = 0;
  for (let o = 0; o < 3; o++) {
    let mean = 0;
    for (let n = 0; n < rows; n++) mean += outputs[n * 3 + o]! / rows;
    for (let n = 0; n < rows; n++) {
      let predicted = map.bias[o]!;
      for (let c = 0; c < channels; c++) predicted += map.weights[o]![c]! * inputs[n * channels + c]!;
      residual += (outputs[n * 3 + o]! - predicted) ** 2;
      total += (outputs[n * 3 + o]! - mean) ** 2;
    }
  }
  return total > 0 ? 1 - residual / total : 0;
}

/** What identifies a VAE for the cache: its config and the names, sizes and times of its weight files. */
function vaeKey(folder: ModelFolder): string {
  const vae = join(folder.directory, "vae");
  const files = readdirSync(vae).filter((name) => name.endsWith(".safetensors")).sort()
    .map((name) => {
      const info = statSync(join(vae, name));
      return [name, info.size, Math.round(info.mtimeMs)];
    });
  return createHash("sha256")
    .update(JSON.stringify({ version: FIT_VERSION, config: readFileSync(join(vae, "config.json"), "utf8"), files }))
    .digest("hex");
}

export function previewCachePath(folder: ModelFolder): string {
  return join(cacheDirectory(), "previews", `${vaeKey(folder).slice(0, 32)}.json`);
}

function readCached(path: string, channels: number): FittedProjection | undefined {
  if (!existsSync(path)) return undefined;
  try {
    const cached = JSON.parse(readFileSync(path, "utf8")) as FittedProjection;
    const valid = cached.fit?.version === FIT_VERSION && cached.channels === channels && cached.bias.length === 3 &&
      cached.weights.length === 3 && cached.weights.every((row) => row.length === channels && row.every(Number.isFinite));
    return valid ? cached : undefined;
  } catch {
    return undefined; // unreadable or from another version: fitted again
  }
}

/** The cached projection for this model's VAE, or a new fit (then cached). */
export async function previewProjection(client: EngineClient, folder: ModelFolder): Promise<FittedProjection> {
  const path = previewCachePath(folder);
  const cached = readCached(path, folder.unpackedChannels);
  if (cached) return cached;
  const { rSquared, pixels, ...map } = await fitPreviewProjection(client, folder);
  const fitted: FittedProjection = {
    ...map, fit: { version: FIT_VERSION, samples: FIT_SAMPLES, pixels, rSquared, vae: join(folder.label, "vae") },
  };
  try {
    writeFileAtomic(path, Buffer.from(JSON.stringify(fitted, null, 1) + "\n"), true);
  } catch {
    // a read-only cache only costs a fit per process
  }
  return fitted;
}
