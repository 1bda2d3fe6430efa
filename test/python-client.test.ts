// gRPC from another language: Python's grpcio (stubs generated from the same .proto) calls the engine.
import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";

import { execa } from "execa";

import { LocalEngine } from "../orchestrator/src/engine/process.js";
import { packageVersion, repoRoot } from "./helpers/engine.js";

const python = join(repoRoot, ".deps", "python", "bin", "python");

describe("Python grpcio client", () => {
  let engine: LocalEngine;
  before(async () => {
    engine = await LocalEngine.start();
  });
  after(async () => {
    await engine.stop();
  });

  test("the Python environment npm run setup makes is there, with every package the Python tests import", async () => {
    assert.ok(existsSync(python), `${python} is missing: run npm run setup`);
    const imports = await execa(python, ["-c", "import grpc, grpc_tools, google.protobuf, numpy, safetensors, ml_dtypes, tokenizers, jinja2"], { reject: false });
    assert.equal(imports.exitCode, 0, `the Python test environment lacks a package (${imports.stderr.trim().split("\n").pop()}): run npm run setup`);
  });

  for (const transport of ["unix socket", "tcp"] as const) {
    test(`GetInfo and Health from Python over a ${transport}`, async () => {
      let target = engine;
      if (transport === "tcp") target = await LocalEngine.start({ port: 0 });
      try {
        // Over TCP the engine needs the token the orchestrator gave it.
        const token = target.authToken ? [target.authToken] : [];
        assert.equal(transport === "tcp", token.length === 1);
        const result = await execa(python, [join(repoRoot, "test", "python", "get_info_client.py"), target.ready.address, ...token]);
        const parsed = JSON.parse(result.stdout) as {
          info: { engine_version: string; mlx_version: string; backend: string; self_check: { passed: boolean } };
          health: { serving: boolean };
        };
        assert.equal(parsed.info.engine_version, packageVersion);
        assert.equal(parsed.info.mlx_version, "0.32.4");
        assert.equal(parsed.info.backend, target.ready.backend);
        assert.equal(parsed.info.self_check.passed, true);
        assert.equal(parsed.health.serving, true);
        if (transport === "tcp") {
          for (const wrong of [[], ["not-the-token"]]) {
            const refused = await execa(python, [join(repoRoot, "test", "python", "get_info_client.py"), target.ready.address, ...wrong]);
            const { error } = JSON.parse(refused.stdout) as { error: { code: string; details: string } };
            assert.equal(error.code, "UNAUTHENTICATED");
            assert.match(error.details, /missing or wrong token: send the metadata 'authorization: Bearer <token>'/);
          }
        }
      } finally {
        if (target !== engine) await target.stop();
      }
    });
  }
});
