// Images out in the format their file name asks for (.png, .jpg/.jpeg, .webp), with the generation parameters
// in each format's usual place: PNG text chunks; for JPEG and WebP the A1111-style "parameters" text in EXIF
// UserComment and our "nucleus-image" JSON in XMP. `readImageMetadata` reads any of them back the same way.
import { extname } from "node:path";

import sharp from "sharp";

import { GENERATION_LIMITS, IMAGE_FORMATS, type ImageFormat } from "../request/limits.js";
import { insertJpegExif, insertWebpExif } from "./containers.js";
import { exifBlock, readExifUserComment } from "./exif.js";
import { encodePng, readPngText, type RGBImage } from "./png.js";
import { readXmpParameters, xmpPacket } from "./xmp.js";

export class ImageFormatError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "ImageFormatError";
  }
}

/** The format for a file name, by its extension; an unknown one is an error naming the choices. */
export function imageFormatOf(path: string): ImageFormat {
  const extension = extname(path).toLowerCase();
  const format = (IMAGE_FORMATS as Record<string, ImageFormat>)[extension];
  if (!format) {
    throw new ImageFormatError(
      `${path}: ${extension ? `'${extension}' is not an image format we write` : "the file name has no extension"}; ` +
        `end it in ${Object.keys(IMAGE_FORMATS).join(", ")}`,
    );
  }
  return format;
}

/** JPEG keeps metadata in APP1 segments of at most 64 KiB; libvips writes XMP packets up to 60,000 bytes and drops larger ones silently. */
const JPEG_EXIF_BYTES = 65_500;
const JPEG_XMP_BYTES = 60_000;

function jpegMetadataProblem(parameters: string | undefined, json: string | undefined): string | undefined {
  const exifBytes = parameters === undefined ? 0 : 2 * parameters.length + 128;
  const xmpBytes = json === undefined ? 0 : Buffer.byteLength(xmpPacket(json), "utf8");
  if (exifBytes <= JPEG_EXIF_BYTES && xmpBytes <= JPEG_XMP_BYTES) return undefined;
  return `the image's parameters take ${Math.ceil(Math.max(exifBytes, xmpBytes) / 1024)} KiB, more than JPEG's metadata segments hold (about 60 KiB): ` +
    "write .png or .webp, shorten the prompt, or leave the metadata out";
}

/**
 * Checks before any work that texts of these lengths (prompt, negative and system prompt) fit the format's
 * metadata; throws ImageFormatError when they cannot.
 */
export function checkMetadataFits(format: ImageFormat, texts: (string | undefined)[]): void {
  if (format !== "jpeg") return;
  const all = texts.filter((text): text is string => text !== undefined);
  // The parameters text holds the texts once, the JSON once more (escaped): a generous estimate of both.
  const joined = all.join("\n") + " ".repeat(400);
  const problem = jpegMetadataProblem(joined, JSON.stringify({ texts: all }) + " ".repeat(1000));
  if (problem) throw new ImageFormatError(problem);
}

export interface EncodeImageOptions {
  /** JPEG/WebP quality 1-100 (default 90); not used for PNG. */
  quality?: number;
  /** Entries as metadataText makes them ({ parameters, "nucleus-image" }); empty or absent = no metadata. */
  metadata?: Record<string, string>;
}

export async function encodeImage(image: RGBImage, format: ImageFormat, options: EncodeImageOptions = {}): Promise<Buffer> {
  const metadata = options.metadata ?? {};
  if (format === "png") return encodePng(image, metadata);
  const quality = options.quality ?? GENERATION_LIMITS.quality.default;
  let pipeline = sharp(image.data, { raw: { width: image.width, height: image.height, channels: 3 } });
  pipeline = format === "jpeg" ? pipeline.jpeg({ quality }) : pipeline.webp({ quality });
  const json = metadata["nucleus-image"];
  const parameters = metadata.parameters;
  const problem = format === "jpeg" ? jpegMetadataProblem(parameters, json) : undefined;
  if (problem) throw new ImageFormatError(problem);
  // An XMP packet also gives WebP the extended header that announces the EXIF chunk.
  if (json !== undefined || parameters !== undefined) pipeline = pipeline.withXmp(xmpPacket(json));
  let bytes: Buffer = await pipeline.toBuffer();
  if (parameters !== undefined) {
    const tiff = exifBlock(parameters);
    bytes = format === "jpeg" ? insertJpegExif(bytes, tiff) : insertWebpExif(bytes, tiff);
  }
  return bytes;
}

/** The generation parameters stored in a PNG, JPEG or WebP made by us: { parameters?, "nucleus-image"? }. */
export async function readImageMetadata(bytes: Buffer): Promise<Record<string, string>> {
  if (bytes.subarray(0, 8).equals(Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]))) return readPngText(bytes);
  const info = await sharp(bytes).metadata();
  const entries: Record<string, string> = {};
  const parameters = info.exif ? readExifUserComment(info.exif) : undefined;
  if (parameters !== undefined) entries.parameters = parameters;
  const json = info.xmp ? readXmpParameters(info.xmp.toString("utf8")) : undefined;
  if (json !== undefined) entries["nucleus-image"] = json;
  return entries;
}
