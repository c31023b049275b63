#include <measure/acpi/vm_shape.hpp>

#include <measure/util/errors.hpp>
#include <measure/util/size_text.hpp>

#include <algorithm>
#include <map>

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
constexpr ChildName k_children[] = {{RootPortChild::none, "none"},
                                    {RootPortChild::gpu, "gpu"},
                                    {RootPortChild::nvswitch, "nvswitch"},
                                    {RootPortChild::testdev, "testdev"}};
struct BarName {
  PciBarType type;
  const char *name;
};
constexpr BarName k_bars[] = {{PciBarType::io, "io"},         {PciBarType::mem32, "mem32"},
                              {PciBarType::pref32, "pref32"}, {PciBarType::mem64, "mem64"},
                              {PciBarType::pref64, "pref64"}, {PciBarType::rom, "rom"}};
} // namespace

const char *pci_bar_type_name(PciBarType t) {
  for (const auto &e : k_bars)
    if (e.type == t) return e.name;
  return "?";
}

std::optional<PciBarType> pci_bar_type_from_name(const std::string &name) {
  for (const auto &e : k_bars)
    if (name == e.name) return e.type;
  return std::nullopt;
}

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

std::vector<PciBar> testdev_bars(uint64_t membar) {
  // QEMU hw/misc/pci-testdev.c: BAR0 its 4 KiB MMIO test region, BAR1 its 256-port I/O region,
  // BAR2 (membar > 0) a 64-bit prefetchable region of membar bytes.
  std::vector<PciBar> bars = {{PciBarType::mem32, 0x1000}, {PciBarType::io, 0x100}};
  if (membar) bars.push_back({PciBarType::pref64, membar});
  return bars;
}

std::vector<PciBar> device_behind_bars(const PciDevice &d) {
  if (d.behind == RootPortChild::testdev && d.bars.empty()) return testdev_bars(0);
  return d.bars;
}

std::string device_bars_problem(const PciDevice &d) {
  if (d.bars.empty()) return "";
  if (d.kind != PciDeviceKind::pcie_root_port || d.behind == RootPortChild::none)
    return "bars describe the device behind a pcie-root-port (pcie-root-port:gpu(...)); this entry has none";
  unsigned slots = 0;
  bool rom = false;
  for (const PciBar &b : d.bars) {
    const std::string what = std::string(pci_bar_type_name(b.type)) + "=" + format_size(b.size);
    if (b.size == 0 || (b.size & (b.size - 1)))
      return "BAR " + what + ": a BAR's size is a power of two (the PCI specification's BAR sizing)";
    uint64_t min = b.type == PciBarType::io ? 4 : b.type == PciBarType::rom ? 0x800 : 16;
    uint64_t max = b.type == PciBarType::io                                      ? 0x10000
                   : b.type == PciBarType::mem32 || b.type == PciBarType::pref32 ? (1ull << 31)
                   : b.type == PciBarType::rom                                   ? (1ull << 24)
                                                                                 : (1ull << 50);
    if (b.size < min || b.size > max)
      return "BAR " + what + ": " + (b.type == PciBarType::io ? "an " : "a ") + pci_bar_type_name(b.type) +
             " BAR takes " + format_size(min) + " to " + format_size(max);
    if (b.type == PciBarType::rom) {
      if (rom) return "more than one rom BAR (a device has one expansion ROM)";
      rom = true;
      continue;
    }
    slots += b.type == PciBarType::mem64 || b.type == PciBarType::pref64 ? 2 : 1;
  }
  if (slots > 6)
    return "the BARs take " + std::to_string(slots) + " BAR registers; a device has 6 (64-bit ones take 2)";
  if (d.behind == RootPortChild::testdev) {
    const std::vector<PciBar> with = testdev_bars(d.bars.size() == 3 ? d.bars[2].size : 0);
    if (d.bars != with || (d.bars.size() == 3 && d.bars[2].type != PciBarType::pref64))
      return "a testdev (QEMU's pci-testdev) has BARs mem32=4K,io=256 and optionally pref64=SIZE (its membar), "
             "in that order";
  }
  return "";
}

size_t count_devices(const VmShape &s, PciDeviceKind kind) {
  return static_cast<size_t>(
      std::count_if(s.devices.begin(), s.devices.end(), [&](const PciDevice &d) { return d.kind == kind; }));
}

std::string shape_origin(const VmShape &s) {
  return s.origin.empty() || s.origin == "options" ? "the VM shape" : s.origin;
}

NumaLayout numa_layout(const VmShape &s) {
  NumaLayout l;
  if (!s.numa_nodes.empty()) {
    l.nodes = s.numa_nodes;
    l.root_bus = s.devices;
    return l;
  }
  if (!s.hugepages) {
    l.root_bus = s.devices;
    return l;
  }
  NumaNode node;
  node.cpus = s.cpus;
  node.memory = s.memory;
  for (const PciDevice &d : s.devices) {
    if (d.kind == PciDeviceKind::pcie_root_port && d.behind == RootPortChild::gpu)
      node.pxb_devices.push_back(d);
    else
      l.root_bus.push_back(d);
  }
  if (!node.pxb_devices.empty()) node.pxb_bus = k_dstack_pxb_bus;
  l.nodes.push_back(std::move(node));
  return l;
}

