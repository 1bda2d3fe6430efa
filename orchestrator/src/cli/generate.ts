import { resolve } from "node:path";

import { type Command } from "@commander-js/extra-typings";

import { EngineDiedError } from "../engine/errors.js";
import { checkOutputPath, writeFilesAtomic } from "../files/output.js";
import { batchSeeds, expandTemplate, isTemplate } from "../files/output-template.js";
import { checkMetadataFits, encodeImage, imageFormatOf } from "../image/encode.js";
import { metadataText, type ImageMetadata } from "../image/metadata.js";
import { isHubId } from "../model/hf-cache.js";
import { resolveModel } from "../model/resolve-model.js";
import { NucleusImage, type ImageResult } from "../nucleus-image.js";
import { GenerationCancelledError, negativePrompt, tokenGrid } from "../pipeline/generate.js";
import { readLatents, readPromptEmbedding } from "../pipeline/inputs.js";
import { readModelFolder, requireTextSupport } from "../pipeline/model-folder.js";
import { resolveGenerateRequest, type GenerateRequest, type PromptInput } from "../request/generate-request.js";
import { GENERATION_LIMITS, type ImageFormat } from "../request/limits.js";
import { float32Tensor } from "../tensors/convert.js";
import { serializeSafetensors } from "../tensors/safetensors.js";
import { EXIT_INTERRUPTED, UsageError, printError } from "./errors.js";
import { quantizationBitsOf, readImageParameters } from "./from-image.js";
import { loadOptions, loadProgressReporter, withModelOptions, withTransformerOptions } from "./model-options.js";
import { limitFlag, seedList } from "./parsers.js";
import { promptFrom, systemPromptOf, withPromptOptions } from "./prompt-options.js";
import { Reporter } from "./reporter.js";
import { runOnServer } from "./generate-remote.js";
import { checkPreviewPath, encodePreviewPng, writePreview } from "../preview/preview-file.js";
import { formatSummary, summaryJson } from "./summary.js";

const defaultOf = (name: "steps" | "cfg" | "width" | "height") => GENERATION_LIMITS[name].default;

function declareGenerate(program: Command) {
  const command = program
    .command("generate")
    .description("generate an image from a text prompt (or from prompt embeddings)")
    .argument("[prompt]", "text prompt; '-' reads it from standard input")
    .option("--negative <text>", "negative prompt (default with --cfg > 1: the empty prompt, like the reference pipeline)")
    .option("--prompt-embeds <file>", "instead of a text prompt: safetensors with prompt_embeds [1, L, D] (+ prompt_embeds_mask [1, L])")
    .option("--negative-embeds <file>", "instead of --negative: the negative prompt's embeddings")
    .option("--from-image <file>", "reuse the parameters stored in an image made by nucleus-image (flags given here override them)");
  return withTransformerOptions(withModelOptions(withPromptOptions(command)))
    .option("--latents <file>", "initial packed latents: safetensors with latents [1, S, C] (diffusers' prepare_latents)")
    .option("--seed <seeds>", "seed for the initial noise, or a comma-separated list for several images (default: random, printed)", seedList)
    .option("--count <n>", "how many images, with seeds seed, seed+1, ... (default 1; one model load for all)", limitFlag("--count", "count"))
    .option("--steps <n>", `denoising steps (default ${defaultOf("steps")})`, limitFlag("--steps", "steps"))
    .option("--cfg <g>", `classifier-free guidance scale, ≤ 1 disables it (default ${defaultOf("cfg")})`, limitFlag("--cfg", "cfg"))
    .option("--width <px>", `image width, a multiple of 16 (default ${defaultOf("width")})`, limitFlag("--width", "width"))
    .option("--height <px>", `image height, a multiple of 16 (default ${defaultOf("height")})`, limitFlag("--height", "height"))
    .option("-o, --output <file>", "image to write: .png, .jpg/.jpeg or .webp; {seed} and {index} name several (default nucleus-{seed}.png); never overwritten without --force")
    .option("--quality <q>", `JPEG/WebP quality 1-100 (default ${GENERATION_LIMITS.quality.default})`, limitFlag("--quality", "quality"))
    .option("--force", "overwrite existing output files")
    .option("--output-latents <file>", "also write the final packed latents (safetensors, key latents)")
    .option("--no-metadata", "write no generation parameters into the image")
    .option("--preview <file>", "rewrite this PNG at every step with a preview of the image being made (1/8 of its size)")
    .option("--server <address>", "send the job to a running `nucleus-image serve` (its gRPC address: unix:/path or host:port; default $NUCLEUS_SERVER) instead of starting an engine")
    .option("--json", "print one JSON object at the end (paths, seed, parameters, timings, peak memory)")
    .option("-q, --quiet", "print nothing but errors");
}

