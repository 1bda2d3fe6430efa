// A one-line progress bar with ETA for terminals (stderr); silent when stderr is not a terminal.
import type { StepProgress } from "../pipeline/generate.js";

export function formatDuration(ms: number): string {
  const seconds = Math.round(ms / 1000);
  if (seconds < 60) return `${seconds}s`;
  const minutes = Math.floor(seconds / 60);
  return minutes < 60 ? `${minutes}m${String(seconds % 60).padStart(2, "0")}s` : `${Math.floor(minutes / 60)}h${String(minutes % 60).padStart(2, "0")}m`;
}

export class ProgressBar {
  private readonly enabled: boolean;
  /** Whether the cursor sits after a bar or message on the current line. */
  private lineOpen = false;

  constructor(private readonly stream: NodeJS.WriteStream = process.stderr) {
    this.enabled = Boolean(stream.isTTY);
  }

  update(progress: StepProgress): void {
    if (!this.enabled) return;
    const width = 30;
    const filled = Math.round((progress.step / progress.total) * width);
    const perStep = progress.elapsedMs / progress.step;
    const line = `[${"#".repeat(filled)}${"-".repeat(width - filled)}] step ${progress.step}/${progress.total}` +
      ` · ${(perStep / 1000).toFixed(2)} s/step · elapsed ${formatDuration(progress.elapsedMs)} · ETA ${formatDuration(progress.etaMs)}`;
    this.stream.write(`\r${line}\x1b[K`);
    this.lineOpen = true;
  }

  message(text: string): void {
    if (!this.enabled) return;
    this.stream.write(`\r${text}\x1b[K`);
    this.lineOpen = true;
  }

  done(): void {
    if (this.lineOpen) this.stream.write("\n");
    this.lineOpen = false;
  }
}
