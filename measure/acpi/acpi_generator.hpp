// QEMU's ACPI tables for a q35 VM shape, generated natively, byte for byte as a given QEMU version
// serves them after OVMF has programmed the platform (see ../shared/docs/acpi-notes.md).
#pragma once

#include <measure/acpi/acpi_blobs.hpp>
#include <measure/acpi/acpi_profile.hpp>
#include <measure/acpi/vm_shape.hpp>

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

// Checks a shape against the profile's limits: CPUs, memory (max_memory, whole MiB), the 64-bit
// hole (max_pci_hole64_size), the address space (phys_bits: QEMU's "phys-bits too low" check and
// the 64-bit PCI window's end, all computed with checked arithmetic), devices, hugepages. Throws
// InputError naming the shape's origin, the value and the limit.
void validate_acpi_shape(const VmShape &shape, const AcpiProfile &profile);

// validate_acpi_shape(), then the tables. Throws InputError as validate_acpi_shape.
GeneratedAcpi generate_acpi(const VmShape &shape, const AcpiProfile &profile);

} // namespace mrforge
