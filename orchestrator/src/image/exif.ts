// A minimal EXIF (TIFF) block carrying the A1111-style "parameters" text in the Exif IFD's UserComment, the place
// JPEG and WebP readers of generation parameters look. UserComment is written as "UNICODE\0" + UTF-16BE in a
// big-endian TIFF, so any prompt survives (libvips would write it as ASCII); the reader takes either byte order.
const USER_COMMENT = 0x9286;
const EXIF_IFD_POINTER = 0x8769;
const SOFTWARE = 0x0131;
const TYPE_ASCII = 2;
const TYPE_LONG = 4;
const TYPE_UNDEFINED = 7;

interface Entry {
  tag: number;
  type: number;
  count: number;
  value: Buffer;
}

/** One IFD at `offset`: entries, then the next-IFD offset (0), then the values that do not fit in 4 bytes. */
function ifd(entries: Entry[], offset: number): Buffer {
  const tableSize = 2 + entries.length * 12 + 4;
  const table = Buffer.alloc(tableSize);
  const values: Buffer[] = [];
  let valueOffset = offset + tableSize;
  table.writeUInt16BE(entries.length, 0);
  entries.forEach((entry, index) => {
    const at = 2 + index * 12;
    table.writeUInt16BE(entry.tag, at);
    table.writeUInt16BE(entry.type, at + 2);
    table.writeUInt32BE(entry.count, at + 4);
    if (entry.value.length <= 4) {
      entry.value.copy(table, at + 8);
    } else {
      table.writeUInt32BE(valueOffset, at + 8);
      const padded = entry.value.length % 2 ? Buffer.concat([entry.value, Buffer.alloc(1)]) : entry.value;
      values.push(padded);
      valueOffset += padded.length;
    }
  });
  return Buffer.concat([table, ...values]);
}

function utf16be(text: string): Buffer {
  const bytes = Buffer.from(text, "utf16le");
  return bytes.swap16();
}

/** The TIFF bytes (no "Exif\0\0" prefix) of an EXIF block with Software and UserComment = `comment`. */
export function exifBlock(comment: string): Buffer {
  const software = Buffer.from("nucleus-image\0", "latin1");
  const userComment = Buffer.concat([Buffer.from("UNICODE\0", "latin1"), utf16be(comment)]);
  const header = Buffer.from([0x4d, 0x4d, 0x00, 0x2a, 0, 0, 0, 8]);
  const pointer = Buffer.alloc(4);
  const ifd0Entries: Entry[] = [
    { tag: SOFTWARE, type: TYPE_ASCII, count: software.length, value: software },
    { tag: EXIF_IFD_POINTER, type: TYPE_LONG, count: 1, value: pointer },
  ];
  // The Exif IFD follows IFD0, whose size does not depend on the pointer's value.
  pointer.writeUInt32BE(8 + ifd(ifd0Entries, 8).length);
  const ifd0 = ifd(ifd0Entries, 8);
  const exif = ifd([{ tag: USER_COMMENT, type: TYPE_UNDEFINED, count: userComment.length, value: userComment }], 8 + ifd0.length);
  return Buffer.concat([header, ifd0, exif]);
}

/** UserComment from an EXIF block (with or without the "Exif\0\0" prefix), or undefined. */
export function readExifUserComment(block: Buffer): string | undefined {
  const tiff = block.subarray(0, 6).toString("latin1") === "Exif\0\0" ? block.subarray(6) : block;
  if (tiff.length < 8) return undefined;
  const little = tiff.toString("latin1", 0, 2) === "II";
  const u16 = (at: number) => (little ? tiff.readUInt16LE(at) : tiff.readUInt16BE(at));
  const u32 = (at: number) => (little ? tiff.readUInt32LE(at) : tiff.readUInt32BE(at));
  const find = (offset: number, tag: number): { count: number; at: number } | undefined => {
    if (offset + 2 > tiff.length) return undefined;
    const count = u16(offset);
    for (let index = 0; index < count; index++) {
      const at = offset + 2 + index * 12;
      if (at + 12 > tiff.length) return undefined;
      if (u16(at) === tag) {
        const length = u32(at + 4);
        return { count: length, at: length <= 4 ? at + 8 : u32(at + 8) };
      }
    }
    return undefined;
  };
  const pointer = find(u32(4), EXIF_IFD_POINTER);
  if (!pointer) return undefined;
  const comment = find(u32(pointer.at), USER_COMMENT);
  if (!comment || comment.at + comment.count > tiff.length || comment.count < 8) return undefined;
  const code = tiff.toString("latin1", comment.at, comment.at + 8);
  const text = Buffer.from(tiff.subarray(comment.at + 8, comment.at + comment.count - ((comment.count - 8) % 2)));
  if (code === "UNICODE\0") return (little ? text : text.swap16()).toString("utf16le");
  return text.toString(code.startsWith("ASCII") ? "latin1" : "utf8").replace(/\0+$/, "");
}
