#include "test_support.hpp"

#include <measure/formats/pe.hpp>
#include <measure/util/errors.hpp>

#include <catch2/catch.hpp>

#include <cstdint>
#include <random>
#include <string>

using namespace mrforge;

namespace {

void put16(Bytes &b, size_t pos, uint16_t v) {
  b.at(pos) = static_cast<uint8_t>(v);
  b.at(pos + 1) = static_cast<uint8_t>(v >> 8);
}
void put32(Bytes &b, size_t pos, uint32_t v) {
  for (size_t i = 0; i < 4; ++i) b.at(pos + i) = static_cast<uint8_t>(v >> (8 * i));
}

// A minimal valid PE32+ EFI application, every field at its documented offset:
//   0x000 "MZ", e_lfanew (0x3C) = 0x40
//   0x040 "PE\0\0"; COFF header at 0x44: Machine 0x8664, NumberOfSections 1, SizeOfOptionalHeader
//         0xF0 (112 fixed + 16 directories * 8)
//   0x058 optional header: magic 0x20B, SizeOfImage (+56) 0x2000, SizeOfHeaders (+60) 0x200,
//         CheckSum (+64), Subsystem (+68) 10, NumberOfRvaAndSizes (+108) 16, directories at 0xC8
//         (certificate table entry, index 4, at 0xE8)
//   0x148 section table: ".text", VirtualSize 0x200, VirtualAddress 0x1000, SizeOfRawData 0x200,
//         PointerToRawData 0x200
//   0x200 section data (0x200 bytes), file size 0x400
constexpr size_t k_coff = 0x44;
constexpr size_t k_opt = 0x58;
constexpr size_t k_cert_entry = 0xE8;
constexpr size_t k_section = 0x148;

Bytes minimal_pe() {
  Bytes b(0x400, 0);
  b[0] = 'M';
  b[1] = 'Z';
  put32(b, 0x3C, 0x40);
  b[0x40] = 'P';
  b[0x41] = 'E';
  put16(b, k_coff + 0, 0x8664);
  put16(b, k_coff + 2, 1);
  put16(b, k_coff + 16, 0xF0);
  put16(b, k_coff + 18, 0x22);
  put16(b, k_opt, 0x20B);
  put32(b, k_opt + 32, 0x1000);
  put32(b, k_opt + 36, 0x200);
  put32(b, k_opt + 56, 0x2000);
  put32(b, k_opt + 60, 0x200);
  put16(b, k_opt + 68, 10);
  put32(b, k_opt + 108, 16);
  const char name[] = ".text";
  for (size_t i = 0; i < 5; ++i) b[k_section + i] = static_cast<uint8_t>(name[i]);
  put32(b, k_section + 8, 0x200);
  put32(b, k_section + 12, 0x1000);
  put32(b, k_section + 16, 0x200);
  put32(b, k_section + 20, 0x200);
  put32(b, k_section + 36, 0x60000020);
  for (size_t i = 0x200; i < 0x400; ++i) b[i] = static_cast<uint8_t>(i * 7);
  return b;
}

// Expects a FormatError from parse_pe whose message contains `text`; returns its offset.
uint64_t expect_format_error(const Bytes &image, const std::string &text) {
  try {
    parse_pe(image, "test.efi");
  } catch (const FormatError &e) {
    INFO(e.what());
    CHECK(e.source() == "test.efi");
    CHECK(std::string(e.what()).find(text) != std::string::npos);
    return e.offset();
  }
  FAIL("parse_pe accepted the image; expected: " << text);
  return 0;
}

// Truncates `image` at every length in [0, up_to) and expects a clean FormatError naming the
// source with an offset inside the truncated data.
void truncation_sweep(const Bytes &image, size_t up_to, const std::string &source) {
  size_t failures = 0;
  for (size_t len = 0; len < up_to && len < image.size(); ++len) {
    ByteView cut(image.data(), len);
    try {
      parse_pe(cut, source);
      ++failures;
      FAIL_CHECK("truncated at " << len << " bytes: accepted");
    } catch (const FormatError &e) {
      if (e.source() != source || e.offset() > len) {
        ++failures;
        FAIL_CHECK("truncated at " << len << ": " << e.what());
      }
    }
    if (failures > 5) break;
  }
  CHECK(failures == 0);
}

} // namespace

TEST_CASE("A hand-built minimal PE32+ image parses into its fields", "[pe]") {
  const Bytes b = minimal_pe();
  const PeImage pe = parse_pe(b, "test.efi");
  CHECK(pe.file_size == 0x400);
  CHECK(pe.pe_header_offset == 0x40);
  CHECK(pe.machine == 0x8664);
  CHECK(std::string(pe_machine_name(pe.machine)) == "x86_64");
  CHECK(pe.pe32_plus);
  CHECK(pe.subsystem == 10);
  CHECK(pe.size_of_headers == 0x200);
  CHECK(pe.checksum_offset == k_opt + 64);
  REQUIRE(pe.cert_dir_entry_offset);
  CHECK(*pe.cert_dir_entry_offset == k_cert_entry);
  CHECK(pe.cert_table_size == 0);
  CHECK(pe.number_of_rva_and_sizes == 16);
  CHECK(pe.data_directories.size() == 16);
  CHECK(pe.section_table_offset == k_section);
  REQUIRE(pe.sections.size() == 1);
  CHECK(pe.sections[0].name == ".text");
  CHECK(pe.sections[0].raw_offset == 0x200);
  CHECK(pe.sections[0].raw_size == 0x200);
  CHECK(pe.sections[0].virtual_address == 0x1000);
  CHECK(pe.sections[0].characteristics == 0x60000020);
}

