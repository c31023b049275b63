#!/usr/bin/env python3
"""Writes tests/fuzz/corpus/pe/shim_sections.bin: a minimal PE32+ EFI application shaped like shim
for read_shim (fuzz seed and unit-test input): an .sbat section naming Debian's shim 16.1, and a
.vendor_cert section stored under a long name ("/4", resolved through the COFF string table after
the symbol table, as shim's is) holding the cert_table header, an 8-byte certificate stand-in and a
4-byte dbx stand-in."""
import os
import struct

b = bytearray(0x600)
b[0:2] = b"MZ"
struct.pack_into("<I", b, 0x3C, 0x40)
b[0x40:0x44] = b"PE\0\0"
coff, opt, sec = 0x44, 0x58, 0x148
strings = 0x600
struct.pack_into("<HHIIIHH", b, coff, 0x8664, 2, 0, strings, 0, 0xF0, 0x22)
struct.pack_into("<H", b, opt, 0x20B)
struct.pack_into("<II", b, opt + 32, 0x1000, 0x200)  # SectionAlignment, FileAlignment
struct.pack_into("<II", b, opt + 56, 0x3000, 0x200)  # SizeOfImage, SizeOfHeaders
struct.pack_into("<H", b, opt + 68, 10)  # EFI application
struct.pack_into("<I", b, opt + 108, 16)
for i, (name, va, raw) in enumerate([(b".sbat", 0x1000, 0x200), (b"/4", 0x2000, 0x400)]):
    at = sec + 40 * i
    b[at:at + len(name)] = name
    struct.pack_into("<IIII", b, at + 8, 0x200, va, 0x200, raw)
    struct.pack_into("<I", b, at + 36, 0x40000040)
sbat = (b"sbat,1,SBAT Version,sbat,1,https://github.com/rhboot/shim/blob/main/SBAT.md\n"
        b"shim,4,UEFI shim,shim,1,https://github.com/rhboot/shim\n"
        b"shim.debian,1,Debian,shim,16.1,https://tracker.debian.org/pkg/shim\n")
b[0x200:0x200 + len(sbat)] = sbat
struct.pack_into("<IIII", b, 0x400, 8, 4, 16, 24)  # cert size, dbx size, cert offset, dbx offset
b[0x410:0x418] = b"\x30\x82\x00\x04CERT"
b[0x418:0x41C] = b"DBX!"
names = b".vendor_cert\0"
b += struct.pack("<I", 4 + len(names)) + names
out = os.path.join(os.path.dirname(os.path.abspath(__file__)), "corpus", "pe", "shim_sections.bin")
with open(out, "wb") as f:
    f.write(b)
