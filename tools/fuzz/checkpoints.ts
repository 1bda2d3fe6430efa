// Checkpoint-folder fuzzing: a copy of a tiny model (unchanged files as symbolic links to the fixture, as the Hugging
// Face cache lays them out) with one or a few things broken: a config value, a safetensors header, an index entry,
// a file turned into a FIFO, a folder, a link to a private file or a loop. A recipe describes the folder so that a
// case can be rebuilt exactly for a regression test.
import { execFileSync } from "node:child_process";
import { closeSync, mkdirSync, openSync, readFileSync, readSync, readdirSync, rmSync, statSync, symlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";

import { EXTREME_64, Random } from "./random.js";

export type FolderEdit =
  | { path: string; kind: "write"; base64: string }
  /** A shard rewritten: `prefixBase64` (length prefix and header) followed by the original bytes from `dataFrom`. */
  | { path: string; kind: "shard"; prefixBase64: string; dataFrom: number }
  | { path: string; kind: "truncate"; length: number }
  | { path: string; kind: "fifo" }
  | { path: string; kind: "symlink"; target: string }
  | { path: string; kind: "mkdir" }
  | { path: string; kind: "remove" };

export interface FolderRecipe {
  /** The fixture the folder starts from, relative to the repository root. */
  base: string;
  edits: FolderEdit[];
}

export const BASES = ["test/fixtures/pipeline/tiny", "test/fixtures/dit/tiny-a"];

/** Builds `recipe` at `folder` (replacing what is there). `secretPath` is the canary file links may point at. */
export function buildFolder(repoRoot: string, recipe: FolderRecipe, folder: string, secretPath: string): void {
  rmSync(folder, { recursive: true, force: true });
  const base = join(repoRoot, recipe.base);
  const mirror = (from: string, to: string) => {
    mkdirSync(to, { recursive: true });
    for (const entry of readdirSync(from, { withFileTypes: true })) {
      if (entry.isDirectory()) mirror(join(from, entry.name), join(to, entry.name));
      else symlinkSync(join(from, entry.name), join(to, entry.name));
    }
  };
  mirror(base, folder);
  for (const edit of recipe.edits) {
    try {
      applyEdit(edit, join(folder, edit.path), join(base, edit.path), secretPath);
    } catch {
      // An edit of something an earlier edit removed: skipped (the same way every time the recipe is built).
    }
  }
}

function applyEdit(edit: FolderEdit, path: string, original: string, secretPath: string): void {
    if (edit.kind !== "truncate" && edit.kind !== "shard") rmSync(path, { recursive: true, force: true });
    switch (edit.kind) {
      case "write":
        writeFileSync(path, Buffer.from(edit.base64, "base64"));
        break;
      case "shard": {
        const data = readFileSync(original).subarray(edit.dataFrom);
        rmSync(path, { force: true });
        writeFileSync(path, Buffer.concat([Buffer.from(edit.prefixBase64, "base64"), data]));
        break;
      }
      case "truncate": {
        const bytes = readFileSync(path).subarray(0, edit.length);
        rmSync(path, { force: true });
        writeFileSync(path, bytes);
        break;
      }
      case "fifo":
        execFileSync("mkfifo", [path], { stdio: "ignore" });
        break;
      case "symlink":
        symlinkSync(edit.target === "{secret}" ? secretPath : edit.target, path);
        break;
      case "mkdir":
        mkdirSync(path, { recursive: true });
        break;
      case "remove":
        break;
    }
}

/** The files of a base fixture, relative to it. */
function files(repoRoot: string, base: string): string[] {
  const out: string[] = [];
  const walk = (relative: string) => {
    for (const entry of readdirSync(join(repoRoot, base, relative), { withFileTypes: true })) {
      const path = relative ? `${relative}/${entry.name}` : entry.name;
      if (entry.isDirectory()) walk(path);
      else out.push(path);
    }
  };
  walk("");
  return out.sort();
}

function readHeader(path: string): { header: Record<string, unknown>; dataFrom: number } {
  const fd = openSync(path, "r");
  try {
    const prefix = Buffer.alloc(8);
    readSync(fd, prefix, 0, 8, 0);
    const length = Number(prefix.readBigUInt64LE(0));
    const header = Buffer.alloc(length);
    readSync(fd, header, 0, length, 8);
    return { header: JSON.parse(header.toString("utf8")) as Record<string, unknown>, dataFrom: 8 + length };
  } finally {
    closeSync(fd);
  }
}

/** JSON text with BigInt values written as plain integers (JSON numbers beyond 2^53). */
function jsonText(value: unknown): string {
  return JSON.stringify(value, (_key, item: unknown) => (typeof item === "bigint" ? `__BIG${item}__` : item)).replace(/"__BIG(-?\d+)__"/g, "$1");
}

/** A JSON value a config or header field should never hold. */
function oddValue(random: Random): unknown {
  switch (random.int(0, 9)) {
    case 0: return random.pick(EXTREME_64);
    case 1: return -random.int(0, 3);
    case 2: return random.pick([1e8, 1e9, 1e18, 1e300, 1.5, -0.5]);
    case 3: return random.pick(["", "1", "x".repeat(10_000)]);
    case 4: return null;
    case 5: return random.pick([true, false]);
    case 6: return Array.from({ length: random.int(0, 6) }, () => random.pick(EXTREME_64));
    case 7: return { nested: random.pick(EXTREME_64) };
    case 8: return random.pick([0, 1, 2, 3, 4096, 65536]);
    default: return Array.from({ length: random.pick([0, 1, 3, 1000, 100_000]) }, () => random.pick([0, 2.0, 8.0]));
  }
}

/** Text that nests `depth` arrays (JSON parsers that recurse must refuse it, not overflow their stack). */
function deepJSON(depth: number): string {
  return "[".repeat(depth) + "]".repeat(depth);
}

/** A random broken variant of a base fixture. */
export function randomRecipe(random: Random, repoRoot: string): FolderRecipe {
  const base = random.pick(BASES);
  const all = files(repoRoot, base);
  const edits: FolderEdit[] = [];
  const count = random.chance(0.8) ? 1 : random.int(2, 4);
  for (let i = 0; i < count; i++) {
    const configs = all.filter((file) => file.endsWith("config.json"));
    const shards = all.filter((file) => file.endsWith(".safetensors"));
    const indexes = all.filter((file) => file.endsWith(".index.json"));
    const roll = random.float();
    if (roll < 0.3) {
      const path = random.pick(configs);
      const config = JSON.parse(readFileSync(join(repoRoot, base, path), "utf8")) as Record<string, unknown>;
      const target = (config.text_config as Record<string, unknown> | undefined) && random.chance(0.8) ? (config.text_config as Record<string, unknown>) : config;
      const keys = Object.keys(target);
      const extra = ["num_layers", "patch_size", "head_dim", "num_key_value_heads", "capacity_factors", "axes_dims_rope", "base_dim", "z_dim", "dim_mult", "temperal_downsample", "num_hidden_layers", "quantization", "latents_mean"];
      const key = random.chance(0.7) && keys.length > 0 ? random.pick(keys) : random.pick(extra);
      if (random.chance(0.15)) delete target[key];
      else target[key] = oddValue(random);
      let text = jsonText(config);
      if (random.chance(0.05)) text = random.pick([deepJSON(random.pick([100, 10_000, 200_000])), "", "{", "null", "[]", "\u0000", "{\"a\": 1e999999}"]);
      edits.push({ path, kind: "write", base64: Buffer.from(text).toString("base64") });
    } else if (roll < 0.6 && shards.length > 0) {
      const path = random.pick(shards);
      const { header, dataFrom } = readHeader(join(repoRoot, base, path));
      const names = Object.keys(header).filter((name) => name !== "__metadata__");
      const name = random.pick(names);
      const entry = header[name] as { dtype: unknown; shape: unknown; data_offsets: unknown };
      switch (random.int(0, 7)) {
        case 0: entry.shape = Array.from({ length: random.int(0, 10) }, () => random.pick(EXTREME_64)); break;
        case 1: entry.data_offsets = [random.pick(EXTREME_64), random.pick(EXTREME_64)]; break;
        case 2: entry.dtype = random.pick(["F64", "I8", "F8_E4M3", "BOOL", "Q4", "", 7]); break;
        case 3: delete header[name]; break;
        case 4: header[random.pick(["../../etc/shadow", "x".repeat(5000), "", "__metadata__", `${name}\u0000`])] = entry; delete header[name]; break;
        case 5: header.__metadata__ = oddValue(random); break;
        case 6: (entry as Record<string, unknown>)[random.pick(["shape", "dtype", "data_offsets"])] = oddValue(random); break;
        default: header[`extra.${random.int(0, 99)}`] = { dtype: "F32", shape: [random.pick(EXTREME_64)], data_offsets: [0, random.pick(EXTREME_64)] };
      }
      let headerBytes = Buffer.from(jsonText(header));
      if (random.chance(0.05)) headerBytes = Buffer.from(deepJSON(random.pick([1000, 100_000])));
      const prefix = Buffer.alloc(8);
      prefix.writeBigUInt64LE(random.chance(0.9) ? BigInt(headerBytes.length) : BigInt.asUintN(64, random.pick(EXTREME_64)));
      edits.push({ path, kind: "shard", prefixBase64: Buffer.concat([prefix, headerBytes]).toString("base64"), dataFrom });
    } else if (roll < 0.75 && indexes.length > 0) {
      const path = random.pick(indexes);
      const index = JSON.parse(readFileSync(join(repoRoot, base, path), "utf8")) as { weight_map: Record<string, unknown> };
      const names = Object.keys(index.weight_map);
      const name = random.pick(names);
      switch (random.int(0, 4)) {
        case 0: index.weight_map[name] = random.pick(["../../../../etc/shadow", "/etc/passwd", "", ".", "..", "../secret.txt", "config.json", "missing.safetensors", "a\u0000b", "x".repeat(1000)]); break;
        case 1: delete index.weight_map[name]; break;
        case 2: index.weight_map[`unknown.${random.int(0, 9)}`] = random.pick(Object.values(index.weight_map)); break;
        case 3: (index as Record<string, unknown>).weight_map = oddValue(random); break;
        default: for (let k = 0; k < 2000; k++) index.weight_map[`many.${k}`] = `shard-${k}.safetensors`;
      }
      edits.push({ path, kind: "write", base64: Buffer.from(jsonText(index)).toString("base64") });
    } else if (roll < 0.92) {
      const path = random.pick(all);
      const kind = random.int(0, 5);
      if (kind === 0) edits.push({ path, kind: "fifo" });
      else if (kind === 1) edits.push({ path, kind: "symlink", target: "{secret}" });
      else if (kind === 2) edits.push({ path, kind: "symlink", target: random.pick(["/dev/zero", "/dev/null", "/proc/self/mem", "/nonexistent", "."]) });
      else if (kind === 3) edits.push({ path, kind: "mkdir" });
      else if (kind === 4) edits.push({ path, kind: "remove" });
      else edits.push({ path, kind: "truncate", length: random.pick([0, 1, 7, 8, 9, 100, Math.max(0, statSync(join(repoRoot, base, path)).size - 1)]) });
    } else {
      // Whole components: missing, a file instead of a folder, an extra index file.
      const component = random.pick(all.map((file) => file.split("/")[0]!).filter((name, at, list) => name.length > 0 && list.indexOf(name) === at && !name.includes(".")));
      const kind = random.int(0, 2);
      if (kind === 0) edits.push({ path: component, kind: "remove" });
      else if (kind === 1) edits.push({ path: component, kind: "write", base64: Buffer.from("not a folder").toString("base64") });
      else edits.push({ path: `${component}/extra.safetensors.index.json`, kind: "write", base64: Buffer.from("{\"weight_map\": {}}").toString("base64") });
    }
  }
  return { base, edits };
}
