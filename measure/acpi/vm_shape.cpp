#include <measure/acpi/vm_shape.hpp>

#include <measure/util/size_text.hpp>

#include <algorithm>

namespace mrforge {

namespace {
struct KindName {
  PciDeviceKind kind;
  const char *name;
};
constexpr KindName k_kinds[] = {
    {PciDeviceKind::virtio_blk, "virtio-blk"},         {PciDeviceKind::virtio_net, "virtio-net"},
    {PciDeviceKind::vhost_vsock, "vhost-vsock"},       {PciDeviceKind::virtio_9p, "virtio-9p"},
    {PciDeviceKind::pcie_root_port, "pcie-root-port"},
};
struct ChildName {
  RootPortChild child;
  const char *name;
};
constexpr ChildName k_children[] = {
    {RootPortChild::none, "none"}, {RootPortChild::gpu, "gpu"}, {RootPortChild::nvswitch, "nvswitch"}};
} // namespace

const char *pci_device_kind_name(PciDeviceKind k) {
  for (const auto &e : k_kinds)
    if (e.kind == k) return e.name;
  return "?";
}

std::optional<PciDeviceKind> pci_device_kind_from_name(const std::string &name) {
  for (const auto &e : k_kinds)
    if (name == e.name) return e.kind;
  return std::nullopt;
}

const char *root_port_child_name(RootPortChild c) {
  for (const auto &e : k_children)
    if (e.child == c) return e.name;
  return "?";
}

std::optional<RootPortChild> root_port_child_from_name(const std::string &name) {
  for (const auto &e : k_children)
    if (name == e.name) return e.child;
  return std::nullopt;
}

size_t count_devices(const VmShape &s, PciDeviceKind kind) {
  return static_cast<size_t>(
      std::count_if(s.devices.begin(), s.devices.end(), [&](const PciDevice &d) { return d.kind == kind; }));
}

std::optional<uint64_t> qemu_max_used_gpa(const VmShape &s, uint64_t default_hole64) {
  constexpr uint64_t gib = 1ull << 30;
  constexpr uint64_t amd_ht_start = 0xfd00000000ull;         // pc.c AMD_HT_START
  constexpr uint64_t amd_above_1tb_start = 0x10000000000ull; // pc.c AMD_ABOVE_1TB_START
  // pc_q35.c pc_q35_init: RAM below 4 GiB ends at 2 GiB from 0xb0000000 bytes of RAM on.
  const uint64_t lowmem = s.memory >= 0xb0000000ull ? 0x80000000ull : 0xb0000000ull;
  const uint64_t above_4g = s.memory >= lowmem ? s.memory - lowmem : 0;
  const uint64_t hole = s.pci_hole64_size.value_or(default_hole64);
  // pc_pci_hole64_start() + hole - 1: the end of RAM above `start`, rounded up to 1 GiB, plus the
  // hole. Every step is checked: the sizes come from input.
  auto last_address = [&](uint64_t start) -> std::optional<uint64_t> {
    std::optional<uint64_t> end = add_sizes(start, above_4g);
    if (end) end = round_up_size(*end, gib);
    if (end) end = add_sizes(*end, hole);
    if (!end) return std::nullopt;
    return *end - 1; // end >= start > 0
  };
  std::optional<uint64_t> max_used = last_address(4 * gib);
  if (!max_used || *max_used >= amd_ht_start) max_used = last_address(amd_above_1tb_start);
  return max_used;
}

uint32_t qemu_min_phys_bits(const VmShape &s, uint32_t default_bits, uint64_t default_hole64) {
  std::optional<uint64_t> max_used = qemu_max_used_gpa(s, default_hole64);
  if (!max_used) return 65;
  uint32_t bits = default_bits;
  while (bits < 64 && ((1ull << bits) - 1) < *max_used) ++bits;
  return bits;
}

std::string format_size(uint64_t bytes) {
  if (bytes == 0) return "0";
  static constexpr struct {
    unsigned shift;
    char suffix;
  } k_units[] = {{60, 'E'}, {50, 'P'}, {40, 'T'}, {30, 'G'}, {20, 'M'}, {10, 'K'}};
  for (const auto &u : k_units)
    if (bytes % (uint64_t{1} << u.shift) == 0) return std::to_string(bytes >> u.shift) + u.suffix;
  return std::to_string(bytes);
}

std::string pci_device_spec(const PciDevice &d) {
  std::string s = pci_device_kind_name(d.kind);
  if (d.kind == PciDeviceKind::pcie_root_port && d.behind != RootPortChild::none)
    s += std::string(":") + root_port_child_name(d.behind);
  return s;
}

} // namespace mrforge
