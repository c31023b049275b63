// A Unified Kernel Image (UAPI Group "Unified Kernel Image" specification): systemd's EFI stub
// with the kernel, the initrd, the command line and an os-release text appended as PE sections,
// one EFI application that OVMF loads (and measures) as a whole.
//
// Debian bookworm ships the stub (systemd-boot-efi 252) but not ukify (systemd 253 and later), so
// the sections are appended here, the way ukify does it (pe_add_sections): each new section gets
// the next free virtual address after the stub's last section, rounded up to the page size (4 KiB,
// a multiple of every stub's SectionAlignment), and its raw data the next FileAlignment-aligned
// offset at the end of the file (zero-padded); NumberOfSections, SizeOfInitializedData,
// SizeOfImage and the optional header's CheckSum are updated; the stub's COFF symbol table (debug
// data after its sections) is dropped and its pointer cleared. Section order is ukify's: .osrel,
// .cmdline, .initrd, .linux (no .uname: systemd-stub 252 does not know it). Nothing depends on
// time or the host: the same stub and sections give the same bytes. (Hand-written: Debian has no
// library that writes PE sections; objcopy 2.40 stamps the current time into TimeDateStamp.)
#pragma once

#include <measure/formats/pe.hpp>
#include <measure/util/bytes.hpp>

#include <string>
#include <vector>

namespace mrforge::builder {

struct UkiSection {
  std::string name; // ".linux", ... at most 8 bytes
  ByteView data;    // the section's bytes (VirtualSize = data.size())
};

// The stub's sections plus `sections`, in the given order. Throws FormatError{stub_source} when
// the stub is not an x86-64 EFI application PE32+, is signed (a certificate table would be
// invalidated), already has one of the section names, or has no room in its headers for the new
// section table entries; InputError for a bad section name or a section over 4 GiB.
Bytes assemble_uki(ByteView stub, const std::string &stub_source, const std::vector<UkiSection> &sections);

// The PE checksum of an image (the optional header's CheckSum, as imagehlp's CheckSumMappedFile
// computes it): the 16-bit one's-complement-style sum of the file with the CheckSum field taken as
// zero, folded to 16 bits, plus the file size.
uint32_t pe_checksum(ByteView image, uint64_t checksum_offset);

} // namespace mrforge::builder
