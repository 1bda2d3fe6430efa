// Where the server listens. By default a Unix socket (mode 0600) in a fresh private folder (mode 0700); TCP on
// the loopback address unless --host says otherwise, and a host other than loopback only with a token.
import { existsSync, lstatSync, mkdirSync, unlinkSync } from "node:fs";
import { isIP, connect } from "node:net";
import { dirname, join, resolve } from "node:path";

import { makeSocketFolder } from "../engine/socket-folders.js";

export function isLoopback(host: string): boolean {
  const bare = host.replace(/^\[|\]$/g, "");
  if (bare === "localhost") return true;
  if (isIP(bare) === 4) return bare.startsWith("127.");
  if (isIP(bare) === 6) return bare === "::1" || /^::ffff:127\./i.test(bare);
  return false;
}

/** host:port as gRPC and URLs write it (IPv6 in brackets). */
export function hostPort(host: string, port: number): string {
  return `${isIP(host) === 6 ? `[${host}]` : host}:${port}`;
}

function answers(path: string): Promise<boolean> {
  return new Promise((done) => {
    const socket = connect(path);
    socket.once("connect", () => (socket.destroy(), done(true)));
    socket.once("error", () => done(false));
  });
}

export interface SocketPlace {
  path: string;
  /** The folder we made for it (removed when the server stops). */
  madeFolder?: string;
}

/**
 * The socket's path: `wanted`, or images.sock in a fresh private folder. A stale socket file at `wanted` (nothing
 * answers) is removed; a live one or any other file is an error.
 */
export async function prepareSocket(wanted: string | undefined): Promise<SocketPlace> {
  if (wanted === undefined) {
    const folder = makeSocketFolder();
    return { path: join(folder, "images.sock"), madeFolder: folder };
  }
  const path = resolve(wanted);
  const folder = dirname(path);
  let madeFolder: string | undefined;
  if (!existsSync(folder)) {
    mkdirSync(folder, { recursive: true, mode: 0o700 });
    madeFolder = folder;
  }
  if (existsSync(path)) {
    if (!lstatSync(path).isSocket()) throw new Error(`${path} exists and is not a socket: give another --socket path`);
    if (await answers(path)) throw new Error(`another server is listening on ${path}: stop it or give another --socket path`);
    unlinkSync(path);
  }
  return { path, madeFolder };
}
