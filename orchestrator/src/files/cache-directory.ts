// The one cache folder of nucleus-image (setup's SDKs and environments, bench models, fitted preview projections):
// $NUCLEUS_CACHE_DIR, else ${XDG_CACHE_HOME:-~/.cache}/nucleus-image — the same rule as scripts/lib/common.sh.
import { homedir } from "node:os";
import { join } from "node:path";

export function cacheDirectory(): string {
  return process.env.NUCLEUS_CACHE_DIR || join(process.env.XDG_CACHE_HOME || join(homedir(), ".cache"), "nucleus-image");
}
