// A Nucleus-Image model folder in the release layout, read by the orchestrator for what it needs before the
// engine loads it: the transformer's widths, the VAE's scale and the scheduler configuration.
import { existsSync, readFileSync } from "node:fs";
import { join, resolve } from "node:path";

import type { SchedulerConfig } from "../sampling/scheduler.js";

export interface ModelFolder {
  directory: string;
  /** Packed latent width the transformer takes (in_channels). */
  latentChannels: number;
  /** Latent channels before packing (in_channels / patch²). */
  unpackedChannels: number;
  /** Text embedding width (joint_attention_dim). */
  textWidth: number;
  /** Pixels per packed-latent token along each axis: VAE scale × patch size (16 for the release). */
  pixelsPerToken: number;
  scheduler: SchedulerConfig;
  /** processor/ (tokenizer and chat template), when the folder has one. */
  processorDir?: string;
  hasTextEncoder: boolean;
}

export class ModelFolderError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "ModelFolderError";
  }
}

function readJson(path: string, what: string): Record<string, unknown> {
  if (!existsSync(path)) throw new ModelFolderError(`${path} is missing: the model folder needs ${what}`);
  try {
    return JSON.parse(readFileSync(path, "utf8")) as Record<string, unknown>;
  } catch (error) {
    throw new ModelFolderError(`${path} is not valid JSON: ${(error as Error).message}`);
  }
}

/** Checks that the folder can turn text prompts into embeddings (processor/ and text_encoder/). */
export function requireTextSupport(folder: ModelFolder): string {
  if (!folder.hasTextEncoder) {
    throw new ModelFolderError(`${folder.directory} has no text_encoder/: give prompt embeddings (--prompt-embeds) instead of text`);
  }
  if (!folder.processorDir) {
    throw new ModelFolderError(`${folder.directory} has no processor/ folder (tokenizer.json and chat template) for text prompts`);
  }
  return folder.processorDir;
}

export function readModelFolder(directory: string): ModelFolder {
  const root = resolve(directory);
  if (!existsSync(root)) throw new ModelFolderError(`model folder ${root} does not exist`);
  const transformer = readJson(join(root, "transformer", "config.json"), "a transformer/ component");
  const vae = readJson(join(root, "vae", "config.json"), "a vae/ component to decode images");
  const scheduler = readJson(join(root, "scheduler", "scheduler_config.json"), "scheduler/scheduler_config.json");
  const patch = Number(transformer.patch_size ?? 2);
  const latentChannels = Number(transformer.in_channels ?? 64);
  const downsample = (vae.temperal_downsample as unknown[] | undefined)?.length ?? 3;
  return {
    directory: root,
    latentChannels,
    unpackedChannels: latentChannels / (patch * patch),
    textWidth: Number(transformer.joint_attention_dim ?? 3584),
    pixelsPerToken: 2 ** downsample * patch,
    scheduler: scheduler as SchedulerConfig,
    processorDir: existsSync(join(root, "processor")) ? join(root, "processor") : undefined,
    hasTextEncoder: existsSync(join(root, "text_encoder", "config.json")),
  };
}
