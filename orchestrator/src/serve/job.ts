// One job of the image service: its request, its state, its events in order, and how it ended.
import { randomUUID } from "node:crypto";

import type { ImageFormat } from "../request/limits.js";
import type { JobRequest } from "./job-request.js";

export interface JobTimings {
  queuedMs: number;
  loadMs: number;
  perStepMs: number;
  stepsMs: number;
  decodeMs: number;
  totalMs: number;
  denoiseComputeMs: number;
}

export interface JobMemory {
  peakRssBytes: number;
  mlxPeakBytes: number;
}

export type JobEvent =
  | { type: "queued"; position: number }
  | { type: "progress"; index: number; step: number; total: number; elapsedMs: number; etaMs: number; preview?: Buffer }
  | {
    type: "image"; index: number; seed: number; data: Buffer; metadataJson: string; format: ImageFormat; width: number;
    height: number; timings: JobTimings; memory: JobMemory;
  }
  | { type: "done"; images: number; timings: JobTimings; memory: JobMemory };

/** The job was cancelled: by Cancel, by its client going away, or by the server shutting down. */
export class JobCancelledError extends Error {
  constructor(readonly jobId: string, readonly reason: string) {
    super(`job ${jobId} was cancelled (${reason}); images finished before were sent`);
    this.name = "JobCancelledError";
  }
}

export type JobState = "queued" | "running" | "finished";

export class Job {
  readonly id = randomUUID();
  readonly submittedAt = performance.now();
  state: JobState = "queued";
  readonly abort = new AbortController();
  cancelReason?: string;
  /** Resolves when the job has sent its last event; rejects with why it failed (JobCancelledError, ...). */
  readonly finished: Promise<void>;
  private settle!: { resolve: () => void; reject: (error: Error) => void };
  /** Events go out one after another, also those that need an async step first (encoding a preview). */
  private sending: Promise<void> = Promise.resolve();

  constructor(readonly request: JobRequest, private readonly listener: (event: JobEvent, job: Job) => void) {
    this.finished = new Promise<void>((resolve, reject) => (this.settle = { resolve, reject }));
    this.finished.catch(() => undefined); // a door that stopped listening must not make it unhandled
  }

  /** Sends an event after those before it; `event` may be a promise (it is awaited in order). */
  send(event: JobEvent | Promise<JobEvent>): void {
    this.sending = this.sending.then(async () => this.listener(await event, this)).catch(() => undefined);
  }

  /** Waits until every event sent so far is out. */
  flush(): Promise<void> {
    return this.sending;
  }

  cancel(reason: string): void {
    if (this.state === "finished" || this.abort.signal.aborted) return;
    this.cancelReason = reason;
    this.abort.abort();
  }

  async succeed(): Promise<void> {
    await this.flush();
    this.state = "finished";
    this.settle.resolve();
  }

  async fail(error: Error): Promise<void> {
    await this.flush();
    this.state = "finished";
    this.settle.reject(error);
  }
}
