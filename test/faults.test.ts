// Faults around the CLI and the engine (issue 11): the CLI killed with SIGKILL mid-run, an output on a read-only
// file system, a FIFO in the model folder, and a second local user reaching for the engine. (The engine killed
// mid-step is in cli-feedback.test.ts and process-manager.test.ts, a full disk and `ulimit -f` in outputs.test.ts,
// LoadModel racing Denoise in engine-model-swap.test.ts.)
import assert from "node:assert/strict";
import { execFileSync, spawn } from "node:child_process";
import { existsSync, mkdtempSync, readdirSync, rmSync, utimesSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";

import { execa } from "execa";

import { LocalEngine } from "../orchestrator/src/engine/process.js";
import { cliPath, runCli } from "./helpers/cli.js";
import { enginePids, repoRoot, waitForExit } from "./helpers/engine.js";
import { copyModel } from "./helpers/hostile.js";
import { type PipelineCase, pipelineCase, tinyModel } from "./helpers/pipeline-fixtures.js";

const PEER = "nucleus-test-peer";

/** A second local user to run a client as: made with useradd when missing; a reason to skip when that cannot be. */
function peerUser(): { uid: number; gid: number } | string {
  if (process.getuid?.() !== 0) return "not running as root: cannot act as another user";
  try {
    execFileSync("id", ["-u", PEER], { stdio: "ignore" });
  } catch {
    try {
      execFileSync("useradd", ["--system", "--no-create-home", "--shell", "/usr/sbin/nologin", PEER], { stdio: "pipe" });
    } catch (error) {
      return `cannot create a second user with useradd: ${(error as Error).message.split("\n")[0]}`;
    }
  }
  const id = (flag: string) => Number(execFileSync("id", [flag, PEER], { encoding: "utf8" }).trim());
  return { uid: id("-u"), gid: id("-g") };
}

describe("faults", () => {
  let fixture: PipelineCase;
  let output: string;
  before(() => {
    fixture = pipelineCase();
    output = mkdtempSync(join(tmpdir(), "nucleus-faults-"));
  });
  after(() => {
    rmSync(fixture.directory, { recursive: true, force: true });
    rmSync(output, { recursive: true, force: true });
    assert.deepEqual(enginePids(), [], "engine processes left running");
  });

  const generateArgs = (model: string, steps = 1) => [
    "generate", "--model", model, "--prompt-embeds", fixture.promptFile, "--cfg", "1", "--steps", String(steps),
    "--width", "32", "--height", "32", "--seed", "3",
  ];

  test("the CLI killed with SIGKILL mid-run: its engine exits, nothing is written, its socket folder is cleaned at the next start", { timeout: 60_000 }, async () => {
    const temporary = mkdtempSync(join(output, "tmp-"));
    const target = join(output, "killed.png");
    const child = spawn(process.execPath, [cliPath, ...generateArgs(tinyModel, 1000), "-o", target], {
      stdio: ["ignore", "pipe", "pipe"], env: { ...process.env, TMPDIR: temporary },
    });
    let stderr = "";
    child.stderr.on("data", (data: Buffer) => (stderr += data.toString()));
    const deadline = Date.now() + 30_000;
    while (!/step 2\/1000/.test(stderr) && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 50));
    assert.match(stderr, /step 2\/1000/);
    const [engine] = enginePids();
    assert.ok(engine, "no engine process found");
    child.kill("SIGKILL");
    assert.ok(await waitForExit(engine, 10_000), "the engine outlived the CLI killed with SIGKILL");
    assert.deepEqual(readdirSync(output).filter((name) => name.includes("killed")), [], "a partial output was left");

    // The CLI could not remove its socket folder; the engine removed its socket. An old empty one is cleaned up.
    const folders = readdirSync(temporary).filter((name) => /^nucleus-[A-Za-z0-9]{6}$/.test(name));
    assert.equal(folders.length, 1, readdirSync(temporary).join(", "));
    assert.deepEqual(readdirSync(join(temporary, folders[0]!)), [], "the engine left its socket behind");
    const anHourAgo = Date.now() / 1000 - 3600;
    utimesSync(join(temporary, folders[0]!), anHourAgo, anHourAgo);
    const previous = process.env.TMPDIR;
    process.env.TMPDIR = temporary;
    try {
      await (await LocalEngine.start()).stop();
    } finally {
      if (previous === undefined) delete process.env.TMPDIR;
      else process.env.TMPDIR = previous;
    }
    assert.deepEqual(readdirSync(temporary), []);
  });

  test("an output on a read-only file system is refused before the engine starts, naming the path", async (t) => {
    const mountPoint = mkdtempSync(join(output, "readonly-"));
    try {
      execFileSync("mount", ["-t", "tmpfs", "-o", "ro,size=64k", "tmpfs", mountPoint], { stdio: "ignore" });
    } catch {
      t.skip("cannot mount a read-only tmpfs here");
      return;
    }
    try {
      const target = join(mountPoint, "x.png");
      const result = await runCli([...generateArgs(tinyModel), "-o", target]);
      assert.equal(result.exitCode, 1, result.stderr);
      assert.match(result.stderr, new RegExp(`cannot write ${target.replace(/\./g, "\\.")}: the folder ${mountPoint} is not writable`));
      assert.doesNotMatch(result.stderr, /step \d/);
      assert.deepEqual(readdirSync(mountPoint), []);
    } finally {
      execFileSync("umount", [mountPoint]);
    }
  });

  test("a FIFO in the model folder is an error naming it, not a hang (orchestrator's and engine's files)", { timeout: 60_000 }, async () => {
    for (const file of ["transformer/config.json", "scheduler/scheduler_config.json", "vae/diffusion_pytorch_model.safetensors"]) {
      const { scratch, model } = copyModel(tinyModel);
      try {
        rmSync(join(model, file));
        execFileSync("mkfifo", [join(model, file)]);
        const target = join(output, "fifo.png");
        const started = Date.now();
        const result = await execa(process.execPath, [cliPath, ...generateArgs(model), "-o", target], { reject: false, timeout: 20_000 });
        assert.equal(result.timedOut, false, `${file}: the CLI hung`);
        assert.equal(result.exitCode, 1, `${file}: ${result.stderr}`);
        assert.ok(result.stderr.includes(join(model, file)), `${file}: ${result.stderr}`);
        assert.match(result.stderr, /not a regular file/);
        assert.ok(Date.now() - started < 15_000);
        assert.equal(existsSync(target), false);
      } finally {
        rmSync(scratch, { recursive: true, force: true });
      }
    }
  });

  test("a second local user can neither reach the socket nor call over TCP without the token", { timeout: 60_000 }, async (t) => {
    const peer = peerUser();
    if (typeof peer === "string") {
      t.skip(peer);
      return;
    }
    const asPeer = (args: string[]) =>
      execa("setpriv", [`--reuid=${peer.uid}`, `--regid=${peer.gid}`, "--clear-groups", process.execPath, join(repoRoot, "dist", "test", "helpers", "peer-client.js"), ...args], { cwd: "/" });

    // The default socket: in a fresh 0700 folder of ours.
    const local = await LocalEngine.start();
    try {
      const socket = local.ready.address.replace(/^unix:/, "");
      const reached = JSON.parse((await asPeer(["socket", socket])).stdout) as { connected: boolean; error?: string };
      assert.deepEqual(reached, { connected: false, error: "EACCES" });
      assert.equal((await local.client.health()).serving, true);
    } finally {
      await local.stop();
    }

    // TCP: any local user can connect, so the engine requires the token (the orchestrator makes one).
    const tcp = await LocalEngine.start({ port: 0 });
    try {
      const results = JSON.parse((await asPeer(["tcp", tcp.ready.address])).stdout) as Record<string, string>;
      for (const [call, code] of Object.entries(results)) assert.equal(code, "UNAUTHENTICATED", call);
      assert.equal(Object.keys(results).length, 6);
      assert.equal((await tcp.client.health()).serving, true, "a peer's Shutdown stopped the engine");
    } finally {
      await tcp.stop();
    }
  });
});

