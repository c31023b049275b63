// shim and GRUB as the firmware loads them and as mrforge predicts what they measure: the PE
// image, the versions their .sbat sections declare (UEFI shim's SBAT: CSV lines
// "component,generation,vendor,package,version,url", https://github.com/rhboot/shim/blob/main/SBAT.md),
// and for shim its built-in vendor certificate and vendor dbx (the .vendor_cert section: shim's
// struct cert_table, four UINT32s: authorized size, deauthorized size, authorized offset,
// deauthorized offset, the offsets relative to the section's start).
#pragma once

#include <measure/formats/pe.hpp>
#include <measure/util/bytes.hpp>

#include <string>
#include <vector>

namespace mrforge {

struct SbatEntry {
  std::string component, generation, vendor, package, version, url;
};

// The .sbat section's entries in order (empty when the image has none). Throws FormatError for a
// line that has fewer than the five fields SBAT requires or bytes that are not printable ASCII.
std::vector<SbatEntry> read_sbat(ByteView image, const PeImage &pe, const std::string &source);

struct ShimImage {
  PeImage pe;
  std::vector<SbatEntry> sbat;
  std::string vendor;              // the distribution's SBAT entry ("shim.debian"): its vendor, "Debian"
  std::string version;             // and its version, "16.1"
  ByteView vendor_cert;            // the built-in certificate (DER X.509); empty when shim has none
  ByteView vendor_dbx;             // the built-in deauthorized list (EFI_SIGNATURE_LISTs); may be empty
  uint64_t vendor_cert_offset = 0; // file offset of the .vendor_cert section, for messages
};

// Throws FormatError when the image is not a PE, has no SBAT entry "shim" and one "shim.VENDOR",
// or has a .vendor_cert table pointing outside its section.
ShimImage read_shim(ByteView image, const std::string &source);

struct GrubImage {
  PeImage pe;
  std::vector<SbatEntry> sbat;
  std::string version;        // upstream, the SBAT entry "grub": "2.06"
  std::string vendor;         // the distribution's entry ("grub.debian"): "Debian"
  std::string vendor_version; // its version: "2.06-13+deb12u2"
};

// Throws FormatError when the image is not a PE or has no SBAT entries "grub" and "grub.VENDOR".
GrubImage read_grub(ByteView image, const std::string &source);

} // namespace mrforge
