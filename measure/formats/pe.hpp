// PE/COFF image headers as UEFI firmware reads them before it loads and measures an image
// (the Linux EFI stub kernel, a UKI, shim, grub). See pe.cpp for the format and the checks.
#pragma once

#include <measure/util/bytes.hpp>

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace mrforge {

struct PeSection {
  std::string name; // the 8-byte name up to its first NUL (raw bytes, not necessarily printable)
  uint32_t virtual_size = 0;
  uint32_t virtual_address = 0;
  uint32_t raw_size = 0;   // SizeOfRawData
  uint32_t raw_offset = 0; // PointerToRawData; [raw_offset, +raw_size) lies in the file if raw_size != 0
  uint32_t characteristics = 0;
};

struct PeDataDirectory {
  uint32_t virtual_address = 0; // for the certificate table (index 4): a file offset
  uint32_t size = 0;
};

// A validated PE/COFF image. Every offset below lies inside the file it was parsed from, and
// checksum_offset + 4 <= cert_dir_entry_offset (if any) and its end <= size_of_headers <= file_size.
struct PeImage {
  uint64_t file_size = 0;
  uint32_t pe_header_offset = 0; // e_lfanew: where "PE\0\0" is
  uint16_t machine = 0;          // IMAGE_FILE_MACHINE_*
  uint16_t characteristics = 0;  // COFF header Characteristics
  bool pe32_plus = false;        // optional header magic 0x20B (else 0x10B)
  uint16_t subsystem = 0;        // 10..13: EFI application, boot/runtime driver, ROM
  uint64_t image_base = 0;
  uint32_t address_of_entry_point = 0;
  uint32_t section_alignment = 0;
  uint32_t file_alignment = 0;
  uint32_t size_of_image = 0;
  uint32_t size_of_headers = 0;
  uint64_t checksum_offset = 0; // file offset of the optional header's CheckSum (4 bytes)
  uint32_t number_of_rva_and_sizes = 0;
  std::vector<PeDataDirectory> data_directories; // number_of_rva_and_sizes entries
  // File offset of the 8-byte certificate-table entry (data directory 4); absent when
  // number_of_rva_and_sizes <= 4.
  std::optional<uint64_t> cert_dir_entry_offset;
  // The certificate table (WIN_CERTIFICATE list); size 0 when the image is not signed. When
  // non-empty it lies after the headers and inside the file.
  uint32_t cert_table_offset = 0;
  uint32_t cert_table_size = 0;
  uint64_t section_table_offset = 0;
  std::vector<PeSection> sections; // in section-table order
};

// Parses and validates the headers of a PE/COFF image. Throws FormatError{source, offset} on
// anything malformed, e.g. "not a PE/COFF image: no MZ signature", a truncated header, a section
// whose raw data lies beyond the end of the file, or a certificate table outside the file.
PeImage parse_pe(ByteView image, const std::string &source);

// parse_pe() of a file of `file_size` bytes from its first head.size() bytes alone (for a kernel
// whose patched first page is a copy and the rest a mapping): the same PeImage when the headers
// (SizeOfHeaders) lie inside the head; nullopt when they do not or the parse fails, and the
// caller must parse the whole file (which gives the error, if any). std::invalid_argument if the
// head is longer than the file.
std::optional<PeImage> parse_pe_head(ByteView head, uint64_t file_size, const std::string &source);

// IMAGE_FILE_MACHINE_* as text ("x86_64", "aarch64", ...), for messages and reports.
const char *pe_machine_name(uint16_t machine);

} // namespace mrforge
