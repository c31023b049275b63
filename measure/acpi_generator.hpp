// QEMU's ACPI tables for a q35 VM shape, generated natively, byte for byte as a given QEMU version
// serves them after OVMF has programmed the platform (see ../shared/docs/acpi-notes.md).
#pragma once

#include <measure/acpi_blobs.hpp>
#include <measure/acpi_profile.hpp>
#include <measure/vm_shape.hpp>

#include <cstdint>
#include <string>
#include <vector>

namespace mrforge {

struct GeneratedTable {
  std::string signature; // "FACS", "DSDT", ...
  uint32_t offset = 0;   // in the tables blob
  uint32_t length = 0;
};

struct GeneratedAcpi {
  AcpiBlobs blobs;
  std::vector<GeneratedTable> tables; // in blob order
};

// Throws InputError for a shape the profile does not support (too many CPUs, memory QEMU refuses,
// a device the profile cannot place), naming the field and the limit.
GeneratedAcpi generate_acpi(const VmShape &shape, const AcpiProfile &profile);

} // namespace mrforge
