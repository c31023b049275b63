#!/usr/bin/env python3
"""Writes fuzz_acpi inputs from ACPI blob directories (table-loader, rsdp, tables).

Usage: make_acpi_seeds.py OUT_DIR BLOB_DIR...   (one seed OUT_DIR/<name of BLOB_DIR> each)

The input format is fuzz_acpi.cpp's: six little-endian u32 (stored and padded length of
table-loader, rsdp and tables), then the stored bytes, which are each blob without its trailing
zero padding.
"""
import os
import struct
import sys


def seed(blob_dir):
    header, body = b"", b""
    for name in ("table-loader", "rsdp", "tables"):
        with open(os.path.join(blob_dir, name), "rb") as f:
            blob = f.read()
        stored = blob.rstrip(b"\0")
        header += struct.pack("<II", len(stored), len(blob))
        body += stored
    return header + body


def main():
    if len(sys.argv) < 3:
        sys.exit(__doc__)
    out = sys.argv[1]
    os.makedirs(out, exist_ok=True)
    for blob_dir in sys.argv[2:]:
        name = os.path.basename(os.path.normpath(blob_dir))
        with open(os.path.join(out, name), "wb") as f:
            f.write(seed(blob_dir))


if __name__ == "__main__":
    main()
