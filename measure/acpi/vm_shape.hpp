// A VM shape: everything about a QEMU q35 virtual machine that changes the ACPI tables QEMU builds
// for it (and so RTMR0's three "ACPI DATA" digests). Plain data; which values a QEMU version
// accepts and what they produce is the ACPI profile's business (measure/acpi/acpi_profile.hpp).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <utility>
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

// What sits behind a pcie-root-port: a passed-through GPU or NVSwitch, or QEMU's pci-testdev (a
// device with BARs of chosen sizes, which `acpi capture` can start: the live stand-in for a GPU).
enum class RootPortChild { none, gpu, nvswitch, testdev };
const char *root_port_child_name(RootPortChild c); // "none", "gpu", "nvswitch", "testdev"
std::optional<RootPortChild> root_port_child_from_name(const std::string &name);

// A BAR of a PCI device: its kind and size (a power of two). `rom` is an expansion ROM BAR.
enum class PciBarType { io, mem32, pref32, mem64, pref64, rom };
const char *pci_bar_type_name(PciBarType t); // "io", "mem32", "pref32", "mem64", "pref64", "rom"
std::optional<PciBarType> pci_bar_type_from_name(const std::string &name);
struct PciBar {
  PciBarType type = PciBarType::mem32;
  uint64_t size = 0;
  bool operator==(const PciBar &o) const { return type == o.type && size == o.size; }
};

struct PciDevice {
  PciDevice() = default;
  PciDevice(PciDeviceKind k, RootPortChild b = RootPortChild::none, std::vector<PciBar> behind_bars = {})
      : kind(k), behind(b), bars(std::move(behind_bars)) {}
  PciDeviceKind kind = PciDeviceKind::virtio_blk;
  RootPortChild behind = RootPortChild::none; // pcie_root_port only
  // The BARs of the device behind a root port, in BAR order (shape files: `bars`). Only a root
  // port on an expander needs them: OVMF sizes the expander's windows from them. A testdev's are
  // pci-testdev's: mem32 4K, io 256, and optionally one pref64 (its membar).
  std::vector<PciBar> bars;
  bool operator==(const PciDevice &o) const { return kind == o.kind && behind == o.behind && bars == o.bars; }
};

// A guest NUMA node: `-numa node,nodeid=N,cpus=A-B,memdev=memN` with its memory backend, and
// optionally a PCI Express expander bridge of its own (`-device pxb-pcie,bus_nr=B,numa_node=N`)
// with root ports on it. Nodes take the vCPUs in order (node 0 the first `cpus`, ...); QEMU's
// SRAT lays their memory out in node order too.
struct NumaNode {
  uint32_t cpus = 0;                  // vCPUs of this node
  uint64_t memory = 0;                // bytes (its memory backend's size)
  std::optional<uint32_t> pxb_bus;    // the expander's bus_nr (1-255), if the node has one
  std::vector<PciDevice> pxb_devices; // on the expander's bus, slots 0, 1, ...: pcie-root-ports only
  bool operator==(const NumaNode &o) const {
    return cpus == o.cpus && memory == o.memory && pxb_bus == o.pxb_bus && pxb_devices == o.pxb_devices;
  }
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
  // An explicit NUMA layout (empty: none, or the one `hugepages` implies; see numa_layout()).
  std::vector<NumaNode> numa_nodes;
  std::string origin; // where the shape came from ("--shape FILE", "options", ...)
  // Defaults the source left to the reader and the reader applied ("qemu_version is absent:
  // dstack's default 9.1.0 applies ..."), for the user to see.
  std::vector<std::string> notes;
};

// What errors about a shape name: its origin (its file), or "the VM shape" for one given by options.
std::string shape_origin(const VmShape &s);

// The machine's NUMA nodes and what stays on the root bus, as QEMU is started for the shape:
//  - explicit `numa_nodes`: those, and every device in `devices` on the root bus;
//  - else `hugepages` (dstack's layout, dstack-mr acpi.rs): one node with all vCPUs and memory;
//    when `devices` has GPU root ports (pcie-root-port:gpu) they move, in order, onto the node's
//    expander `pxb-pcie,addr=10,numa_node=0,bus_nr=5` (k_dstack_pxb_bus); the rest stays;
//  - else no NUMA node, every device on the root bus.
// The k-th expander (in node order) sits in root-bus slot 0x10 + k (k_first_pxb_slot; dstack's
// addr=10); the root-bus devices take slots 1, 2, ... in order, skipping the expanders' slots.
struct NumaLayout {
  std::vector<NumaNode> nodes;
  std::vector<PciDevice> root_bus;
};
constexpr uint32_t k_dstack_pxb_bus = 5;
constexpr uint32_t k_first_pxb_slot = 0x10;
NumaLayout numa_layout(const VmShape &s);

// The root-bus slot of each numa_layout(s).root_bus device, in order (1, 2, ... skipping the
// expanders' slots 0x10, 0x11, ...).
std::vector<unsigned> root_bus_slots(const NumaLayout &layout);

// Refuses NUMA layouts QEMU (with OVMF) cannot start, with an InputError naming the shape's origin
// and the field ("numa_nodes[1].pxb_bus", or "hugepages" for the implied layout): more than 128
// nodes (QEMU's MAX_NODES); a node without memory or with memory not in whole MiB; the nodes' vCPUs
// or memory not adding up to the machine's (QEMU: "total memory for NUMA nodes ... should equal RAM
// size"; unassigned vCPUs QEMU would silently put on node 0); an expander on bus 0 or on a bus
// another expander has ("Bus N is already in use"); more than 15 expanders (slots 0x10-0x1e) or
// root-bus devices past slot 30; more than 32 devices on one expander; anything but
// pcie-root-ports on an expander; and bus numbers that collide once OVMF numbers the root ports'
// secondary buses (each root bridge numbers them from its own bus + 1, up to the next expander's
// bus - 1, or 255).
void validate_numa_layout(const VmShape &s);

// The BARs of the device behind a root port: its `bars`, or for a testdev without them
// pci-testdev's defaults (testdev_bars(0)). Empty for an empty port.
std::vector<PciBar> device_behind_bars(const PciDevice &d);
// pci-testdev's BARs with a membar of `membar` bytes (0: none).
std::vector<PciBar> testdev_bars(uint64_t membar);
// What is wrong with a device's `bars` ("" when nothing): bars on anything but the device behind
// a root port, sizes that are not powers of two or out of a BAR kind's range, more than six BAR
// registers or more than one ROM, a testdev whose BARs are not pci-testdev's.
std::string device_bars_problem(const PciDevice &d);

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

// Where that guest's RAM above 4 GiB starts (x86ms->above_4g_mem_start): 4 GiB, or 1 TiB when
// qemu_max_used_gpa() moves it there (AMD CPU models only).
uint64_t qemu_above_4g_mem_start(const VmShape &s, uint64_t default_hole64);

// The CPU's physical address width a QEMU 7.2 q35 guest of this shape needs: `default_bits` (40
// for TCG's qemu64) unless qemu_max_used_gpa() reaches past it, then the smallest width that
// holds it (QEMU refuses to start otherwise: "phys-bits too low"); 65 when it does not fit in 64
// bits. QEMU allows at most 52 (the ACPI profile's phys_bits). `mrforge acpi capture` starts QEMU
// with this width; OVMF's 64-bit MMIO aperture, and so the tables, depend on it.
uint32_t qemu_min_phys_bits(const VmShape &s, uint32_t default_bits, uint64_t default_hole64);

} // namespace mrforge
