// The image service's contract as written in proto/nucleus/image/v1/images.proto (loaded at run time by
// @grpc/proto-loader, independent of the generated code): the service, its RPCs and streaming kinds, and the
// message and field names the issue names, with their types and optional presence.
import assert from "node:assert/strict";
import { join } from "node:path";
import { describe, test } from "node:test";

import { fromBinary, isFieldSet } from "@bufbuild/protobuf";
import { FieldDescriptorProtoSchema, FieldDescriptorProto_Type, FileDescriptorProtoSchema } from "@bufbuild/protobuf/wkt";
import * as protoLoader from "@grpc/proto-loader";

import { ImagesService } from "../orchestrator/src/generated/nucleus/image/v1/images.js";
import { repoRoot } from "./helpers/engine.js";

const definition = protoLoader.loadSync("nucleus/image/v1/images.proto", { keepCase: true, includeDirs: [join(repoRoot, "proto")] });
const file = fromBinary(FileDescriptorProtoSchema, (definition["nucleus.image.v1.GenerateRequest"] as { fileDescriptorProtos: Buffer[] }).fileDescriptorProtos[0]!);

/** Field name → [type, optional?, the oneof it belongs to] as declared. */
function fields(name: string): Record<string, [string, boolean, string | undefined]> {
  const message = file.messageType.find((candidate) => candidate.name === name);
  assert.ok(message, `message ${name} is not declared`);
  return Object.fromEntries(message.field.map((field) => {
    const type = field.type === FieldDescriptorProto_Type.MESSAGE ? field.typeName.split(".").pop()! : FieldDescriptorProto_Type[field.type].toLowerCase();
    const oneof = isFieldSet(field, FieldDescriptorProtoSchema.field.oneofIndex) ? message.oneofDecl[field.oneofIndex]!.name : undefined;
    // proto3 `optional` fields sit alone in a synthetic oneof named _<field>.
    const optional = oneof === `_${field.name}`;
    return [field.name, [type, optional, optional ? undefined : oneof]];
  }));
}

describe("image service contract (proto/nucleus/image/v1/images.proto)", () => {
  test("service nucleus.image.v1.Images: Generate streams events, Cancel and GetInfo are unary; the generated code agrees", () => {
    const service = definition["nucleus.image.v1.Images"] as unknown as Record<string, { path: string; requestStream: boolean; responseStream: boolean }>;
    const kinds = Object.fromEntries(Object.entries(service).map(([name, method]) => [name, [method.path, method.requestStream, method.responseStream]]));
    assert.deepEqual(kinds, {
      Generate: ["/nucleus.image.v1.Images/Generate", false, true],
      Cancel: ["/nucleus.image.v1.Images/Cancel", false, false],
      GetInfo: ["/nucleus.image.v1.Images/GetInfo", false, false],
    });
    assert.deepEqual(Object.values(ImagesService).map((method) => method.path).sort(), Object.values(kinds).map((kind) => kind[0]).sort());
  });

  test("GenerateRequest: prompt, and optional negative_prompt, system_prompt, width, height, steps, guidance, seed, count, preview_every, format, metadata", () => {
    const request = fields("GenerateRequest");
    assert.deepEqual(request.prompt, ["string", false, undefined]);
    const optional: [string, string][] = [
      ["negative_prompt", "string"], ["system_prompt", "string"], ["width", "uint32"], ["height", "uint32"], ["steps", "uint32"],
      ["guidance", "float"], ["seed", "uint32"], ["count", "uint32"], ["preview_every", "uint32"], ["format", "string"], ["metadata", "bool"],
    ];
    for (const [name, type] of optional) assert.deepEqual(request[name]?.slice(0, 2), [type, true], name);
  });

  test("GenerateEvent: job_id and a oneof event of queued, progress, image, done; Image, Progress, Cancel carry the named fields", () => {
    const event = fields("GenerateEvent");
    assert.deepEqual(event.job_id, ["string", false, undefined]);
    for (const [name, type] of [["queued", "Queued"], ["progress", "Progress"], ["image", "Image"], ["done", "Done"]]) {
      assert.deepEqual(event[name], [type, false, "event"], name);
    }
    assert.equal(fields("Queued").position?.[0], "uint32");
    const progress = fields("Progress");
    for (const name of ["index", "step", "total", "elapsed_seconds", "eta_seconds", "preview"]) assert.ok(progress[name], `Progress.${name}`);
    assert.equal(progress.preview?.[0], "bytes");
    const image = fields("Image");
    assert.deepEqual([image.index?.[0], image.seed?.[0], image.data?.[0], image.metadata_json?.[0]], ["uint32", "uint32", "bytes", "string"]);
    const done = fields("Done");
    assert.ok(done.timings && done.memory, "Done has timings and peak memory");
    assert.deepEqual(fields("CancelRequest").job_id, ["string", false, undefined]);
    const info = fields("GetInfoResponse");
    for (const name of ["model", "components", "version", "engine_version", "mlx_version", "backend", "queue_length"]) assert.ok(info[name], `GetInfoResponse.${name}`);
    assert.ok(fields("Component").quantization, "components carry their quantization");
  });
});
