// Text side benchmark, next to transformers in the same run: the Qwen3-VL text encoder on a mid-size random model
// (one EncodeText of 100 tokens, loaded for hidden_states[-8] and for all layers) against the pipeline's call, and
// prompt tokenization (tokenizer alone, and template + tokenize per prompt) against tokenizers / transformers.
//   npm run setup:reference && node dist/bench/text.js [--repeats 3]
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";

import { LocalEngine } from "../orchestrator/src/engine/process.js";
import { DType } from "../orchestrator/src/generated/nucleus/engine/v1/engine.js";
import { loadPromptFormatter } from "../orchestrator/src/text/prompt.js";
import { loadTokenizer } from "../orchestrator/src/text/tokenizer.js";
import { processorFolder } from "../test/helpers/processor.js";
import { benchModels, gib, median, numberArgument, referencePython, root, runReference } from "./support.js";

referencePython();
const repeats = numberArgument("--repeats", 3);
const promptTokens = 100;

const reference = (args: string[]) => runReference("transformers_text.py", args);
/** The same token ids as the reference script: distinct per repeat so the engine's cache never answers. */
const tokenIds = (repeat: number) => Array.from({ length: promptTokens }, (_, i) => (i * 7919 + repeat * 104729) % 150000);

const lines: string[] = [];

// --- the text encoder ---
const modelDir = join(benchModels, "text-mid");
if (!existsSync(join(modelDir, "text_encoder", "config.json"))) {
  mkdirSync(modelDir, { recursive: true });
  console.error(`making the mid-size text encoder in ${modelDir}`);
  reference(["make", "--out", modelDir]);
}
const engineSeconds: number[] = [];
const engine = await LocalEngine.start();
try {
  for (const hiddenLayer of [-8, -1]) {
    const started = performance.now();
    const summary = await engine.client.loadModel(modelDir, { dtype: DType.DTYPE_FLOAT32, textEncoderHiddenLayer: hiddenLayer });
    const loadSeconds = (performance.now() - started) / 1000;
    const text = summary.components[0]!;
    await engine.client.encodeText(tokenIds(0)); // warm-up
    const times: number[] = [];
    for (let repeat = 1; repeat <= repeats; repeat++) {
      const begun = performance.now();
      const { handle } = await engine.client.encodeText(tokenIds(repeat));
      times.push((performance.now() - begun) / 1000);
      await engine.client.release([Number(handle.id)]);
    }
    const info = await engine.client.getInfo();
    lines.push(
      `encoder loaded for hidden_states[${hiddenLayer}]: ${Number(text.parameterCount).toLocaleString("en")} of ${Number(text.checkpointParameterCount).toLocaleString("en")} language-model parameters, ` +
        `resident ${gib(Number(text.bytes))}, load ${loadSeconds.toFixed(1)} s; EncodeText ${promptTokens} tokens ${median(times).toFixed(3)} s; peak MLX ${gib(Number(info.memory?.peakBytes ?? 0))}`,
    );
    engineSeconds.push(median(times));
  }
} finally {
  await engine.stop();
}
const theirs = JSON.parse(reference(["encoder", "--model", modelDir, "--tokens", String(promptTokens), "--repeats", String(repeats)])) as { seconds: number; max_rss_bytes: number };
lines.push(`transformers, the pipeline's call (all layers + logits): ${theirs.seconds.toFixed(3)} s; process RSS ${gib(theirs.max_rss_bytes)}`);
lines.push(`ratio engine / transformers: ${(engineSeconds[0]! / theirs.seconds).toFixed(2)} loaded for [-8], ${(engineSeconds[1]! / theirs.seconds).toFixed(2)} loaded for [-1]`);

// --- tokenization ---
const processor = processorFolder();
try {
  const cases = JSON.parse(readFileSync(join(root, "test", "fixtures", "text", "tokenizer-cases.json"), "utf8")) as { text: string }[];
  const subjects = ["a red apple", "two cats", "a lighthouse", "an old map", "三只猫", "a robot 🤖", "a bowl of ramen", "a violin"];
  const places = ["on a white table", "under a stormy sky", "in a neon-lit alley", "beside a window", "on the left of a blue vase"];
  const styles = ["photorealistic, 35mm", "watercolor", "isometric 3D render", "oil painting with thick impasto", "studio lighting"];
  const prompts = Array.from({ length: 200 }, (_, i) => `${subjects[i % 8]} ${places[i % 5]}, ${styles[(i * 3) % 5]}, detailed`);
  const strings = [...cases.map((entry) => entry.text), ...prompts];
  const stringsFile = join(processor, "strings.json");
  writeFileSync(stringsFile, JSON.stringify(strings));

  const tokenizer = loadTokenizer(processor);
  const formatter = loadPromptFormatter(processor);
  const encodeTimes: number[] = [];
  const prepareTimes: number[] = [];
  let tokens = 0;
  for (let repeat = 0; repeat < 5; repeat++) {
    let started = performance.now();
    tokens = strings.reduce((total, text) => total + tokenizer.encode(text).length, 0);
    encodeTimes.push((performance.now() - started) / 1000);
    started = performance.now();
    for (const text of strings) formatter.tokenize(text);
    prepareTimes.push((performance.now() - started) / 1000);
  }
  const theirs = JSON.parse(reference(["tokenizer", "--processor", processor, "--prompts", stringsFile, "--repeats", "5"])) as {
    encode_seconds: number; prepare_seconds: number; tokens: number;
  };
  if (theirs.tokens !== tokens) throw new Error(`token counts differ: ours ${tokens}, tokenizers ${theirs.tokens}`);
  const ours = median(encodeTimes);
  const oursPrepare = median(prepareTimes);
  lines.push(
    `tokenizer: ${strings.length} strings, ${tokens} tokens: ours ${(tokens / ours / 1e3).toFixed(0)}k tokens/s, tokenizers (Rust via Python) ${(tokens / theirs.encode_seconds / 1e3).toFixed(0)}k tokens/s, ratio of times ${(ours / theirs.encode_seconds).toFixed(2)}`,
    `prompt preparation (template + tokenize + pad): ours ${((oursPrepare / strings.length) * 1e3).toFixed(3)} ms/prompt, transformers ${((theirs.prepare_seconds / strings.length) * 1e3).toFixed(3)} ms/prompt, ratio ${(oursPrepare / theirs.prepare_seconds).toFixed(2)}`,
  );
} finally {
  rmSync(processor, { recursive: true, force: true });
}
console.log(`text encoder (float32, ${promptTokens} tokens, median of ${repeats}) and tokenization on this CPU`);
for (const line of lines) console.log(line);