TEST_CASE("The flashbots UKI parses as an unsigned PE32+ EFI application with 17 sections", "[pe]") {
  const Bytes uki = test::read(test::vector_path("flashbots-measured-boot/uki.efi"));
  const PeImage pe = parse_pe(uki, "uki.efi");
  CHECK(pe.machine == 0x8664);
  CHECK(pe.pe32_plus);
  CHECK(pe.subsystem == 10);
  CHECK(pe.size_of_headers == 0x600);
  CHECK(pe.cert_table_size == 0);
  REQUIRE(pe.sections.size() == 17);
  CHECK(pe.sections.front().name == ".text");
  CHECK(pe.sections[12].name == ".linux");
  CHECK(pe.sections.back().name == ".pcrkey");
}

TEST_CASE("Debian's signed 6.12 kernel parses with its certificate table at the end of the file", "[pe]") {
  const Bytes k = test::read(test::debian_kernel_612());
  const PeImage pe = parse_pe(k, "vmlinuz");
  CHECK(pe.machine == 0x8664);
  CHECK(pe.pe32_plus);
  CHECK(pe.subsystem == 10);
  REQUIRE(pe.cert_table_size > 0);
  CHECK(uint64_t{pe.cert_table_offset} + pe.cert_table_size == k.size());
  REQUIRE(pe.sections.size() >= 3);
  CHECK(pe.sections[0].name == ".setup");
  bool has_text = false;
  for (const auto &s : pe.sections) has_text = has_text || s.name == ".text";
  CHECK(has_text);
}

TEST_CASE("Every truncation of the UKI's headers and sections gives a clean format error", "[pe]") {
  const Bytes uki = test::read(test::vector_path("flashbots-measured-boot/uki.efi"));
  truncation_sweep(uki, uki.size(), "uki.efi"); // every length: the last section ends at EOF
}

TEST_CASE("Every truncation of the kernel's first 8 KiB gives a clean format error", "[pe]") {
  const Bytes k = test::read(test::debian_kernel_612());
  truncation_sweep(k, 8192, "vmlinuz");
}

TEST_CASE("Every truncation of a minimal image gives a clean format error", "[pe]") {
  truncation_sweep(minimal_pe(), 0x400, "test.efi");
}

