import { randomInt } from "node:crypto";
import { resolve } from "node:path";

import { Command, InvalidArgumentError, Option } from "commander";

import { DType } from "../generated/nucleus/engine/v1/engine.js";
import { metadataText } from "../image/metadata.js";
import { checkWritable, encodePng, writeFileAtomic } from "../image/png.js";
import { NucleusImage } from "../nucleus-image.js";
import { GenerationCancelledError, tokenGrid } from "../pipeline/generate.js";
import { readLatents, readPromptEmbedding } from "../pipeline/inputs.js";
import { readModelFolder } from "../pipeline/model-folder.js";
import { float32Tensor } from "../tensors/convert.js";
import { writeSafetensors } from "../tensors/safetensors.js";
import { ProgressBar, formatDuration } from "./progress.js";

interface GenerateFlags {
  model?: string;
  promptEmbeds?: string;
  negativeEmbeds?: string;
  latents?: string;
  seed?: number;
  steps: number;
  cfg: number;
  width: number;
  height: number;
  output?: string;
  force?: boolean;
  outputLatents?: string;
  metadata: boolean;
  dtype?: "float32" | "bfloat16";
  quantize?: number;
}

const integer = (name: string, min: number, max: number) => (text: string) => {
  const value = Number(text);
  if (!Number.isInteger(value) || value < min || value > max) {
    throw new InvalidArgumentError(`${name} must be a whole number from ${min} to ${max}`);
  }
  return value;
};

const number = (name: string) => (text: string) => {
  const value = Number(text);
  if (!Number.isFinite(value) || value < 0) throw new InvalidArgumentError(`${name} must be a number ≥ 0`);
  return value;
};

export function registerGenerate(program: Command): void {
  program
    .command("generate")
    .description("generate an image (from prompt embeddings for now; text prompts come with the text encoder)")
    .argument("[prompt]", "text prompt (needs the text encoder: not available yet; use --prompt-embeds)")
    .option("--model <dir>", "model folder in the release layout (transformer/, vae/, scheduler/); default $NUCLEUS_MODEL")
    .option("--prompt-embeds <file>", "safetensors with prompt_embeds [1, L, D] (+ prompt_embeds_mask [1, L])")
    .option("--negative-embeds <file>", "the same for the negative prompt (needed when --cfg > 1)")
    .option("--latents <file>", "initial packed latents: safetensors with latents [1, S, C] (diffusers' prepare_latents)")
    .option("--seed <n>", "seed for the initial noise (default: random, printed)", integer("--seed", 0, 4294967295))
    .option("--steps <n>", "denoising steps", integer("--steps", 1, 1000), 50)
    .option("--cfg <g>", "classifier-free guidance scale (≤ 1 disables it)", number("--cfg"), 4.0)
    .option("--width <px>", "image width, a multiple of 16", integer("--width", 16, 4096), 1024)
    .option("--height <px>", "image height, a multiple of 16", integer("--height", 16, 4096), 1024)
    .option("-o, --output <file>", "PNG to write (default nucleus-<seed>.png); never overwritten without --force")
    .option("--force", "overwrite existing output files")
    .option("--output-latents <file>", "also write the final packed latents (safetensors, key latents)")
    .option("--no-metadata", "write no generation parameters into the PNG")
    .addOption(new Option("--dtype <dtype>", "compute dtype in the engine").choices(["float32", "bfloat16"]))
    .option("--quantize <bits>", "quantize the transformer's linears and experts at load (8 or 4)", (text) => {
      if (text !== "8" && text !== "4") throw new InvalidArgumentError("--quantize must be 8 or 4");
      return Number(text);
    })
    .action(async (prompt: string | undefined, flags: GenerateFlags) => runGenerate(prompt, flags));
}

