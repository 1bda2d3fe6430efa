import { join } from "node:path";

import * as grpc from "@grpc/grpc-js";
import * as protoLoader from "@grpc/proto-loader";

import { packageRoot } from "./locate.js";

/** The engine contract's .proto file, shipped with the package. */
export const ENGINE_PROTO = join(packageRoot(), "proto", "nucleus", "engine", "v1", "engine.proto");

/**
 * Loads nucleus.engine.v1 from the .proto at run time with @grpc/proto-loader: a dynamic alternative to the
 * generated client, e.g. for tools that talk to engines of another version or build requests as plain objects.
 */
export function loadEngineServiceDefinition(): grpc.ServiceDefinition {
  const definition = protoLoader.loadSync(ENGINE_PROTO, {
    keepCase: true,
    longs: Number,
    enums: String,
    defaults: true,
    oneofs: true,
    includeDirs: [join(packageRoot(), "proto")],
  });
  const service = definition["nucleus.engine.v1.Engine"];
  if (!service || "format" in service) {
    throw new Error(`${ENGINE_PROTO} does not define nucleus.engine.v1.Engine`);
  }
  return service as unknown as grpc.ServiceDefinition;
}
