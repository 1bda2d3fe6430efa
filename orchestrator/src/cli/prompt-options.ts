// Flags shared by the commands that take a text prompt: where the prompt comes from (the argument, `-` for
// standard input, --prompt-file) and the chat template's system message.
import { readFileSync } from "node:fs";
import { resolve } from "node:path";

import type { Command, OptionValues } from "@commander-js/extra-typings";

import { UsageError } from "./errors.js";

export function withPromptOptions<A extends unknown[], O extends OptionValues, G extends OptionValues>(command: Command<A, O, G>) {
  return command
    .option("--prompt-file <file>", "read the prompt from a file (UTF-8; a final newline is dropped)")
    .option("--system-prompt <text>", "system message for the chat template (default: the pipeline's long image-generation prompt)")
    .option("--no-system-prompt", "use no system message at all");
}

/** undefined = the pipeline's default, null = none (--no-system-prompt). */
export function systemPromptOf(flags: { systemPrompt?: string | boolean }): string | null | undefined {
  return flags.systemPrompt === false ? null : typeof flags.systemPrompt === "string" ? flags.systemPrompt : undefined;
}

function readText(path: string | number, what: string): string {
  try {
    return readFileSync(path, "utf8").replace(/\r?\n$/, "");
  } catch (error) {
    throw new UsageError(`cannot read ${what}: ${(error as Error).message}`);
  }
}

/** The prompt from the argument, from standard input (`-`) or from --prompt-file; undefined when none was given. */
export function promptFrom(argument: string | undefined, flags: { promptFile?: string }): string | undefined {
  if (argument !== undefined && flags.promptFile !== undefined) {
    throw new UsageError("give the prompt either as an argument or with --prompt-file, not both");
  }
  if (flags.promptFile !== undefined) return readText(resolve(flags.promptFile), `the prompt file ${resolve(flags.promptFile)}`);
  if (argument === "-") {
    if (process.stdin.isTTY) throw new UsageError("'-' reads the prompt from standard input, but it is a terminal: pipe the prompt in, e.g. echo \"A red apple\" | nucleus-image generate -");
    return readText(0, "the prompt from standard input");
  }
  return argument;
}
