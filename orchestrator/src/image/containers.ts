// Puts an EXIF block into JPEG and WebP files as their specifications place it: a JPEG APP1 "Exif" segment
// right after the start-of-image marker; a WebP "EXIF" chunk before "XMP " with the extended header's EXIF flag.
export class ImageContainerError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "ImageContainerError";
  }
}

const MAX_JPEG_SEGMENT = 65_533;

export function insertJpegExif(jpeg: Buffer, tiff: Buffer): Buffer {
  if (jpeg[0] !== 0xff || jpeg[1] !== 0xd8) throw new ImageContainerError("not a JPEG stream");
  const payload = Buffer.concat([Buffer.from("Exif\0\0", "latin1"), tiff]);
  if (payload.length > MAX_JPEG_SEGMENT) throw new ImageContainerError(`the EXIF block (${payload.length} bytes) does not fit a JPEG segment`);
  const header = Buffer.from([0xff, 0xe1, 0, 0]);
  header.writeUInt16BE(payload.length + 2, 2);
  return Buffer.concat([jpeg.subarray(0, 2), header, payload, jpeg.subarray(2)]);
}

export function insertWebpExif(webp: Buffer, tiff: Buffer): Buffer {
  if (webp.toString("latin1", 0, 4) !== "RIFF" || webp.toString("latin1", 8, 12) !== "WEBP") {
    throw new ImageContainerError("not a WebP file");
  }
  if (webp.toString("latin1", 12, 16) !== "VP8X") {
    throw new ImageContainerError("the WebP file has no extended header (VP8X) to announce metadata in");
  }
  const chunks: Buffer[] = [];
  let offset = 12;
  let inserted = false;
  const exif = chunk("EXIF", tiff);
  while (offset + 8 <= webp.length) {
    const type = webp.toString("latin1", offset, offset + 4);
    const size = webp.readUInt32LE(offset + 4);
    const end = offset + 8 + size + (size % 2);
    if (type === "XMP " && !inserted) {
      chunks.push(exif);
      inserted = true;
    }
    if (type !== "EXIF") chunks.push(webp.subarray(offset, end));
    offset = end;
  }
  if (!inserted) chunks.push(exif);
  const body = Buffer.concat(chunks);
  body[8] = body[8]! | 0x08; // VP8X flags: EXIF metadata present
  const header = Buffer.from("RIFF\0\0\0\0WEBP", "latin1");
  header.writeUInt32LE(4 + body.length, 4);
  return Buffer.concat([header, body]);
}

function chunk(type: string, payload: Buffer): Buffer {
  const header = Buffer.alloc(8);
  header.write(type, 0, "latin1");
  header.writeUInt32LE(payload.length, 4);
  return Buffer.concat([header, payload, payload.length % 2 ? Buffer.alloc(1) : Buffer.alloc(0)]);
}
