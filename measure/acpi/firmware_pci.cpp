// OVMF's PCI resource assignment for expanders (see firmware_pci.hpp for the model and its edk2
// sources). Function names follow edk2's where they do its job.
#include <measure/acpi/firmware_pci.hpp>

#include <measure/util/errors.hpp>
#include <measure/util/reader.hpp>

#include <algorithm>
#include <array>

namespace mrforge {

namespace {

constexpr uint64_t k_io_bridge_align = 0xfff;     // PciBusDxe: BridgeIoAlignment (PcdPciBridgeIoAlignmentProbe off)
constexpr uint64_t k_mem_bridge_align = 0xfffff;  // 1 MiB for every memory window and root bridge
constexpr uint64_t k_root_port_msix_bar = 0x1000; // QEMU gen_pcie_root_port.c: msix_init_exclusive_bar, 1 vector
constexpr uint64_t k_pref64_padding_threshold = 32ull << 30; // PciHotPlugInitDxe: only above 32 GiB

enum Res : size_t { io = 0, mem32, pmem32, mem64, pmem64, k_res };

// A PCI_RESOURCE_NODE: length, alignment mask, whether it is hotplug padding, and which of the
// expander-bus objects it is (tag >= 0), so its address can be read back.
struct Node {
  uint64_t length = 0;
  uint64_t align = 0;
  bool padding = false;
  int tag = -1;
  uint64_t offset = 0;
};
using NodeList = std::vector<Node>;

// InsertResourceNode: at the head, then past every node with a larger alignment, or the same
// alignment and a smaller non-zero "alignment rest" (length & alignment).
void insert_node(NodeList &list, const Node &n) {
  size_t pos = 0;
  const uint64_t rest = n.length & n.align;
  while (pos < list.size()) {
    const Node &t = list[pos];
    if (n.align > t.align) break;
    if (n.align == t.align && (rest == 0 || rest >= (t.length & t.align))) break;
    ++pos;
  }
  list.insert(list.begin() + static_cast<std::ptrdiff_t>(pos), n);
}

// MergeResourceTree: each node of `from`, in order, into `to`.
void merge_into(NodeList &to, NodeList &from) {
  for (const Node &n : from) insert_node(to, n);
  from.clear();
}

uint64_t align_up(uint64_t v, uint64_t mask, const std::string &where) {
  if (v > UINT64_MAX - mask) throw InputError(where, "the PCI resources do not fit in 64 bits");
  return (v + mask) & ~mask;
}

// CalculateResourceAperture (memory): offsets over the typical and the padding nodes separately;
// the bridge takes the larger total, aligned to its own (initial) alignment; its alignment then
// grows to its first (largest) child's.
Node memory_aperture(NodeList &list, uint64_t bridge_align, const std::string &where) {
  uint64_t total[2] = {0, 0};
  for (Node &n : list) {
    uint64_t &t = total[n.padding ? 1 : 0];
    n.offset = align_up(t, n.align, where);
    t = n.offset + n.length;
  }
  Node b;
  b.length = std::max(align_up(total[0], bridge_align, where), align_up(total[1], bridge_align, where));
  b.align = bridge_align;
  if (!list.empty() && list.front().align > b.align) b.align = list.front().align;
  return b;
}

// CalculateApertureIo16: padding nodes are skipped, only their length kept; the typical total
// aligned to the bridge's alignment, then at least the padding (not re-aligned).
Node io_aperture(NodeList &list, uint64_t bridge_align, const std::string &where) {
  uint64_t total = 0, padding = 0;
  for (Node &n : list) {
    if (n.padding) {
      padding = n.length;
      continue;
    }
    n.offset = align_up(total, n.align, where);
    total = n.offset + n.length;
  }
  Node b;
  b.length = align_up(total, bridge_align, where);
  b.align = bridge_align;
  if (!list.empty() && list.front().align > b.align) b.align = list.front().align;
  b.length = std::max(b.length, padding);
  return b;
}

Node bar_node(const PciBar &b, int tag = -1) {
  Node n;
  n.length = b.size;
  n.align = b.size - 1;
  n.tag = tag;
  return n;
}

Res bar_res(PciBarType t) {
  switch (t) {
  case PciBarType::io: return io;
  case PciBarType::mem32: return mem32;
  case PciBarType::pref32: return pmem32;
  case PciBarType::mem64: return mem64;
  case PciBarType::pref64: return pmem64;
  case PciBarType::rom: break;
  }
  return mem32; // not reached: ROMs are not BAR nodes (GetMaxOptionRomSize)
}

// A root port's windows (a PPB's IoBridge, Mem32Bridge, PMem32Bridge, PMem64Bridge after
// padding, degrading and sizing); `exists` when the window has any request (ResourceRequestExisted).
struct Windows {
  std::array<Node, k_res> node;
  std::array<bool, k_res> exists{};
};

Windows size_root_port(const std::vector<PciBar> &behind, const FirmwarePciFacts &f, const std::string &where) {
  std::array<NodeList, k_res> lists;
  for (const PciBar &b : behind)
    if (b.type != PciBarType::rom) insert_node(lists[bar_res(b.type)], bar_node(b));
  // ApplyResourcePadding (GetResourcePadding of PciHotPlugInitDxe for a QEMU root port with its
  // reserve properties at -1): a minimum for each window.
  auto pad = [&](Res r, uint64_t size) {
    if (!size) return;
    Node n;
    n.length = size;
    n.align = size - 1;
    n.padding = true;
    insert_node(lists[r], n);
  };
  pad(io, f.root_port_io_padding);
  pad(mem32, f.root_port_mem_padding);
  if (f.mmio64_size > k_pref64_padding_threshold) {
    uint64_t want = f.mmio64_size >> 8, p = 1;
    while (p < want) p <<= 1;
    pad(pmem64, p);
  }
  // DegradeResource for a PPB: no MEM64 decoding (non-prefetchable 64-bit goes 32-bit); with
  // 64-bit prefetchable requests, 32-bit prefetchable ones go non-prefetchable.
  merge_into(lists[mem32], lists[mem64]);
  if (!lists[pmem64].empty()) merge_into(lists[mem32], lists[pmem32]);
  Windows w;
  for (size_t r = 0; r < k_res; ++r) {
    w.exists[r] = !lists[r].empty();
    w.node[r] = r == io ? io_aperture(lists[r], k_io_bridge_align, where)
                        : memory_aperture(lists[r], k_mem_bridge_align, where);
  }
  return w;
}

// What build_crs reads on an expander's bus, per root port: its windows and its MSI-X BAR.
struct PortTags {
  int window[k_res] = {-1, -1, -1, -1, -1};
  int bar0 = -1;
};

struct RootBridge {
  std::array<NodeList, k_res> lists;
  std::array<Node, 3> request; // io, mem32, mem64 after sizing
  uint64_t base[3] = {0, 0, 0};
};

// A root bridge's requests: its devices' BARs and root ports' windows (CreateResourceMap), the
// largest option ROM under it, then COMBINE_MEM_PMEM, then sizing.
void add_device(RootBridge &rb, const std::vector<PciBar> &bars, uint64_t &max_rom) {
  for (const PciBar &b : bars) {
    if (b.type == PciBarType::rom) {
      max_rom = std::max(max_rom, b.size);
      continue;
    }
    insert_node(rb.lists[bar_res(b.type)], bar_node(b));
  }
}

void add_root_port(RootBridge &rb, const std::vector<PciBar> &behind, const FirmwarePciFacts &f, PortTags *tags,
                   int &next_tag, uint64_t &max_rom, const std::string &where) {
  Node bar0 = bar_node(qemu_device_bars(PciDeviceKind::pcie_root_port, 0).front()); // its MSI-X BAR
  if (tags) bar0.tag = tags->bar0 = next_tag++;
  insert_node(rb.lists[mem32], bar0);
  for (const PciBar &b : behind)
    if (b.type == PciBarType::rom) max_rom = std::max(max_rom, b.size);
  Windows w = size_root_port(behind, f, where);
  for (size_t r = 0; r < k_res; ++r) {
    if (!w.exists[r]) continue;
    Node n = w.node[r];
    n.padding = false;
    if (tags) n.tag = tags->window[r] = next_tag++;
    insert_node(rb.lists[r], n);
  }
}

void finish_root_bridge(RootBridge &rb, uint64_t max_rom, const std::string &where) {
  if (max_rom) {
    Node rom;
    rom.length = max_rom;
    rom.align = max_rom - 1;
    // Inserted before the devices' nodes (PciHostBridgeResourceAllocator), which only matters
    // for ties; the order of insertion is kept by insert_node's rule either way.
    insert_node(rb.lists[mem32], rom);
  }
  merge_into(rb.lists[mem32], rb.lists[pmem32]);
  merge_into(rb.lists[mem64], rb.lists[pmem64]);
  rb.request[0] = io_aperture(rb.lists[io], k_io_bridge_align, where);
  rb.request[1] = memory_aperture(rb.lists[mem32], k_mem_bridge_align, where);
  rb.request[2] = memory_aperture(rb.lists[mem64], k_mem_bridge_align, where);
}

// AllocateResource: bottom-up first fit in [base, limit] at steps of the alignment, skipping what
// earlier root bridges took.
uint64_t allocate(std::vector<AddressRange> &taken, uint64_t ap_base, uint64_t ap_limit, const Node &req,
                  const char *what, const std::string &bridge, const std::string &where) {
  uint64_t at = align_up(ap_base, req.align, where);
  for (;;) {
    if (at > ap_limit || req.length - 1 > ap_limit - at)
      throw InputError(where, std::string("the ") + what + " resources of " + bridge + " (" + format_size(req.length) +
                                  ", aligned to " + format_size(req.align + 1) +
                                  ") do not fit what is left of the firmware's " + what + " aperture [" +
                                  hex_u64(ap_base) + ", " + hex_u64(ap_limit) +
                                  "]; OVMF would leave devices unassigned: give smaller BARs");
    const AddressRange want{at, at + req.length - 1};
    auto clash = std::find_if(taken.begin(), taken.end(),
                              [&](const AddressRange &t) { return !(want.limit < t.base || t.limit < want.base); });
    if (clash == taken.end()) break;
    at = align_up(clash->limit + 1, req.align, where);
  }
  taken.push_back({at, at + req.length - 1});
  return at;
}

// crs_range_merge: sorted by base, a range joins the previous one only when it starts right
// after it.
std::vector<AddressRange> merge_ranges(std::vector<AddressRange> r) {
  std::sort(r.begin(), r.end(), [](const AddressRange &a, const AddressRange &b) { return a.base < b.base; });
  std::vector<AddressRange> out;
  for (const AddressRange &x : r) {
    if (!out.empty() && out.back().limit != UINT64_MAX && x.base == out.back().limit + 1)
      out.back().limit = x.limit;
    else
      out.push_back(x);
  }
  return out;
}

} // namespace

std::vector<PciBar> qemu_device_bars(PciDeviceKind kind, uint64_t virtio_net_rom) {
  // QEMU's virtio-pci (transitional unless noted): BAR0 legacy I/O (virtio-blk 0x80, the others
  // 0x20), BAR1 the MSI-X table (4 KiB), BAR4 the modern 64-bit prefetchable region (16 KiB);
  // vhost-vsock-pci is modern-only (no I/O BAR); virtio-net-pci has efi-virtio.rom.
  // (`info pci` under QEMU 7.2 and 10.0 shows these sizes.)
  switch (kind) {
  case PciDeviceKind::virtio_blk:
    return {{PciBarType::io, 0x80}, {PciBarType::mem32, 0x1000}, {PciBarType::pref64, 0x4000}};
  case PciDeviceKind::virtio_net: {
    std::vector<PciBar> b = {{PciBarType::io, 0x20}, {PciBarType::mem32, 0x1000}, {PciBarType::pref64, 0x4000}};
    if (virtio_net_rom) b.push_back({PciBarType::rom, virtio_net_rom});
    return b;
  }
  case PciDeviceKind::virtio_9p:
    return {{PciBarType::io, 0x20}, {PciBarType::mem32, 0x1000}, {PciBarType::pref64, 0x4000}};
  case PciDeviceKind::vhost_vsock: return {{PciBarType::mem32, 0x1000}, {PciBarType::pref64, 0x4000}};
  case PciDeviceKind::pcie_root_port: return {{PciBarType::mem32, k_root_port_msix_bar}};
  }
  return {};
}

std::vector<ExpanderResources> assign_expander_resources(const NumaLayout &layout, const FirmwarePciFacts &f,
                                                         const std::string &where, bool from_hugepages) {
  // Root bridges: PCI0, then each expander with devices by ascending bus (the OVMF scan).
  std::vector<size_t> expander_nodes;
  for (size_t n = 0; n < layout.nodes.size(); ++n)
    if (layout.nodes[n].pxb_bus && !layout.nodes[n].pxb_devices.empty()) expander_nodes.push_back(n);
  std::sort(expander_nodes.begin(), expander_nodes.end(),
            [&](size_t a, size_t b) { return *layout.nodes[a].pxb_bus < *layout.nodes[b].pxb_bus; });

  // PCI0: its devices in slot order (the expanders' pxb-pcie functions have no BARs), then the
  // ICH9 SATA (1f.2: 32 I/O ports, 4 KiB AHCI) and SMBus (1f.3: 64 I/O ports) functions.
  RootBridge pci0;
  uint64_t rom = 0;
  int no_tag = 0;
  for (const PciDevice &d : layout.root_bus) {
    if (d.kind == PciDeviceKind::pcie_root_port) {
      if (d.behind != RootPortChild::none && device_behind_bars(d).empty())
        throw InputError(where + ": devices",
                         std::string("a pcie-root-port:") + root_port_child_name(d.behind) +
                             " on the root bus with devices on an expander: OVMF places the expander's "
                             "windows after the root bus's, so the BARs of the device behind it are "
                             "needed; give them as pcie-root-port:" +
                             root_port_child_name(d.behind) + "(mem32=16M,pref64=64G,...) or --" +
                             root_port_child_name(d.behind) + "-bars");
      add_root_port(pci0, device_behind_bars(d), f, nullptr, no_tag, rom, where);
    } else {
      add_device(pci0, qemu_device_bars(d.kind, f.virtio_net_rom), rom);
    }
  }
  add_device(pci0, {{PciBarType::io, 0x20}, {PciBarType::mem32, 0x1000}}, rom); // ICH9 AHCI
  add_device(pci0, {{PciBarType::io, 0x40}}, rom);                              // ICH9 SMBus
  finish_root_bridge(pci0, rom, where);

  std::vector<AddressRange> taken[3];
  const uint64_t ap_base[3] = {f.io_base, f.mmio32_base, f.mmio64_base};
  const uint64_t ap_limit[3] = {f.io_limit, f.mmio32_limit, f.mmio64_size ? f.mmio64_base + (f.mmio64_size - 1) : 0};
  const char *names[3] = {"I/O", "32-bit memory", "64-bit memory"};
  // NotifyPhase: per root bridge, the request with the largest alignment first (ties: the later
  // type); the apertures are separate, so only the bridges' order matters.
  auto place = [&](RootBridge &rb, const std::string &bridge) {
    for (size_t t = 0; t < 3; ++t)
      if (rb.request[t].length)
        rb.base[t] = allocate(taken[t], ap_base[t], ap_limit[t], rb.request[t], names[t], bridge, where);
  };
  place(pci0, "the root bus");

  std::vector<ExpanderResources> out;
  for (size_t n : expander_nodes) {
    const NumaNode &node = layout.nodes[n];
    RootBridge rb;
    std::vector<PortTags> ports(node.pxb_devices.size());
    int next_tag = 0;
    uint64_t xrom = 0;
    for (size_t i = 0; i < node.pxb_devices.size(); ++i) {
      const PciDevice &d = node.pxb_devices[i];
      if (d.behind != RootPortChild::none && device_behind_bars(d).empty())
        throw InputError(
            where + ": " +
                (from_hugepages ? std::string("hugepages")
                                : "numa_nodes[" + std::to_string(n) + "].pxb_devices[" + std::to_string(i) + "]"),
            std::string("the ") + root_port_child_name(d.behind) +
                " behind a root port on an expander: OVMF sizes the expander's windows from the BARs "
                "of the device behind each root port, and they are not given; write them as "
                "pcie-root-port:" +
                root_port_child_name(d.behind) + "(mem32=16M,pref64=64G,pref64=32M) in a shape file, or --" +
                root_port_child_name(d.behind) +
                "-bars mem32=16M,pref64=64G,... (sizes from `lspci -vv` of the device)");
      add_root_port(rb, device_behind_bars(d), f, &ports[i], next_tag, xrom, where);
    }
    finish_root_bridge(rb, xrom, where);
    place(rb, "the expander on bus " + std::to_string(*node.pxb_bus));
    // Read back where each tagged node landed.
    std::vector<std::pair<uint64_t, uint64_t>> at(static_cast<size_t>(next_tag)); // address, length
    for (size_t t = 0; t < 3; ++t) {
      const NodeList &l = rb.lists[t == 0 ? io : t == 1 ? mem32 : mem64];
      for (const Node &x : l)
        if (x.tag >= 0) at[static_cast<size_t>(x.tag)] = {rb.base[t] + x.offset, x.length};
    }
    ExpanderResources e;
    e.bus = *node.pxb_bus;
    e.max_bus = e.bus + static_cast<uint32_t>(node.pxb_devices.size());
    std::vector<AddressRange> io_r, mem_r;
    auto add_mem = [&](uint64_t base, uint64_t limit) {
      const uint64_t len = limit - base + 1;
      if (limit <= UINT32_MAX && len <= UINT32_MAX)
        mem_r.push_back({base, limit});
      else
        e.mem64.push_back({base, limit});
    };
    for (const PortTags &p : ports) {
      const auto &b0 = at[static_cast<size_t>(p.bar0)];
      add_mem(b0.first, b0.first + b0.second - 1);
      // The window registers' granularity: I/O 4 KiB, memory 1 MiB (pci_bridge_get_limit).
      if (p.window[io] >= 0) {
        const auto &w = at[static_cast<size_t>(p.window[io])];
        io_r.push_back({w.first & ~k_io_bridge_align, (w.first + w.second - 1) | k_io_bridge_align});
      }
      for (Res r : {mem32, pmem32, pmem64}) {
        if (p.window[r] < 0) continue;
        const auto &w = at[static_cast<size_t>(p.window[r])];
        add_mem(w.first & ~k_mem_bridge_align, (w.first + w.second - 1) | k_mem_bridge_align);
      }
    }
    e.io = merge_ranges(io_r);
    e.mem32 = merge_ranges(mem_r);
    e.mem64 = merge_ranges(e.mem64);
    out.push_back(std::move(e));
  }
  return out;
}

} // namespace mrforge
