// The image service behind `nucleus-image serve`: one loaded model (the library's NucleusImage), jobs in a FIFO
// queue run one at a time, each streaming its events to the door it came through (gRPC or HTTP). Prompts encoded
// for one job are reused by later ones (the library's prompt cache).
import { EngineDiedError } from "../engine/errors.js";
import { encodeImage } from "../image/encode.js";
import { metadataText } from "../image/metadata.js";
import type { RGBImage } from "../image/png.js";
import type { NucleusImage } from "../nucleus-image.js";
import { GenerationCancelledError } from "../pipeline/generate.js";
import { requireTextSupport } from "../pipeline/model-folder.js";
import { encodePreviewPng } from "../preview/preview-file.js";
import { Job, JobCancelledError, type JobEvent, type JobMemory, type JobTimings } from "./job.js";
import { resolveJobRequest, type FieldNames, type JobInput } from "./job-request.js";

/** The queue holds this many waiting jobs already. */
export class QueueFullError extends Error {
  constructor(limit: number) {
    super(`the queue is full (${limit} job(s) waiting): try again later, or send the job to another server`);
    this.name = "QueueFullError";
  }
}

/** The service takes no jobs now: the model is still loading, the server is shutting down, or the engine failed. */
export class ServiceUnavailableError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "ServiceUnavailableError";
  }
}

/** The engine died during a job; it was restarted (or could not be). */
export class JobFailedError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "JobFailedError";
  }
}

export interface ServiceOptions {
  /** Jobs that may wait behind the running one; more are refused with QueueFullError. */
  maxQueue: number;
  /** Where the service logs what it does (one line per job); default: nothing. */
  log?: (line: string) => void;
}

export interface ServiceStatus {
  state: "loading" | "ready" | "closing" | "failed";
  queueLength: number;
  busy: boolean;
  maxQueue: number;
  completedJobs: number;
  uptimeMs: number;
}

export type ServiceListener = (event: JobEvent, job: Job) => void;

export const DEFAULT_MAX_QUEUE = 32;

export class ImageService {
  private model?: NucleusImage;
  private state: ServiceStatus["state"] = "loading";
  private failure?: string;
  private readonly waiting: Job[] = [];
  private running?: Job;
  private readonly jobs = new Map<string, Job>();
  private completed = 0;
  private readonly started = performance.now();
  private idle: Promise<void> = Promise.resolve();

  constructor(readonly options: ServiceOptions) {}

  /** The model is loaded: jobs are taken from now on. */
  ready(model: NucleusImage): void {
    this.model = model;
    model.takeLoadMs();
    if (this.state === "loading") this.state = "ready";
  }

  get loadedModel(): NucleusImage | undefined {
    return this.model;
  }

  status(): ServiceStatus {
    return {
      state: this.state, queueLength: this.waiting.length, busy: this.running !== undefined, maxQueue: this.options.maxQueue,
      completedJobs: this.completed, uptimeMs: performance.now() - this.started,
    };
  }

  private requireReady(): NucleusImage {
    if (this.state === "loading") throw new ServiceUnavailableError("the model is still loading: try again when the server has printed its ready line");
    if (this.state === "closing") throw new ServiceUnavailableError("the server is shutting down");
    if (this.state === "failed") throw new ServiceUnavailableError(`the server cannot run jobs: ${this.failure}`);
    return this.model!;
  }

  /**
   * Checks the job (GenerateOptionsError, ImageFormatError), queues it (QueueFullError past maxQueue) and returns
   * it; its events go to `listener`, starting with `queued`.
   */
  submit(input: JobInput, listener: ServiceListener, names: FieldNames = {}): Job {
    const model = this.requireReady();
    if (!model.acceptsText) requireTextSupport(model.folder);
    const request = resolveJobRequest(input, model.imageModel!, names);
    if (this.waiting.length >= this.options.maxQueue && (this.running || this.waiting.length > 0)) {
      throw new QueueFullError(this.options.maxQueue);
    }
    const job = new Job(request, listener);
    this.jobs.set(job.id, job);
    this.waiting.push(job);
    job.send({ type: "queued", position: this.waiting.length - 1 + (this.running ? 1 : 0) });
    this.options.log?.(`job ${job.id} queued: ${request.seeds.length} image(s) ${request.generate.width}×${request.generate.height}, ${request.generate.steps} steps`);
    void this.next();
    return job;
  }

  /** Cancels a job; undefined when no such job is known. A running job stops after its current step. */
  cancel(id: string, reason: string): { cancelled: boolean; state: string } | undefined {
    const job = this.jobs.get(id);
    if (!job) return undefined;
    const state = job.state;
    if (state === "finished") return { cancelled: false, state };
    job.cancel(reason);
    const position = this.waiting.indexOf(job);
    if (position >= 0) {
      this.waiting.splice(position, 1);
      this.forget(job);
      void job.fail(new JobCancelledError(job.id, reason));
      this.announcePositions();
    }
    return { cancelled: true, state };
  }

