// Finding the model: Hugging Face ids in the hub cache (as huggingface_hub lays it out), --revision, NUCLEUS_MODEL,
// forgiving paths (~, model_index.json, a component folder), clear errors; encode from text_encoder/ + processor/.
import assert from "node:assert/strict";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";

import { readPngText } from "../orchestrator/src/image/png.js";
import { resolveModel } from "../orchestrator/src/model/resolve-model.js";
import { readSafetensors } from "../orchestrator/src/tensors/safetensors.js";
import { runCli } from "./helpers/cli.js";
import { enginePids } from "./helpers/engine.js";
import { pipelineCase, tinyModel } from "./helpers/pipeline-fixtures.js";
import { textModelFolder } from "./helpers/processor.js";

const MAIN = "1".repeat(40);
const V2 = "2".repeat(40);

describe("model resolution", () => {
  let root: string;
  let model: string;
  let hub: string;
  before(() => {
    root = mkdtempSync(join(tmpdir(), "nucleus-resolve-"));
    model = textModelFolder(tinyModel);
    // huggingface_hub's layout: models--OWNER--NAME/{refs/<branch>, snapshots/<commit>/...}.
    hub = join(root, "hub");
    const repository = join(hub, "models--owner--tiny-model");
    mkdirSync(join(repository, "refs"), { recursive: true });
    mkdirSync(join(repository, "snapshots"));
    writeFileSync(join(repository, "refs", "main"), MAIN);
    writeFileSync(join(repository, "refs", "v2"), `${V2}\n`);
    symlinkSync(model, join(repository, "snapshots", MAIN));
    symlinkSync(model, join(repository, "snapshots", V2));
  });
  after(() => {
    rmSync(root, { recursive: true, force: true });
    rmSync(model, { recursive: true, force: true });
    assert.deepEqual(enginePids(), [], "engine processes left running");
  });

  test("OWNER/NAME is found in $HF_HUB_CACHE, $HF_HOME/hub or $XDG_CACHE_HOME/huggingface/hub, at refs/main or --revision", () => {
    const snapshots = join(hub, "models--owner--tiny-model", "snapshots");
    const fromHubCache = resolveModel("owner/tiny-model", { env: { HF_HUB_CACHE: hub } });
    assert.equal(fromHubCache.directory, join(snapshots, MAIN));
    assert.equal(fromHubCache.label, "owner/tiny-model");
    assert.equal(resolveModel("owner/tiny-model", { env: { HF_HOME: root } }).directory, join(snapshots, MAIN));
    const xdg = mkdtempSync(join(root, "xdg-"));
    mkdirSync(join(xdg, "huggingface"));
    symlinkSync(hub, join(xdg, "huggingface", "hub"));
    assert.equal(
      resolveModel("owner/tiny-model", { env: { XDG_CACHE_HOME: xdg } }).directory,
      join(xdg, "huggingface", "hub", "models--owner--tiny-model", "snapshots", MAIN),
    );
    assert.equal(resolveModel("owner/tiny-model", { revision: "v2", env: { HF_HUB_CACHE: hub } }).directory, join(snapshots, V2));
    assert.equal(resolveModel("owner/tiny-model", { revision: V2, env: { HF_HUB_CACHE: hub } }).directory, join(snapshots, V2));
    // NUCLEUS_MODEL takes the same forms.
    assert.equal(resolveModel(undefined, { env: { HF_HUB_CACHE: hub, NUCLEUS_MODEL: "owner/tiny-model" } }).label, "owner/tiny-model");
  });

  test("a model that is not downloaded names the command that downloads it and the disk it needs", () => {
    assert.throws(() => resolveModel("NucleusAI/Nucleus-Image", { env: { HF_HUB_CACHE: hub } }), (error: Error) => {
      assert.match(error.message, /NucleusAI\/Nucleus-Image is not in the Hugging Face cache: download it with `hf download NucleusAI\/Nucleus-Image` \(about 52 GB of disk/);
      assert.ok(error.message.includes(hub), error.message);
      return true;
    });
    assert.throws(() => resolveModel("owner/tiny-model", { revision: "v3", env: { HF_HUB_CACHE: hub } }), /has no revision 'v3'.*`hf download owner\/tiny-model --revision v3`/);
    assert.throws(() => resolveModel(undefined, { env: {} }), /no model given: pass --model .* or set NUCLEUS_MODEL/);
    assert.throws(() => resolveModel(join(root, "nowhere")), /model folder .*nowhere does not exist/);
    writeFileSync(join(root, "notes.txt"), "x");
    assert.throws(() => resolveModel(join(root, "notes.txt")), /notes\.txt is a file, not a model folder/);
    mkdirSync(join(root, "empty"));
    assert.throws(() => resolveModel(join(root, "empty")), /empty is not a model folder: it has no model_index\.json .*\(it is empty\)/);
    assert.throws(() => resolveModel(model, { revision: "v2" }), /--revision v2 applies to Hugging Face ids/);
  });

  test("paths are forgiving: ~ even when quoted, model_index.json means its folder, a component folder its parent", () => {
    const home = mkdtempSync(join(root, "home-"));
    symlinkSync(model, join(home, "tiny"));
    const previous = process.env.HOME;
    process.env.HOME = home;
    try {
      assert.equal(resolveModel("~/tiny").directory, join(home, "tiny"));
    } finally {
      process.env.HOME = previous;
    }
    assert.equal(resolveModel(join(model, "model_index.json")).directory, model);
    const component = resolveModel(join(model, "transformer"));
    assert.equal(component.directory, model);
    assert.match(component.notes[0]!, /transformer\/ is one component of a model; using the whole model in /);
  });

  test("generate --model OWNER/NAME records the hub id; encode works from text_encoder/ and processor/ alone, via NUCLEUS_MODEL", async () => {
    const fixture = pipelineCase();
    try {
      const png = join(root, "hub.png");
      const env = { HF_HUB_CACHE: hub };
      const generated = await runCli(
        ["generate", "--model", "owner/tiny-model", "--prompt-embeds", fixture.promptFile, "--cfg", "1", "--steps", "1", "--width", "32", "--height", "32", "--seed", "3", "-o", png],
        { env },
      );
      assert.equal(generated.exitCode, 0, generated.stderr);
      const metadata = JSON.parse(readPngText(readFileSync(png))["nucleus-image"]!) as { model: string; prompt_embeds: string };
      assert.equal(metadata.model, "owner/tiny-model");
      assert.equal(metadata.prompt_embeds, "prompt.safetensors");

      const textOnly = mkdtempSync(join(root, "text-only-"));
      for (const part of ["text_encoder", "processor"]) symlinkSync(join(model, part), join(textOnly, part));
      const embeds = join(root, "apple.safetensors");
      const encoded = await runCli(["encode", "A red apple", "-o", embeds], { env: { NUCLEUS_MODEL: textOnly } });
      assert.equal(encoded.exitCode, 0, encoded.stderr);
      const file = readSafetensors(embeds);
      assert.deepEqual(file.tensors.get("prompt_embeds")!.shape.slice(-1), [8]);
      assert.match(file.metadata.model!, /^text-only-/);

      // A component folder on the command line: a note, then the whole model.
      const viaComponent = await runCli(["encode", "A red apple", "--model", join(model, "text_encoder"), "-o", join(root, "b.safetensors")]);
      assert.equal(viaComponent.exitCode, 0, viaComponent.stderr);
      assert.match(viaComponent.stderr, /nucleus-image: note: text_encoder\/ is one component of a model; using the whole model in /);

      const missing = await runCli(["encode", "x", "--model", "NucleusAI/Nucleus-Image", "-o", join(root, "c.safetensors")], { env });
      assert.equal(missing.exitCode, 1);
      assert.match(missing.stderr, /^nucleus-image: error: NucleusAI\/Nucleus-Image is not in the Hugging Face cache: download it with `hf download NucleusAI\/Nucleus-Image`/);
    } finally {
      rmSync(fixture.directory, { recursive: true, force: true });
    }
  });
});
