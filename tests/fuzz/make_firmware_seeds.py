#!/usr/bin/env python3
"""Writes the seed corpus of fuzz_firmware: small TDVF firmware images laid out like OVMF.fd.

Layout of a 16 KiB image (the same as the synthetic firmware of tests/firmware_test.cpp):
  0x0000  CFV raw data (1 page)
  0x1000  BFV raw data (3 pages), whose end carries:
  0x3800    TDVF descriptor: "TDVF", u32 length, u32 version 1, u32 count, 32-byte sections
            (u32 data_offset, u32 raw_size, u64 gpa, u64 mem_size, u32 type, u32 attributes)
  end-94    GUIDed table entry: 4 data bytes, u16 length 22, GUID 00f771de-... (SEV-ES reset block)
  end-72    GUIDed table entry: u32 descriptor offset from the end, u16 length 22,
            GUID e47a6535-... (TDX metadata offset)
  end-50    u16 table length (both entries + 18), footer GUID 96b582de-...
  end-32    32 bytes of reset vector (0xf4 here)
Usage: make_firmware_seeds.py OUTPUT_DIR   (tests/fuzz/corpus/firmware)
"""
import os
import struct
import sys
import uuid

SIZE = 0x4000
DESCRIPTOR = 0x3800
FOOTER_GUID = "96b582de-1fb2-45f7-baea-a366c55a082d"
TDX_GUID = "e47a6535-984a-4798-865e-4685a7bf8ec2"
SEV_GUID = "00f771de-1a7e-4fcb-890e-68c77e2fb44e"
BFV, CFV, TD_HOB, TEMP_MEM, PERM_MEM, PAYLOAD = 0, 1, 2, 3, 4, 5
MR_EXTEND, PAGE_AUG = 1, 2

DEFAULT_SECTIONS = [
    # data_offset, raw_size, gpa, mem_size, type, attributes
    (0x1000, 0x3000, 0xFFFFD000, 0x3000, BFV, MR_EXTEND),
    (0x0000, 0x1000, 0xFFFFC000, 0x1000, CFV, 0),
    (0, 0, 0x810000, 0x10000, TEMP_MEM, 0),
    (0, 0, 0x80B000, 0x2000, TEMP_MEM, 0),
    (0, 0, 0x809000, 0x2000, TD_HOB, 0),
    (0, 0, 0x800000, 0x6000, TEMP_MEM, 0),
]


def guid(text):
    return uuid.UUID(text).bytes_le  # EFI layout


def firmware(sections=DEFAULT_SECTIONS, count=None, length=None, tdx_offset=None, table_len=None,
             tdx_entry_len=22, size=SIZE):
    b = bytearray((i * 7 + (i >> 8)) & 0xFF for i in range(size))
    count = len(sections) if count is None else count
    length = 16 + 32 * len(sections) if length is None else length
    b[DESCRIPTOR:DESCRIPTOR + 16] = b"TDVF" + struct.pack("<III", length, 1, count)
    for i, s in enumerate(sections):
        at = DESCRIPTOR + 16 + 32 * i
        b[at:at + 32] = struct.pack("<IIQQII", *s)
    end = size
    b[end - 32:end] = b"\xf4" * 32
    b[end - 48:end - 32] = guid(FOOTER_GUID)
    b[end - 50:end - 48] = struct.pack("<H", 62 if table_len is None else table_len)
    b[end - 66:end - 50] = guid(TDX_GUID)
    b[end - 68:end - 66] = struct.pack("<H", tdx_entry_len)
    b[end - 72:end - 68] = struct.pack("<I", size - DESCRIPTOR if tdx_offset is None else tdx_offset)
    b[end - 88:end - 72] = guid(SEV_GUID)
    b[end - 90:end - 88] = struct.pack("<H", 22)
    b[end - 94:end - 90] = struct.pack("<I", 0x80F000)
    return bytes(b)


def replaced(index, **fields):
    s = list(DEFAULT_SECTIONS)
    names = ["data_offset", "raw_size", "gpa", "mem_size", "type", "attributes"]
    row = list(s[index])
    for k, v in fields.items():
        row[names.index(k)] = v
    s[index] = tuple(row)
    return s


SEEDS = {
    "valid_ovmf_like.fd": firmware(),
    "valid_two_sections.fd": firmware(DEFAULT_SECTIONS[:1] + DEFAULT_SECTIONS[4:5]),
    "valid_no_cfv.fd": firmware([s for s in DEFAULT_SECTIONS if s[4] != CFV]),
    "valid_perm_mem_page_aug.fd": firmware(DEFAULT_SECTIONS + [(0, 0, 0x1000000, 0x100000, PERM_MEM, PAGE_AUG)]),
    "valid_payload.fd": firmware(DEFAULT_SECTIONS + [(0x0000, 0x1000, 0x2000000, 0x2000, PAYLOAD, 0)]),
    "zero_length_entry.fd": firmware(tdx_entry_len=0),
    "split_code_image.fd": firmware()[0x1000:],
    "descriptor_before_start.fd": firmware(tdx_offset=SIZE + 0x1000),
    "absurd_count.fd": firmware(count=0xFFFFFFFF),
    "length_mismatch.fd": firmware(length=17),
    "table_too_long.fd": firmware(table_len=0xFFFF),
    "unknown_type.fd": firmware(replaced(2, type=7)),
    "unaligned_gpa.fd": firmware(replaced(4, gpa=0x809800)),
    "mem_below_raw.fd": firmware(replaced(1, raw_size=0x2000)),
    "section_beyond_eof.fd": firmware(replaced(0, data_offset=0x2000)),
    "overlapping.fd": firmware(replaced(4, gpa=0x805000)),
    "extend_beyond_raw.fd": firmware(replaced(0, mem_size=0x4000)),
    "no_footer.fd": bytes(4096),
}


def main():
    out = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(__file__), "corpus", "firmware")
    os.makedirs(out, exist_ok=True)
    for name, data in sorted(SEEDS.items()):
        with open(os.path.join(out, name), "wb") as f:
            f.write(data)


if __name__ == "__main__":
    main()
