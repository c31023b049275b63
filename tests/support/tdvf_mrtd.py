#!/usr/bin/env python3
"""An independent MRTD of a TDVF firmware (OVMF.fd), for tests to compare mrforge against.

Written from the specifications, sharing no code with mrforge:
- TDVF Design Guide (Intel, 2021), section 11: the OVMF GUIDed table ends 0x20 bytes before the end
  of the file with a footer GUID 96b582de-1fb2-45f7-baea-a366c55a082d preceded by the table's u16
  length; each entry ends with its GUID preceded by its u16 length. The entry
  e47a6535-984a-4798-865e-4685a7bf8ec2 holds a u32: the TDVF descriptor's offset from the end of
  the file. The descriptor: "TDVF", u32 length, u32 version 1, u32 section count, then 32-byte
  sections (u32 data offset, u32 raw size, u64 GPA, u64 memory size, u32 type, u32 attributes;
  attribute bit 0 MR.EXTEND, bit 1 PAGE.AUG).
- Intel TDX Module ABI specification, TDH.MEM.PAGE.ADD and TDH.MR.EXTEND: the TD measurement
  SHA-384 takes, per added 4 KiB page, a 128-byte block "MEM.PAGE.ADD" with the GPA as a u64 at
  offset 16; per extended 256-byte chunk, a 128-byte block "MR.EXTEND" with the chunk's GPA at
  offset 16, followed by the 256 bytes.
Page orders: single-pass adds and extends page by page; two-pass adds every page of a section,
then extends them.

Usage: tdvf_mrtd.py OVMF.fd  ->  prints "single-pass HEX" and "two-pass HEX"
"""
import hashlib
import struct
import sys
import uuid

FOOTER = uuid.UUID("96b582de-1fb2-45f7-baea-a366c55a082d").bytes_le
TDX_METADATA = uuid.UUID("e47a6535-984a-4798-865e-4685a7bf8ec2").bytes_le
PAGE = 4096


def sections(fw):
    end = len(fw) - 0x20
    if fw[end - 16:end] != FOOTER:
        sys.exit("no OVMF GUIDed table footer")
    (table_len,) = struct.unpack_from("<H", fw, end - 18)
    start = end - table_len
    pos = end - 18
    offset = None
    while pos > start:
        guid = fw[pos - 16:pos]
        (entry_len,) = struct.unpack_from("<H", fw, pos - 18)
        if guid == TDX_METADATA:
            (offset,) = struct.unpack_from("<I", fw, pos - 22)
        pos -= entry_len
    if offset is None:
        sys.exit("no TDX metadata entry")
    d = len(fw) - offset
    sig, length, version, count = struct.unpack_from("<4sIII", fw, d)
    if sig != b"TDVF" or version != 1 or length != 16 + 32 * count:
        sys.exit("bad TDVF descriptor")
    return [struct.unpack_from("<IIQQII", fw, d + 16 + 32 * i) for i in range(count)]


def block(tag, gpa):
    b = bytearray(128)
    b[: len(tag)] = tag
    struct.pack_into("<Q", b, 16, gpa)
    return bytes(b)


def mrtd(fw, two_pass):
    h = hashlib.sha384()
    for data_offset, raw_size, gpa, mem_size, _type, attributes in sections(fw):
        pages = mem_size // PAGE
        add = not attributes & 2
        extend = attributes & 1

        def extend_page(p):
            for chunk in range(0, PAGE, 256):
                h.update(block(b"MR.EXTEND", gpa + p * PAGE + chunk))
                at = data_offset + p * PAGE + chunk
                h.update(fw[at:at + 256])

        if two_pass:
            for p in range(pages):
                if add:
                    h.update(block(b"MEM.PAGE.ADD", gpa + p * PAGE))
            if extend:
                for p in range(pages):
                    extend_page(p)
        else:
            for p in range(pages):
                if add:
                    h.update(block(b"MEM.PAGE.ADD", gpa + p * PAGE))
                if extend:
                    extend_page(p)
    return h.hexdigest()


def main():
    fw = open(sys.argv[1], "rb").read()
    print("single-pass", mrtd(fw, False))
    print("two-pass", mrtd(fw, True))


if __name__ == "__main__":
    main()
