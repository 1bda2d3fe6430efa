import { randomInt } from "node:crypto";
import { resolve } from "node:path";

import type { Command } from "commander";

import { checkWritable, writeFileAtomic } from "../files/output.js";
import { metadataText } from "../image/metadata.js";
import { encodePng } from "../image/png.js";
import { NucleusImage } from "../nucleus-image.js";
import { GenerationCancelledError, negativePrompt, tokenGrid, type PromptInput } from "../pipeline/generate.js";
import { readLatents, readPromptEmbedding } from "../pipeline/inputs.js";
import { readModelFolder, requireTextSupport, type ModelFolder } from "../pipeline/model-folder.js";
import { float32Tensor } from "../tensors/convert.js";
import { writeSafetensors } from "../tensors/safetensors.js";
import { addModelOptions, loadOptions, loadProgressReporter, modelDirectory, type ModelFlags } from "./model-flags.js";
import { integer, nonNegative } from "./parsers.js";
import { ProgressBar, formatDuration } from "./progress.js";
import { addPromptOptions, systemPromptOf, warn, type PromptFlags } from "./prompt-flags.js";

interface GenerateFlags extends ModelFlags, PromptFlags {
  negative?: string;
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
  lowMemory?: boolean;
}

export function registerGenerate(program: Command): void {
  const command = program
    .command("generate")
    .description("generate an image from a text prompt (or from prompt embeddings)")
    .argument("[prompt]", "text prompt")
    .option("--negative <text>", "negative prompt (default with --cfg > 1: the empty prompt, like the reference pipeline)")
    .option("--prompt-embeds <file>", "instead of a text prompt: safetensors with prompt_embeds [1, L, D] (+ prompt_embeds_mask [1, L])")
    .option("--negative-embeds <file>", "instead of --negative: the negative prompt's embeddings");
  addPromptOptions(command);
  addModelOptions(command, { transformer: true })
    .option("--latents <file>", "initial packed latents: safetensors with latents [1, S, C] (diffusers' prepare_latents)")
    .option("--seed <n>", "seed for the initial noise (default: random, printed)", integer("--seed", 0, 4294967295))
    .option("--steps <n>", "denoising steps", integer("--steps", 1, 1000), 50)
    .option("--cfg <g>", "classifier-free guidance scale (≤ 1 disables it)", nonNegative("--cfg"), 4.0)
    .option("--width <px>", "image width, a multiple of 16", integer("--width", 16, 4096), 1024)
    .option("--height <px>", "image height, a multiple of 16", integer("--height", 16, 4096), 1024)
    .option("-o, --output <file>", "PNG to write (default nucleus-<seed>.png); never overwritten without --force")
    .option("--force", "overwrite existing output files")
    .option("--output-latents <file>", "also write the final packed latents (safetensors, key latents)")
    .option("--no-metadata", "write no generation parameters into the PNG")
    .option("--low-memory", "drop the text encoder from memory once its prompts are encoded")
    .action(async (prompt: string | undefined, flags: GenerateFlags) => runGenerate(prompt, flags));
}

interface Conditioning {
  positive: PromptInput;
  negative?: PromptInput;
  usesText: boolean;
}

/** Picks the prompt and negative from text or embedding files, checking everything before the engine starts. */
function conditioningFrom(prompt: string | undefined, flags: GenerateFlags, folder: ModelFolder): Conditioning {
  if (prompt !== undefined && flags.promptEmbeds) throw new Error("give either a text prompt or --prompt-embeds, not both");
  if (prompt === undefined && !flags.promptEmbeds) throw new Error('give a prompt, e.g. nucleus-image generate "A red apple on a white table" (or --prompt-embeds FILE)');
  if (flags.negative !== undefined && flags.negativeEmbeds) throw new Error("give either --negative or --negative-embeds, not both");
  const positive = prompt ?? readPromptEmbedding(resolve(flags.promptEmbeds!), folder.textWidth);
  const given = flags.negative ?? (flags.negativeEmbeds ? readPromptEmbedding(resolve(flags.negativeEmbeds), folder.textWidth) : undefined);
  const negative = negativePrompt(positive, given, flags.cfg);
  if (flags.cfg > 1 && negative === undefined) {
    throw new Error("--cfg > 1 needs the unconditional branch: --negative-embeds FILE or --negative TEXT; or pass --cfg 1 to disable guidance");
  }
  const usesText = typeof positive === "string" || typeof negative === "string";
  if (usesText) requireTextSupport(folder);
  return { positive, negative, usesText };
}

async function runGenerate(prompt: string | undefined, flags: GenerateFlags): Promise<void> {
  // Everything that can be checked before starting the engine is checked first, and nothing is written.
  const folder = readModelFolder(modelDirectory(flags));
  const grid = tokenGrid(folder, flags.width, flags.height);
  const { positive, negative, usesText } = conditioningFrom(prompt, flags, folder);
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
  const components = usesText ? ["transformer", "vae", "text_encoder"] : ["transformer", "vae"];
  const model = await NucleusImage.load(folder.directory, {
    load: loadOptions(flags, components),
    lowMemory: Boolean(flags.lowMemory),
    onLoadProgress: loadProgressReporter(bar),
  });
  try {
    const systemPrompt = systemPromptOf(flags);
    const result = await model.generate(
      { prompt: positive, negative, systemPrompt, width: flags.width, height: flags.height, steps: flags.steps, cfg: flags.cfg, seed, latents },
      { onProgress: (progress) => bar.update(progress), signal: abort.signal, onWarning: (message) => { bar.done(); warn(message); } },
    );
    bar.done();
    const info = await model.client.getInfo();
    const component = (name: string) => model.summary.components.find((entry) => entry.name === name);
    const text = flags.metadata
      ? metadataText({
          prompt: typeof positive === "string" ? positive : undefined,
          negative_prompt: typeof negative === "string" ? negative : undefined,
          system_prompt: usesText && systemPrompt !== undefined ? systemPrompt : undefined,
          seed, steps: flags.steps, cfg: flags.cfg, width: flags.width, height: flags.height, model: folder.directory,
          quantization: component("transformer")?.quantization ?? "none", dtype: model.dtype!, engine_version: info.engineVersion,
          mlx_version: info.mlxVersion, scheduler: "FlowMatchEulerDiscrete",
          text_encoder_quantization: usesText ? (component("text_encoder")?.quantization ?? "none") : undefined,
          prompt_embeds: flags.promptEmbeds && resolve(flags.promptEmbeds),
          negative_embeds: flags.negativeEmbeds && resolve(flags.negativeEmbeds),
          latents: flags.latents && resolve(flags.latents),
        })
      : {};
    writeFileAtomic(output, await encodePng(result.image, text), Boolean(flags.force));
    if (flags.outputLatents) {
      const tensor = float32Tensor(result.latents, [1, result.grid.height * result.grid.width, folder.latentChannels]);
      writeSafetensors(resolve(flags.outputLatents), { latents: tensor }, { format: "pt" }, { force: Boolean(flags.force) });
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
