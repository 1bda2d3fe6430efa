import { mkdirSync } from "node:fs";
import { dirname, resolve } from "node:path";

import { InvalidArgumentError, type Command } from "@commander-js/extra-typings";

import { LocalEngine } from "../engine/process.js";
import { formatBytes } from "../format.js";
import { expandHome, resolveModel } from "../model/resolve-model.js";
import { QUANTIZATION_BITS } from "../request/limits.js";
import { EXIT_INTERRUPTED, printError } from "./errors.js";
import { quantizationBits } from "./parsers.js";
import { formatDuration, Reporter } from "./reporter.js";

const GROUP_SIZES = [32, 64, 128];

function groupSize(text: string): number {
  const value = Number(text);
  if (!GROUP_SIZES.includes(value) || String(value) !== text) throw new InvalidArgumentError(`--group-size must be ${GROUP_SIZES.join(", ")}`);
  return value;
}

function declareConvert(program: Command) {
  return program
    .command("convert")
    .description("write a pre-quantized copy of a model folder: it loads with no flags and needs a fraction of the memory")
    .argument("<source>", "model folder in the release layout (or a Hugging Face id in the local cache)")
    .argument("<target>", "folder to create (refused if it exists, unless --force)")
    .requiredOption("--quantize <bits>", `quantize the transformer's linears and experts (${QUANTIZATION_BITS.join(" or ")})`, quantizationBits("--quantize"))
    .option("--text-quantize <bits>", "also quantize the text encoder's linears (8 or 4); default: link it as it is", quantizationBits("--text-quantize"))
    .option("--group-size <n>", "values per quantization group (32, 64 or 128)", groupSize, 64)
    .option("--revision <rev>", "with a Hugging Face id: the snapshot to use (default main)")
    .option("--force", "replace an existing target folder (only once the new one is complete)")
    .option("--json", "print one JSON object at the end")
    .option("-q, --quiet", "print nothing but errors");
}

type ConvertFlags = ReturnType<ReturnType<typeof declareConvert>["opts"]>;

export function registerConvert(program: Command): void {
  declareConvert(program).action(async (source, target, flags) => runConvert(source, target, flags));
}

async function runConvert(sourceArgument: string, targetArgument: string, flags: ConvertFlags): Promise<void> {
  const reporter = new Reporter({ quiet: Boolean(flags.quiet) });
  const source = resolveModel(sourceArgument, { revision: flags.revision });
  for (const note of source.notes) reporter.note(note);
  const target = resolve(expandHome(targetArgument));
  mkdirSync(dirname(target), { recursive: true });

  const abort = new AbortController();
  const onSignal = () => abort.abort();
  process.once("SIGINT", onSignal);
  process.once("SIGTERM", onSignal);
  const engine = await LocalEngine.start();
  const started = performance.now();
  let lastLine = -1;
  try {
    const summary = await engine.client.convertModel(
      {
        sourceDir: source.directory, targetDir: target, bits: flags.quantize, textBits: flags.textQuantize,
        groupSize: flags.groupSize, overwrite: Boolean(flags.force),
      },
      (progress) => {
        const done = Number(progress.bytesDone);
        const total = Math.max(1, Number(progress.bytesTotal));
        const percent = Math.floor((done / total) * 100);
        if (reporter.mode === "lines" && percent < lastLine + 10 && done < total) return;
        lastLine = percent;
        const elapsed = performance.now() - started;
        const eta = done > 0 ? (elapsed / done) * (total - done) : 0;
        reporter.message(`converting ${progress.component}: ${formatBytes(done)} of ${formatBytes(total)} (${percent}%) · ETA ${formatDuration(eta)}`);
      },
      { signal: abort.signal },
    );
    reporter.done();
    const peakRss = Number((await engine.client.getInfo()).memory?.peakRssBytes ?? 0);
    if (flags.json) {
      console.log(JSON.stringify({ target: summary.targetDir, seconds: summary.seconds, peakRssBytes: peakRss, components: summary.components }));
    } else if (!flags.quiet) {
      const parts = summary.components.map((component) =>
        component.linked ? `${component.name} linked` : `${component.name}: ${component.quantization}, ${formatBytes(Number(component.bytesWritten))}`);
      console.log(`wrote ${summary.targetDir} in ${formatDuration(summary.seconds * 1000)} (engine peak memory ${formatBytes(peakRss)}): ${parts.join("; ")}`);
    }
  } catch (error) {
    reporter.done();
    if (abort.signal.aborted) {
      printError("convert cancelled; nothing was written");
      process.exitCode = EXIT_INTERRUPTED;
      return;
    }
    throw error;
  } finally {
    process.off("SIGINT", onSignal);
    process.off("SIGTERM", onSignal);
    await engine.stop();
  }
}
