// Byte-level mutation of valid messages: flipped bits, interesting bytes, varints stretched to 10 bytes, lengths
// changed, chunks inserted, deleted, duplicated or truncated.
import { Random } from "./random.js";

const INTERESTING = [0x00, 0x01, 0x7f, 0x80, 0xff, 0x08, 0x10, 0x12, 0x1a, 0x22, 0x0a];

export function mutate(random: Random, input: Buffer): Buffer {
  let bytes = Buffer.from(input);
  const rounds = random.int(1, random.chance(0.8) ? 3 : 12);
  for (let round = 0; round < rounds; round++) {
    const at = bytes.length === 0 ? 0 : random.int(0, bytes.length - 1);
    switch (random.int(0, 9)) {
      case 0: // flip a bit
        if (bytes.length > 0) bytes[at]! ^= 1 << random.int(0, 7);
        break;
      case 1: // an interesting byte
        if (bytes.length > 0) bytes[at] = random.pick(INTERESTING);
        break;
      case 2: // a 10-byte varint (2^64 - 1) in place of one byte
        bytes = Buffer.concat([bytes.subarray(0, at), Buffer.from([0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01]), bytes.subarray(at + 1)]);
        break;
      case 3: // insert random bytes
        bytes = Buffer.concat([bytes.subarray(0, at), random.bytes(random.int(1, 16)), bytes.subarray(at)]);
        break;
      case 4: // delete a chunk
        bytes = Buffer.concat([bytes.subarray(0, at), bytes.subarray(Math.min(bytes.length, at + random.int(1, 16)))]);
        break;
      case 5: // truncate
        bytes = bytes.subarray(0, at);
        break;
      case 6: { // duplicate a chunk (repeated fields, overlapping messages)
        const end = Math.min(bytes.length, at + random.int(1, 64));
        bytes = Buffer.concat([bytes.subarray(0, end), bytes.subarray(at, end), bytes.subarray(end)]);
        break;
      }
      case 7: // a length or tag byte changed by a little
        if (bytes.length > 0) bytes[at] = (bytes[at]! + random.int(-3, 3)) & 0xff;
        break;
      case 8: // an unknown field with a huge declared length
        bytes = Buffer.concat([bytes, Buffer.from([0xfa, 0x07, 0xff, 0xff, 0xff, 0xff, 0x0f]), random.bytes(random.int(0, 8))]);
        break;
      default: // overwrite a run with one byte
        bytes.fill(random.pick(INTERESTING), at, Math.min(bytes.length, at + random.int(1, 8)));
    }
  }
  return bytes;
}
