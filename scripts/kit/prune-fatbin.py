#!/usr/bin/env python3
"""Reduces the CUDA fat binaries inside a shared library (libmlx.so of the mlx-cuda wheel) to one GPU architecture.

  prune-fatbin.py LIBRARY --arch 90 [--mode compact|zero] [--out FILE]    keep only sm_90 machine code
  prune-fatbin.py LIBRARY --list                    show the fatbin containers and their entries

The wheel's `.nv_fatbin` section holds one container per compiled CUDA source: a 16-byte header (magic 0xBA55ED50,
version, header size, size of the entries) followed by entries, each a header (kind 1 = PTX, 2 = ELF cubin; header
size; payload size; the SM architecture at byte 28) and its payload. In `compact` mode (the default) every
container is compacted in place: the entries for the target architecture move up behind the header, the header's
size shrinks to them, and the rest of the container's old span is zeroed, so each container reads like one built for
that architecture alone. In `zero` mode every entry keeps its header and only the payloads of the other
architectures are zeroed. Either way container start addresses (which the registration code points at) and the
section layout stay as they were, so the library needs no relinking. Containers without a cubin for the target keep
everything (reported). Zeros compress away.
"""

import argparse
import json
import struct
import sys

FATBIN_MAGIC = 0xBA55ED50
KINDS = {1: "ptx", 2: "cubin"}


def section(data: bytes, name: str) -> tuple:
    """(offset, size) of an ELF64 little-endian section."""
    if data[:4] != b"\x7fELF" or data[4] != 2 or data[5] != 1:
        raise SystemExit("not a 64-bit little-endian ELF file")
    shoff, = struct.unpack_from("<Q", data, 0x28)
    shentsize, shnum, shstrndx = struct.unpack_from("<HHH", data, 0x3A)
    def header(i):
        return struct.unpack_from("<IIQQQQIIQQ", data, shoff + i * shentsize)
    names_offset = header(shstrndx)[4]
    for i in range(shnum):
        h = header(i)
        start = names_offset + h[0]
        if data[start:data.index(b"\0", start)].decode() == name:
            return h[4], h[5]
    raise SystemExit(f"no {name} section: is this a CUDA library?")


def containers(data: bytes, offset: int, size: int):
    """Yields (container offset, header size, entries size, [entries]); an entry is a dict."""
    position = offset
    end = offset + size
    while position + 16 <= end:
        magic, version, header_size, fat_size = struct.unpack_from("<IHHQ", data, position)
        if magic != FATBIN_MAGIC:
            # Containers are 8-byte aligned; skip alignment padding between them.
            if data[position:position + 8] == b"\0" * 8:
                position += 8
                continue
            raise SystemExit(f"unexpected bytes at 0x{position:x}: the fatbin layout is not the one this tool knows")
        entries = []
        cursor = position + header_size
        stop = cursor + fat_size
        while cursor < stop:
            kind, _, entry_header, payload = struct.unpack_from("<HHIQ", data, cursor)
            arch, = struct.unpack_from("<I", data, cursor + 28)
            if entry_header < 32 or cursor + entry_header + payload > stop:
                raise SystemExit(f"a fatbin entry at 0x{cursor:x} runs past its container")
            entries.append(dict(offset=cursor, kind=KINDS.get(kind, str(kind)), arch=arch,
                                length=entry_header + payload))
            cursor += entry_header + payload
        yield position, header_size, fat_size, entries
        position = stop


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("library")
    parser.add_argument("--arch", type=int, help="SM architecture to keep, e.g. 90 for H100/H200")
    parser.add_argument("--mode", choices=["compact", "zero"], default="compact")
    parser.add_argument("--out", help="output file (default: overwrite LIBRARY)")
    parser.add_argument("--list", action="store_true")
    args = parser.parse_args()
    data = bytearray(open(args.library, "rb").read())
    offset, size = section(data, ".nv_fatbin")
    found = list(containers(data, offset, size))

    if args.list or args.arch is None:
        by_arch = {}
        for _, _, _, entries in found:
            for e in entries:
                key = f"{e['kind']}_{e['arch']}"
                by_arch[key] = by_arch.get(key, 0) + e["length"]
        print(json.dumps({"section_bytes": size, "containers": len(found), "bytes_by_entry": by_arch}, indent=1))
        return

    kept = removed = untouched = 0
    for position, header_size, fat_size, entries in found:
        keep = [e for e in entries if e["kind"] == "cubin" and e["arch"] == args.arch]
        if not keep:
            untouched += 1
            continue
        if args.mode == "zero":
            for e in entries:
                if e in keep:
                    kept += e["length"]
                    continue
                header, = struct.unpack_from("<I", data, e["offset"] + 4)
                data[e["offset"] + header:e["offset"] + e["length"]] = b"\0" * (e["length"] - header)
                removed += e["length"] - header
            continue
        payload = b"".join(bytes(data[e["offset"]:e["offset"] + e["length"]]) for e in keep)
        start = position + header_size
        data[start:start + fat_size] = payload + b"\0" * (fat_size - len(payload))
        struct.pack_into("<Q", data, position + 8, len(payload))
        kept += len(payload)
        removed += fat_size - len(payload)

    # Check the result reads back as valid containers (compact: holding only the target where it had one).
    for _, _, _, entries in containers(data, offset, size):
        if args.mode == "compact" and any(e["kind"] == "cubin" and e["arch"] == args.arch for e in entries):
            assert all(e["kind"] == "cubin" and e["arch"] == args.arch for e in entries)
    with open(args.out or args.library, "wb") as out:
        out.write(data)
    print(json.dumps({"arch": args.arch, "mode": args.mode, "containers": len(found), "kept_bytes": kept, "zeroed_bytes": removed,
                      "containers_without_target_kept_whole": untouched}))
    if untouched:
        print(f"warning: {untouched} containers have no sm_{args.arch} cubin and were kept whole", file=sys.stderr)


if __name__ == "__main__":
    main()
