// A protobuf wire-format writer with full control over every value (64-bit values beyond 2^53, negative numbers in
// any varint field, fields repeated or left out), for building fuzz messages field by field.

export class Wire {
  private readonly parts: Buffer[] = [];

  /** A varint field (wire type 0). Negative values are sign-extended to 64 bits, as protobuf encodes int32/int64. */
  varint(field: number, value: number | bigint): this {
    this.parts.push(key(field, 0), varint(BigInt.asUintN(64, BigInt(value))));
    return this;
  }

  /** A 32-bit float field (wire type 5). */
  float(field: number, value: number): this {
    const bytes = Buffer.alloc(4);
    bytes.writeFloatLE(value);
    this.parts.push(key(field, 5), bytes);
    return this;
  }

  /** A length-delimited field (wire type 2): bytes, a string, or an embedded message. */
  bytes(field: number, value: Buffer | Uint8Array | string | Wire): this {
    const payload = value instanceof Wire ? value.finish() : typeof value === "string" ? Buffer.from(value, "utf8") : Buffer.from(value);
    this.parts.push(key(field, 2), varint(BigInt(payload.length)), payload);
    return this;
  }

  /** A packed repeated varint field. */
  packed(field: number, values: readonly (number | bigint)[]): this {
    const body = Buffer.concat(values.map((value) => varint(BigInt.asUintN(64, BigInt(value)))));
    return this.bytes(field, body);
  }

  /** The same repeated field written one element per key (also valid protobuf). */
  unpacked(field: number, values: readonly (number | bigint)[]): this {
    for (const value of values) this.varint(field, value);
    return this;
  }

  /** Raw bytes appended as they are (for unknown or malformed fields). */
  raw(bytes: Buffer): this {
    this.parts.push(bytes);
    return this;
  }

  finish(): Buffer {
    return Buffer.concat(this.parts);
  }
}

function key(field: number, wireType: number): Buffer {
  return varint(BigInt(field) * 8n + BigInt(wireType));
}

export function varint(value: bigint): Buffer {
  const bytes: number[] = [];
  let rest = value;
  do {
    let byte = Number(rest & 0x7fn);
    rest >>= 7n;
    if (rest > 0n) byte |= 0x80;
    bytes.push(byte);
  } while (rest > 0n);
  return Buffer.from(bytes);
}
