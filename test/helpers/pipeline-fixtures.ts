import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

import { readSafetensors, writeSafetensors, type TensorData } from "../../orchestrator/src/tensors/safetensors.js";
import { repoRoot } from "./engine.js";

export const pipelineFixtures = join(repoRoot, "test", "fixtures", "pipeline");
export const tinyModel = join(pipelineFixtures, "tiny");

/** The cfg-4-steps case of tools/reference/make_pipeline_fixtures.py, split into the CLI's input files. */
export interface PipelineCase {
  directory: string;
  promptFile: string;
  negativeFile: string;
  latentsFile: string;
  expectedLatents: TensorData;
  expectedImage: TensorData;
  width: number;
  height: number;
}

export function pipelineCase(): PipelineCase {
  const file = readSafetensors(join(pipelineFixtures, "cfg-4-steps.safetensors"));
  const get = (key: string) => file.tensors.get(key)!;
  const directory = mkdtempSync(join(tmpdir(), "nucleus-pipeline-"));
  const promptFile = join(directory, "prompt.safetensors");
  const negativeFile = join(directory, "negative.safetensors");
  const latentsFile = join(directory, "latents.safetensors");
  writeSafetensors(promptFile, { prompt_embeds: get("prompt_embeds"), prompt_embeds_mask: get("prompt_embeds_mask") });
  writeSafetensors(negativeFile, {
    prompt_embeds: get("negative_prompt_embeds"), prompt_embeds_mask: get("negative_prompt_embeds_mask"),
  });
  writeSafetensors(latentsFile, { latents: get("latents") });
  return {
    directory, promptFile, negativeFile, latentsFile, expectedLatents: get("output_latents"),
    expectedImage: get("image_uint8"), width: Number(file.metadata.width), height: Number(file.metadata.height),
  };
}
