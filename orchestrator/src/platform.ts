import { readFileSync } from "node:fs";
import { arch, platform, release } from "node:os";

/** "linux x64 (Debian 12.11)", "darwin arm64 (macOS kernel 24.1.0)", ... */
export function describePlatform(): string {
  const base = `${platform()} ${arch()}`;
  if (platform() === "linux") {
    try {
      const osRelease = readFileSync("/etc/os-release", "utf8");
      const name = /^PRETTY_NAME="?([^"\n]*)"?$/m.exec(osRelease)?.[1];
      const debian = readFileSync("/etc/debian_version", "utf8").trim();
      return `${base} (${name ?? "Linux"}${debian ? `, debian_version ${debian}` : ""})`;
    } catch {
      return `${base} (kernel ${release()})`;
    }
  }
  return `${base} (kernel ${release()})`;
}