type GenerateCommand = ReturnType<typeof declareGenerate>;
export type GenerateFlags = ReturnType<GenerateCommand["opts"]>;

export function registerGenerate(program: Command): void {
  declareGenerate(program).action(async (prompt, flags) => runGenerate(prompt, flags));
}

/** The flags with the parameters of --from-image filled in where the command line left them out. */
async function withImageParameters(flags: GenerateFlags, remote: boolean): Promise<{ flags: GenerateFlags; image?: ImageMetadata }> {
  if (!flags.fromImage) return { flags };
  const image = await readImageParameters(flags.fromImage);
  const dtype = image.dtype === "float32" || image.dtype === "bfloat16" ? image.dtype : undefined;
  const model = flags.model ?? process.env.NUCLEUS_MODEL ?? (isHubId(image.model) ? image.model : undefined);
  if (model === undefined && !remote) {
    throw new UsageError(`--from-image: the image was made with the model '${image.model}'; give it with --model`);
  }
  return {
    image,
    flags: {
      ...flags,
      model,
      negative: flags.negative ?? (flags.negativeEmbeds ? undefined : image.negative_prompt),
      systemPrompt: flags.systemPrompt ?? (image.system_prompt === null ? false : image.system_prompt),
      seed: flags.seed ?? (flags.latents || image.seed === undefined ? undefined : [image.seed]),
      steps: flags.steps ?? image.steps,
      cfg: flags.cfg ?? image.cfg,
      width: flags.width ?? image.width,
      height: flags.height ?? image.height,
      ...(remote ? {} : {
        quantize: flags.quantize ?? quantizationBitsOf(image.quantization),
        textQuantize: flags.textQuantize ?? quantizationBitsOf(image.text_encoder_quantization),
        dtype: flags.dtype ?? dtype,
      }),
    },
  };
}

