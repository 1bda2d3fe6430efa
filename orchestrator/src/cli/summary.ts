// The end of a generate run: a short human summary (what was written, load time, time per step, decode time,
// peak memory) or, with --json, one JSON object with the same facts and every parameter.
import { formatBytes } from "../format.js";
import type { ImageResult } from "../nucleus-image.js";
import { formatDuration } from "./reporter.js";

/** What the summary reads from a result (a local ImageResult, or what a server sent). */
export type RunResult = Pick<ImageResult, "metadata" | "timings" | "memory">;

export function formatSummary(paths: string[], result: RunResult): string {
  const { metadata, timings, memory } = result;
  const seed = metadata.seed === undefined ? "" : `, seed ${metadata.seed}`;
  return [
    `wrote ${paths[0]} (${metadata.width}×${metadata.height}, ${metadata.steps} steps, cfg ${metadata.cfg}${seed})`,
    ...paths.slice(1).map((path) => `wrote ${path}`),
    `  load ${formatDuration(timings.loadMs)} · ${(timings.perStepMs / 1000).toFixed(2)} s/step (${formatDuration(timings.stepsMs)} for ${metadata.steps}) · ` +
      `decode ${formatDuration(timings.decodeMs)} · total ${formatDuration(timings.loadMs + timings.totalMs)}`,
    `  peak memory: engine process ${formatBytes(memory.peakRssBytes)} resident, MLX ${formatBytes(memory.mlxPeakBytes)}`,
  ].join("\n");
}

/** One JSON object for the whole run: every path and seed, the first image's parameters, timings and peaks. */
export function summaryJson(images: { paths: string[]; result: RunResult }[]): Record<string, unknown> {
  const round = (ms: number) => Math.round(ms * 10) / 10;
  const results = images.map((image) => image.result);
  const sum = (pick: (result: RunResult) => number) => results.reduce((total, result) => total + pick(result), 0);
  const steps = sum((result) => result.metadata.steps);
  return {
    paths: images.flatMap((image) => image.paths),
    seeds: results.flatMap((result) => (result.metadata.seed === undefined ? [] : [result.metadata.seed])),
    parameters: results[0]?.metadata,
    timings: {
      load_ms: round(sum((result) => result.timings.loadMs)),
      per_step_ms: round(sum((result) => result.timings.stepsMs) / Math.max(1, steps)),
      steps_ms: round(sum((result) => result.timings.stepsMs)),
      denoise_compute_ms: round(sum((result) => result.timings.denoiseComputeMs)),
      decode_ms: round(sum((result) => result.timings.decodeMs) / Math.max(1, results.length)),
      total_ms: round(sum((result) => result.timings.loadMs + result.timings.totalMs)),
    },
    memory: {
      peak_rss_bytes: results.at(-1)?.memory.peakRssBytes ?? 0,
      mlx_peak_bytes: results.at(-1)?.memory.mlxPeakBytes ?? 0,
    },
  };
}
