// Models downloaded by Hugging Face's tools (`hf download OWNER/NAME`), found where huggingface_hub puts them:
// $HF_HUB_CACHE, else $HF_HOME/hub, else ${XDG_CACHE_HOME:-~/.cache}/huggingface/hub; inside it
// models--OWNER--NAME/snapshots/<commit>, the commit read from refs/<revision> (main by default).
import { existsSync, readFileSync, statSync } from "node:fs";
import { homedir } from "node:os";
import { join } from "node:path";

/** "NucleusAI/Nucleus-Image": an owner and a name, letters, digits, '-', '_' and '.' only (no '..'). */
export function isHubId(text: string): boolean {
  return /^[A-Za-z0-9][A-Za-z0-9._-]*\/[A-Za-z0-9][A-Za-z0-9._-]*$/.test(text) && !text.includes("..");
}

export function hubCacheDirectory(env: NodeJS.ProcessEnv = process.env): string {
  if (env.HF_HUB_CACHE) return env.HF_HUB_CACHE;
  if (env.HF_HOME) return join(env.HF_HOME, "hub");
  return join(env.XDG_CACHE_HOME || join(homedir(), ".cache"), "huggingface", "hub");
}

/** Download sizes of the repositories we know, for the "not downloaded" message. */
const KNOWN_DOWNLOADS: Record<string, string> = {
  "nucleusai/nucleus-image": "about 52 GB of disk (transformer 33.8 GB, text encoder 17.5 GB, VAE 0.25 GB)",
};

export class HubModelNotFoundError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "HubModelNotFoundError";
  }
}

/** The snapshot folder of `id` at `revision` (a branch, tag or commit), or a HubModelNotFoundError saying how to get it. */
export function hubSnapshot(id: string, revision = "main", env: NodeJS.ProcessEnv = process.env): string {
  const cache = hubCacheDirectory(env);
  const repository = join(cache, `models--${id.replace("/", "--")}`);
  const snapshots = join(repository, "snapshots");
  const download = `hf download ${id}${revision === "main" ? "" : ` --revision ${revision}`}`;
  const size = KNOWN_DOWNLOADS[id.toLowerCase()];
  const missing = (what: string) =>
    new HubModelNotFoundError(
      `${what}: download it with \`${download}\`${size ? ` (${size})` : ""}, or give a model folder with --model DIR` +
        ` (searched the Hugging Face cache ${cache}; set HF_HUB_CACHE or HF_HOME if yours is elsewhere)`,
    );
  if (!existsSync(repository)) throw missing(`${id} is not in the Hugging Face cache`);

  let commit = revision;
  const ref = join(repository, "refs", revision);
  if (existsSync(ref) && statSync(ref).isFile()) {
    commit = readFileSync(ref, "utf8").trim();
  } else if (!/^[0-9a-f]{40}$/.test(revision)) {
    throw missing(`${id} has no revision '${revision}' in the Hugging Face cache (no ${ref})`);
  }
  const snapshot = join(snapshots, commit);
  if (!existsSync(snapshot)) throw missing(`${id} at revision '${revision}' (${commit}) is not in the Hugging Face cache`);
  return snapshot;
}
