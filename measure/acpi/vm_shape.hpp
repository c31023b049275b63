// A VM shape: everything about a QEMU q35 virtual machine that changes the ACPI tables QEMU builds
// for it (and so RTMR0's three "ACPI DATA" digests). Plain data; which values a QEMU version
// accepts and what they produce is the ACPI profile's business (measure/acpi/acpi_profile.hpp).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace mrforge {

// A device on the root PCI Express bus (pcie.0). For the tables only the slot it takes and
// whether it is a bridge matter; the kind is kept so a shape reads like the QEMU command line and
// so that `mrforge acpi capture` can start the same machine.
enum class PciDeviceKind {
  virtio_blk,     // -device virtio-blk-pci
  virtio_net,     // -device virtio-net-pci
  vhost_vsock,    // -device vhost-vsock-pci
  virtio_9p,      // -virtfs / -device virtio-9p-pci
  pcie_root_port, // -device pcie-root-port (a bridge; `behind` says what is plugged into it)
};
const char *
pci_device_kind_name(PciDeviceKind k); // "virtio-blk", "virtio-net", "vhost-vsock", "virtio-9p", "pcie-root-port"
std::optional<PciDeviceKind> pci_device_kind_from_name(const std::string &name);

// What sits behind a pcie-root-port.
enum class RootPortChild { none, gpu, nvswitch };
const char *root_port_child_name(RootPortChild c); // "none", "gpu", "nvswitch"
std::optional<RootPortChild> root_port_child_from_name(const std::string &name);

struct PciDevice {
  PciDeviceKind kind = PciDeviceKind::virtio_blk;
  RootPortChild behind = RootPortChild::none; // pcie_root_port only
  bool operator==(const PciDevice &o) const { return kind == o.kind && behind == o.behind; }
};

struct VmShape {
  std::string profile;          // ACPI profile name ("qemu-7.2-q35", "qemu-9.2-tdx") or path; see acpi_profile.hpp
  uint32_t cpus = 1;            // -smp N (all present at boot; max_cpus = cpus)
  uint64_t memory = 2ull << 30; // -m, bytes
  bool pic = true;              // -machine pic=on|off (QEMU default on)
  bool smm = true;              // -machine smm=on|off (default on under TCG and KVM)
  bool hpet = true;             // -machine hpet=on|off (default on)
  bool pci_hotplug = true;      // -global ICH9-LPC.acpi-pci-hotplug-with-bridge-support=on|off
  std::optional<uint64_t> pci_hole64_size; // -global q35-pcihost.pci-hole64-size (QEMU default 32 GiB)
  std::vector<PciDevice> devices;          // on pcie.0 in command-line order: slots 1, 2, 3, ...
  bool hugepages = false;                  // dstack: a NUMA node + memory backend (+ pxb-pcie with GPUs)
  std::string origin;                      // where the shape came from ("--shape FILE", "options", ...)
  // Defaults the source left to the reader and the reader applied ("qemu_version is absent:
  // dstack's default 9.1.0 applies ..."), for the user to see.
  std::vector<std::string> notes;
};

// Device-list helpers.
size_t count_devices(const VmShape &s, PciDeviceKind kind);
// "virtio-blk", "pcie-root-port:gpu": a device as the shape file and --device write it.
std::string pci_device_spec(const PciDevice &d);
// "2G", "2560M", "64G", "16T": a size as shape files write it; exact, never rounded.
std::string format_size(uint64_t bytes);

// The highest guest physical address a QEMU 7.2 q35 guest of this shape uses (pc.c
// pc_max_used_gpa): RAM above 4 GiB, rounded up to 1 GiB, plus the 64-bit PCI hole
// (`default_hole64` unless the shape sets it), minus one; with an AMD CPU model such as qemu64,
// RAM above 4 GiB moves to 1 TiB when it would cross the HyperTransport hole at 0xfd00000000
// (enforce_amd_1tb_hole). nullopt when that address does not fit in 64 bits.
std::optional<uint64_t> qemu_max_used_gpa(const VmShape &s, uint64_t default_hole64);

// The CPU's physical address width a QEMU 7.2 q35 guest of this shape needs: `default_bits` (40
// for TCG's qemu64) unless qemu_max_used_gpa() reaches past it, then the smallest width that
// holds it (QEMU refuses to start otherwise: "phys-bits too low"); 65 when it does not fit in 64
// bits. QEMU allows at most 52 (the ACPI profile's phys_bits). `mrforge acpi capture` starts QEMU
// with this width; OVMF's 64-bit MMIO aperture, and so the tables, depend on it.
uint32_t qemu_min_phys_bits(const VmShape &s, uint32_t default_bits, uint64_t default_hole64);

} // namespace mrforge
