// TDX metadata of an OVMF (TDVF) firmware image: the OVMF GUIDed table at the end of the image and
// the TDVF metadata descriptor it points to. The descriptor tells the host which pages to add to
// the TD before it runs (and so what MRTD covers) and where the TD HOB goes. See firmware.cpp for
// the byte layout and the rules enforced.
#pragma once

#include <measure/formats/guid.hpp>
#include <measure/util/bytes.hpp>

#include <cstdint>
#include <string>
#include <vector>

namespace mrforge {

// TDVF section types (Intel TDX Virtual Firmware Design Guide, "TDVF metadata"; the same numbers
// in QEMU hw/i386/tdvf.h and edk2 OvmfPkg/Include/IndustryStandard/IntelTdx.h).
enum class TdvfSectionType : uint32_t {
  bfv = 0,           // boot firmware volume: code, measured into MRTD
  cfv = 1,           // configuration firmware volume: UEFI variables, measured into RTMR0
  td_hob = 2,        // where the host writes the TD HOB
  temp_mem = 3,      // zeroed pages the firmware uses before it has memory of its own
  perm_mem = 4,      // memory the TD accepts itself (td-shim)
  payload = 5,       // kernel image (td-shim)
  payload_param = 6, // kernel parameters (td-shim)
};

// "BFV", "CFV", "TD_HOB", "TempMem", "PermMem", "Payload", "PayloadParam" (the spec's names).
const char *section_type_name(TdvfSectionType type);

// Section attribute bits (same sources as TdvfSectionType).
constexpr uint32_t k_tdvf_attribute_mr_extend = 0x1; // host extends the pages' content into MRTD
constexpr uint32_t k_tdvf_attribute_page_aug = 0x2;  // added later by TDH.MEM.PAGE.AUG, not measured
// TDX pages are 4 KiB (Intel TDX module spec, TDH.MEM.PAGE.ADD); TDVF sections are page aligned.
constexpr uint64_t k_tdx_page_size = 0x1000;

struct TdvfSection {
  uint32_t data_offset = 0; // of the raw data within the firmware file
  uint32_t raw_size = 0;    // bytes of raw data in the file (0 for TD_HOB, TempMem, PermMem)
  uint64_t gpa = 0;         // guest physical address of the section's memory
  uint64_t mem_size = 0;    // bytes of guest memory (page multiple, >= raw_size)
  TdvfSectionType type = TdvfSectionType::bfv;
  uint32_t attributes = 0;

  bool mr_extend() const { return (attributes & k_tdvf_attribute_mr_extend) != 0; }
  bool page_aug() const { return (attributes & k_tdvf_attribute_page_aug) != 0; }
};

// One entry of the OVMF GUIDed table. Offsets are within the firmware file.
struct GuidedEntry {
  Guid guid;
  uint64_t data_offset = 0;
  uint64_t data_size = 0;
};

struct FirmwareImage {
  uint64_t size = 0;                     // bytes of the whole file the offsets refer to
  std::vector<GuidedEntry> guided_table; // in file order
  uint64_t tdvf_offset = 0;              // of the "TDVF" descriptor within the file
  uint32_t tdvf_version = 0;
  std::vector<TdvfSection> sections; // in descriptor order (the order the host adds them)
};

// Parses and validates the GUIDed table and the TDVF descriptor of a whole firmware file (for
// example Debian's /usr/share/ovmf/OVMF.fd). `source` names the file in error messages.
// Throws FormatError{source, offset} for anything that does not follow the format or the rules in
// firmware.cpp, including images without TDX metadata ("no TDX metadata: ...") and the split
// OVMF_CODE.fd images whose sections lie past their own end (a message saying so).
FirmwareImage parse_firmware(ByteView fw, const std::string &source);

} // namespace mrforge
