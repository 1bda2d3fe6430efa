// Output names for several images: `{seed}` and `{index}` (1, 2, ...) in a file name are replaced per image, so one
// command line (or request) names every file it writes.
export interface OutputSlot {
  seed?: number;
  /** 1-based position in the batch. */
  index: number;
}

export function isTemplate(path: string): boolean {
  return /\{(seed|index)\}/.test(path);
}

export function expandTemplate(path: string, slot: OutputSlot): string {
  return path.replace(/\{seed\}/g, slot.seed === undefined ? "latents" : String(slot.seed)).replace(/\{index\}/g, String(slot.index));
}

/** The seeds of a batch: the given list, or `count` consecutive seeds from `first` (or a random first). */
export function batchSeeds(given: number[] | undefined, count: number | undefined, randomFirst: () => number): number[] {
  if (given && given.length > 1) {
    if (count !== undefined && count !== given.length) throw new Error(`--count ${count} does not match the ${given.length} seeds given`);
    return given;
  }
  const first = given?.[0] ?? randomFirst();
  const total = count ?? 1;
  if (first + total - 1 > 4294967295) throw new Error(`seeds ${first} … ${first + total - 1} go past 4294967295: start lower`);
  return Array.from({ length: total }, (_, index) => first + index);
}