std::vector<unsigned> root_bus_slots(const NumaLayout &layout) {
  unsigned expanders = 0;
  for (const NumaNode &n : layout.nodes)
    if (n.pxb_bus) ++expanders;
  std::vector<unsigned> slots;
  unsigned slot = 1;
  for (size_t i = 0; i < layout.root_bus.size(); ++i, ++slot) {
    while (slot >= k_first_pxb_slot && slot < k_first_pxb_slot + expanders) ++slot;
    slots.push_back(slot);
  }
  return slots;
}

void validate_numa_layout(const VmShape &s) {
  const std::string where = shape_origin(s);
  const bool implied = s.numa_nodes.empty();
  if (implied && !s.hugepages) return;
  const NumaLayout layout = numa_layout(s);
  auto node_field = [&](size_t i, const std::string &field) {
    return implied ? std::string("hugepages (dstack's one node with an expander on bus 5 for the GPU root ports)")
                   : "numa_nodes[" + std::to_string(i) + "]" + (field.empty() ? "" : "." + field);
  };
  auto fail = [&](const std::string &field, const std::string &message) {
    throw InputError(where + ": " + field, message);
  };
  constexpr size_t max_nodes = 128; // QEMU include/system/numa.h MAX_NODES
  if (layout.nodes.size() > max_nodes)
    fail("numa_nodes", std::to_string(layout.nodes.size()) + " NUMA nodes; QEMU allows at most 128 (MAX_NODES)");
  uint64_t cpus = 0, memory = 0;
  for (size_t i = 0; i < layout.nodes.size(); ++i) {
    const NumaNode &n = layout.nodes[i];
    if (n.memory == 0 || n.memory % (1ull << 20) != 0)
      fail(node_field(i, "memory"),
           "a node's memory backend must be a positive multiple of 1 MiB, got " + std::to_string(n.memory) + " bytes");
    cpus += n.cpus;
    std::optional<uint64_t> sum = add_sizes(memory, n.memory);
    if (!sum) fail(node_field(i, "memory"), "the nodes' memory does not fit in 64 bits");
    memory = *sum;
  }
  if (cpus != s.cpus)
    fail("numa_nodes", "the nodes hold " + std::to_string(cpus) + " vCPUs, the machine has " + std::to_string(s.cpus) +
                           " (cpus); every vCPU must be on exactly one node");
  if (memory != s.memory)
    fail("numa_nodes", "the nodes' memory adds up to " + format_size(memory) + ", the machine has " +
                           format_size(s.memory) + " (memory); QEMU requires them equal");
  // Expanders: buses, slots, ports.
  std::map<uint32_t, size_t> bus_owner; // bus -> node index
  size_t expanders = 0;
  for (size_t i = 0; i < layout.nodes.size(); ++i) {
    const NumaNode &n = layout.nodes[i];
    if (!n.pxb_bus) {
      if (!n.pxb_devices.empty()) fail(node_field(i, "pxb_devices"), "devices on an expander need a pxb_bus");
      continue;
    }
    ++expanders;
    if (*n.pxb_bus == 0 || *n.pxb_bus > 255)
      fail(node_field(i, "pxb_bus"),
           "expected a bus number 1-255 (bus 0 is the root bus pcie.0), got " + std::to_string(*n.pxb_bus));
    auto [it, fresh] = bus_owner.emplace(*n.pxb_bus, i);
    if (!fresh)
      fail(node_field(i, "pxb_bus"), "bus " + std::to_string(*n.pxb_bus) + " is already numa_nodes[" +
                                         std::to_string(it->second) + "]'s expander (QEMU: \"Bus " +
                                         std::to_string(*n.pxb_bus) + " is already in use\")");
    if (n.pxb_devices.size() > 32)
      fail(node_field(i, "pxb_devices"),
           std::to_string(n.pxb_devices.size()) + " devices on one expander; its bus has 32 slots");
    for (size_t d = 0; d < n.pxb_devices.size(); ++d) {
      if (n.pxb_devices[d].kind != PciDeviceKind::pcie_root_port)
        fail(node_field(i, "pxb_devices[" + std::to_string(d) + "]"), "only pcie-root-ports go on an expander");
      std::string problem = device_bars_problem(n.pxb_devices[d]);
      if (!problem.empty()) fail(node_field(i, "pxb_devices[" + std::to_string(d) + "]"), problem);
    }
  }
  for (size_t d = 0; d < layout.root_bus.size(); ++d) {
    std::string problem = device_bars_problem(layout.root_bus[d]);
    if (!problem.empty()) fail("devices[" + std::to_string(d) + "]", problem);
  }
  if (expanders > 15)
    fail("numa_nodes", std::to_string(expanders) + " expanders; they take root-bus slots 0x10 up, and only 0x10-0x1e "
                                                   "are free (0x1f is the ICH9 LPC)");
  std::vector<unsigned> slots = root_bus_slots(layout);
  if (!slots.empty() && slots.back() > 30)
    fail("devices", std::to_string(layout.root_bus.size()) + " root-bus devices and " + std::to_string(expanders) +
                        " expanders do not fit in root-bus slots 1-30");
  // OVMF numbers each root bridge's buses from its own: pcie.0's root ports get 1, 2, ..., an
  // expander's root ports its bus + 1, ...; all must stay below the next root bridge's bus.
  if (bus_owner.empty()) return;
  const auto below =
      static_cast<uint64_t>(std::count_if(layout.root_bus.begin(), layout.root_bus.end(),
                                          [](const PciDevice &d) { return d.kind == PciDeviceKind::pcie_root_port; }));
  uint32_t next = bus_owner.begin()->first;
  if (below >= next)
    fail(node_field(bus_owner.begin()->second, "pxb_bus"),
         "bus " + std::to_string(next) + " collides with the root bus's " + std::to_string(below) +
             " root ports, which take buses 1-" + std::to_string(below) + "; use a bus number above " +
             std::to_string(below));
  for (auto it = bus_owner.begin(); it != bus_owner.end(); ++it) {
    const NumaNode &n = layout.nodes[it->second];
    const uint64_t last = uint64_t{it->first} + n.pxb_devices.size();
    auto after = std::next(it);
    const uint64_t limit = after == bus_owner.end() ? 255 : after->first - 1;
    if (last > limit)
      fail(node_field(it->second, "pxb_bus"),
           "the expander's " + std::to_string(n.pxb_devices.size()) + " root ports need buses " +
               std::to_string(it->first + 1) + "-" + std::to_string(last) +
               (after == bus_owner.end() ? std::string(", past bus 255")
                                         : ", which reach bus " + std::to_string(after->first) + " of numa_nodes[" +
                                               std::to_string(after->second) + "]'s expander"));
  }
}

