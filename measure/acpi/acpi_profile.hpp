// ACPI profiles: what a QEMU version (and the OVMF it runs with) puts into the ACPI tables of a
// q35 machine, as data. Loaded from measure/profiles/acpi/*.yaml (profile_yaml.hpp); every
// value cites where it comes from in its file.
#pragma once

#include <measure/util/profile_source.hpp>

#include <cstdint>
#include <optional>
#include <set>
#include <string>
#include <vector>

namespace mrforge {

// Named differences of a QEMU version's q35 AML and tables from QEMU 7.2's (what the generator
// does for each, and the release that introduced it, is documented in acpi_generator.cpp). A
// closed set: a profile naming anything else is refused when it is loaded.
enum class AcpiVariation {
  qemu_8_0_pci_aml,             // "qemu-8.0-pci-aml"
  pdsm_func7_prefilled,         // "pdsm-func7-prefilled"
  tdx_edge_irqs,                // "tdx-edge-irqs"
  pci64_window_at_aperture,     // "pci64-window-at-aperture"
  madt_revision_3,              // "madt-revision-3"
  madt_pcat_compat_follows_pic, // "madt-pcat-compat-follows-pic"
  cpuhp_eject_list,             // "cpuhp-eject-list"
  pxb_prt_package,              // "pxb-prt-package"
  expander_ports_unassigned,    // "expander-ports-unassigned"
  cpuhp_no_legacy_init,         // "cpuhp-no-legacy-init"
  com1_irq_level_shared,        // "com1-irq-level-shared"
};
const char *acpi_variation_name(AcpiVariation v);
std::optional<AcpiVariation> acpi_variation_from_name(const std::string &name);
std::string acpi_variation_names(); // "qemu-8.0-pci-aml, pdsm-func7-prefilled, ..." for errors

// What the firmware's PCI enumeration uses when it assigns the expanders' root ports their
// windows (firmware_pci.hpp has the model): its I/O and 32-bit apertures, the hotplug padding of
// a root port, and the size of virtio-net's option ROM. The 64-bit aperture is the profile's
// (default_phys_bits' dynamic window, or pci64_aperture_base with mmio64_size).
struct FirmwarePciProfile {
  uint64_t io_base = 0x6000;
  uint64_t io_limit = 0xffff;
  bool mmio32_uc32 = false; // mmio32_base: uc32 (edk2-stable202502: 4 GiB - GetPowerOfTwo32(4 GiB - low RAM))
  uint64_t mmio32_base = 0;
  uint64_t mmio32_limit = 0;
  uint64_t mmio64_size = 0; // with pci64_aperture_base (confidential families)
  uint64_t root_port_io_padding = 0;
  uint64_t root_port_mem_padding = 0;
  uint64_t virtio_net_rom = 0;
};

struct AcpiProfile {
  std::string name;
  ProfileSource source; // outputs name the profile by source.identity(), never by path
  std::string description;
  std::string qemu_version;  // "7.2", "8.2", "9.2", "10.0", "11.1"
  bool confidential = false; // confidential-guest-support=tdx
  uint32_t max_cpus = 288;   // the q35 machine type's limit
  // Limits: shapes beyond them are refused, not generated. Every guest address the machine uses
  // (RAM, the 64-bit PCI window) lies below 2^phys_bits; memory and the 64-bit hole are at most
  // max_memory and max_pci_hole64_size.
  uint32_t phys_bits = 52;
  uint64_t max_memory = 0;
  uint64_t max_pci_hole64_size = 0;
  // Table header identity (x86ms->oem_id / oem_table_id, ACPI_BUILD_APPNAME8).
  std::string oem_id = "BOCHS ";
  std::string oem_table_id = "BXPC    ";
  std::string creator_id = "BXPC";
  // pc_q35_init: RAM at or above the threshold is split, low RAM ending at low_ram_when_split.
  uint64_t memory_split_threshold = 0xB0000000;
  uint64_t low_ram_when_split = 0x80000000;
  uint64_t default_pci_hole64_size = 32ull << 30; // Q35_PCI_HOST_HOLE64_SIZE_DEFAULT
  // Values the firmware programs before the tables are measured.
  uint32_t pm_io_base = 0x600;
  uint32_t gpe0_block = 0x620;
  uint32_t sci_irq = 9;
  uint64_t mcfg_base = 0xE0000000;
  uint64_t mcfg_size = 0x10000000;
  // Where OVMF puts 64-bit BARs (the start of its 64-bit MMIO aperture); QEMU's 64-bit window
  // starts there when any device has a 64-bit BAR, else above RAM.
  uint64_t pci64_aperture_base = 0;
  // When non-zero instead: OVMF's dynamic MMIO window, the top eighth of the physical address
  // space, with the width qemu_min_phys_bits() gives for the shape from this default.
  uint32_t default_phys_bits = 0;
  // Whether that window moves below an E820 reservation it overlaps (OVMF edk2-stable202502 and
  // later: QEMU's AMD HyperTransport hole for the captures' qemu64 CPU model).
  bool dynamic_window_avoids_reserved = false;
  // Whether OVMF negotiated the ICH9 SMI CPU hotplug / hot-unplug features (SMM builds only).
  bool cpu_hotplug_smi = false;
  bool cpu_unplug_smi = false;
  // Whether this QEMU under TCG starts vCPUs whose APIC ID is 255 or more (more than 255 vCPUs):
  // its userspace APIC emulates x2APIC since QEMU 9.0, given a CPU model with x2apic. Only
  // `acpi capture` reads it (the tables do not depend on the accelerator).
  bool tcg_x2apic = false;
  // The firmware's PCI facts; without them root ports on an expander are refused.
  std::optional<FirmwarePciProfile> firmware_pci;
  // Named AML/table variations of this QEMU version (see acpi_generator.cpp for each).
  std::set<AcpiVariation> variations;
  bool has(AcpiVariation v) const { return variations.count(v) != 0; }
};

} // namespace mrforge
