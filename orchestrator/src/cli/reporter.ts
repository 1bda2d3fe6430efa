// What the CLI tells the user while it works, on standard error: a one-line progress bar with ETA on a terminal,
// one plain line per step otherwise (logs, CI), nothing but errors with --quiet.
import type { StepProgress } from "../pipeline/generate.js";
import { printNote, printWarning } from "./errors.js";

export function formatDuration(ms: number): string {
  if (ms < 10_000) return `${(ms / 1000).toFixed(1)}s`;
  const seconds = Math.round(ms / 1000);
  if (seconds < 60) return `${seconds}s`;
  const minutes = Math.floor(seconds / 60);
  return minutes < 60 ? `${minutes}m${String(seconds % 60).padStart(2, "0")}s` : `${Math.floor(minutes / 60)}h${String(minutes % 60).padStart(2, "0")}m`;
}

export type ReporterMode = "bar" | "lines" | "quiet";

export class Reporter {
  readonly mode: ReporterMode;
  /** Whether the cursor sits after a bar or message on the current line. */
  private lineOpen = false;
  private loadingShown = "";

  constructor({ quiet = false }: { quiet?: boolean } = {}, private readonly stream: NodeJS.WriteStream = process.stderr) {
    this.mode = quiet ? "quiet" : stream.isTTY ? "bar" : "lines";
  }

  /** A status line: overwritten in place on a terminal, a line of its own otherwise. */
  message(text: string): void {
    if (this.mode === "quiet") return;
    if (this.mode === "bar") {
      this.stream.write(`\r${text}\x1b[K`);
      this.lineOpen = true;
    } else {
      this.stream.write(`${text}\n`);
    }
  }

  loading(component: string, done: number, total: number): void {
    const percent = Math.round((done / Math.max(1, total)) * 100);
    if (this.mode === "bar") return this.message(`loading ${component}: ${percent}%`);
    // Without a terminal: one line when a component starts and when it is complete.
    const stage = `${component}:${percent >= 100 ? "done" : "start"}`;
    if (stage === this.loadingShown || (percent < 100 && this.loadingShown.startsWith(`${component}:`))) return;
    this.loadingShown = stage;
    this.message(percent >= 100 ? `loaded ${component}` : `loading ${component}…`);
  }

  update(progress: StepProgress): void {
    if (this.mode === "quiet") return;
    const perStep = progress.elapsedMs / progress.step;
    const timing = `${(perStep / 1000).toFixed(2)} s/step · elapsed ${formatDuration(progress.elapsedMs)} · ETA ${formatDuration(progress.etaMs)}`;
    if (this.mode === "lines") {
      this.stream.write(`step ${progress.step}/${progress.total} · ${timing}\n`);
      return;
    }
    const width = 30;
    const filled = Math.round((progress.step / progress.total) * width);
    this.stream.write(`\r[${"#".repeat(filled)}${"-".repeat(width - filled)}] step ${progress.step}/${progress.total} · ${timing}\x1b[K`);
    this.lineOpen = true;
  }

  warn(text: string): void {
    if (this.mode === "quiet") return;
    this.done();
    printWarning(text);
  }

  note(text: string): void {
    if (this.mode === "quiet") return;
    this.done();
    printNote(text);
  }

  /** Ends an open bar line (before other output). */
  done(): void {
    if (this.lineOpen) this.stream.write("\n");
    this.lineOpen = false;
  }
}
