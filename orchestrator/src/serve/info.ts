// What GetInfo and GET /v1/models tell about the server: the model, its components, versions and the queue.
import { readFileSync } from "node:fs";
import { join } from "node:path";

import { packageRoot } from "../engine/locate.js";
import type { GetInfoResponse } from "../generated/nucleus/image/v1/images.js";
import type { ImageService } from "./image-service.js";

export const IMAGES_PROTOCOL = "nucleus.image.v1";

export const packageVersion = (): string =>
  (JSON.parse(readFileSync(join(packageRoot(), "package.json"), "utf8")) as { version: string }).version;

export async function serviceInfo(service: ImageService): Promise<GetInfoResponse> {
  const model = service.loadedModel;
  const status = service.status();
  const engine = model ? await model.client.getInfo() : undefined;
  const resident = new Set(engine?.loadedComponents.map((component) => component.name) ?? []);
  return {
    model: model?.folder.label ?? "",
    components: (model?.summary.components ?? []).map((component) => ({
      name: component.name, dtype: component.dtype, quantization: component.quantization,
      parameterCount: Number(component.parameterCount), resident: resident.has(component.name),
    })),
    version: packageVersion(),
    engineVersion: engine?.engineVersion ?? "",
    mlxVersion: engine?.mlxVersion ?? "",
    backend: engine?.backend ?? "",
    deviceName: engine?.deviceName ?? "",
    queueLength: status.queueLength,
    busy: status.busy,
    maxQueue: status.maxQueue,
    completedJobs: status.completedJobs,
    lowMemory: model?.lowMemory ?? false,
    protocol: IMAGES_PROTOCOL,
    uptimeSeconds: status.uptimeMs / 1000,
  };
}