namespace {
constexpr uint64_t k_4gib = 1ull << 32;
constexpr uint64_t k_amd_above_1tb_start = 0x10000000000ull; // pc.c AMD_ABOVE_1TB_START

// The highest address RAM above `start` plus the 64-bit hole use (pc_pci_hole64_start() + hole -
// 1): the end of that RAM, rounded up to 1 GiB, plus the hole. Every step is checked: the sizes
// come from input.
std::optional<uint64_t> last_used_address(const VmShape &s, uint64_t default_hole64, uint64_t start) {
  constexpr uint64_t gib = 1ull << 30;
  // pc_q35.c pc_q35_init: RAM below 4 GiB ends at 2 GiB from 0xb0000000 bytes of RAM on.
  const uint64_t lowmem = s.memory >= 0xb0000000ull ? 0x80000000ull : 0xb0000000ull;
  const uint64_t above_4g = s.memory >= lowmem ? s.memory - lowmem : 0;
  const uint64_t hole = s.pci_hole64_size.value_or(default_hole64);
  std::optional<uint64_t> end = add_sizes(start, above_4g);
  if (end) end = round_up_size(*end, gib);
  if (end) end = add_sizes(*end, hole);
  if (!end) return std::nullopt;
  return *end - 1; // end >= start > 0
}

// pc.c pc_memory_init with an AMD CPU model (enforce_amd_1tb_hole): RAM above 4 GiB moves to 1 TiB
// when it and the hole would reach the HyperTransport hole at 0xfd00000000 (AMD_HT_START).
bool moves_to_1tib(const VmShape &s, uint64_t default_hole64) {
  constexpr uint64_t amd_ht_start = 0xfd00000000ull;
  std::optional<uint64_t> max_used = last_used_address(s, default_hole64, k_4gib);
  return !max_used || *max_used >= amd_ht_start;
}
} // namespace

std::optional<uint64_t> qemu_max_used_gpa(const VmShape &s, uint64_t default_hole64) {
  return last_used_address(s, default_hole64, moves_to_1tib(s, default_hole64) ? k_amd_above_1tb_start : k_4gib);
}

uint64_t qemu_above_4g_mem_start(const VmShape &s, uint64_t default_hole64) {
  return moves_to_1tib(s, default_hole64) ? k_amd_above_1tb_start : k_4gib;
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
  if (!d.bars.empty()) {
    s += "(";
    for (size_t i = 0; i < d.bars.size(); ++i)
      s += std::string(i ? "," : "") + pci_bar_type_name(d.bars[i].type) + "=" + format_size(d.bars[i].size);
    s += ")";
  }
  return s;
}

} // namespace mrforge