TEST_CASE("Malformed PE headers are rejected with the field that is wrong", "[pe]") {
  Bytes b = minimal_pe();
  SECTION("e_lfanew beyond the end of the file") {
    put32(b, 0x3C, 0x10000);
    CHECK(expect_format_error(b, "e_lfanew 0x10000 lies beyond the end") == 0x3C);
  }
  SECTION("e_lfanew pointing into the MS-DOS header") {
    put32(b, 0x3C, 0x3C);
    CHECK(expect_format_error(b, "points into the MS-DOS header") == 0x3C);
  }
  SECTION("no PE signature at e_lfanew") {
    b[0x41] = 'X';
    CHECK(expect_format_error(b, "not a PE/COFF image: no \"PE\\0\\0\" signature") == 0x40);
  }
  SECTION("an absurd section count") {
    put16(b, k_coff + 2, 0xFFFF);
    CHECK(expect_format_error(b, "NumberOfSections 65535 exceeds the PE limit of 96") == k_coff + 2);
  }
  SECTION("no sections") {
    put16(b, k_coff + 2, 0);
    CHECK(expect_format_error(b, "no sections") == k_coff + 2);
  }
  SECTION("more sections than SizeOfHeaders covers") {
    put16(b, k_coff + 2, 20);
    CHECK(expect_format_error(b, "SizeOfHeaders 0x200 does not cover the 20 section headers") == k_opt + 60);
  }
  SECTION("section raw data beyond the end of the file") {
    put32(b, k_section + 16, 0x300); // SizeOfRawData 0x300 at 0x200: ends at 0x500 > 0x400
    CHECK(expect_format_error(b, "section 0 (.text): raw data [0x200, +0x300) lies beyond the end") == k_section + 20);
  }
  SECTION("section raw offset beyond the end of the file") {
    put32(b, k_section + 20, 0xFFFFFFF0);
    expect_format_error(b, "lies beyond the end of the file");
  }
  SECTION("certificate table beyond the end of the file") {
    put32(b, k_cert_entry, 0x3F8); // at 0x3F8, 0x10 bytes: ends at 0x408 > 0x400
    put32(b, k_cert_entry + 4, 0x10);
    CHECK(expect_format_error(b, "certificate table [0x3f8, +0x10) lies beyond the end") == k_cert_entry);
  }
  SECTION("certificate table whose end wraps 32 bits") {
    put32(b, k_cert_entry, 0xFFFFFFF0);
    put32(b, k_cert_entry + 4, 0x20);
    expect_format_error(b, "lies beyond the end of the file");
  }
  SECTION("certificate table overlapping the headers") {
    put32(b, k_cert_entry, 0x100);
    put32(b, k_cert_entry + 4, 0x10);
    expect_format_error(b, "overlaps the headers");
  }
  SECTION("certificate table overlapping section data (edk2 refuses to measure)") {
    put32(b, k_cert_entry, 0x300); // inside the file, but file - (headers + raw) = 0 < 0x100
    put32(b, k_cert_entry + 4, 0x100);
    b.resize(0x410); // 0x10 trailing bytes after the section: still fewer than the 0x100 cert bytes
    expect_format_error(b, "edk2 refuses to measure");
  }
  SECTION("optional header size smaller than the fixed PE32+ part") {
    put16(b, k_coff + 16, 0x60);
    CHECK(expect_format_error(b, "SizeOfOptionalHeader 0x60 is smaller than the fixed PE32+ optional header (0x70)") ==
          k_coff + 16);
  }
  SECTION("optional header size not matching NumberOfRvaAndSizes") {
    put32(b, k_opt + 108, 6);
    CHECK(expect_format_error(b, "does not match NumberOfRvaAndSizes 6") == k_coff + 16);
  }
  SECTION("more than 16 data directories") {
    put32(b, k_opt + 108, 17);
    CHECK(expect_format_error(b, "NumberOfRvaAndSizes 17 exceeds 16") == k_opt + 108);
  }
  SECTION("an unknown optional header magic") {
    put16(b, k_opt, 0x107);
    CHECK(expect_format_error(b, "optional header magic 0x107") == k_opt);
  }
  SECTION("a machine that UEFI does not define") {
    put16(b, k_coff, 0x1234);
    CHECK(expect_format_error(b, "COFF Machine 0x1234 is not a UEFI architecture") == k_coff);
  }
  SECTION("a Windows GUI subsystem") {
    put16(b, k_opt + 68, 2);
    CHECK(expect_format_error(b, "Subsystem 2 is not an EFI subsystem") == k_opt + 68);
  }
  SECTION("SizeOfHeaders beyond the end of the file") {
    put32(b, k_opt + 60, 0x800);
    CHECK(expect_format_error(b, "SizeOfHeaders 0x800 lies beyond the end of the file") == k_opt + 60);
  }
  SECTION("SizeOfHeaders not below SizeOfImage") {
    put32(b, k_opt + 56, 0x200);
    expect_format_error(b, "SizeOfHeaders 0x200 is not below SizeOfImage 0x200");
  }
}

TEST_CASE("A PE32 (32-bit) image with 6 data directories parses", "[pe]") {
  // PE32: fixed optional part 96 bytes, NumberOfRvaAndSizes at +92, directories at +96.
  Bytes b(0x400, 0);
  b[0] = 'M';
  b[1] = 'Z';
  put32(b, 0x3C, 0x40);
  b[0x40] = 'P';
  b[0x41] = 'E';
  put16(b, k_coff, 0x014C);
  put16(b, k_coff + 2, 1);
  put16(b, k_coff + 16, 96 + 6 * 8);
  put16(b, k_opt, 0x10B);
  put32(b, k_opt + 56, 0x2000);
  put32(b, k_opt + 60, 0x200);
  put16(b, k_opt + 68, 10);
  put32(b, k_opt + 92, 6);
  const size_t sec = k_opt + 96 + 48;
  put32(b, sec + 16, 0x200);
  put32(b, sec + 20, 0x200);
  const PeImage pe = parse_pe(b, "ia32.efi");
  CHECK_FALSE(pe.pe32_plus);
  CHECK(pe.machine == 0x014C);
  REQUIRE(pe.cert_dir_entry_offset);
  CHECK(*pe.cert_dir_entry_offset == k_opt + 96 + 32);
  CHECK(pe.sections.size() == 1);
}

TEST_CASE("Inputs that are not PE images say so", "[pe]") {
  SECTION("empty") { expect_format_error(Bytes{}, "not a PE/COFF image: no MZ signature"); }
  SECTION("an ELF header") {
    Bytes elf(64, 0);
    elf[0] = 0x7F;
    elf[1] = 'E';
    elf[2] = 'L';
    elf[3] = 'F';
    CHECK(expect_format_error(elf, "not a PE/COFF image: no MZ signature") == 0);
  }
  SECTION("random bytes") {
    std::mt19937 rng(12345);
    for (int round = 0; round < 200; ++round) {
      Bytes junk(static_cast<size_t>(rng() % 4096));
      for (auto &x : junk) x = static_cast<uint8_t>(rng());
      if (round % 2 == 0 && junk.size() >= 2) {
        junk[0] = 'M'; // get past the first check half the time
        junk[1] = 'Z';
      }
      CHECK_THROWS_AS(parse_pe(junk, "junk"), FormatError);
    }
  }
}
