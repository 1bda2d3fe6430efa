// The HTTP door of the image service (fastify): OpenAI's Images API — POST /v1/images/generations with prompt, n,
// size "WIDTHxHEIGHT" and response_format b64_json, plus negative_prompt, seed, steps and guidance_scale — and
// GET /v1/models, GET /health. Errors come in OpenAI's shape: { "error": { "message", "type", ... } }.
import Fastify, { type FastifyInstance, type FastifyReply } from "fastify";

import { GenerateOptionsError } from "../request/generate-request.js";
import { GENERATION_LIMITS } from "../request/limits.js";
import type { TokenCheck } from "./auth.js";
import { errorMessage, httpStatusOf } from "./errors.js";
import { MAX_REQUEST_BYTES } from "./grpc-door.js";
import type { ImageService } from "./image-service.js";
import type { FieldNames, JobInput } from "./job-request.js";

/** What we take beyond OpenAI's fields, and OpenAI's fields that do not apply here (accepted, ignored). */
const FIELDS = ["prompt", "n", "size", "response_format", "negative_prompt", "seed", "steps", "guidance_scale", "system_prompt", "output_format"];
const IGNORED = ["model", "quality", "style", "user", "background", "moderation"];

const FIELD_NAMES: FieldNames = {
  negative: "negative_prompt", systemPrompt: "system_prompt", cfg: "guidance_scale", count: "n", format: "output_format",
  width: "size (width)", height: "size (height)",
};

function errorBody(status: number, message: string) {
  const type = status === 401 ? "authentication_error" : status === 429 ? "rate_limit_error" : status < 500 ? "invalid_request_error" : "server_error";
  return { error: { message, type, param: null, code: null } };
}

function sendError(reply: FastifyReply, error: unknown): FastifyReply {
  const status = httpStatusOf(error);
  if (status === 401) reply.header("www-authenticate", 'Bearer realm="nucleus-image"');
  return reply.code(status).send(errorBody(status, errorMessage(error)));
}

/** "1024x768" → width and height; "auto" or absent → the defaults. */
function parseSize(size: unknown): { width?: number; height?: number } {
  if (size === undefined || size === "auto") return {};
  const match = typeof size === "string" ? /^\s*(\d+)\s*[x×]\s*(\d+)\s*$/.exec(size) : null;
  if (!match) {
    throw new GenerateOptionsError(`size must be "WIDTHxHEIGHT" (e.g. "${GENERATION_LIMITS.width.default}x${GENERATION_LIMITS.height.default}"), not ${JSON.stringify(size)}`);
  }
  return { width: Number(match[1]), height: Number(match[2]) };
}

export function jobInputOfBody(body: unknown): JobInput {
  if (body === null || typeof body !== "object" || Array.isArray(body)) {
    throw new GenerateOptionsError('send a JSON object, e.g. {"prompt": "A red apple on a white table", "size": "1024x1024"}');
  }
  const fields = body as Record<string, unknown>;
  const unknown = Object.keys(fields).filter((key) => !FIELDS.includes(key) && !IGNORED.includes(key));
  if (unknown.length > 0) throw new GenerateOptionsError(`unknown field(s) ${unknown.join(", ")}: this endpoint takes ${FIELDS.join(", ")}`);
  const format = fields.response_format ?? "b64_json";
  if (format !== "b64_json") {
    throw new GenerateOptionsError(`response_format ${JSON.stringify(format)} is not supported: use "b64_json" (images are not stored for URLs)`);
  }
  return {
    prompt: fields.prompt, negative: fields.negative_prompt, systemPrompt: fields.system_prompt, ...parseSize(fields.size),
    steps: fields.steps, cfg: fields.guidance_scale, seed: fields.seed, count: fields.n, format: fields.output_format,
  };
}

export function imagesHttpServer(service: ImageService, token: TokenCheck): FastifyInstance {
  const app = Fastify({ logger: false, bodyLimit: MAX_REQUEST_BYTES, forceCloseConnections: true });
  const startedSeconds = Math.floor(Date.now() / 1000);

  app.setErrorHandler((error: Error & { statusCode?: number }, _request, reply) => {
    const status = error.statusCode && error.statusCode >= 400 ? error.statusCode : 500;
    return reply.code(status).send(errorBody(status, errorMessage(error)));
  });
  app.setNotFoundHandler((request, reply) =>
    reply.code(404).send(errorBody(404, `no route ${request.method} ${request.url}: POST /v1/images/generations, GET /v1/models, GET /health`)));

  app.addHook("onRequest", async (request, reply) => {
    try {
      token.check(request.headers.authorization);
    } catch (error) {
      return sendError(reply, error);
    }
  });

  app.get("/health", async (_request, reply) => {
    const status = service.status();
    return reply.code(status.state === "ready" ? 200 : 503).send({
      status: status.state === "ready" ? "ok" : status.state, model: service.loadedModel?.folder.label ?? null,
      queue_length: status.queueLength, busy: status.busy, max_queue: status.maxQueue, completed_jobs: status.completedJobs,
    });
  });

  app.get("/v1/models", async () => ({
    object: "list",
    data: service.loadedModel ? [{ id: service.loadedModel.folder.label, object: "model", created: startedSeconds, owned_by: "nucleus-image" }] : [],
  }));

  app.post("/v1/images/generations", async (request, reply) => {
    const images: { b64_json: string; seed: number }[] = [];
    try {
      const job = service.submit(jobInputOfBody(request.body), (event) => {
        if (event.type === "image") images[event.index] = { b64_json: event.data.toString("base64"), seed: event.seed };
      }, FIELD_NAMES);
      // A client that goes away cancels its job.
      reply.raw.on("close", () => {
        if (!reply.raw.writableFinished) service.cancel(job.id, "its HTTP client disconnected");
      });
      await job.finished;
    } catch (error) {
      return sendError(reply, error);
    }
    return reply.send({ created: Math.floor(Date.now() / 1000), data: images });
  });

  return app;
}