  private forget(job: Job): void {
    // Finished jobs stay known for a while, so a late Cancel says "finished" rather than "unknown".
    setTimeout(() => this.jobs.delete(job.id), 60_000).unref();
  }

  private announcePositions(): void {
    this.waiting.forEach((job, index) => job.send({ type: "queued", position: index + (this.running ? 1 : 0) }));
  }

  private async next(): Promise<void> {
    if (this.running || this.waiting.length === 0 || this.state !== "ready") return;
    const job = this.waiting.shift()!;
    this.running = job;
    this.announcePositions();
    let finished!: () => void;
    this.idle = new Promise<void>((resolve) => (finished = resolve));
    try {
      await this.run(job);
    } finally {
      this.running = undefined;
      this.forget(job);
      finished();
      void this.next();
    }
  }

  private async run(job: Job): Promise<void> {
    const model = this.model!;
    const { request } = job;
    job.state = "running";
    const queuedMs = performance.now() - job.submittedAt;
    const totals: JobTimings = { queuedMs, loadMs: 0, perStepMs: 0, stepsMs: 0, decodeMs: 0, totalMs: 0, denoiseComputeMs: 0 };
    let memory: JobMemory = { peakRssBytes: 0, mlxPeakBytes: 0 };
    let steps = 0;
    try {
      for (const [index, seed] of request.seeds.entries()) {
        if (job.abort.signal.aborted) throw new GenerationCancelledError(0);
        let preview: RGBImage | undefined;
        const result = await model.generate({ ...request.generate, seed }, {
          signal: job.abort.signal,
          onWarning: (message) => this.options.log?.(`job ${job.id}: warning: ${message}`),
          previewEvery: request.previewEvery || undefined,
          onPreview: request.previewEvery ? (next) => (preview = next.image) : undefined,
          onProgress: (progress) => {
            const image = preview;
            preview = undefined;
            const event = { type: "progress" as const, index, step: progress.step, total: progress.total, elapsedMs: progress.elapsedMs, etaMs: progress.etaMs };
            job.send(image ? encodePreviewPng(image).then((png) => ({ ...event, preview: png })) : event);
          },
        });
        const metadata = metadataText(result.metadata);
        const data = await encodeImage(result.image, request.format, { quality: request.quality, metadata: request.metadata ? metadata : {} });
        const timings: JobTimings = {
          queuedMs: index === 0 ? queuedMs : 0, loadMs: result.timings.loadMs, perStepMs: result.timings.perStepMs,
          stepsMs: result.timings.stepsMs, decodeMs: result.timings.decodeMs, totalMs: result.timings.loadMs + result.timings.totalMs,
          denoiseComputeMs: result.timings.denoiseComputeMs,
        };
        memory = result.memory;
        job.send({
          type: "image", index, seed, data, metadataJson: metadata["nucleus-image"]!, format: request.format,
          width: result.image.width, height: result.image.height, timings, memory,
        });
        totals.loadMs += timings.loadMs;
        totals.stepsMs += timings.stepsMs;
        totals.decodeMs += timings.decodeMs;
        totals.totalMs += timings.totalMs;
        totals.denoiseComputeMs += timings.denoiseComputeMs;
        steps += request.generate.steps;
      }
      totals.perStepMs = totals.stepsMs / Math.max(1, steps);
      totals.decodeMs /= request.seeds.length;
      job.send({ type: "done", images: request.seeds.length, timings: totals, memory });
      this.completed++;
      this.options.log?.(`job ${job.id} done: ${request.seeds.length} image(s) in ${(totals.totalMs / 1000).toFixed(1)} s`);
      await job.succeed();
    } catch (error) {
      await job.fail(await this.failureOf(job, error as Error));
    }
  }

  /** What a failed job reports; an engine that died is restarted so the next job finds a working one. */
  private async failureOf(job: Job, error: Error): Promise<Error> {
    if (job.abort.signal.aborted && (error instanceof GenerationCancelledError || error instanceof EngineDiedError)) {
      this.options.log?.(`job ${job.id} cancelled: ${job.cancelReason}`);
      return new JobCancelledError(job.id, job.cancelReason ?? "cancelled");
    }
    this.options.log?.(`job ${job.id} failed: ${error.message.split("\n")[0]}`);
    if (!(error instanceof EngineDiedError) || this.state !== "ready") return error;
    try {
      await this.model!.restart();
      return new JobFailedError(`${error.message.split("\n")[0]}; the engine was restarted and the model loaded again: send the job again`);
    } catch (restartError) {
      this.state = "failed";
      this.failure = `the engine died and could not be restarted (${(restartError as Error).message.split("\n")[0]})`;
      return new JobFailedError(this.failure);
    }
  }

  /**
   * Stops taking jobs, cancels the waiting ones and the running one (it stops after its current step), and waits
   * until nothing runs. The model stays loaded (close it afterwards).
   */
  async shutdown(reason = "the server is shutting down"): Promise<void> {
    if (this.state !== "failed") this.state = "closing";
    for (const job of [...this.waiting]) this.cancel(job.id, reason);
    this.running?.cancel(reason);
    await this.idle;
  }
}