async function runGenerate(argument: string | undefined, given: GenerateFlags): Promise<void> {
  // Everything that can be checked before starting the engine is checked first, and nothing is written.
  const server = given.server ?? (process.env.NUCLEUS_SERVER || undefined);
  const { flags, image } = await withImageParameters(given, server !== undefined);
  const reporter = new Reporter({ quiet: Boolean(flags.quiet) });
  const text = promptFrom(argument, flags) ?? (flags.promptEmbeds ? undefined : image?.prompt);
  if (text !== undefined && flags.promptEmbeds) throw new UsageError("give either a text prompt or --prompt-embeds, not both");
  if (text === undefined && !flags.promptEmbeds) {
    throw new UsageError(
      image
        ? `--from-image: the image was made from prompt embeddings (${image.prompt_embeds ?? "a file"}); give them with --prompt-embeds FILE`
        : 'give a prompt, e.g. nucleus-image generate "A red apple on a white table" (or --prompt-file FILE, - for standard input, --prompt-embeds FILE)',
    );
  }
  if (flags.negative !== undefined && flags.negativeEmbeds) throw new UsageError("give either --negative or --negative-embeds, not both");
  if (flags.latents && given.seed !== undefined) throw new UsageError("give either --seed or --latents, not both");
  if (flags.seed && flags.seed.length > 1 && flags.count !== undefined && flags.count !== flags.seed.length) {
    throw new UsageError(`--count ${flags.count} does not match the ${flags.seed.length} seeds given`);
  }
  if (server !== undefined) return runOnServer(server, text, flags, given, reporter);

  const model = resolveModel(flags.model, { revision: flags.revision });
  for (const note of model.notes) reporter.note(note);
  const folder = readModelFolder(model);
  const positive: PromptInput = text ?? readPromptEmbedding(resolve(flags.promptEmbeds!), folder.textWidth);
  const givenNegative = flags.negative ?? (flags.negativeEmbeds ? readPromptEmbedding(resolve(flags.negativeEmbeds), folder.textWidth) : undefined);
  const request: GenerateRequest = {
    prompt: positive, negative: givenNegative, systemPrompt: systemPromptOf(flags),
    width: flags.width, height: flags.height, steps: flags.steps, cfg: flags.cfg, seed: flags.seed?.[0],
  };
  const options = resolveGenerateRequest(request);
  const grid = tokenGrid(folder, options.width, options.height);
  if (flags.latents) options.latents = readLatents(resolve(flags.latents), grid.height * grid.width, folder.latentChannels);
  if (options.latents) options.seed = undefined;
  const negative = negativePrompt(options.prompt, options.negative, options.cfg);
  if (options.cfg > 1 && negative === undefined) {
    throw new UsageError("--cfg > 1 needs the unconditional branch: --negative-embeds FILE or --negative TEXT; or pass --cfg 1 to disable guidance");
  }
  const usesText = typeof options.prompt === "string" || typeof negative === "string";
  if (usesText) requireTextSupport(folder);

  const force = Boolean(flags.force);
  const { slots, format } = plannedOutputs(flags, options.latents ? undefined : options.seed!, force);
  const preview = flags.preview === undefined ? undefined : checkPreviewPath(flags.preview, force);
  let previewWrites = Promise.resolve();
  if (flags.metadata) {
    const texts = [options.prompt, negative, options.systemPrompt].map((text) => (typeof text === "string" ? text : undefined));
    checkMetadataFits(format, texts);
  }

  const abort = new AbortController();
  const written: { paths: string[]; result: ImageResult }[] = [];
  let nucleus: NucleusImage | undefined;
  let interrupts = 0;
  const onSignal = () => {
    interrupts++;
    if (interrupts > 1) process.exit(EXIT_INTERRUPTED);
    reporter.message("cancelling after this step (Ctrl-C again to stop now)…");
    abort.abort();
    // A stopped or hung engine would never finish its step: give it a moment to answer, else stop it.
    void nucleus?.ensureResponsive(3000).then((answered) => answered || reporter.message("the engine was not answering; it was stopped"));
  };
  process.on("SIGINT", onSignal);
  process.on("SIGTERM", onSignal);

  try {
    reporter.message(`loading ${folder.label}…`);
    const components = usesText ? ["transformer", "vae", "text_encoder"] : ["transformer", "vae"];
    nucleus = await NucleusImage.load(model, {
      load: loadOptions(flags, components),
      lowMemory: Boolean(flags.lowMemory),
      plannedSize: { width: options.width, height: options.height },
      onLoadProgress: loadProgressReporter(reporter),
      signal: abort.signal,
    });
    for (const slot of slots) {
      const result = await nucleus.generate({ ...options, seed: slot.seed }, {
        onProgress: (progress) => reporter.update(progress), signal: abort.signal, onWarning: (message) => reporter.warn(message),
        onPreview: preview === undefined ? undefined : ({ image }) => {
          previewWrites = previewWrites.then(async () => writePreview(preview, await encodePreviewPng(image)));
        },
      });
      await previewWrites;
      reporter.done();
      const files = [{ path: slot.image, bytes: await encodeImage(result.image, format, { quality: flags.quality, metadata: metadataOf(result, flags) }) }];
      if (slot.latents) {
        const tensor = float32Tensor(result.latents, [1, result.grid.height * result.grid.width, folder.latentChannels]);
        files.push({ path: slot.latents, bytes: serializeSafetensors({ latents: tensor }, { format: "pt" }) });
      }
      writeFilesAtomic(files, force);
      written.push({ paths: files.map((file) => file.path), result });
      if (!flags.json && !flags.quiet) console.log(formatSummary(written.at(-1)!.paths, result));
    }
    if (flags.json) console.log(JSON.stringify(summaryJson(written)));
  } catch (error) {
    reporter.done();
    if (abort.signal.aborted && (error instanceof GenerationCancelledError || error instanceof EngineDiedError)) {
      const why = error instanceof GenerationCancelledError ? error.message : "generation cancelled; the engine was not answering and was stopped; nothing was written";
      const before = written.length ? ` (the ${written.length} image(s) finished before were kept: ${written.map((entry) => entry.paths[0]).join(", ")})` : "";
      printError(why + before);
      process.exitCode = EXIT_INTERRUPTED;
      return;
    }
    throw error;
  } finally {
    process.off("SIGINT", onSignal);
    process.off("SIGTERM", onSignal);
    await nucleus?.close();
  }
}

