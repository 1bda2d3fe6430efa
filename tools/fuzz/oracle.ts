// What counts as a problem in one answer: a call over its deadline (hang), or an answer a client cannot act on
// (unclear): INTERNAL or UNKNOWN, a status message over 2 KiB (grpcio drops metadata over its limits), or a message
// that quotes the fuzz canary file (file contents must never reach a client). Engine death is checked separately.
import * as grpc from "@grpc/grpc-js";

import type { CallResult, Method } from "./rpc.js";

export const SECRET_MARKS = ["NUCLEUS-FUZZ-SECRET", "saltsalt", "7f3a7f3a"];
export const MAX_MESSAGE_BYTES = 2048;

export type Verdict = { kind: "ok" } | { kind: "hang" | "unclear"; what: string };

export function judge(method: Method, result: CallResult, deadlineMs: number): Verdict {
  if (result.code === grpc.status.DEADLINE_EXCEEDED && result.elapsedMs >= deadlineMs * 0.9) {
    return { kind: "hang", what: `${method} did not answer within ${deadlineMs} ms` };
  }
  return clarity(method, result.code, result.details);
}

/** Whether a status and its message are clear enough for a client (also used by the regression tests). */
export function clarity(method: string, code: grpc.status, details: string): Verdict {
  const bytes = Buffer.byteLength(details, "utf8");
  const name = grpc.status[code] ?? String(code);
  if (code === grpc.status.INTERNAL || code === grpc.status.UNKNOWN) {
    return { kind: "unclear", what: `${method} answered ${name}: ${details.slice(0, 300)}` };
  }
  if (bytes > MAX_MESSAGE_BYTES) return { kind: "unclear", what: `${method} answered ${name} with a ${bytes}-byte message` };
  const leaked = SECRET_MARKS.find((mark) => details.includes(mark));
  if (leaked) return { kind: "unclear", what: `${method} echoed bytes of a private file (${leaked}): ${details.slice(0, 300)}` };
  if (code !== grpc.status.OK && details.trim().length === 0) return { kind: "unclear", what: `${method} answered ${name} with no message` };
  return { kind: "ok" };
}
