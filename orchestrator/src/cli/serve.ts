// `nucleus-image serve`: loads a model once and serves images over gRPC (nucleus.image.v1.Images) and, with
// --http-port, OpenAI's Images API over HTTP, until SIGINT or SIGTERM.
import { chmodSync, rmSync } from "node:fs";

import { type Command, InvalidArgumentError } from "@commander-js/extra-typings";

import { resolveModel } from "../model/resolve-model.js";
import { NucleusImage } from "../nucleus-image.js";
import { readModelFolder, requireTextSupport } from "../pipeline/model-folder.js";
import { TokenCheck } from "../serve/auth.js";
import { bindServer, imagesServer, stopServer } from "../serve/grpc-door.js";
import { imagesHttpServer } from "../serve/http-door.js";
import { DEFAULT_MAX_QUEUE, ImageService } from "../serve/image-service.js";
import { IMAGES_PROTOCOL, packageVersion } from "../serve/info.js";
import { hostPort, isLoopback, prepareSocket, type SocketPlace } from "../serve/listen.js";
import { EXIT_INTERRUPTED, UsageError } from "./errors.js";
import { loadOptions, loadProgressReporter, withModelOptions, withTransformerOptions } from "./model-options.js";
import { port } from "./parsers.js";
import { Reporter } from "./reporter.js";

const queueLength = (text: string): number => {
  const value = Number(text);
  if (!Number.isInteger(value) || value < 0 || value > 10_000) throw new InvalidArgumentError("--max-queue must be a whole number from 0 to 10000");
  return value;
};

function declareServe(program: Command) {
  const command = program
    .command("serve")
    .description("load a model once and serve images over gRPC (nucleus.image.v1) and OpenAI-style HTTP until Ctrl-C")
    .option("--socket <path>", "gRPC on this Unix socket (default: images.sock in a fresh private folder, printed in the ready line)")
    .option("--port <n>", "gRPC on TCP port N instead (0 picks a free port)", port)
    .option("--host <address>", "the address TCP ports listen on (default 127.0.0.1; any other needs a token)")
    .option("--http-port <n>", "also serve HTTP (POST /v1/images/generations, GET /v1/models, GET /health) on this port", port)
    .option("--token <token>", "require 'authorization: Bearer TOKEN' on every call (default $NUCLEUS_TOKEN)")
    .option("--max-queue <n>", `jobs that may wait behind the running one; more get RESOURCE_EXHAUSTED / 429 (default ${DEFAULT_MAX_QUEUE})`, queueLength);
  return withTransformerOptions(withModelOptions(command));
}

type ServeFlags = ReturnType<ReturnType<typeof declareServe>["opts"]>;

export function registerServe(program: Command): void {
  declareServe(program).action(async (flags) => runServe(flags));
}

function checkListening(flags: ServeFlags, token: string | undefined): string {
  if (flags.socket !== undefined && flags.port !== undefined) throw new UsageError("give either --socket or --port, not both");
  if (flags.host !== undefined && flags.port === undefined && flags.httpPort === undefined) {
    throw new UsageError("--host applies to TCP ports: give --port and/or --http-port with it");
  }
  const host = flags.host ?? "127.0.0.1";
  if (!isLoopback(host) && !token) {
    throw new UsageError(`--host ${host} makes the server reachable from other machines: give a token with --token or NUCLEUS_TOKEN`);
  }
  return host;
}

async function runServe(flags: ServeFlags): Promise<void> {
  const token = flags.token ?? (process.env.NUCLEUS_TOKEN || undefined);
  const host = checkListening(flags, token);
  const reporter = new Reporter();
  const model = resolveModel(flags.model, { revision: flags.revision });
  for (const note of model.notes) reporter.note(note);
  requireTextSupport(readModelFolder(model));
  const log = (line: string) => process.stderr.write(`nucleus-image serve: ${line}\n`);
  if ((flags.port !== undefined || flags.httpPort !== undefined) && !token) {
    log("warning: listening on TCP without a token: every local user can send jobs (give --token or NUCLEUS_TOKEN)");
  }

  const service = new ImageService({ maxQueue: flags.maxQueue ?? DEFAULT_MAX_QUEUE, log });
  const check = new TokenCheck(token);
  const grpcServer = imagesServer(service, check);
  const httpServer = flags.httpPort === undefined ? undefined : imagesHttpServer(service, check);
  const abort = new AbortController();
  let socket: SocketPlace | undefined;
  let nucleus: NucleusImage | undefined;
  let stopping: Promise<void> | undefined;

  const cleanUp = () => {
    if (socket?.madeFolder) rmSync(socket.madeFolder, { recursive: true, force: true });
    else if (socket) rmSync(socket.path, { force: true });
  };
  const stop = () =>
    (stopping ??= (async () => {
      abort.abort();
      await service.shutdown();
      await Promise.all([stopServer(grpcServer, 2000), httpServer?.close()]);
      await nucleus?.close();
      cleanUp();
    })());
  let signals = 0;
  const onSignal = (signal: NodeJS.Signals) => {
    signals++;
    if (signals > 1) {
      cleanUp();
      process.exit(EXIT_INTERRUPTED);
    }
    log(`${signal}: stopping (the running job is cancelled after its current step)…`);
    void stop().then(() => log("stopped"));
  };
  process.on("SIGINT", onSignal);
  process.on("SIGTERM", onSignal);

  try {
    // Listen first, so a taken port or socket fails before minutes of loading; calls meanwhile get UNAVAILABLE.
    let grpcAddress: string;
    if (flags.port !== undefined) {
      grpcAddress = hostPort(host, await bindServer(grpcServer, hostPort(host, flags.port)));
    } else {
      socket = await prepareSocket(flags.socket);
      const previous = process.umask(0o077);
      try {
        await bindServer(grpcServer, `unix:${socket.path}`);
      } finally {
        process.umask(previous);
      }
      chmodSync(socket.path, 0o600);
      grpcAddress = `unix:${socket.path}`;
    }
    let httpAddress: string | null = null;
    if (httpServer) {
      await httpServer.listen({ host, port: flags.httpPort });
      const address = httpServer.server.address();
      httpAddress = `http://${hostPort(host, typeof address === "object" && address ? address.port : flags.httpPort!)}`;
    }

    reporter.message(`loading ${model.label}…`);
    nucleus = await NucleusImage.load(model, {
      load: loadOptions(flags, ["transformer", "vae", "text_encoder"]),
      lowMemory: Boolean(flags.lowMemory),
      onLoadProgress: loadProgressReporter(reporter),
      signal: abort.signal,
    });
    reporter.done();
    if (abort.signal.aborted) return;
    service.ready(nucleus);
    process.stdout.write(`${JSON.stringify({
      event: "ready", grpc: grpcAddress, http: httpAddress, model: model.label, pid: process.pid, version: packageVersion(),
      protocol: IMAGES_PROTOCOL,
    })}\n`);
  } catch (error) {
    if (abort.signal.aborted) return;
    await Promise.all([stopServer(grpcServer, 0), httpServer?.close()]);
    await nucleus?.close();
    cleanUp();
    throw error;
  }
}