export interface OutputSlot {
  seed?: number;
  image: string;
  latents?: string;
}

/**
 * Every file the run will write, checked before the engine starts: one image (and latents file) per seed, named
 * by -o (a {seed}/{index} template for several).
 */
export function plannedOutputs(flags: GenerateFlags, firstSeed: number | undefined, force: boolean): { slots: OutputSlot[]; format: ImageFormat } {
  if (firstSeed === undefined && (flags.count ?? 1) > 1) throw new UsageError("--latents makes one image: leave out --count");
  let seeds: (number | undefined)[];
  try {
    seeds = firstSeed === undefined ? [undefined] : batchSeeds(flags.seed, flags.count, () => firstSeed);
  } catch (error) {
    throw new UsageError((error as Error).message);
  }
  const imageTemplate = flags.output ?? "nucleus-{seed}.png";
  for (const [flag, template] of [["-o", imageTemplate], ["--output-latents", flags.outputLatents]] as const) {
    if (template !== undefined && seeds.length > 1 && !isTemplate(template)) {
      throw new UsageError(`${seeds.length} images need ${flag} with {seed} or {index} in the name, e.g. apple-{seed}.png`);
    }
  }
  const slots = seeds.map((seed, position) => ({
    seed,
    image: resolve(expandTemplate(imageTemplate, { seed, index: position + 1 })),
    latents: flags.outputLatents ? resolve(expandTemplate(flags.outputLatents, { seed, index: position + 1 })) : undefined,
  }));
  const paths = slots.flatMap((slot) => (slot.latents ? [slot.image, slot.latents] : [slot.image]));
  const repeated = paths.find((path, position) => paths.indexOf(path) !== position);
  if (repeated) throw new UsageError(`${repeated} would be written twice: give different seeds, or use {index} in the name`);
  for (const path of paths) checkOutputPath(path, force);
  const format = imageFormatOf(slots[0]!.image);
  if (flags.quality !== undefined && format === "png") throw new UsageError("--quality applies to .jpg, .jpeg and .webp outputs, not PNG");
  return { slots, format };
}

/** The image's metadata: the library's, plus the names of the input files used. */
function metadataOf(result: ImageResult, flags: GenerateFlags): Record<string, string> {
  if (!flags.metadata) return {};
  const name = (path: string | undefined) => (path ? resolve(path).split("/").pop() : undefined);
  return metadataText({
    ...result.metadata,
    prompt_embeds: name(flags.promptEmbeds),
    negative_embeds: name(flags.negativeEmbeds),
    latents: name(flags.latents),
  });
}
