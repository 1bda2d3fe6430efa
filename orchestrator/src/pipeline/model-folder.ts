// A Nucleus-Image model folder in the release layout, read by the orchestrator for what it needs before the
// engine loads it: the transformer's widths, the VAE's scale and the scheduler configuration for images; the
// text encoder and processor/ for prompts. Encoding prompts needs only text_encoder/ and processor/.
import { existsSync } from "node:fs";
import { join } from "node:path";

import { readModelFile } from "../files/model-file.js";
import { resolveModel, type ResolvedModel } from "../model/resolve-model.js";
import type { SchedulerConfig } from "../sampling/scheduler.js";

/** What every use of a model folder needs: where it is, what it is called, and its text side. */
export interface TextModelFolder {
  directory: string;
  /** The model's name for metadata and messages: its Hugging Face id, or the folder's name. */
  label: string;
  /** Notes from resolving the model (e.g. a component folder was given and its parent used). */
  notes: string[];
  /** processor/ (tokenizer and chat template), when the folder has one. */
  processorDir?: string;
  hasTextEncoder: boolean;
  /** Text embedding width: the transformer's joint_attention_dim, or the text encoder's hidden size without one. */
  textWidth: number;
}

/** A folder that can make images (transformer/, vae/, scheduler/). */
export interface ModelFolder extends TextModelFolder {
  /** Packed latent width the transformer takes (in_channels). */
  latentChannels: number;
  /** Latent channels before packing (in_channels / patch²). */
  unpackedChannels: number;
  /** Pixels per packed-latent token along each axis: VAE scale × patch size (16 for the release). */
  pixelsPerToken: number;
  scheduler: SchedulerConfig;
}

export class ModelFolderError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "ModelFolderError";
  }
}

function readJson(path: string, what: string): Record<string, unknown> {
  if (!existsSync(path)) throw new ModelFolderError(`${path} is missing: the model folder needs ${what}`);
  let text: string;
  try {
    text = readModelFile(path).toString("utf8");
  } catch (error) {
    throw new ModelFolderError((error as Error).message);
  }
  try {
    return JSON.parse(text) as Record<string, unknown>;
  } catch (error) {
    throw new ModelFolderError(`${path} is not valid JSON: ${(error as Error).message}`);
  }
}

/** Checks that the folder can turn text prompts into embeddings (processor/ and text_encoder/). */
export function requireTextSupport(folder: TextModelFolder): string {
  if (!folder.hasTextEncoder) {
    throw new ModelFolderError(`${folder.directory} has no text_encoder/: give prompt embeddings (--prompt-embeds) instead of text`);
  }
  if (!folder.processorDir) {
    throw new ModelFolderError(`${folder.directory} has no processor/ folder (tokenizer.json and chat template) for text prompts`);
  }
  return folder.processorDir;
}

function resolved(model: string | ResolvedModel): ResolvedModel {
  return typeof model === "string" ? resolveModel(model) : model;
}

function textSide(model: ResolvedModel, textWidth: number): TextModelFolder {
  const root = model.directory;
  return {
    directory: root,
    label: model.label,
    notes: model.notes,
    processorDir: existsSync(join(root, "processor")) ? join(root, "processor") : undefined,
    hasTextEncoder: existsSync(join(root, "text_encoder", "config.json")),
    textWidth,
  };
}

/** A folder for making images: transformer/, vae/ and scheduler/ must be there. */
export function readModelFolder(model: string | ResolvedModel): ModelFolder {
  const found = resolved(model);
  const root = found.directory;
  const transformer = readJson(join(root, "transformer", "config.json"), "a transformer/ component");
  const vae = readJson(join(root, "vae", "config.json"), "a vae/ component to decode images");
  const scheduler = readJson(join(root, "scheduler", "scheduler_config.json"), "scheduler/scheduler_config.json");
  const patch = Number(transformer.patch_size ?? 2);
  const latentChannels = Number(transformer.in_channels ?? 64);
  const downsample = (vae.temperal_downsample as unknown[] | undefined)?.length ?? 3;
  return {
    ...textSide(found, Number(transformer.joint_attention_dim ?? 3584)),
    latentChannels,
    unpackedChannels: latentChannels / (patch * patch),
    pixelsPerToken: 2 ** downsample * patch,
    scheduler: scheduler as SchedulerConfig,
  };
}

/** A folder for encoding prompts: text_encoder/ and processor/ are enough (no transformer, VAE or scheduler). */
export function readTextModelFolder(model: string | ResolvedModel): TextModelFolder {
  const found = resolved(model);
  const config = readJson(join(found.directory, "text_encoder", "config.json"), "a text_encoder/ component to encode prompts");
  const textConfig = (config.text_config as Record<string, unknown> | undefined) ?? config;
  const transformerConfig = join(found.directory, "transformer", "config.json");
  const width = existsSync(transformerConfig)
    ? Number(readJson(transformerConfig, "").joint_attention_dim ?? textConfig.hidden_size)
    : Number(textConfig.hidden_size ?? 4096);
  const folder = textSide(found, width);
  requireTextSupport(folder);
  return folder;
}
