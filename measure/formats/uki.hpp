// A Unified Kernel Image as its stub and the firmware see it: the PE image, the UKI sections
// (UAPI Group UKI specification: .linux, .osrel, .cmdline, .initrd, ...) and which stub it is
// (systemd-stub's .sdmagic section: "#### LoaderInfo: systemd-stub 252.39-1~deb12u2 ####").
#pragma once

#include <measure/formats/pe.hpp>
#include <measure/util/bytes.hpp>

#include <optional>
#include <string>
#include <vector>

namespace mrforge {

struct UkiSectionView {
  std::string name;
  ByteView data; // VirtualSize bytes, as the stub reads them from the loaded image
};

struct UkiImage {
  PeImage pe;
  std::vector<UkiSectionView> sections; // every section, in section-table order
  std::string stub;                     // "systemd-stub"
  std::string stub_version;             // "252.39-1~deb12u2"
  unsigned stub_major = 0;              // 252

  const UkiSectionView *section(const std::string &name) const;
};

// Parses a UKI. Throws FormatError{source, offset} when it is not a PE image, has no .linux
// section, a section whose VirtualSize exceeds its raw data (the stub would read zero fill, which
// mrforge does not model), or no systemd-stub .sdmagic line.
UkiImage read_uki(ByteView image, const std::string &source);

} // namespace mrforge
