// Flags shared by the commands that tokenize text prompts.
import type { Command } from "commander";

export interface PromptFlags {
  /** A string, or false from --no-system-prompt. */
  systemPrompt?: string | false;
}

export function addPromptOptions(command: Command): Command {
  return command
    .option("--system-prompt <text>", "system message for the chat template (default: the pipeline's long image-generation prompt)")
    .option("--no-system-prompt", "use no system message at all");
}

/** undefined = the pipeline's default, null = none. */
export function systemPromptOf(flags: PromptFlags): string | null | undefined {
  return flags.systemPrompt === false ? null : flags.systemPrompt;
}

export function warn(message: string): void {
  console.error(`nucleus-image: warning: ${message}`);
}
