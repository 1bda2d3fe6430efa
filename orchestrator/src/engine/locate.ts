import { existsSync, readFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

import { EngineStartError } from "./errors.js";

/**
 * How to start the engine binary. On Debian 12 the engine is built in a Debian 13 root and needs that root's
 * dynamic loader and libraries (a newer glibc), so the command is `loader --library-path LIBS binary ...`.
 */
export interface EngineLaunch {
  binary: string;
  loader?: string;
  libraryPath?: string[];
}

/** The repository (or installed package) root: dist/orchestrator/src/engine/ is four levels below it. */
export function packageRoot(): string {
  const here = dirname(fileURLToPath(import.meta.url));
  for (let dir = here, i = 0; i < 6; i++, dir = dirname(dir)) {
    if (existsSync(join(dir, "package.json")) && existsSync(join(dir, "proto"))) return dir;
  }
  return resolve(here, "../../../..");
}

/**
 * Resolves the engine launch, in order: an explicit launch, NUCLEUS_ENGINE_BIN (+ NUCLEUS_ENGINE_LOADER and
 * NUCLEUS_ENGINE_LIBRARY_PATH), then the build recorded by `npm run setup` in .deps/engine.json.
 */
export function locateEngine(explicit?: Partial<EngineLaunch>): EngineLaunch {
  if (explicit?.binary) return checked({ binary: explicit.binary, loader: explicit.loader, libraryPath: explicit.libraryPath });
  const fromEnv = process.env.NUCLEUS_ENGINE_BIN;
  if (fromEnv) {
    return checked({
      binary: fromEnv,
      loader: process.env.NUCLEUS_ENGINE_LOADER || undefined,
      libraryPath: process.env.NUCLEUS_ENGINE_LIBRARY_PATH?.split(":").filter(Boolean),
    });
  }
  const record = join(packageRoot(), ".deps", "engine.json");
  if (!existsSync(record)) {
    throw new EngineStartError(
      `no engine build found (${record} is missing): run \`npm run setup\`, or set NUCLEUS_ENGINE_BIN to a nucleus-engine binary`,
    );
  }
  let parsed: EngineLaunch;
  try {
    parsed = JSON.parse(readFileSync(record, "utf8")) as EngineLaunch;
  } catch (error) {
    throw new EngineStartError(`${record} is not valid JSON (${String(error)}): run \`npm run setup\` again`);
  }
  return checked(parsed);
}

function checked(launch: EngineLaunch): EngineLaunch {
  if (!existsSync(launch.binary)) {
    throw new EngineStartError(`the engine binary ${launch.binary} does not exist: run \`npm run setup\` to build it`);
  }
  if (launch.loader && !existsSync(launch.loader)) {
    throw new EngineStartError(
      `the engine's loader ${launch.loader} does not exist (the Debian 13 toolchain root is gone?): run \`npm run setup\``,
    );
  }
  return launch;
}

/** The program and leading arguments that start the engine binary. */
export function launchCommand(launch: EngineLaunch): { file: string; prefix: string[] } {
  if (!launch.loader) return { file: launch.binary, prefix: [] };
  const prefix = launch.libraryPath?.length ? ["--library-path", launch.libraryPath.join(":")] : [];
  return { file: launch.loader, prefix: [...prefix, launch.binary] };
}
