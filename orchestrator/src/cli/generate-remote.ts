// `generate --server ADDRESS` (or NUCLEUS_SERVER): the job goes to a running `nucleus-image serve` instead of a
// fresh engine. The request is checked here with the same table first (bad input fails before any call), the
// seeds are fixed here (so every output name is known and checked before anything runs), and the server's files —
// with the metadata generate writes — are written as they come, with the same progress bar and summary.
import { status as GrpcStatus } from "@grpc/grpc-js";

import { writeFilesAtomic } from "../files/output.js";
import type { Timings } from "../generated/nucleus/image/v1/images.js";
import { checkMetadataFits } from "../image/encode.js";
import type { ImageMetadata } from "../image/metadata.js";
import { checkPreviewPath, writePreview } from "../preview/preview-file.js";
import { resolveGenerateRequest } from "../request/generate-request.js";
import { ImageServerError, ImagesConnection } from "../serve/images-client.js";
import { EXIT_INTERRUPTED, UsageError, printError } from "./errors.js";
import { plannedOutputs, type GenerateFlags, type OutputSlot } from "./generate.js";
import { systemPromptOf } from "./prompt-options.js";
import type { Reporter } from "./reporter.js";
import { formatSummary, summaryJson, type RunResult } from "./summary.js";

/** Flags that choose or load a model: the server has loaded its own. */
const LOCAL_ONLY = [
  ["model", "--model"], ["revision", "--revision"], ["dtype", "--dtype"], ["quantize", "--quantize"], ["textQuantize", "--text-quantize"],
  ["lowMemory", "--low-memory"], ["promptEmbeds", "--prompt-embeds"], ["negativeEmbeds", "--negative-embeds"], ["latents", "--latents"],
  ["outputLatents", "--output-latents"],
] as const;

/** Consecutive seeds go to the server as one job (seed + count); a list of other seeds as one job per seed. */
function jobsOf(slots: OutputSlot[]): OutputSlot[][] {
  const jobs: OutputSlot[][] = [];
  for (const slot of slots) {
    const last = jobs.at(-1);
    if (last && last.at(-1)!.seed! + 1 === slot.seed) last.push(slot);
    else jobs.push([slot]);
  }
  return jobs;
}

function resultOf(metadataJson: string, timings: Timings | undefined, memory: { peakRssBytes: number; mlxPeakBytes: number } | undefined): RunResult {
  const t = timings ?? { queuedSeconds: 0, loadSeconds: 0, perStepSeconds: 0, stepsSeconds: 0, decodeSeconds: 0, totalSeconds: 0, denoiseComputeSeconds: 0 };
  return {
    metadata: JSON.parse(metadataJson) as ImageMetadata,
    timings: {
      loadMs: t.loadSeconds * 1000, perStepMs: t.perStepSeconds * 1000, stepsMs: t.stepsSeconds * 1000, decodeMs: t.decodeSeconds * 1000,
      totalMs: (t.totalSeconds - t.loadSeconds) * 1000, denoiseComputeMs: t.denoiseComputeSeconds * 1000,
    },
    memory: { peakRssBytes: Number(memory?.peakRssBytes ?? 0), mlxPeakBytes: Number(memory?.mlxPeakBytes ?? 0) },
  };
}

export async function runOnServer(
  server: string, text: string | undefined, flags: GenerateFlags, given: GenerateFlags, reporter: Reporter,
): Promise<void> {
  for (const [key, flag] of LOCAL_ONLY) {
    if (given[key] !== undefined) {
      throw new UsageError(`${flag} does not apply with --server: the server has loaded its model (${flag === "--model" ? "leave it out" : "start the server with it"})`);
    }
  }
  if (text === undefined) throw new UsageError("--server takes a text prompt (prompt embeddings and latents work only without it)");
  const systemPrompt = systemPromptOf(flags);
  const options = resolveGenerateRequest({
    prompt: text, negative: flags.negative, systemPrompt, width: flags.width, height: flags.height, steps: flags.steps, cfg: flags.cfg,
    seed: flags.seed?.[0],
  });
  const force = Boolean(flags.force);
  const { slots, format } = plannedOutputs(flags, options.seed!, force);
  if (flags.metadata) checkMetadataFits(format, [text, flags.negative, systemPrompt ?? undefined]);
  const preview = flags.preview === undefined ? undefined : checkPreviewPath(flags.preview, force);

  const connection = new ImagesConnection(server);
  const abort = new AbortController();
  let interrupts = 0;
  const onSignal = () => {
    if (++interrupts > 1) process.exit(EXIT_INTERRUPTED);
    reporter.message("cancelling the job on the server (Ctrl-C again to stop now)…");
    abort.abort();
  };
  process.on("SIGINT", onSignal);
  process.on("SIGTERM", onSignal);
  const written: { paths: string[]; result: RunResult }[] = [];
  try {
    reporter.message(`sending the job to ${server}…`);
    for (const job of jobsOf(slots)) {
      const request = {
        prompt: text, negativePrompt: flags.negative, systemPrompt: systemPrompt ?? undefined, noSystemPrompt: systemPrompt === null || undefined,
        width: options.width, height: options.height, steps: options.steps, guidance: options.cfg, seed: job[0]!.seed, count: job.length,
        previewEvery: preview ? 1 : 0, format, metadata: Boolean(flags.metadata), quality: flags.quality,
      };
      for await (const event of connection.generate(request, abort.signal)) {
        if (event.queued) {
          reporter.message(event.queued.position > 0 ? `queued on ${server} behind ${event.queued.position} job(s)…` : `running on ${server}…`);
        } else if (event.progress) {
          const { step, total, elapsedSeconds, etaSeconds } = event.progress;
          reporter.update({ step, total, elapsedMs: elapsedSeconds * 1000, etaMs: etaSeconds * 1000, sigma: 0 });
          if (preview && event.progress.preview.length > 0) writePreview(preview, event.progress.preview);
        } else if (event.image) {
          reporter.done();
          const slot = job[event.image.index]!;
          writeFilesAtomic([{ path: slot.image, bytes: event.image.data }], force);
          const result = resultOf(event.image.metadataJson, event.image.timings, event.image.memory);
          written.push({ paths: [slot.image], result });
          if (!flags.json && !flags.quiet) console.log(formatSummary([slot.image], result));
        }
      }
    }
    if (flags.json) console.log(JSON.stringify(summaryJson(written)));
  } catch (error) {
    reporter.done();
    if (abort.signal.aborted || (error instanceof ImageServerError && error.code === GrpcStatus.CANCELLED)) {
      const before = written.length ? ` (the ${written.length} image(s) finished before were kept: ${written.map((entry) => entry.paths[0]).join(", ")})` : "";
      printError(`generation cancelled on the server; nothing more was written${before}`);
      process.exitCode = EXIT_INTERRUPTED;
      return;
    }
    if (error instanceof ImageServerError && error.code === GrpcStatus.INVALID_ARGUMENT) throw new UsageError(error.message);
    throw error;
  } finally {
    process.off("SIGINT", onSignal);
    process.off("SIGTERM", onSignal);
    connection.close();
  }
}
