// Preview PNGs: marked as previews in a text chunk, so `generate --preview FILE` may rewrite a preview it (or an
// earlier run) wrote without --force, while any other existing file is left alone.
import { existsSync, lstatSync, readFileSync } from "node:fs";
import { extname, resolve } from "node:path";

import { OutputExistsError, OutputPathError, checkOutputPath, writeFileAtomic } from "../files/output.js";
import { encodePng, readPngText, type RGBImage } from "../image/png.js";

const MARK = { Software: "nucleus-image preview" };

export function encodePreviewPng(image: RGBImage): Promise<Buffer> {
  return encodePng(image, MARK);
}

function isPreview(path: string): boolean {
  try {
    return lstatSync(path).isFile() && readPngText(readFileSync(path)).Software === MARK.Software;
  } catch {
    return false;
  }
}

/**
 * Checks the --preview path before any work: a .png file name whose folder can be written; an existing file only
 * if it is an earlier preview, or with `force`. Returns the absolute path.
 */
export function checkPreviewPath(path: string, force: boolean): string {
  const target = resolve(path);
  if (extname(target).toLowerCase() !== ".png") throw new OutputPathError(target, `--preview ${path}: previews are PNG files; end the name in .png`);
  try {
    checkOutputPath(target, force || (existsSync(target) && isPreview(target)));
  } catch (error) {
    if (error instanceof OutputExistsError) {
      throw new OutputPathError(target, `${target} already exists and is not a preview written by nucleus-image: choose another --preview path or pass --force`);
    }
    throw error;
  }
  return target;
}

/** Replaces the preview file atomically (an image viewer never sees a half-written file). */
export function writePreview(path: string, png: Buffer): void {
  writeFileAtomic(path, png, true);
}
