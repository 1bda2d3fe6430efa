// Output files: the format from the extension with metadata in each format's usual place, checks before the engine
// starts, nothing partial under faults (a full disk, a file-size limit), exclusive temporary files, and stale
// socket folders cleaned up.
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import {
  closeSync, existsSync, lstatSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, symlinkSync, utimesSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";

import { LocalEngine } from "../orchestrator/src/engine/process.js";
import { removeStaleSocketFolders } from "../orchestrator/src/engine/socket-folders.js";
import { OutputExistsError, openExclusive } from "../orchestrator/src/files/output.js";
import { ImageFormatError, checkMetadataFits, encodeImage, readImageMetadata } from "../orchestrator/src/image/encode.js";
import { metadataText } from "../orchestrator/src/image/metadata.js";
import { decodePng } from "../orchestrator/src/image/png.js";
import { NucleusImage } from "../orchestrator/src/nucleus-image.js";
import { readPromptEmbedding } from "../orchestrator/src/pipeline/inputs.js";
import { runCli } from "./helpers/cli.js";
import { enginePids } from "./helpers/engine.js";
import { type PipelineCase, pipelineCase, tinyModel } from "./helpers/pipeline-fixtures.js";

const MAGIC: Record<string, (bytes: Buffer) => boolean> = {
  png: (bytes) => bytes.readUInt32BE(0) === 0x89504e47,
  jpeg: (bytes) => bytes[0] === 0xff && bytes[1] === 0xd8,
  webp: (bytes) => bytes.toString("latin1", 0, 4) === "RIFF" && bytes.toString("latin1", 8, 12) === "WEBP",
};

/** Files in `folder`, to show that nothing (no .partial file) was left behind. */
const listing = (folder: string) => readdirSync(folder).sort();

describe("output files", () => {
  let fixture: PipelineCase;
  let output: string;
  before(() => {
    fixture = pipelineCase();
    output = mkdtempSync(join(tmpdir(), "nucleus-outputs-"));
  });
  after(() => {
    rmSync(fixture.directory, { recursive: true, force: true });
    rmSync(output, { recursive: true, force: true });
    assert.deepEqual(enginePids(), [], "engine processes left running");
  });

  const generateArgs = (size = 32) => [
    "generate", "--model", tinyModel, "--prompt-embeds", fixture.promptFile, "--cfg", "1", "--steps", "1",
    "--width", String(size), "--height", String(size), "--seed", "5", "--quiet",
  ];

  test("the extension picks the format; PNG text, JPEG/WebP EXIF UserComment + XMP carry the same metadata", async () => {
    // Any text survives, also outside Latin-1 (libvips alone would write EXIF comments as ASCII).
    const metadata = metadataText({
      prompt: "Äpfel 🍎 auf dem Tisch — «rouge»", seed: 7, steps: 2, cfg: 4, width: 32, height: 32, model: "tiny",
      quantization: "none", dtype: "float32", engine_version: "0.1.0", mlx_version: "0.32.4", scheduler: "FlowMatchEulerDiscrete",
    });
    const image = { width: 16, height: 8, data: Buffer.alloc(16 * 8 * 3, 90) };
    for (const format of ["png", "jpeg", "webp"] as const) {
      const bytes = await encodeImage(image, format, { metadata });
      assert.ok(MAGIC[format]!(bytes), format);
      assert.deepEqual(await readImageMetadata(bytes), metadata, format);
      assert.deepEqual(await readImageMetadata(await encodeImage(image, format)), {}, `${format} without metadata`);
    }
    // Other readers find the parameters where they look: exiftool-style UserComment in the EXIF block.
    const jpeg = await encodeImage(image, "jpeg", { metadata });
    assert.ok(jpeg.includes(Buffer.from("Exif\0\0MM", "latin1")));
    assert.ok(jpeg.includes(Buffer.from("UNICODE\0", "latin1")));
    assert.ok(jpeg.includes(Buffer.from("<nucleus:parameters>", "latin1")));
    // Parameters too large for JPEG's metadata segments are refused up front, never dropped silently.
    const long = "🍎".repeat(16_000);
    assert.throws(() => checkMetadataFits("jpeg", [long]), /more than JPEG's metadata segments hold/);
    checkMetadataFits("webp", [long]);
    const large = { ...metadata, parameters: long, "nucleus-image": JSON.stringify({ prompt: long }) };
    await assert.rejects(encodeImage(image, "jpeg", { metadata: large }), ImageFormatError);
    assert.equal((await readImageMetadata(await encodeImage(image, "webp", { metadata: large })))["nucleus-image"], large["nucleus-image"]);
  });

  test("library save(): PNG/JPEG/WebP with the CLI's metadata, quality, no overwrite without force", async () => {
    const model = await NucleusImage.load(tinyModel);
    try {
      const prompt = readPromptEmbedding(fixture.promptFile, model.folder.textWidth);
      const result = await model.generate({ prompt, cfg: 1, steps: 1, width: 48, height: 32, seed: 11 });
      const expected = metadataText(result.metadata);
      for (const name of ["a.png", "a.jpg", "a.jpeg", "a.webp"]) {
        await model.save(result, join(output, name));
        const bytes = readFileSync(join(output, name));
        assert.deepEqual(await readImageMetadata(bytes), expected, name);
      }
      const png = await decodePng(readFileSync(join(output, "a.png")));
      assert.deepEqual(png.data, result.image.data);
      await model.save(result, join(output, "bare.webp"), { metadata: false });
      assert.deepEqual(await readImageMetadata(readFileSync(join(output, "bare.webp"))), {});
      await model.save(result, join(output, "low.jpg"), { quality: 5 });
      await model.save(result, join(output, "high.jpg"), { quality: 100 });
      assert.ok(readFileSync(join(output, "low.jpg")).length < readFileSync(join(output, "high.jpg")).length);
      await assert.rejects(model.save(result, join(output, "a.png")), OutputExistsError);
      await model.save(result, join(output, "a.png"), { force: true });
      await assert.rejects(model.save(result, join(output, "a.gif")), ImageFormatError);
      assert.deepEqual(listing(output).filter((name) => name.includes("partial")), []);
    } finally {
      await model.close();
    }
  });

  test("every output path is checked before the engine starts", async () => {
    const folder = join(output, "a-folder");
    mkdirSync(folder);
    const asFolder = await runCli([...generateArgs(), "-o", folder, "--force"]);
    assert.equal(asFolder.exitCode, 1);
    assert.match(asFolder.stderr, /^nucleus-image: error: .*a-folder is a folder: give a file name inside it, e\.g\. .*a-folder\/image\.png/);
    assert.doesNotMatch(asFolder.stderr + asFolder.stdout, /loading|step/);

    writeFileSync(join(output, "plain-file"), "x");
    const underFile = await runCli([...generateArgs(), "-o", join(output, "plain-file", "x.png")]);
    assert.equal(underFile.exitCode, 1);
    assert.match(underFile.stderr, /cannot use .*plain-file\/x\.png as an output: a part of the path is a file, not a folder/);

    const same = await runCli([...generateArgs(), "-o", join(output, "same.png"), "--output-latents", join(output, "same.png")]);
    assert.equal(same.exitCode, 2);
    const quality = await runCli([...generateArgs(), "-o", join(output, "q.png"), "--quality", "50"]);
    assert.equal(quality.exitCode, 2);
    assert.match(quality.stderr, /--quality applies to \.jpg, \.jpeg and \.webp outputs/);

    // A folder that does not exist yet is made; the WebP gets the metadata.
    const nested = join(output, "new", "deeper", "x.webp");
    const made = await runCli([...generateArgs(), "-o", nested, "--quality", "80"]);
    assert.equal(made.exitCode, 0, made.stderr);
    const metadata = JSON.parse((await readImageMetadata(readFileSync(nested)))["nucleus-image"]!) as { seed: number };
    assert.equal(metadata.seed, 5);
  });

  test("a file-size limit (ulimit -f) leaves nothing partial, also with --force, and names the path", async () => {
    const folder = mkdtempSync(join(output, "fsize-"));
    const precious = join(folder, "precious.png");
    writeFileSync(precious, "precious");
    for (const [target, force] of [[join(folder, "new.png"), []], [precious, ["--force"]]] as const) {
      const result = await runCli([...generateArgs(64), "-o", target, ...force], { shellPrefix: "ulimit -f 4;" });
      assert.equal(result.exitCode, 1, result.stderr);
      assert.match(result.stderr, new RegExp(`cannot write ${target.replace(/[.]/g, "\\.")}: the file is larger than this process may write \\(see ulimit -f\\), EFBIG; nothing was written`));
      assert.deepEqual(listing(folder), ["precious.png"]);
      assert.equal(readFileSync(precious, "utf8"), "precious");
    }
  });

  test("a full disk (ENOSPC on a small tmpfs) leaves nothing partial, also with --force and for a set of outputs", async (t) => {
    const mountPoint = mkdtempSync(join(output, "tmpfs-"));
    try {
      execFileSync("mount", ["-t", "tmpfs", "-o", "size=4k", "tmpfs", mountPoint], { stdio: "ignore" });
    } catch {
      t.skip("cannot mount a tmpfs here (the file-size limit test covers the same path)");
      return;
    }
    try {
      const precious = join(mountPoint, "precious.png");
      writeFileSync(precious, "precious"); // takes the tmpfs's only page
      for (const [target, force] of [[join(mountPoint, "new.png"), []], [precious, ["--force"]]] as const) {
        const result = await runCli([...generateArgs(64), "-o", target, ...force]);
        assert.equal(result.exitCode, 1, result.stderr);
        assert.match(result.stderr, /cannot write .*: the disk is full \(no space left on the device\), ENOSPC; nothing was written/);
        assert.ok(result.stderr.includes(target));
        assert.deepEqual(listing(mountPoint), ["precious.png"]);
        assert.equal(readFileSync(precious, "utf8"), "precious");
      }
      // The image fits elsewhere but the latents do not: neither is left.
      const image = join(output, "set.png");
      const result = await runCli([...generateArgs(64), "-o", image, "--output-latents", join(mountPoint, "latents.safetensors")]);
      assert.equal(result.exitCode, 1);
      assert.equal(existsSync(image), false);
      assert.deepEqual(listing(mountPoint), ["precious.png"]);
    } finally {
      execFileSync("umount", [mountPoint]);
    }
  });

  test("temporary files are created exclusively and never through a symbolic link", () => {
    const folder = mkdtempSync(join(output, "exclusive-"));
    const victim = join(folder, "victim.txt");
    writeFileSync(victim, "untouched");
    symlinkSync(victim, join(folder, "planted.partial"));
    assert.throws(() => openExclusive(join(folder, "planted.partial")), /EEXIST/);
    writeFileSync(join(folder, "existing.partial"), "x");
    assert.throws(() => openExclusive(join(folder, "existing.partial")), /EEXIST/);
    closeSync(openExclusive(join(folder, "fresh.partial")));
    assert.equal(readFileSync(victim, "utf8"), "untouched");
  });

  test("stale empty nucleus-XXXXXX socket folders of ours are removed when the next engine starts", async () => {
    const root = mkdtempSync(join(output, "tmp-"));
    const old = Date.now() / 1000 - 3600;
    const make = (name: string, mode = 0o700, age = old, content = false) => {
      const path = join(root, name);
      mkdirSync(path, { mode });
      if (content) writeFileSync(join(path, "engine.sock"), "");
      utimesSync(path, age, age);
      return path;
    };
    const stale = make("nucleus-Ab12Cd");
    const young = make("nucleus-Ef34Gh", 0o700, Date.now() / 1000);
    const busy = make("nucleus-Ij56Kl", 0o700, old, true);
    const shared = make("nucleus-Mn78Op", 0o755);
    const other = make("nucleus-pipeline-Qr90St");
    const previous = process.env.TMPDIR;
    process.env.TMPDIR = root;
    try {
      const engine = await LocalEngine.start();
      await engine.stop();
    } finally {
      process.env.TMPDIR = previous;
    }
    assert.equal(existsSync(stale), false);
    for (const kept of [young, busy, shared, other]) assert.ok(lstatSync(kept).isDirectory(), kept);
    // The engine's own folder is gone again after stop().
    assert.deepEqual(listing(root).filter((name) => /^nucleus-[A-Za-z0-9]{6}$/.test(name)).sort(), ["nucleus-Ef34Gh", "nucleus-Ij56Kl", "nucleus-Mn78Op"]);
    assert.deepEqual(removeStaleSocketFolders(Date.now(), root), []);
  });
});
