// Run as another local user by test/faults.test.ts: tries to reach an engine that is not theirs and prints what
// happened as JSON. `socket PATH`: connect to the Unix socket. `tcp ADDRESS`: call GetInfo, LoadModel and Shutdown
// without a token and with a guessed one.
import { connect } from "node:net";

import * as grpc from "@grpc/grpc-js";

const [mode, target] = process.argv.slice(2);

if (mode === "socket") {
  const socket = connect(target!);
  socket.once("connect", () => {
    console.log(JSON.stringify({ connected: true }));
    socket.destroy();
  });
  socket.once("error", (error: NodeJS.ErrnoException) => console.log(JSON.stringify({ connected: false, error: error.code })));
} else {
  const client = new grpc.Client(target!, grpc.credentials.createInsecure());
  const call = (method: string, token?: string) =>
    new Promise<string>((resolve) => {
      const metadata = new grpc.Metadata();
      if (token) metadata.set("authorization", `Bearer ${token}`);
      client.makeUnaryRequest(`/nucleus.engine.v1.Engine/${method}`, (value: Buffer) => value, (value: Buffer) => value, Buffer.alloc(0), metadata, { deadline: Date.now() + 10_000 }, (error) =>
        resolve(error ? grpc.status[error.code]! : "OK"),
      );
    });
  const results: Record<string, string> = {};
  for (const token of [undefined, "guess"]) {
    for (const method of ["GetInfo", "LoadModel", "Shutdown"]) results[`${method}${token ? " with a guessed token" : ""}`] = await call(method, token);
  }
  client.close();
  console.log(JSON.stringify(results));
}
