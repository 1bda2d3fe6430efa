#!/usr/bin/env node
import { readFileSync } from "node:fs";
import { join } from "node:path";

import { Command } from "@commander-js/extra-typings";

import { packageRoot } from "../engine/locate.js";
import { registerConvert } from "./convert.js";
import { registerDoctor } from "./doctor.js";
import { registerEncode } from "./encode.js";
import { registerEngine } from "./engine.js";
import { reportError } from "./errors.js";
import { registerGenerate } from "./generate.js";
import { registerInfo } from "./info.js";
import { registerServe } from "./serve.js";

const version = (JSON.parse(readFileSync(join(packageRoot(), "package.json"), "utf8")) as { version: string }).version;

// Usage errors come back to us (exitOverride) so that every error ends the same way: one message in our style on
// standard error and exit code 2.
const program = new Command()
  .name("nucleus-image")
  .description("Local text-to-image generation with Nucleus-Image on MLX")
  .version(version)
  .exitOverride()
  .configureOutput({ outputError: (text, write) => write(`nucleus-image: ${text.trimEnd()}\n`) });

registerDoctor(program);
registerGenerate(program);
registerEncode(program);
registerConvert(program);
registerEngine(program);
registerInfo(program);
registerServe(program);

program.parseAsync(process.argv).catch(reportError);