async function runGenerate(prompt: string | undefined, flags: GenerateFlags): Promise<void> {
  const modelDir = flags.model ?? process.env.NUCLEUS_MODEL;
  if (!modelDir) throw new Error("give the model folder with --model DIR (or set NUCLEUS_MODEL)");
  if (prompt !== undefined) {
    throw new Error("text prompts need the Qwen3-VL text encoder, which this version does not have yet: pass --prompt-embeds FILE");
  }
  if (!flags.promptEmbeds) throw new Error("give the prompt embeddings with --prompt-embeds FILE");

  // Everything that can be checked before starting the engine is checked first, and nothing is written.
  const folder = readModelFolder(modelDir);
  const grid = tokenGrid(folder, flags.width, flags.height);
  const positive = readPromptEmbedding(resolve(flags.promptEmbeds), folder.textWidth);
  const negative = flags.negativeEmbeds ? readPromptEmbedding(resolve(flags.negativeEmbeds), folder.textWidth) : undefined;
  if (flags.cfg > 1 && !negative) {
    throw new Error("--cfg > 1 needs --negative-embeds FILE (the unconditional branch); or pass --cfg 1 to disable guidance");
  }
  const latents = flags.latents ? readLatents(resolve(flags.latents), grid.height * grid.width, folder.latentChannels) : undefined;
  const seed = latents ? undefined : (flags.seed ?? randomInt(0, 2 ** 32));
  const output = resolve(flags.output ?? `nucleus-${seed ?? "latents"}.png`);
  checkWritable(output, Boolean(flags.force));
  if (flags.outputLatents) checkWritable(resolve(flags.outputLatents), Boolean(flags.force));

  const bar = new ProgressBar();
  const abort = new AbortController();
  let interrupts = 0;
  const onSignal = () => {
    interrupts++;
    if (interrupts > 1) process.exit(130);
    bar.message("cancelling after this step (Ctrl-C again to stop now)…");
    abort.abort();
  };
  process.on("SIGINT", onSignal);
  process.on("SIGTERM", onSignal);

  bar.message(`loading ${folder.directory}…`);
  const model = await NucleusImage.load(folder.directory, {
    load: {
      dtype: flags.dtype === "bfloat16" ? DType.DTYPE_BFLOAT16 : flags.dtype === "float32" ? DType.DTYPE_FLOAT32 : DType.DTYPE_UNSPECIFIED,
      ...(flags.quantize ? { transformer: { bits: flags.quantize, groupSize: 64 }, experts: { bits: flags.quantize, groupSize: 64 } } : {}),
    },
    onLoadProgress: (event) => bar.message(`loading ${event.component}: ${Math.round((Number(event.bytesDone) / Math.max(1, Number(event.bytesTotal))) * 100)}%`),
  });
  try {
    const result = await model.generate(
      { prompt: positive, negative, width: flags.width, height: flags.height, steps: flags.steps, cfg: flags.cfg, seed, latents },
      { onProgress: (progress) => bar.update(progress), signal: abort.signal },
    );
    bar.done();
    const info = await model.client.getInfo();
    const transformer = model.summary.components.find((component) => component.name === "transformer");
    const text = flags.metadata
      ? metadataText({
          seed, steps: flags.steps, cfg: flags.cfg, width: flags.width, height: flags.height, model: folder.directory,
          quantization: transformer?.quantization ?? "none", dtype: model.dtype, engine_version: info.engineVersion,
          mlx_version: info.mlxVersion, scheduler: "FlowMatchEulerDiscrete",
          prompt_embeds: resolve(flags.promptEmbeds), negative_embeds: flags.negativeEmbeds && resolve(flags.negativeEmbeds),
          latents: flags.latents && resolve(flags.latents),
        })
      : {};
    writeFileAtomic(output, await encodePng(result.image, text), Boolean(flags.force));
    if (flags.outputLatents) {
      const tensor = float32Tensor(result.latents, [1, result.grid.height * result.grid.width, folder.latentChannels]);
      const path = resolve(flags.outputLatents);
      checkWritable(path, Boolean(flags.force));
      writeSafetensors(path, { latents: tensor }, { format: "pt" });
    }
    const perStep = result.timings.stepsMs / flags.steps;
    console.log(
      `wrote ${output} (${flags.width}×${flags.height}, ${flags.steps} steps, cfg ${flags.cfg}${seed === undefined ? "" : `, seed ${seed}`}) ` +
        `in ${formatDuration(result.timings.totalMs)} (${(perStep / 1000).toFixed(2)} s/step)`,
    );
  } catch (error) {
    bar.done();
    if (error instanceof GenerationCancelledError) {
      console.error(`nucleus-image: ${error.message}`);
      process.exitCode = 130;
      return;
    }
    throw error;
  } finally {
    process.off("SIGINT", onSignal);
    process.off("SIGTERM", onSignal);
    await model.close();
  }
}
