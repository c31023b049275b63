// What a disk boot adds to the events of a direct kernel boot, as data the engine logs:
//  - the boot options OVMF's boot manager creates for the VM's disks (BootOrder, Boot####), from
//    the OVMF variant's disk_boot description and the disks' PCI slots;
//  - systemd-stub's measurements of a UKI's sections (PCR11: for each section it knows, in its own
//    order, an EV_IPL event of the name and one of the contents).
//
// systemd-stub's rules are code, not profile data, like the Linux EFI stub's (PCR9): they belong to
// the stub's version, which the UKI names in its .sdmagic section, not to the host.
#pragma once

#include <measure/engine/profile.hpp>
#include <measure/formats/uki.hpp>
#include <measure/util/hash.hpp>

#include <string>
#include <vector>

namespace mrforge {

// PciRoot(0x0)/Pci(slot,0x0)/End (UEFI 2.10 10.3.3 ACPI PNP0A03 UID 0, 10.3.2.1 PCI): the device
// path OVMF gives a virtio-blk disk on the root bus.
Bytes pci_root_device_path(unsigned slot);

struct BootVariableData {
  std::string name;        // "BootOrder", "Boot0001"
  std::string description; // the load option's description; empty for BootOrder
  Bytes data;              // what EV_EFI_VARIABLE_BOOT hashes: the variable's data
};

// BootOrder then each Boot#### in order. Throws InputError when there is no disk or more than 64.
std::vector<BootVariableData> disk_boot_variables(const DiskBootOptions &options,
                                                  const std::vector<unsigned> &disk_slots);

struct StubEvent {
  std::string description; // "UKI section .linux (name)", "UKI section .linux (contents, N bytes)"
  Sha384 digest;
  std::string source;
};

// systemd-stub 252's PCR11 events for the UKI (src/fundamental/tpm-pcr.c unified_sections:
// .linux, .osrel, .cmdline, .initrd, .splash, .dtb, .pcrsig, .pcrpkey; every present one but
// .pcrsig is measured, src/boot/efi/stub.c: first the name with its NUL, then the section's
// VirtualSize bytes). Throws InputError for another stub version (its rules are not modelled).
std::vector<StubEvent> systemd_stub_section_events(const UkiImage &uki, const std::string &uki_name);

// Whether the UKI's stub measures in a TD: systemd-stub measures through EFI_CC_MEASUREMENT_PROTOCOL
// from systemd 256 (PR #30996); 252 only through TCG2, which a TD does not have.
bool systemd_stub_measures_in_td(const UkiImage &uki);

} // namespace mrforge
