// Which model components the engine holds, loaded on demand. In low-memory mode the text encoder and the
// transformer (with the VAE) are never resident together: whichever is needed next replaces the other.
import type { EngineClient } from "../engine/client.js";
import type { ComponentInfo, LoadOptions, LoadProgress } from "../generated/nucleus/engine/v1/engine.js";

export const TEXT_COMPONENTS = ["text_encoder"];
export const IMAGE_COMPONENTS = ["transformer", "vae"];

export class ResidentComponents {
  private readonly resident = new Set<string>();
  /** What the engine reported for each component the last time it loaded it. */
  readonly info = new Map<string, ComponentInfo>();
  /** Loading time not yet charged to a result. */
  unreportedLoadMs = 0;

  constructor(
    private readonly client: () => EngineClient,
    private readonly directory: string,
    readonly loadOptions: Partial<LoadOptions>,
    readonly lowMemory: boolean,
    private readonly onLoadProgress?: (progress: LoadProgress) => void,
  ) {}

  has(component: string): boolean {
    return this.resident.has(component);
  }

  /** Makes `components` resident, unloading first what low-memory mode keeps apart from them. */
  async ensure(components: string[]): Promise<void> {
    const missing = components.filter((component) => !this.resident.has(component));
    if (missing.length === 0) return;
    if (this.lowMemory) {
      const apart = components.some((c) => TEXT_COMPONENTS.includes(c)) ? IMAGE_COMPONENTS : TEXT_COMPONENTS;
      await this.unload(apart);
    }
    const started = performance.now();
    const summary = await this.client().loadModel(this.directory, { ...this.loadOptions, components: missing }, this.onLoadProgress);
    this.unreportedLoadMs += performance.now() - started;
    for (const component of summary.components) {
      this.resident.add(component.name);
      this.info.set(component.name, component);
    }
  }

  /** Unloads the components named (those resident). */
  async unload(components: string[]): Promise<void> {
    const loaded = components.filter((component) => this.resident.has(component));
    if (loaded.length === 0) return;
    await this.client().unload(loaded);
    for (const component of loaded) this.resident.delete(component);
  }

  /** The engine was restarted: nothing is resident any more. */
  forget(): void {
    this.resident.clear();
  }

  /** Load time since the last call. */
  takeLoadMs(): number {
    const ms = this.unreportedLoadMs;
    this.unreportedLoadMs = 0;
    return ms;
  }
}
