// What a user may give as the model (--model, NUCLEUS_MODEL, NucleusImage.load): a folder in the release layout,
// that folder's model_index.json, one of its component folders, or a Hugging Face id (OWNER/NAME) downloaded with
// `hf download`. `~` is expanded even when the shell did not (a quoted "~/models").
import { existsSync, readdirSync, statSync } from "node:fs";
import { homedir } from "node:os";
import { basename, dirname, join, resolve } from "node:path";

import { hubSnapshot, isHubId } from "./hf-cache.js";

export const COMPONENT_FOLDERS = ["transformer", "vae", "text_encoder", "processor", "scheduler"] as const;

export interface ResolvedModel {
  /** The absolute folder in the release layout. */
  directory: string;
  /** How the model is named in image metadata: the hub id, or the folder's name (never a path of the user's home). */
  label: string;
  /** The hub id when it came from the Hugging Face cache. */
  hubId?: string;
  revision?: string;
  /** Things the user should know (e.g. "transformer/ is a component; using its parent"). */
  notes: string[];
}

export class ModelNotFoundError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "ModelNotFoundError";
  }
}

export function expandHome(path: string): string {
  if (path === "~") return homedir();
  if (path.startsWith("~/")) return join(homedir(), path.slice(2));
  return path;
}

function isComponentFolder(directory: string): boolean {
  const parent = dirname(directory);
  return (COMPONENT_FOLDERS as readonly string[]).includes(basename(directory)) &&
    (existsSync(join(parent, "model_index.json")) || COMPONENT_FOLDERS.filter((name) => existsSync(join(parent, name))).length >= 2);
}

/** Resolves `given` (or NUCLEUS_MODEL when undefined) to a model folder. */
export function resolveModel(given: string | undefined, options: { revision?: string; env?: NodeJS.ProcessEnv } = {}): ResolvedModel {
  const env = options.env ?? process.env;
  const spec = (given ?? env.NUCLEUS_MODEL ?? "").trim();
  if (!spec) {
    throw new ModelNotFoundError(
      "no model given: pass --model with a folder or a Hugging Face id (e.g. --model NucleusAI/Nucleus-Image), or set NUCLEUS_MODEL",
    );
  }
  const path = resolve(expandHome(spec));
  if (existsSync(path)) {
    if (options.revision) {
      throw new ModelNotFoundError(`--revision ${options.revision} applies to Hugging Face ids, but ${spec} is a folder`);
    }
    return fromPath(path);
  }
  if (isHubId(spec) && !spec.startsWith(".")) {
    const directory = hubSnapshot(spec, options.revision ?? "main", env);
    return { ...fromPath(directory), label: spec, hubId: spec, revision: options.revision ?? "main" };
  }
  throw new ModelNotFoundError(
    `model folder ${path} does not exist: give a folder in the release layout (transformer/, vae/, text_encoder/, processor/, scheduler/)` +
      " or a Hugging Face id such as NucleusAI/Nucleus-Image",
  );
}

function fromPath(path: string): ResolvedModel {
  const notes: string[] = [];
  let directory = path;
  const info = statSync(path);
  if (info.isFile()) {
    if (basename(path) !== "model_index.json") {
      throw new ModelNotFoundError(`${path} is a file, not a model folder: give the folder that holds model_index.json and transformer/, vae/, ...`);
    }
    directory = dirname(path);
  } else if (!info.isDirectory()) {
    throw new ModelNotFoundError(`${path} is not a folder: give the folder that holds model_index.json and transformer/, vae/, ...`);
  } else if (isComponentFolder(path)) {
    directory = dirname(path);
    notes.push(`${basename(path)}/ is one component of a model; using the whole model in ${directory}`);
  } else if (!existsSync(join(path, "model_index.json")) && !COMPONENT_FOLDERS.some((name) => existsSync(join(path, name)))) {
    const entries = readdirSync(path).slice(0, 8);
    throw new ModelNotFoundError(
      `${path} is not a model folder: it has no model_index.json and none of ${COMPONENT_FOLDERS.join("/, ")}/` +
        (entries.length ? ` (it holds: ${entries.join(", ")}${entries.length === 8 ? ", ..." : ""})` : " (it is empty)"),
    );
  }
  return { directory, label: basename(directory), notes };
}
