// PNG output: RGB8 pixels encoded by sharp, plus iTXt text chunks for the generation parameters.
import sharp from "sharp";

export interface RGBImage {
  width: number;
  height: number;
  /** width · height · 3 bytes, row-major RGB. */
  data: Buffer;
}

export async function encodePng(image: RGBImage, text: Record<string, string> = {}): Promise<Buffer> {
  const png = await sharp(image.data, { raw: { width: image.width, height: image.height, channels: 3 } })
    .png({ compressionLevel: 6 })
    .toBuffer();
  return Object.keys(text).length === 0 ? png : insertTextChunks(png, text);
}

/** Decodes a PNG into RGB8 pixels (for tests and for reading images back). */
export async function decodePng(bytes: Buffer): Promise<RGBImage> {
  const { data, info } = await sharp(bytes).removeAlpha().raw().toBuffer({ resolveWithObject: true });
  return { width: info.width, height: info.height, data };
}

/** Inserts one iTXt chunk (UTF-8 text) per entry right after IHDR. */
export function insertTextChunks(png: Buffer, text: Record<string, string>): Buffer {
  const ihdrEnd = 8 + 8 + png.readUInt32BE(8) + 4;
  const chunks = Object.entries(text).map(([keyword, value]) =>
    chunk("iTXt", Buffer.concat([Buffer.from(keyword, "latin1"), Buffer.from([0, 0, 0, 0, 0]), Buffer.from(value, "utf8")])),
  );
  return Buffer.concat([png.subarray(0, ihdrEnd), ...chunks, png.subarray(ihdrEnd)]);
}

/** The tEXt and iTXt entries of a PNG. */
export function readPngText(png: Buffer): Record<string, string> {
  const text: Record<string, string> = {};
  let offset = 8;
  while (offset + 8 <= png.length) {
    const length = png.readUInt32BE(offset);
    const type = png.toString("latin1", offset + 4, offset + 8);
    const data = png.subarray(offset + 8, offset + 8 + length);
    if (type === "tEXt" || type === "iTXt") {
      const separator = data.indexOf(0);
      const keyword = data.toString("latin1", 0, separator);
      if (type === "tEXt") {
        text[keyword] = data.toString("latin1", separator + 1);
      } else {
        // compression flag, method, language tag \0, translated keyword \0, text
        const languageEnd = data.indexOf(0, separator + 3);
        const translatedEnd = data.indexOf(0, languageEnd + 1);
        text[keyword] = data.toString("utf8", translatedEnd + 1);
      }
    }
    offset += 12 + length;
  }
  return text;
}

function chunk(type: string, data: Buffer): Buffer {
  const header = Buffer.alloc(8);
  header.writeUInt32BE(data.length, 0);
  header.write(type, 4, "latin1");
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(crc32(Buffer.concat([header.subarray(4), data])), 0);
  return Buffer.concat([header, data, crc]);
}

const CRC_TABLE = Array.from({ length: 256 }, (_, n) => {
  let c = n;
  for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
  return c >>> 0;
});

function crc32(bytes: Buffer): number {
  let c = 0xffffffff;
  for (const byte of bytes) c = CRC_TABLE[(c ^ byte) & 0xff]! ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}
