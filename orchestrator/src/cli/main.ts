#!/usr/bin/env node
import { readFileSync } from "node:fs";
import { join } from "node:path";

import { Command } from "commander";

import { packageRoot } from "../engine/locate.js";
import { registerConvert } from "./convert.js";
import { registerDoctor } from "./doctor.js";
import { registerEncode } from "./encode.js";
import { registerGenerate } from "./generate.js";

const version = (JSON.parse(readFileSync(join(packageRoot(), "package.json"), "utf8")) as { version: string }).version;

const program = new Command()
  .name("nucleus-image")
  .description("Local text-to-image generation with Nucleus-Image on MLX")
  .version(version);

registerDoctor(program);
registerGenerate(program);
registerEncode(program);
registerConvert(program);

program.parseAsync(process.argv).catch((error: unknown) => {
  console.error(`nucleus-image: ${error instanceof Error ? error.message : String(error)}`);
  process.exitCode = 1;
});
