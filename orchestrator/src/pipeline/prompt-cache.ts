// Text prompts already encoded on the engine, by (prompt, system prompt): a later image with the same prompt (the
// next seed, the next job) reuses the handle instead of running the text encoder again — which, in low-memory
// mode, would mean loading it again.
import type { EngineClient } from "../engine/client.js";

export class PromptCache {
  private readonly handles = new Map<string, number>();

  constructor(private readonly capacity = 16) {}

  private static key(prompt: string, systemPrompt: string | null | undefined): string {
    return JSON.stringify([prompt, systemPrompt === undefined ? "default" : systemPrompt]);
  }

  get(prompt: string, systemPrompt: string | null | undefined): number | undefined {
    const key = PromptCache.key(prompt, systemPrompt);
    const handle = this.handles.get(key);
    if (handle !== undefined) {
      this.handles.delete(key);
      this.handles.set(key, handle);
    }
    return handle;
  }

  /** Keeps `handle`; the least recently used entry beyond capacity is released on the engine. */
  async put(client: EngineClient, prompt: string, systemPrompt: string | null | undefined, handle: number): Promise<void> {
    this.handles.set(PromptCache.key(prompt, systemPrompt), handle);
    while (this.handles.size > this.capacity) {
      const [oldest, old] = this.handles.entries().next().value as [string, number];
      this.handles.delete(oldest);
      await client.release([old]).catch(() => 0);
    }
  }

  /** The engine restarted: its handles are gone. */
  clear(): void {
    this.handles.clear();
  }
}
