// Where OVMF puts the PCI resources of a q35 machine with PCI Express expanders (pxb-pcie), so the
// expanders' _CRS (QEMU's build_crs reads the bridge windows and BARs the firmware programmed on
// each expander's bus) and PCI0's _CRS (the holes minus those ranges) can be generated.
//
// The model is edk2's, read at edk2-stable202211 and edk2-stable202502 (the algorithm is the same
// in both; the firmware facts it takes differ and live in the ACPI profile's firmware_pci):
//  - root bridges (OvmfPkg PciHostBridgeUtilityLib): bus 0, then each expander that has a device,
//    by ascending bus; all share the I/O, 32-bit and 64-bit apertures (COMBINE_MEM_PMEM |
//    MEM64_DECODE);
//  - sizing (MdeModulePkg PciBusDxe PciResourceSupport.c): each bridge's children sorted by
//    alignment, largest first (InsertResourceNode); a child's offset is the running total aligned
//    to it; a bridge window is its children's total aligned to 1 MiB (I/O: 4 KiB), at least its
//    hotplug padding (padding is a minimum, not an addition); a root port's 64-bit non-prefetchable
//    BARs go 32-bit (no MEM64_DECODE), its prefetchable 64-bit stay; at a root bridge prefetchable
//    requests join the non-prefetchable ones, and the largest option ROM under it takes a 32-bit
//    range of its size;
//  - padding (OvmfPkg PciHotPlugInitDxe): every hotplug-capable root port QEMU leaves at its
//    -1 reserve defaults gets the profile's I/O and 32-bit padding, and a 64-bit prefetchable one of
//    the 64-bit aperture's size / 256 rounded up to a power of two when the aperture exceeds 32 GiB;
//    each root port takes one bus;
//  - placement (MdeModulePkg PciHostBridgeDxe NotifyPhase/AllocateResource): root bridge by root
//    bridge in list order, each request bottom-up first fit from the aperture base at steps of its
//    alignment.
// Proven by live captures (tests/data/acpi/qemu-10.0-q35/*pxb*rootport*): the generated tables
// match OVMF 2022.11 under QEMU 10.0 byte for byte.
#pragma once

#include <measure/acpi/vm_shape.hpp>

#include <cstdint>
#include <string>
#include <vector>

namespace mrforge {

// The firmware's facts the model needs (AcpiProfile::firmware_pci, each with its provenance in
// the profile file), and the 64-bit aperture the generator works out for the shape.
struct FirmwarePciFacts {
  uint64_t io_base = 0x6000, io_limit = 0xffff;
  uint64_t mmio32_base = 0, mmio32_limit = 0;
  uint64_t mmio64_base = 0, mmio64_size = 0;
  uint64_t root_port_io_padding = 0;  // a root port's I/O padding (0: none)
  uint64_t root_port_mem_padding = 0; // its 32-bit non-prefetchable padding
  uint64_t virtio_net_rom = 0;        // the size of virtio-net-pci's option ROM BAR (0: none)
};

struct AddressRange {
  uint64_t base = 0, limit = 0; // inclusive
  bool operator==(const AddressRange &o) const { return base == o.base && limit == o.limit; }
};

// What QEMU's build_crs finds on one expander's bus: merged I/O, 32-bit and 64-bit ranges (in
// address order, adjacent ones joined, as crs_range_merge does) and the highest bus below it.
struct ExpanderResources {
  uint32_t bus = 0;
  uint32_t max_bus = 0;
  std::vector<AddressRange> io, mem32, mem64;
};

// The BARs of a device as QEMU models it (the root-bus devices, the ICH9 functions, a root port's
// MSI-X BAR; a device behind a root port brings its own list, PciDevice::bars).
std::vector<PciBar> qemu_device_bars(PciDeviceKind kind, uint64_t virtio_net_rom);

// The resources of every expander of `layout` that has devices, by bus; an expander without
// devices gets none (OVMF does not find it). Throws InputError naming `where` (the shape) and the
// field (`from_hugepages`: the layout is the one hugepages implies) when a device's BARs are
// missing, or when the resources do not fit the apertures.
std::vector<ExpanderResources> assign_expander_resources(const NumaLayout &layout, const FirmwarePciFacts &facts,
                                                         const std::string &where, bool from_hugepages);

} // namespace mrforge
