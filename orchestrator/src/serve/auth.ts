// The server's token: every call must carry `authorization: Bearer TOKEN`. Compared in constant time (SHA-256
// digests of equal length through timingSafeEqual), so the answer time says nothing about how much matched.
import { createHash, timingSafeEqual } from "node:crypto";

export class UnauthenticatedError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "UnauthenticatedError";
  }
}

const digest = (text: string) => createHash("sha256").update(text, "utf8").digest();

export class TokenCheck {
  private readonly expected?: Buffer;

  constructor(token: string | undefined) {
    this.expected = token ? digest(token) : undefined;
  }

  get required(): boolean {
    return this.expected !== undefined;
  }

  /** Throws UnauthenticatedError unless `authorization` is "Bearer TOKEN" with the right token (or none is needed). */
  check(authorization: string | undefined): void {
    if (!this.expected) return;
    const match = /^Bearer\s+(.+)$/i.exec(authorization?.trim() ?? "");
    if (!match || !timingSafeEqual(digest(match[1]!), this.expected)) {
      throw new UnauthenticatedError(
        authorization ? "wrong token: send the server's token as 'authorization: Bearer TOKEN'" : "missing token: send 'authorization: Bearer TOKEN' (the server was started with --token or NUCLEUS_TOKEN)",
      );
    }
  }
}
