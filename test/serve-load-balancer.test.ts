// Scaling out: two `serve` instances behind a real nginx (Debian's, unpacked by `npm run setup`), configured as the
// README shows; jobs through nginx's gRPC and HTTP doors are spread over both servers.
import assert from "node:assert/strict";
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";

import { execa, type ResultPromise } from "execa";

import { decodePng } from "../orchestrator/src/image/png.js";
import { ImagesConnection } from "../orchestrator/src/serve/images-client.js";
import { enginePids, repoRoot } from "./helpers/engine.js";
import { tinyModel } from "./helpers/pipeline-fixtures.js";
import { textModelFolder } from "./helpers/processor.js";
import { startServe, type RunningServe } from "./helpers/serve.js";

function findNginx(): string | undefined {
  const installed = join(repoRoot, ".deps", "nginx");
  if (existsSync(installed)) return installed;
  for (const folder of (process.env.PATH ?? "").split(":").concat(["/usr/sbin", "/usr/local/sbin"])) {
    if (folder && existsSync(join(folder, "nginx"))) return join(folder, "nginx");
  }
  return undefined;
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = createServer();
    probe.once("error", reject);
    probe.listen(0, "127.0.0.1", () => {
      const { port } = probe.address() as { port: number };
      probe.close(() => resolve(port));
    });
  });
}

/** The README's nginx configuration with our ports, listening on loopback, and nginx's own files in `folder`. */
function nginxConfig(folder: string, ports: Record<string, number>): string {
  const readme = readFileSync(join(repoRoot, "README.md"), "utf8");
  const block = /<!-- tested: serve-nginx-config -->\s*```nginx\n([\s\S]*?)```/.exec(readme)?.[1];
  assert.ok(block, "README.md has no nginx configuration marked <!-- tested: serve-nginx-config -->");
  let config = block.replace(/\b(50051|50052|8081|8082)\b/g, (port) => String(ports[port]));
  config = config.replace(/listen (50050|8080)\b/g, (_match, port: string) => `listen 127.0.0.1:${ports[port]}`);
  const temp = ["client_body", "proxy", "fastcgi", "uwsgi", "scgi"].map((kind) => `  ${kind}_temp_path ${join(folder, kind)};`).join("\n");
  config = config.replace("http {", `http {\n  access_log off;\n${temp}`);
  return `daemon off;\nworker_processes 1;\npid ${join(folder, "nginx.pid")};\nerror_log ${join(folder, "error.log")} warn;\n${config}`;
}

describe("two servers behind nginx", () => {
  const nginx = findNginx();
  let model: string;
  let folder: string;
  let servers: RunningServe[] = [];
  let proxy: ResultPromise | undefined;
  let ports: Record<string, number>;
  before(async () => {
    if (!nginx) return;
    model = textModelFolder(tinyModel);
    folder = mkdtempSync(join(tmpdir(), "nucleus-nginx-"));
    chmodSync(folder, 0o755); // nginx's workers may run as another user
    servers = await Promise.all([0, 1].map(() => startServe(["--model", model, "--port", "0", "--http-port", "0"], { NUCLEUS_TOKEN: "" })));
    const [a, b] = servers.map((server) => ({ grpc: Number(server.ready.grpc.split(":").pop()), http: Number(server.ready.http!.split(":").pop()) }));
    ports = { 50051: a!.grpc, 50052: b!.grpc, 8081: a!.http, 8082: b!.http, 50050: await freePort(), 8080: await freePort() };
    const config = join(folder, "nginx.conf");
    writeFileSync(config, nginxConfig(folder, ports));
    proxy = execa(nginx, ["-p", folder, "-c", config, "-e", join(folder, "error.log")], { reject: false });
  });
  after(async () => {
    proxy?.kill("SIGQUIT");
    await proxy;
    await Promise.all(servers.map((server) => server.stop("SIGTERM")));
    if (model) rmSync(model, { recursive: true, force: true });
    if (folder) rmSync(folder, { recursive: true, force: true });
    assert.deepEqual(enginePids(), [], "engine processes left running");
  });

  test("jobs over gRPC and HTTP through nginx are spread over both servers; GetInfo and /health pass through", async (t) => {
    if (!nginx) return t.skip("nginx is not available (npm run setup unpacks Debian's; or install nginx)");
    const through = new ImagesConnection(`127.0.0.1:${ports[50050]}`, "");
    try {
      // nginx starts in a moment: wait until it proxies GetInfo.
      const deadline = Date.now() + 20_000;
      for (;;) {
        try {
          assert.equal((await through.getInfo(2000)).protocol, "nucleus.image.v1");
          break;
        } catch (error) {
          if (Date.now() > deadline) throw new Error(`nginx did not proxy GetInfo: ${String(error)}\n${readFileSync(join(folder, "error.log"), "utf8")}`);
          await new Promise((resolve) => setTimeout(resolve, 100));
        }
      }
      const health = await fetch(`http://127.0.0.1:${ports[8080]}/health`);
      assert.equal(health.status, 200);
      assert.equal(((await health.json()) as { status: string }).status, "ok");

      const request = { prompt: "A lighthouse", width: 32, height: 32, steps: 3, seed: 5 };
      const overGrpc = Array.from({ length: 4 }, async () => {
        const images = [];
        for await (const event of through.generate(request)) if (event.image) images.push(event.image.data);
        return images;
      });
      const overHttp = Array.from({ length: 2 }, async () => {
        const response = await fetch(`http://127.0.0.1:${ports[8080]}/v1/images/generations`, {
          method: "POST", headers: { "content-type": "application/json" },
          body: JSON.stringify({ prompt: request.prompt, size: "32x32", steps: 3, seed: 5 }),
        });
        assert.equal(response.status, 200);
        return ((await response.json()) as { data: { b64_json: string }[] }).data.map((entry) => Buffer.from(entry.b64_json, "base64"));
      });
      const results = (await Promise.all([...overGrpc, ...overHttp])).flat();
      assert.equal(results.length, 6);
      // Same request, same picture, whichever server made it.
      const first = (await decodePng(results[0]!)).data;
      for (const image of results) assert.deepEqual((await decodePng(image)).data, first);

      const served = await Promise.all(servers.map(async (server) => {
        const direct = new ImagesConnection(server.ready.grpc, "");
        try {
          return (await direct.getInfo()).completedJobs;
        } finally {
          direct.close();
        }
      }));
      assert.equal(served[0]! + served[1]!, 6);
      assert.ok(served.every((count) => count > 0), `jobs per server: ${served.join(", ")}`);
    } finally {
      through.close();
    }
  });
});
