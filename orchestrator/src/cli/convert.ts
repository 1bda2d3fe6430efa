import { mkdirSync } from "node:fs";
import { dirname, resolve } from "node:path";

import { InvalidArgumentError, type Command } from "commander";

import { LocalEngine } from "../engine/process.js";
import { formatBytes } from "../format.js";
import { integer, quantizationBits } from "./parsers.js";
import { formatDuration } from "./progress.js";

interface ConvertFlags {
  quantize: number;
  textQuantize?: number;
  groupSize: number;
  force?: boolean;
}

export function registerConvert(program: Command): void {
  program
    .command("convert")
    .description("write a pre-quantized copy of a model folder (loads with no flags, needs a fraction of the memory)")
    .argument("<source>", "model folder in the release layout")
    .argument("<target>", "folder to create (refused if it exists, unless --force)")
    .requiredOption("--quantize <bits>", "quantize the transformer's linears and experts (8 or 4)", quantizationBits("--quantize"))
    .option("--text-quantize <bits>", "also quantize the text encoder's linears (8 or 4); default: copy it as it is", quantizationBits("--text-quantize"))
    .option("--group-size <n>", "values per quantization group (32, 64 or 128)", groupSize, 64)
    .option("--force", "replace an existing target folder (only once the new one is complete)")
    .action(async (source: string, target: string, flags: ConvertFlags) => runConvert(source, target, flags));
}

function groupSize(text: string): number {
  const value = integer("--group-size", 32, 128)(text);
  if (![32, 64, 128].includes(value)) throw new InvalidArgumentError("--group-size must be 32, 64 or 128");
  return value;
}

async function runConvert(source: string, target: string, flags: ConvertFlags): Promise<void> {
  const abort = new AbortController();
  const onSignal = () => abort.abort();
  process.once("SIGINT", onSignal);
  process.once("SIGTERM", onSignal);
  mkdirSync(dirname(resolve(target)), { recursive: true });
  const engine = await LocalEngine.start();
  const started = performance.now();
  const tty = Boolean(process.stderr.isTTY);
  let lastLine = 0;
  try {
    const summary = await engine.client.convertModel(
      { sourceDir: resolve(source), targetDir: resolve(target), bits: flags.quantize, textBits: flags.textQuantize, groupSize: flags.groupSize, overwrite: Boolean(flags.force) },
      (progress) => {
        const done = Number(progress.bytesDone);
        const total = Math.max(1, Number(progress.bytesTotal));
        const elapsed = performance.now() - started;
        const eta = done > 0 ? (elapsed / done) * (total - done) : 0;
        const line = `converting ${progress.component}: ${formatBytes(done)} of ${formatBytes(total)} (${Math.floor((done / total) * 100)}%) · ETA ${formatDuration(eta)}`;
        if (tty) process.stderr.write(`\r${line}\x1b[K`);
        else if (performance.now() - lastLine > 5000 || done === total) {
          process.stderr.write(`${line}\n`);
          lastLine = performance.now();
        }
      },
      { signal: abort.signal },
    );
    if (tty) process.stderr.write("\n");
    const parts = summary.components.map((component) =>
      component.linked ? `${component.name} linked` : `${component.name} ${component.quantization} (${formatBytes(Number(component.bytesWritten))})`);
    console.log(`wrote ${summary.targetDir} in ${formatDuration(summary.seconds * 1000)}: ${parts.join(", ")}`);
  } catch (error) {
    if (tty) process.stderr.write("\n");
    if (abort.signal.aborted) {
      console.error("nucleus-image: convert cancelled; nothing was written");
      process.exitCode = 130;
      return;
    }
    throw error;
  } finally {
    process.off("SIGINT", onSignal);
    process.off("SIGTERM", onSignal);
    await engine.stop();
  }
}
