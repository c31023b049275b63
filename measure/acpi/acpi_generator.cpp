// QEMU q35 ACPI tables (hw/i386/acpi-build.c acpi_build() and the builders it calls), rebuilt
// from a VM shape and an ACPI profile. Each part below names the QEMU function it follows; the
// values a firmware programs (PM base, MMCONFIG base, where 64-bit BARs go) come from the profile.
#include <measure/acpi/acpi_generator.hpp>

#include <measure/acpi/firmware_pci.hpp>

#include <measure/acpi/aml.hpp>
#include <measure/util/errors.hpp>
#include <measure/util/reader.hpp>
#include <measure/util/size_text.hpp>

#include <algorithm>
#include <cstdio>
#include <optional>
#include <string>
#include <tuple>
#include <vector>

namespace mrforge {

namespace {

using aml::Term;

constexpr uint32_t k_tables_align = 0x20000; // ACPI_BUILD_TABLE_SIZE: the tables blob is padded to it
constexpr uint32_t k_loader_align = 0x1000;  // ACPI_BUILD_ALIGN_SIZE: the loader blob is padded to it
constexpr const char *k_tables_file = "etc/acpi/tables";
constexpr const char *k_rsdp_file = "etc/acpi/rsdp";
constexpr uint32_t k_ioapic_address = 0xfec00000;
constexpr uint32_t k_lapic_address = 0xfee00000;
constexpr uint32_t k_hpet_base = 0xfed00000;
constexpr uint32_t k_hpet_len = 0x400;
constexpr uint16_t k_cpu_hotplug_io = 0x0cd8; // ICH9_CPU_HOTPLUG_IO_BASE
constexpr uint8_t k_cpu_hotplug_len = 12;     // ACPI_CPU_HOTPLUG_REG_LEN
constexpr uint16_t k_pcihp_io = 0x0cc0;       // ACPI_PCIHP_ADDR_ICH9
constexpr uint8_t k_pcihp_len = 0x18;         // ACPI_PCIHP_SIZE
constexpr uint16_t k_fw_cfg_io = 0x510;       // FW_CFG_IO_BASE
constexpr uint8_t k_fw_cfg_io_len = 0x0c;     // FW_CFG_CTL_SIZE rounded to 4 + the DMA address (DMA on)
constexpr uint32_t k_pci_irq_mask = (1u << 5) | (1u << 9) | (1u << 10) | (1u << 11); // ACPI_BUILD_PCI_IRQS
constexpr uint64_t k_gib = 1ull << 30;

// The named variations a profile lists (AcpiVariation) are documented in acpi_profile.cpp.

std::string hex_name(const char *fmt, unsigned v) {
  char buf[16];
  std::snprintf(buf, sizeof buf, fmt, v);
  return buf;
}

// The machine as QEMU derives it from the shape (pc_q35_init, mch_update, q35 host properties).
// A PCI Express expander bridge (pxb-pcie) of the NUMA layout.
struct Expander {
  uint32_t bus = 0;   // bus_nr
  uint32_t node = 0;  // numa_node
  unsigned slot = 0;  // on pcie.0
  size_t devices = 0; // root ports on its bus
};

// A root-bus function the DSDT lists: a shape device, or an expander (device == nullptr).
struct RootBusEntry {
  unsigned slot = 0;
  const PciDevice *device = nullptr;
};

struct Machine {
  Machine(const VmShape &s, const AcpiProfile &p) : shape(s), profile(p) {}
  const VmShape &shape;
  const AcpiProfile &profile;
  NumaLayout layout;                  // numa_layout(shape)
  std::vector<Expander> expanders;    // in creation (node) order
  std::vector<RootBusEntry> root_bus; // by slot
  std::vector<uint32_t> cpu_node;     // each vCPU's node (empty without NUMA)
  uint64_t above_4g_start = 0x100000000ull;
  uint64_t below_4g = 0;
  uint64_t above_4g = 0;
  uint64_t hole64_start = 0, hole64_end = 0; // exclusive end
  bool has_64bit_bars = false;
  std::vector<ExpanderResources> expander_resources; // the expanders with devices (firmware_pci.hpp)
};

// A size or address computed from the shape that does not fit in 64 bits.
[[noreturn]] void overflows(const VmShape &s, const std::string &what) {
  throw InputError(shape_origin(s), what + " does not fit in 64 bits");
}

// The NUMA layout as QEMU builds it: expanders at their slots, the root-bus devices around them,
// each vCPU's node, and where RAM above 4 GiB starts (x86ms->above_4g_mem_start: 4 GiB, or 1 TiB
// when an AMD CPU model such as the captures' qemu64 would reach the HyperTransport hole; a
// confidential (TDX, Intel CPU) profile never moves it).
void derive_numa(Machine &m) {
  m.layout = numa_layout(m.shape);
  unsigned k = 0;
  for (size_t n = 0; n < m.layout.nodes.size(); ++n) {
    const NumaNode &node = m.layout.nodes[n];
    for (uint32_t c = 0; c < node.cpus; ++c) m.cpu_node.push_back(static_cast<uint32_t>(n));
    if (node.pxb_bus)
      m.expanders.push_back({*node.pxb_bus, static_cast<uint32_t>(n), k_first_pxb_slot + k++, node.pxb_devices.size()});
  }
  std::vector<unsigned> slots = root_bus_slots(m.layout);
  for (size_t i = 0; i < slots.size(); ++i) m.root_bus.push_back({slots[i], &m.layout.root_bus[i]});
  for (const Expander &e : m.expanders) m.root_bus.push_back({e.slot, nullptr});
  std::sort(m.root_bus.begin(), m.root_bus.end(),
            [](const RootBusEntry &a, const RootBusEntry &b) { return a.slot < b.slot; });
  if (!m.profile.confidential) m.above_4g_start = qemu_above_4g_mem_start(m.shape, m.profile.default_pci_hole64_size);
}

// OVMF's dynamic 64-bit MMIO window for `bits` physical address bits (PlatformInitLib MemDetect.c
// PlatformDynamicMmioWindow): the top eighth of the address space; {base, size}. With
// dynamic_window_avoids_reserved (edk2-stable202502, c0a0b9bc35 PlatformReservationConflictCB) a
// window that overlaps an E820 reservation moves below it, aligned to its size: QEMU reserves the
// AMD HyperTransport hole [0xFD00000000, 1 TiB) for an AMD CPU model (the captures' qemu64) with
// 40 or more physical address bits (hw/i386/pc.c pc_memory_init, AMD_HT_START).
std::pair<uint64_t, uint64_t> dynamic_mmio_window(const AcpiProfile &p, uint32_t bits) {
  const uint64_t size = (1ull << bits) >> 3;
  uint64_t base = (1ull << bits) - size;
  constexpr uint64_t k_amd_ht_start = 0xfd00000000ull, k_amd_ht_end = 0x10000000000ull;
  if (p.dynamic_window_avoids_reserved && bits >= 40 && base < k_amd_ht_end && k_amd_ht_start < base + size)
    base = (k_amd_ht_start - size) & ~(size - 1);
  return {base, size};
}

// The firmware's PCI apertures for the shape (the profile's firmware_pci facts; the 64-bit
// aperture is the dynamic window qemu_min_phys_bits() gives, or the profile's for a confidential
// family).
FirmwarePciFacts firmware_pci_facts(const Machine &m) {
  const AcpiProfile &p = m.profile;
  const FirmwarePciProfile &fp = *p.firmware_pci;
  FirmwarePciFacts f;
  f.io_base = fp.io_base;
  f.io_limit = fp.io_limit;
  f.mmio32_limit = fp.mmio32_limit;
  if (fp.mmio32_uc32) {
    // OvmfPkg PlatformInitLib MemDetect.c PlatformQemuUc32BaseInitialization (edk2-stable202502):
    // Uc32Size = GetPowerOfTwo32(4 GiB - low RAM), the aperture starts at 4 GiB - Uc32Size.
    uint64_t gap = 0x100000000ull - m.below_4g, size = 1;
    while (size * 2 <= gap) size *= 2;
    f.mmio32_base = 0x100000000ull - size;
  } else {
    f.mmio32_base = fp.mmio32_base;
  }
  if (p.default_phys_bits) {
    const uint32_t bits = qemu_min_phys_bits(m.shape, p.default_phys_bits, p.default_pci_hole64_size);
    if (bits > p.phys_bits) // validate_acpi_shape refuses such a shape first; never shift past 63
      throw InputError(shape_origin(m.shape), "RAM above 4 GiB plus the 64-bit PCI hole need more than " +
                                                  std::to_string(p.phys_bits) + " physical address bits");
    std::tie(f.mmio64_base, f.mmio64_size) = dynamic_mmio_window(p, bits);
  } else {
    f.mmio64_base = p.pci64_aperture_base;
    f.mmio64_size = fp.mmio64_size;
  }
  f.root_port_io_padding = fp.root_port_io_padding;
  f.root_port_mem_padding = fp.root_port_mem_padding;
  f.virtio_net_rom = fp.virtio_net_rom;
  return f;
}

// What OVMF gives the expanders' root ports (firmware_pci.hpp), unless the profile models the
// tables as dumped before the firmware ran (expander-ports-unassigned).
void derive_expander_resources(Machine &m) {
  if (m.profile.has(AcpiVariation::expander_ports_unassigned)) return;
  const bool any = std::any_of(m.layout.nodes.begin(), m.layout.nodes.end(),
                               [](const NumaNode &n) { return n.pxb_bus && !n.pxb_devices.empty(); });
  if (!any) return;
  if (!m.profile.firmware_pci)
    throw InputError(shape_origin(m.shape),
                     "root ports on an expander get buses and windows from the firmware before QEMU builds the "
                     "tables, and " +
                         m.profile.name + " has no firmware_pci facts to model that assignment with");
  for (ExpanderResources &e :
       assign_expander_resources(m.layout, firmware_pci_facts(m), shape_origin(m.shape), m.shape.numa_nodes.empty()))
    m.expander_resources.push_back(std::move(e));
}

// Sizes and addresses come from input: every step is checked (size_text.hpp), and the machine
// must fit the profile's address space, as QEMU and OVMF need.
Machine derive_machine(const VmShape &s, const AcpiProfile &p) {
  Machine m{s, p};
  uint64_t lowmem = s.memory >= p.memory_split_threshold ? p.low_ram_when_split : p.memory_split_threshold;
  if (s.memory >= lowmem) {
    m.below_4g = lowmem;
    m.above_4g = s.memory - lowmem;
  } else {
    m.below_4g = s.memory;
  }
  // Every virtio-pci device has a 64-bit prefetchable BAR (the modern BAR 4), which OVMF places at
  // the start of its 64-bit aperture; QEMU's hole64 then starts there (q35_host_get_pci_hole64_start).
  // Root ports get a prefetchable 64-bit window from OVMF too (its hotplug reservation).
  derive_numa(m);
  m.has_64bit_bars = !m.layout.root_bus.empty();
  uint64_t hole64_size = s.pci_hole64_size ? *s.pci_hole64_size : p.default_pci_hole64_size;
  std::optional<uint64_t> end;
  if (p.has(AcpiVariation::pci64_window_at_aperture)) {
    m.hole64_start = p.pci64_aperture_base;
    end = add_sizes(m.hole64_start, hole64_size);
  } else {
    if (m.has_64bit_bars) {
      m.hole64_start = p.pci64_aperture_base;
      if (p.default_phys_bits) {
        // OVMF's dynamic MMIO window (PlatformInitLib PlatformDynamicMmioWindow): the top eighth of
        // the physical address space.
        uint32_t bits = qemu_min_phys_bits(s, p.default_phys_bits, p.default_pci_hole64_size);
        if (bits > p.phys_bits)
          throw InputError(shape_origin(s), "RAM above 4 GiB plus the 64-bit PCI hole need " +
                                                (bits > 64 ? std::string("more than 64") : std::to_string(bits)) +
                                                " physical address bits; QEMU " + p.qemu_version + " allows at most " +
                                                std::to_string(p.phys_bits) + " (" + p.name + " phys_bits)");
        m.hole64_start = dynamic_mmio_window(p, bits).first;
      }
    } else {
      // pc_pci_hole64_start(): the end of RAM above 4 GiB, rounded up to 1 GiB.
      std::optional<uint64_t> ram_end = add_sizes(0x100000000ull, m.above_4g);
      if (ram_end) ram_end = round_up_size(*ram_end, k_gib);
      if (!ram_end) overflows(s, "the end of RAM above 4 GiB");
      m.hole64_start = *ram_end;
    }
    end = add_sizes(m.hole64_start, hole64_size);
    if (end) end = round_up_size(*end, k_gib);
  }
  if (!end)
    overflows(s, "the end of the 64-bit PCI window (" + hex_u64(m.hole64_start) + " + " + hex_u64(hole64_size) + ")");
  m.hole64_end = *end;
  // The window's last byte must be addressable: compare, never add.
  const uint64_t address_space = 1ull << p.phys_bits;
  if (m.hole64_end > address_space)
    throw InputError(shape_origin(s), "the 64-bit PCI window [" + hex_u64(m.hole64_start) + ", " +
                                          hex_u64(m.hole64_end) + ") ends past the " + std::to_string(p.phys_bits) +
                                          "-bit address space of " + p.name + " (2^" + std::to_string(p.phys_bits) +
                                          " = " + hex_u64(address_space) + "); give a smaller pci_hole64_size");
  derive_expander_resources(m);
  return m;
}

// ---- the table blob, the loader and the standard header -----------------------------------

struct Loader {
  static void put_name(Bytes &b, const std::string &name) {
    b.insert(b.end(), name.begin(), name.end());
    b.resize(b.size() + (56 - name.size()), 0);
  }
  static void put_le(Bytes &b, uint64_t v, int n) {
    for (int i = 0; i < n; ++i, v >>= 8) b.push_back(static_cast<uint8_t>(v));
  }
  Bytes allocs;   // ALLOCATE commands go first (QEMU prepends them)
  Bytes commands; // the rest, in order
  void allocate(const std::string &file, uint32_t align, uint8_t zone) {
    Bytes c;
    put_le(c, 1, 4);
    put_name(c, file);
    put_le(c, align, 4);
    c.push_back(zone);
    c.resize(128, 0);
    allocs.insert(allocs.begin(), c.begin(), c.end());
  }
  void add_pointer(const std::string &dest, const std::string &src, uint32_t offset, uint8_t size) {
    Bytes c;
    put_le(c, 2, 4);
    put_name(c, dest);
    put_name(c, src);
    put_le(c, offset, 4);
    c.push_back(size);
    c.resize(128, 0);
    commands.insert(commands.end(), c.begin(), c.end());
  }
  void add_checksum(const std::string &file, uint32_t result, uint32_t start, uint32_t length) {
    Bytes c;
    put_le(c, 3, 4);
    put_name(c, file);
    put_le(c, result, 4);
    put_le(c, start, 4);
    put_le(c, length, 4);
    c.resize(128, 0);
    commands.insert(commands.end(), c.begin(), c.end());
  }
  Bytes finish() const {
    Bytes out = allocs;
    out.insert(out.end(), commands.begin(), commands.end());
    out.resize((out.size() + k_loader_align - 1) / k_loader_align * k_loader_align, 0);
    return out;
  }
};

class TableBlob {
public:
  explicit TableBlob(Loader &loader) : m_loader(loader) {}
  Bytes &bytes() { return m_bytes; }
  uint32_t size() const { return static_cast<uint32_t>(m_bytes.size()); }
  void le(uint64_t v, int n) { Loader::put_le(m_bytes, v, n); }
  void append(const Bytes &b) { m_bytes.insert(m_bytes.end(), b.begin(), b.end()); }

  // acpi_table_begin: the 36-byte header with length and checksum left for acpi_table_end.
  uint32_t begin(const char *sig, uint8_t rev, const AcpiProfile &p) {
    uint32_t start = size();
    m_bytes.insert(m_bytes.end(), sig, sig + 4);
    le(0, 4);
    m_bytes.push_back(rev);
    m_bytes.push_back(0);
    pad_str(p.oem_id, 6);
    pad_str(p.oem_table_id, 8);
    le(1, 4);
    m_bytes.insert(m_bytes.end(), p.creator_id.begin(), p.creator_id.end());
    le(1, 4);
    return start;
  }
  // acpi_table_end: patch the length, checksum through the loader.
  void end(uint32_t start, const char *sig, std::vector<GeneratedTable> &tables) {
    uint32_t len = size() - start;
    for (int i = 0; i < 4; ++i) m_bytes[start + 4 + static_cast<uint32_t>(i)] = static_cast<uint8_t>(len >> (8 * i));
    m_loader.add_checksum(k_tables_file, start + 9, start, len);
    tables.push_back({sig, start, len});
  }
  // A pointer field holding the pointee's offset (bios_linker_loader_add_pointer writes it there).
  void pointer(uint32_t target_offset, int size, const std::string &dest_file = k_tables_file) {
    m_loader.add_pointer(dest_file, k_tables_file, this->size(), static_cast<uint8_t>(size));
    le(target_offset, size);
  }

private:
  void pad_str(const std::string &s, size_t n) {
    m_bytes.insert(m_bytes.end(), s.begin(), s.end());
    m_bytes.resize(m_bytes.size() + (n - s.size()), 0);
  }
  Loader &m_loader;
  Bytes m_bytes;
};

void append_gas(TableBlob &t, uint8_t space, uint8_t bit_width, uint8_t bit_offset, uint8_t access, uint64_t address) {
  t.le(space, 1);
  t.le(bit_width, 1);
  t.le(bit_offset, 1);
  t.le(access, 1);
  t.le(address, 8);
}

// ---- DSDT ---------------------------------------------------------------------------------

// build_dbg_aml
Term dbg_aml() {
  using namespace aml;
  Term scope = aml::scope("\\");
  scope << operation_region("DBG", system_io, integer(0x0402), 0x01);
  Term f = field("DBG", byte_acc, no_lock, preserve);
  f << named_field("DBGB", 8);
  scope << f;
  Term m = method("DBUG", 1, not_serialized);
  m << to_hexstring(arg(0), local(0));
  m << to_buffer(local(0), local(0));
  m << subtract(sizeof_(local(0)), integer(1), local(1));
  m << store(integer(0), local(2));
  Term w = while_(lless(local(2), local(1)));
  w << store(derefof(index(local(0), local(2))), name("DBGB"));
  w << increment(local(2));
  m << w;
  m << store(integer(0x0a), name("DBGB"));
  scope << m;
  return scope;
}

// build_q35_osc_method
Term q35_osc_method(bool native_pcie_hotplug) {
  using namespace aml;
  Term m = method("_OSC", 4, not_serialized);
  m << create_dword_field(arg(3), integer(0), "CDW1");
  Term ifc = if_(lequal(arg(0), touuid("33DB4D5B-1FF7-401C-9657-7441C03DD766")));
  ifc << create_dword_field(arg(3), integer(4), "CDW2");
  ifc << create_dword_field(arg(3), integer(8), "CDW3");
  ifc << store(name("CDW3"), local(0));
  ifc << and_(local(0), integer(0x1e | (native_pcie_hotplug ? 1 : 0)), local(0));
  Term if2 = if_(lnot(lequal(arg(1), integer(1))));
  if2 << or_(name("CDW1"), integer(0x08), name("CDW1"));
  ifc << if2;
  Term if3 = if_(lnot(lequal(name("CDW3"), local(0))));
  if3 << or_(name("CDW1"), integer(0x10), name("CDW1"));
  ifc << if3;
  ifc << store(local(0), name("CDW3"));
  m << ifc;
  Term el = else_();
  el << or_(name("CDW1"), integer(4), name("CDW1"));
  m << el;
  m << return_(arg(3));
  return m;
}

// build_q35_dram_controller
Term q35_dram_controller(uint64_t base, uint64_t size) {
  using namespace aml;
  Term dev = device("DRAC");
  dev << name_decl("_HID", string("PNP0C01"));
  Term crs = resource_template();
  if (base + size - 1 >= (1ull << 32))
    crs << qword_memory(false, base, base + size - 1, size);
  else
    crs << dword_memory(false, static_cast<uint32_t>(base), static_cast<uint32_t>(base + size - 1),
                        static_cast<uint32_t>(size));
  dev << name_decl("_CRS", crs);
  return dev;
}

// UUID and revision checks shared by PDSM and EDSM (build_append_pci_dsm_func0_common, 8.0).
void dsm_func0_prolog(Term &ctx) {
  using namespace aml;
  ctx << store(buffer(Bytes{0}), local(0));
  Term if1 = if_(lnot(lequal(arg(0), touuid("E5C937D0-3553-4D7A-9117-EA4D19C3434D"))));
  if1 << return_(local(0));
  ctx << if1;
  Term if2 = if_(lless(arg(1), integer(2)));
  if2 << return_(local(0));
  ctx << if2;
}

// aml_pci_pdsm
Term pci_pdsm(const AcpiProfile &p) {
  using namespace aml;
  auto bnum = [] { return derefof(index(arg(4), integer(0))); };
  auto sunum = [] { return derefof(index(arg(4), integer(1))); };
  Term m = method("PDSM", 5, serialized);
  Term ifc = if_(lequal(arg(2), integer(0)));
  if (p.has(AcpiVariation::qemu_8_0_pci_aml)) {
    dsm_func0_prolog(ifc);
    ifc << store(integer(0), local(1));
  } else {
    ifc << store(buffer(Bytes{0}), local(0));
    ifc << store(integer(0), local(1));
    Term if1 = if_(lnot(lequal(arg(0), touuid("E5C937D0-3553-4D7A-9117-EA4D19C3434D"))));
    if1 << return_(local(0));
    ifc << if1;
    Term if2 = if_(lless(arg(1), integer(2)));
    if2 << return_(local(0));
    ifc << if2;
  }
  ifc << store(call("AIDX", {bnum(), sunum()}), local(2));
  Term if3 = if_(lnot(or_(lequal(local(2), integer(0)), lequal(local(2), integer(0xffffffff)))));
  if3 << or_(local(1), integer(1), local(1));
  if3 << or_(local(1), shift_left(integer(1), integer(7)), local(1));
  ifc << if3;
  ifc << store(local(1), index(local(0), integer(0)));
  ifc << return_(local(0));
  m << ifc;
  Term if7 = if_(lequal(arg(2), integer(7)));
  if (p.has(AcpiVariation::pdsm_func7_prefilled)) {
    Term pkg = package(2);
    pkg << integer(0) << string("");
    if7 << store(pkg, local(0));
    if7 << store(call("AIDX", {bnum(), sunum()}), local(2));
    if7 << store(local(2), index(local(0), integer(0)));
  } else {
    if7 << store(call("AIDX", {bnum(), sunum()}), local(2));
    if7 << store(package(2), local(0));
    Term if8 = if_(lnot(lor(lequal(local(2), integer(0)), lequal(local(2), integer(0xffffffff)))));
    if8 << store(local(2), index(local(0), integer(0)));
    if8 << store(string(""), index(local(0), integer(1)));
    if7 << if8;
  }
  if7 << return_(local(0));
  m << if7;
  return m;
}

// aml_pci_edsm (8.0): _DSM for devices with a static acpi-index.
Term pci_edsm() {
  using namespace aml;
  Term m = method("EDSM", 5, serialized);
  Term ifc = if_(lequal(arg(2), integer(0)));
  dsm_func0_prolog(ifc);
  ifc << store(integer(1 | (1 << 7)), index(local(0), integer(0)));
  ifc << return_(local(0));
  m << ifc;
  Term if7 = if_(lequal(arg(2), integer(7)));
  Term pkg = package(2);
  pkg << integer(0) << string("");
  if7 << store(pkg, local(0));
  if7 << store(derefof(index(arg(4), integer(0))), local(1));
  if7 << store(local(1), index(local(0), integer(0)));
  if7 << return_(local(0));
  m << if7;
  return m;
}

// build_x86_acpi_pci_hotplug
Term pci_hotplug_aml(const AcpiProfile &p) {
  using namespace aml;
  Term scope = aml::scope("_SB.PCI0");
  scope << operation_region("PCST", system_io, integer(k_pcihp_io), 0x08);
  Term f = field("PCST", dword_acc, no_lock, write_as_zeros);
  f << named_field("PCIU", 32) << named_field("PCID", 32);
  scope << f;
  scope << operation_region("SEJ", system_io, integer(k_pcihp_io + 0x8), 0x04);
  f = field("SEJ", dword_acc, no_lock, write_as_zeros);
  f << named_field("B0EJ", 32);
  scope << f;
  scope << operation_region("BNMR", system_io, integer(k_pcihp_io + 0x10), 0x08);
  f = field("BNMR", dword_acc, no_lock, write_as_zeros);
  f << named_field("BNUM", 32) << named_field("PIDX", 32);
  scope << f;
  scope << mutex("BLCK", 0);
  Term m = method("PCEJ", 2, not_serialized);
  m << acquire(name("BLCK"), 0xffff);
  m << store(arg(0), name("BNUM"));
  m << store(shift_left(integer(1), arg(1)), name("B0EJ"));
  m << release(name("BLCK"));
  m << return_(integer(0));
  scope << m;
  m = method("AIDX", 2, not_serialized);
  m << acquire(name("BLCK"), 0xffff);
  m << store(arg(0), name("BNUM"));
  m << store(shift_left(integer(1), arg(1)), name("PIDX"));
  m << store(name("PIDX"), local(0));
  m << release(name("BLCK"));
  m << return_(local(0));
  scope << m;
  scope << pci_pdsm(p);
  return scope;
}

// append_q35_prt_entry / build_q35_routing_table
void append_q35_prt_entry(Term &pkg, uint32_t nr, const std::string &link) {
  char base = link[3] < 'E' ? 'A' : 'E';
  int head = link[3] - base;
  std::string s = link;
  for (int i = 0; i < 4; ++i) {
    if (head + i > 3) head = -i;
    s[3] = static_cast<char>(base + head + i);
    Term entry = aml::package(4);
    entry << aml::integer((nr << 16) | 0xffff) << aml::integer(static_cast<uint64_t>(i)) << aml::name(s)
          << aml::integer(0);
    pkg << entry;
  }
}

Term q35_routing_table(const std::string &prefix) {
  Term pkg = aml::package(128);
  std::string name = prefix + " ";
  for (uint32_t i = 0; i < 0x18; ++i) {
    name[3] = static_cast<char>('E' + (i & 3));
    append_q35_prt_entry(pkg, i, name);
  }
  name[3] = 'E';
  append_q35_prt_entry(pkg, 0x18, name);
  for (uint32_t i = 0x19; i < 0x1e; ++i) {
    name[3] = 'A';
    append_q35_prt_entry(pkg, i, name);
  }
  name[3] = 'E';
  append_q35_prt_entry(pkg, 0x1e, name);
  name[3] = 'A';
  append_q35_prt_entry(pkg, 0x1f, name);
  return pkg;
}

// build_link_dev
Term link_dev(const std::string &dev_name, uint8_t uid, const std::string &reg, bool edge) {
  using namespace aml;
  Term dev = device(dev_name);
  dev << name_decl("_HID", eisaid("PNP0C0F"));
  dev << name_decl("_UID", integer(uid));
  Term crs = resource_template();
  crs << interrupt(true, edge, false, true, {5, 10, 11});
  dev << name_decl("_PRS", crs);
  Term m = method("_STA", 0, not_serialized);
  m << return_(call("IQST", {name(reg)}));
  dev << m;
  m = method("_DIS", 0, not_serialized);
  m << or_(name(reg), integer(0x80), name(reg));
  dev << m;
  m = method("_CRS", 0, not_serialized);
  m << return_(call("IQCR", {name(reg)}));
  dev << m;
  m = method("_SRS", 1, not_serialized);
  m << create_dword_field(arg(0), integer(5), "PRRI");
  m << store(name("PRRI"), name(reg));
  dev << m;
  return dev;
}

// build_gsi_link_dev
Term gsi_link_dev(const std::string &dev_name, uint8_t uid, uint8_t gsi, bool edge) {
  using namespace aml;
  Term dev = device(dev_name);
  dev << name_decl("_HID", eisaid("PNP0C0F"));
  dev << name_decl("_UID", integer(uid));
  Term crs = resource_template();
  crs << interrupt(true, edge, false, true, {gsi});
  dev << name_decl("_PRS", crs);
  dev << name_decl("_CRS", crs);
  dev << method("_DIS", 0, not_serialized);
  dev << method("_SRS", 1, not_serialized);
  return dev;
}

// build_q35_pci0_int (appends PICF/_PIC to the table and returns the _SB scope)
void q35_pci0_int(Term &table, const AcpiProfile &p) {
  using namespace aml;
  const bool edge = p.has(AcpiVariation::tdx_edge_irqs);
  table << name_decl("PICF", integer(0));
  Term m = method("_PIC", 1, not_serialized);
  m << store(arg(0), name("PICF"));
  table << m;
  Term sb = scope("_SB");
  Term pci0 = scope("PCI0");
  pci0 << name_decl("PRTP", q35_routing_table("LNK"));
  pci0 << name_decl("PRTA", q35_routing_table("GSI"));
  m = method("_PRT", 0, not_serialized);
  Term ifc = if_(lequal(name("PICF"), integer(0)));
  ifc << return_(name("PRTP"));
  m << ifc;
  Term el = else_();
  el << return_(name("PRTA"));
  m << el;
  pci0 << m;
  sb << pci0;
  // build_irq_status_method
  m = method("IQST", 1, not_serialized);
  ifc = if_(and_(integer(0x80), arg(0)));
  ifc << return_(integer(0x09));
  m << ifc;
  m << return_(integer(0x0b));
  sb << m;
  // build_iqcr_method(is_piix4 = false)
  m = method("IQCR", 1, serialized);
  Term crs = resource_template();
  crs << interrupt(true, edge, false, true, {0});
  m << name_decl("PRR0", crs);
  m << create_dword_field(name("PRR0"), integer(5), "PRRI");
  m << store(and_(arg(0), integer(0xf)), name("PRRI"));
  m << return_(name("PRR0"));
  sb << m;
  const char *links = "ABCDEFGH";
  for (uint8_t i = 0; i < 8; ++i) sb << link_dev(std::string("LNK") + links[i], i, std::string("PRQ") + links[i], edge);
  for (uint8_t i = 0; i < 8; ++i)
    sb << gsi_link_dev(std::string("GSI") + links[i], static_cast<uint8_t>(0x10 + i), static_cast<uint8_t>(0x10 + i),
                       edge);
  table << sb;
}

// build_hpet_aml
Term hpet_aml() {
  using namespace aml;
  Term sb = scope("_SB");
  Term dev = device("HPET");
  dev << name_decl("_HID", eisaid("PNP0103"));
  dev << name_decl("_UID", integer(0));
  dev << operation_region("HPTM", system_memory, integer(k_hpet_base), k_hpet_len);
  Term f = field("HPTM", dword_acc, lock, preserve);
  f << named_field("VEND", 32) << named_field("PRD", 32);
  dev << f;
  Term m = method("_STA", 0, not_serialized);
  m << store(name("VEND"), local(0));
  m << store(name("PRD"), local(1));
  m << shift_right(local(0), integer(16), local(0));
  Term ifc = if_(lor(lequal(local(0), integer(0)), lequal(local(0), integer(0xffff))));
  ifc << return_(integer(0));
  m << ifc;
  ifc = if_(lor(lequal(local(1), integer(0)), lgreater(local(1), integer(100000000))));
  ifc << return_(integer(0));
  m << ifc;
  m << return_(integer(0x0f));
  dev << m;
  Term crs = resource_template();
  crs << memory32_fixed(k_hpet_base, k_hpet_len, false);
  dev << name_decl("_CRS", crs);
  sb << dev;
  return sb;
}

// The MADT entry of one CPU (pc_madt_cpu_entry), always enabled as in _MAT.
Bytes madt_cpu_entry(uint32_t uid, uint32_t apic_id) {
  Bytes e;
  if (apic_id < 255) {
    e = {0, 8, static_cast<uint8_t>(uid), static_cast<uint8_t>(apic_id), 1, 0, 0, 0};
  } else {
    e = {9, 16, 0, 0};
    Loader::put_le(e, apic_id, 4);
    Loader::put_le(e, 1, 4);
    Loader::put_le(e, uid, 4);
  }
  return e;
}

// build_cpus_aml (hw/acpi/cpu.c), with acpi_1_compatible and has_legacy_cphp set (q35).
void cpus_aml(Term &table, const Machine &m) {
  using namespace aml;
  const std::string res = "\\_SB.PCI0.PRES";
  const bool smi = m.profile.cpu_hotplug_smi && m.shape.smm;
  const uint32_t n = m.shape.cpus;
  Term sb = scope("_SB");
  Term ctrl = device(res);
  ctrl << name_decl("_HID", eisaid("PNP0A06"));
  ctrl << name_decl("_UID", string("CPU Hotplug resources"));
  ctrl << mutex("CPLK", 0);
  Term crs = resource_template();
  crs << io(k_cpu_hotplug_io, k_cpu_hotplug_io, 1, k_cpu_hotplug_len);
  ctrl << name_decl("_CRS", crs);
  ctrl << operation_region("PRST", system_io, integer(k_cpu_hotplug_io), k_cpu_hotplug_len);
  Term f = field("PRST", byte_acc, no_lock, write_as_zeros);
  f << reserved_field(4 * 8) << named_field("CPEN", 1) << named_field("CINS", 1) << named_field("CRMV", 1)
    << named_field("CEJ0", 1) << named_field("CEJF", 1) << reserved_field(3) << named_field("CCMD", 8);
  ctrl << f;
  f = field("PRST", dword_acc, no_lock, preserve);
  f << named_field("CSEL", 32) << reserved_field(4 * 8) << named_field("CDAT", 32);
  ctrl << f;
  if (!m.profile.has(AcpiVariation::cpuhp_no_legacy_init)) {
    Term ini = method("_INI", 0, serialized);
    ini << store(integer(0), name("CSEL"));
    ctrl << ini;
  }
  sb << ctrl;

  auto r = [&](const char *field_name) { return name(res + "." + field_name); };
  Term cpus = device("\\_SB.CPUS");
  cpus << name_decl("_HID", string("ACPI0010"));
  cpus << name_decl("_CID", eisaid("PNP0A05"));
  Term mt = method("CTFY", 2, not_serialized);
  for (uint32_t i = 0; i < n; ++i) {
    Term ifc = if_(lequal(arg(0), integer(i)));
    ifc << notify(name(hex_name("C%.03X", i)), arg(1));
    mt << ifc;
  }
  cpus << mt;

  mt = method("CSTA", 1, serialized);
  mt << acquire(r("CPLK"), 0xffff);
  mt << store(arg(0), r("CSEL"));
  mt << store(integer(0), local(0));
  Term ifc = if_(lequal(r("CPEN"), integer(1)));
  ifc << store(integer(0xf), local(0));
  mt << ifc;
  mt << release(r("CPLK"));
  mt << return_(local(0));
  cpus << mt;

  mt = method("CEJ0", 1, serialized);
  mt << acquire(r("CPLK"), 0xffff);
  mt << store(arg(0), r("CSEL"));
  if (smi && m.profile.cpu_unplug_smi) {
    mt << store(integer(1), r("CEJF"));
    mt << store(integer(4), name("\\_SB.PCI0.SMI0.SMIC"));
  } else {
    mt << store(integer(1), r("CEJ0"));
  }
  mt << release(r("CPLK"));
  cpus << mt;

  // CPU_SCAN_METHOD. With cpuhp-eject-list (QEMU 10.0+), remove events are queued in CEJL
  // (count in Local5) like insert events in CNEW, instead of being notified only when a CPU has no
  // insert event, and are notified after the inserted CPUs.
  const bool eject_list = m.profile.has(AcpiVariation::cpuhp_eject_list);
  const uint8_t max_cpus_per_pass = 255;
  mt = method("CSCN", 0, serialized);
  {
    mt << acquire(r("CPLK"), 0xffff);
    mt << name_decl("CNEW", package(max_cpus_per_pass));
    if (eject_list) mt << name_decl("CEJL", package(max_cpus_per_pass));
    mt << store(integer(0), local(3));
    mt << store(integer(1), local(4));
    Term w2 = while_(lequal(local(4), integer(1)));
    w2 << store(integer(0), local(4));
    w2 << store(integer(1), local(0));
    w2 << store(integer(0), local(1));
    if (eject_list) w2 << store(integer(0), local(5));
    Term w = while_(land(lequal(local(0), integer(1)), lless(local(3), integer(n))));
    w << store(integer(0), local(0));
    w << store(local(3), r("CSEL"));
    w << store(integer(0), r("CCMD")); // CPHP_GET_NEXT_CPU_WITH_EVENT_CMD
    Term i1 = if_(lless(r("CDAT"), local(3)));
    i1 << break_();
    w << i1;
    // A full CNEW (or CEJL) ends the pass; the next one resumes at this CPU.
    Term full = lequal(local(1), integer(max_cpus_per_pass));
    if (eject_list) full = lor(full, lequal(local(5), integer(max_cpus_per_pass)));
    Term i2 = if_(full);
    i2 << store(integer(1), local(4)) << break_();
    w << i2;
    w << store(r("CDAT"), local(3));
    Term i3 = if_(lequal(r("CINS"), integer(1)));
    i3 << store(local(3), index(name("CNEW"), local(1)));
    i3 << increment(local(1));
    i3 << store(integer(1), local(0));
    w << i3;
    Term i4 = if_(lequal(r("CRMV"), integer(1)));
    if (eject_list) {
      i4 << store(local(3), index(name("CEJL"), local(5)));
      i4 << increment(local(5));
      i4 << store(integer(1), local(0));
      w << i4;
    } else {
      i4 << call("CTFY", {local(3), integer(3)});
      i4 << store(integer(1), r("CRMV"));
      i4 << store(integer(1), local(0));
      Term el = else_();
      el << i4;
      w << el;
    }
    w << increment(local(3));
    w2 << w;
    if (smi) {
      Term i5 = if_(lgreater(local(1), integer(0)));
      i5 << store(integer(4), name("\\_SB.PCI0.SMI0.SMIC"));
      w2 << i5;
    }
    w2 << store(integer(0), local(2));
    Term w3 = while_(lless(local(2), local(1)));
    w3 << store(derefof(index(name("CNEW"), local(2))), local(3));
    w3 << call("CTFY", {local(3), integer(1)});
    w3 << store(local(3), debug());
    w3 << store(local(3), r("CSEL"));
    w3 << store(integer(1), r("CINS"));
    w3 << increment(local(2));
    w2 << w3;
    if (eject_list) {
      // Eject requests (CTFY 3) for the queued CPUs, each remove event then cleared.
      w2 << store(integer(0), local(2));
      Term w4 = while_(lless(local(2), local(5)));
      w4 << store(derefof(index(name("CEJL"), local(2))), local(3));
      w4 << call("CTFY", {local(3), integer(3)});
      w4 << store(local(3), r("CSEL"));
      w4 << store(integer(1), r("CRMV"));
      w4 << increment(local(2));
      w2 << w4;
    }
    mt << w2;
    mt << release(r("CPLK"));
  }
  cpus << mt;

  mt = method("COST", 4, serialized);
  mt << acquire(r("CPLK"), 0xffff);
  mt << store(arg(0), r("CSEL"));
  mt << store(integer(1), r("CCMD")); // CPHP_OST_EVENT_CMD
  mt << store(arg(1), r("CDAT"));
  mt << store(integer(2), r("CCMD")); // CPHP_OST_STATUS_CMD
  mt << store(arg(2), r("CDAT"));
  mt << release(r("CPLK"));
  cpus << mt;

  for (uint32_t i = 0; i < n; ++i) {
    uint32_t apic_id = i; // one socket, contiguous APIC ids (see validate_shape)
    std::string cname = hex_name("C%.03X", i);
    Term dev;
    if (apic_id < 255) {
      dev = processor(static_cast<uint8_t>(i), 0, 0, cname);
    } else {
      dev = device(cname);
      dev << name_decl("_HID", string("ACPI0007"));
      dev << name_decl("_UID", integer(i));
    }
    Term sta = method("_STA", 0, serialized);
    sta << return_(call("CSTA", {integer(i)}));
    dev << sta;
    dev << name_decl("_MAT", buffer(madt_cpu_entry(i, apic_id)));
    if (i != 0) {
      Term ej = method("_EJ0", 1, not_serialized);
      ej << call("CEJ0", {integer(i)});
      dev << ej;
    }
    Term ost = method("_OST", 3, serialized);
    ost << call("COST", {integer(i), arg(0), arg(1), arg(2)});
    dev << ost;
    // With NUMA every vCPU has a node (props.has_node_id), given as _PXM.
    if (!m.cpu_node.empty()) dev << name_decl("_PXM", integer(m.cpu_node[i]));
    cpus << dev;
  }
  sb << cpus;
  table << sb;

  Term e02 = method("\\_GPE._E02", 0, not_serialized);
  e02 << call("\\_SB.CPUS.CSCN");
  table << e02;
}

// Ranges of the PCI0 _CRS after removing the used ones (crs_replace_with_free_ranges).
struct Range {
  uint64_t base, limit;
};
std::vector<Range> free_ranges(std::vector<Range> used, uint64_t start, uint64_t end) {
  std::sort(used.begin(), used.end(), [](const Range &a, const Range &b) { return a.base < b.base; });
  std::vector<Range> out;
  uint64_t free_base = start;
  for (const Range &u : used) {
    if (free_base < u.base) out.push_back({free_base, u.base - 1});
    free_base = u.limit + 1;
  }
  if (free_base < end) out.push_back({free_base, end});
  return out;
}

// aml_pci_device_dsm before QEMU 8.0: the package is built from the names.
Term pci_device_dsm_v7() {
  using namespace aml;
  Term dsm = method("_DSM", 4, serialized);
  Term pkg = package(2);
  pkg << name("BSEL") << name("ASUN");
  dsm << store(pkg, local(0));
  dsm << return_(call("PDSM", {arg(0), arg(1), arg(2), arg(3), local(0)}));
  return dsm;
}

// aml_pci_device_dsm as of QEMU 8.0: the package is filled by index.
Term pci_device_dsm_v8() {
  using namespace aml;
  Term dsm = method("_DSM", 4, serialized);
  Term pkg = package(2);
  pkg << integer(0) << integer(0);
  dsm << store(pkg, local(0));
  dsm << store(name("BSEL"), index(local(0), integer(0)));
  dsm << store(name("ASUN"), index(local(0), integer(1)));
  dsm << return_(call("PDSM", {arg(0), arg(1), arg(2), arg(3), local(0)}));
  return dsm;
}

// The hotplug slots of a root port's secondary bus with BSEL `bsel` (build_append_pci_bus_devices
// before 8.0, build_append_pcihp_slots as of 8.0): PCI Express, so only slot 0, with its _DSM
// (`dsm`, per version), _SUN and _EJ0, then the bus's DVNT. The slot is a Device with _ADR, or a
// Scope when `as_scope` (8.0 and later, for a slot whose device has AML of its own: a GPU).
void hotplug_slot0(Term &dev, uint32_t bsel, const Term &dsm, bool as_scope) {
  using namespace aml;
  dev << name_decl("BSEL", integer(bsel));
  Term slot0 = as_scope ? scope("S00") : device("S00");
  if (!as_scope) slot0 << name_decl("_ADR", integer(0));
  slot0 << name_decl("ASUN", integer(0));
  slot0 << dsm;
  slot0 << name_decl("_SUN", integer(0));
  Term ej0 = method("_EJ0", 1, not_serialized);
  ej0 << call("PCEJ", {name("BSEL"), name("_SUN")});
  slot0 << ej0;
  dev << slot0;
  Term dvnt = method("DVNT", 2, not_serialized);
  Term ifc = if_(and_(arg(0), integer(1u << 0)));
  ifc << notify(name("S00"), arg(1));
  dvnt << ifc;
  dev << dvnt;
}

// build_append_pci_bus_devices (before 8.0) for a root port's secondary bus with ACPI hotplug:
// the slots, then the bus's PCNT.
void root_port_bus(Term &dev, uint32_t bsel) {
  using namespace aml;
  hotplug_slot0(dev, bsel, pci_device_dsm_v7(), false);
  Term pcnt = method("PCNT", 0, not_serialized);
  pcnt << store(integer(bsel), name("BNUM"));
  pcnt << call("DVNT", {name("PCIU"), integer(1)});
  pcnt << call("DVNT", {name("PCID"), integer(3)});
  dev << pcnt;
}

// A PNP0A06 device that reserves `length` I/O ports at `port` (QEMU's GPE0 and PHPR).
Term io_resources_device(const char *name, const char *uid, uint16_t port, uint8_t length) {
  using namespace aml;
  Term dev = device(name);
  dev << name_decl("_HID", string("PNP0A06"));
  dev << name_decl("_UID", string(uid));
  dev << name_decl("_STA", integer(0xb));
  Term crs = resource_template();
  crs << io(port, port, 1, length);
  dev << name_decl("_CRS", crs);
  return dev;
}

// 00.0 the host bridge: no AML of its own, listed with its address.
Term host_bridge_device() {
  using namespace aml;
  Term host = device("S00");
  host << name_decl("_ADR", integer(0));
  return host;
}

// 1f.3 SMBus: it has an AML hook, so it is listed although it is not function 0.
Term smbus_device() {
  using namespace aml;
  Term smb = device("SFB");
  smb << name_decl("_ADR", integer(0x001f0003));
  return smb;
}

// 1f.0 LPC with the ISA devices (build_ich9_isa_aml).
Term lpc_device(const AcpiProfile &p) {
  using namespace aml;
  Term lpc = device("SF8");
  lpc << name_decl("_ADR", integer(0x001f0000));
  lpc << operation_region("PIRQ", pci_config, integer(0x60), 0x0c);
  Term sb = scope("\\_SB");
  Term f = field("PCI0.SF8.PIRQ", byte_acc, no_lock, preserve);
  f << named_field("PRQA", 8) << named_field("PRQB", 8) << named_field("PRQC", 8) << named_field("PRQD", 8)
    << reserved_field(0x20) << named_field("PRQE", 8) << named_field("PRQF", 8) << named_field("PRQG", 8)
    << named_field("PRQH", 8);
  sb << f;
  lpc << sb;
  // ISA bus children, newest first: i8042, the serial port, the RTC.
  Term crs = resource_template();
  crs << io(0x60, 0x60, 1, 1) << io(0x64, 0x64, 1, 1) << irq_no_flags(1);
  Term kbd = device("KBD");
  kbd << name_decl("_HID", eisaid("PNP0303")) << name_decl("_STA", integer(0xf)) << name_decl("_CRS", crs);
  crs = resource_template();
  crs << irq_no_flags(12);
  Term mou = device("MOU");
  mou << name_decl("_HID", eisaid("PNP0F13")) << name_decl("_STA", integer(0xf)) << name_decl("_CRS", crs);
  lpc << kbd << mou;
  crs = resource_template();
  crs << io(0x3f8, 0x3f8, 0, 8);
  if (p.has(AcpiVariation::com1_irq_level_shared))
    crs << irq(4, false /* level */, true /* active low */, true /* shared */);
  else
    crs << irq_no_flags(4);
  Term com = device("COM1");
  com << name_decl("_HID", eisaid("PNP0501")) << name_decl("_UID", integer(1)) << name_decl("_STA", integer(0xf))
      << name_decl("_CRS", crs);
  lpc << com;
  crs = resource_template();
  crs << io(0x70, 0x70, 1, 8) << irq_no_flags(8);
  Term rtc = device("RTC");
  rtc << name_decl("_HID", eisaid("PNP0B00")) << name_decl("_CRS", crs);
  lpc << rtc;
  return lpc;
}

// The root ports on pcie.0 (not those on expanders).
uint32_t root_bus_root_ports(const Machine &m) {
  return static_cast<uint32_t>(
      std::count_if(m.layout.root_bus.begin(), m.layout.root_bus.end(),
                    [](const PciDevice &d) { return d.kind == PciDeviceKind::pcie_root_port; }));
}

// The root bus's devices (build_append_pci_bus_devices for pcie.0 without ACPI hotplug on it).
void root_bus_devices(Term &pci0, const Machine &m) {
  using namespace aml;
  pci0 << host_bridge_device();
  // user devices, slots 1.. in order
  // BSELs are numbered walking the buses depth first, child buses newest first (QEMU's
  // acpi_set_bsel over a head-inserted list): the last root port's bus gets 0.
  // Expanders' buses are older than the root ports' (mrforge acpi capture starts them first), so
  // their root ports' buses are numbered after these and change nothing here.
  uint32_t bsel = root_bus_root_ports(m);
  std::vector<unsigned> bridge_devfns;
  for (const RootBusEntry &e : m.root_bus) {
    const unsigned slot = e.slot;
    Term dev = device(hex_name("S%.02X", slot << 3));
    dev << name_decl("_ADR", integer(static_cast<uint64_t>(slot) << 16));
    if (e.device && e.device->kind == PciDeviceKind::pcie_root_port && m.shape.pci_hotplug) {
      // A cold-plugged bridge described in ACPI with its secondary bus (bridge_in_acpi): the bus
      // gets the next BSEL and, being PCI Express, only slot 0, hotpluggable whether or not a
      // device (a GPU) sits there.
      root_port_bus(dev, --bsel);
      bridge_devfns.push_back(slot << 3);
    }
    pci0 << dev;
  }
  pci0 << lpc_device(m.profile);
  pci0 << smbus_device();
  if (m.shape.pci_hotplug) {
    // PCNT notifies the child buses' PCNT, newest bus first (QEMU keeps child buses in a list it
    // inserts at the head).
    Term pcnt = method("PCNT", 0, not_serialized);
    for (auto it = bridge_devfns.rbegin(); it != bridge_devfns.rend(); ++it)
      pcnt << name(hex_name("^S%.02X.PCNT", *it));
    pci0 << pcnt;
  }
}

// build_append_pci_bus_devices (8.0) for pcie.0: every present function, each with its own AML.
// Returns the root ports' devfns and BSELs (for the notification chain).
std::vector<std::pair<unsigned, uint32_t>> root_bus_devices_v8(Term &pci0, const Machine &m) {
  using namespace aml;
  std::vector<std::pair<unsigned, uint32_t>> bridges;
  pci0 << host_bridge_device();
  uint32_t bsel = root_bus_root_ports(m);
  for (const RootBusEntry &e : m.root_bus) {
    const unsigned slot = e.slot;
    Term dev = device(hex_name("S%.02X", slot << 3));
    dev << name_decl("_ADR", integer(static_cast<uint64_t>(slot) << 16));
    if (e.device && e.device->kind == PciDeviceKind::pcie_root_port) {
      const PciDevice &d = *e.device;
      // build_pci_bridge_aml: the secondary bus's devices, then its hotplug slots.
      bool occupied = d.behind != RootPortChild::none;
      if (occupied) {
        Term child = device("S00");
        child << name_decl("_ADR", integer(0));
        dev << child;
      }
      if (m.shape.pci_hotplug) {
        --bsel;
        hotplug_slot0(dev, bsel, pci_device_dsm_v8(), occupied);
        bridges.push_back({slot << 3, bsel});
      }
    }
    pci0 << dev;
  }
  pci0 << lpc_device(m.profile);
  Term sata = device("SFA");
  sata << name_decl("_ADR", integer(0x001f0002));
  pci0 << sata;
  pci0 << smbus_device();
  return bridges;
}

// ---- NUMA: the expanders' host bridges and the SRAT ----------------------------------------

// build_prt(is_pci0_prt = false), the _PRT of an expander: 128 routes, slot = pin >> 2, link
// LNK[D|A|B|C] by (slot + pin) & 3. Built in a While loop at run time until QEMU 9.2, a
// precomputed Package (0x80) from 9.2 (pxb-prt-package).
Term expander_prt(const AcpiProfile &p) {
  using namespace aml;
  static const char *const links[] = {"LNKD", "LNKA", "LNKB", "LNKC"};
  Term m = method("_PRT", 0, not_serialized);
  if (p.has(AcpiVariation::pxb_prt_package)) {
    Term routes = package(128);
    for (uint32_t pin = 0; pin < 128; ++pin) {
      const uint32_t slot = pin >> 2;
      Term route = package(4);
      route << integer((static_cast<uint64_t>(slot) << 16) | 0xffff) << integer(pin & 3)
            << name(links[(slot + pin) & 3]) << integer(0);
      routes << route;
    }
    m << return_(routes);
    return m;
  }
  auto entry = [](const char *link) {
    Term pkg = package(4);
    pkg << integer(0) << integer(0) << name(link) << integer(0);
    return pkg;
  };
  const Term res = local(0), pin = local(1), slot = local(2), lnk_idx = local(3), route = local(4);
  m << store(package(128), res);
  m << store(integer(0), pin);
  Term w = while_(lless(pin, integer(128)));
  w << store(shift_right(pin, integer(2)), slot);
  w << store(and_(add(pin, slot), integer(3)), lnk_idx);
  for (uint32_t i = 0; i < 4; ++i) { // initialize_route: LNKD, LNKA, LNKB, LNKC
    Term ifc = if_(lequal(lnk_idx, integer(i)));
    ifc << store(entry(links[i]), route);
    w << ifc;
  }
  w << store(or_(shift_left(slot, integer(16)), integer(0xffff)), index(route, integer(0)));
  w << store(and_(pin, integer(3)), index(route, integer(1)));
  w << store(route, index(res, pin));
  w << increment(pin);
  m << w;
  m << return_(res);
  return m;
}

// build_dsdt's loop over the root bus's child buses that are root buses (the expanders), newest
// first: one \_SB.PCxx host bridge each. Returns the last bus PCI0 decodes (root_bus_limit),
// lowered to bus - 1 by every expander whose bus is below it, in that order (so expanders on
// adjacent buses, say 6 then 5, leave PCI0 decoding bus 5: QEMU's own arithmetic).
uint32_t expanders_aml(Term &dsdt, const Machine &m) {
  using namespace aml;
  uint32_t root_bus_limit = 0xff;
  for (auto it = m.expanders.rbegin(); it != m.expanders.rend(); ++it) {
    const Expander &e = *it;
    if (e.bus < root_bus_limit) root_bus_limit = e.bus - 1;
    Term sb = scope("\\_SB");
    Term dev = device(hex_name("PC%.02X", e.bus));
    dev << name_decl("_UID", integer(e.bus)); // acpi_uid: the bus number
    dev << name_decl("_BBN", integer(e.bus));
    dev << name_decl("_HID", eisaid("PNP0A08"));
    dev << name_decl("_CID", eisaid("PNP0A03"));
    dev << q35_osc_method(true); // expanders have no ACPI PCI hotplug
    dev << name_decl("_PXM", integer(e.node));
    dev << expander_prt(m.profile);
    // build_crs: the ranges the firmware gave the devices on the expander's bus (none: without
    // devices, or before the firmware assigns them, expander-ports-unassigned), then its buses.
    Term crs = resource_template();
    uint32_t max_bus = e.bus;
    for (const ExpanderResources &r : m.expander_resources) {
      if (r.bus != e.bus) continue;
      for (const AddressRange &x : r.io)
        crs << dword_io(static_cast<uint32_t>(x.base), static_cast<uint32_t>(x.limit),
                        static_cast<uint32_t>(x.limit - x.base + 1));
      for (const AddressRange &x : r.mem32)
        crs << dword_memory(false, static_cast<uint32_t>(x.base), static_cast<uint32_t>(x.limit),
                            static_cast<uint32_t>(x.limit - x.base + 1));
      for (const AddressRange &x : r.mem64) crs << qword_memory(false, x.base, x.limit, x.limit - x.base + 1);
      max_bus = r.max_bus;
    }
    crs << word_bus_number(static_cast<uint16_t>(e.bus), static_cast<uint16_t>(max_bus),
                           static_cast<uint16_t>(max_bus - e.bus + 1));
    dev << name_decl("_CRS", crs);
    sb << dev;
    dsdt << sb;
  }
  return root_bus_limit;
}

Bytes build_dsdt_aml(const Machine &m) {
  using namespace aml;
  const AcpiProfile &p = m.profile;
  Term dsdt = Term::bare();
  dsdt << dbg_aml();

  Term sb = scope("_SB");
  Term pci0 = device("PCI0");
  pci0 << name_decl("_HID", eisaid("PNP0A08"));
  pci0 << name_decl("_CID", eisaid("PNP0A03"));
  const bool v8 = p.has(AcpiVariation::qemu_8_0_pci_aml);
  if (!v8) pci0 << name_decl("_ADR", integer(0));
  pci0 << name_decl("_UID", integer(0));
  pci0 << q35_osc_method(!m.shape.pci_hotplug);
  if (v8) pci0 << pci_edsm();
  sb << pci0;
  sb << q35_dram_controller(p.mcfg_base, p.mcfg_size);
  dsdt << sb;
  if (m.shape.pci_hotplug) dsdt << pci_hotplug_aml(p);
  q35_pci0_int(dsdt, p);
  if (m.shape.hpet) dsdt << hpet_aml();
  Term gpe = scope("_GPE");
  gpe << name_decl("_HID", string("ACPI0006"));
  dsdt << gpe;
  cpus_aml(dsdt, m);
  const uint32_t root_bus_limit = expanders_aml(dsdt, m);

  // PCI0._CRS
  Term scope_pci0 = scope("\\_SB.PCI0");
  Term crs = resource_template();
  crs << word_bus_number(0, static_cast<uint16_t>(root_bus_limit), static_cast<uint16_t>(root_bus_limit + 1));
  crs << io(0x0cf8, 0x0cf8, 0x01, 0x08);
  crs << word_io(0x0000, 0x0cf7, 0x0cf8);
  // The expanders' ranges are taken out of PCI0's (crs_replace_with_free_ranges).
  std::vector<Range> used_io, used_mem{{p.mcfg_base, p.mcfg_base + p.mcfg_size - 1}}, used_mem64;
  for (const ExpanderResources &r : m.expander_resources) {
    for (const AddressRange &x : r.io) used_io.push_back({x.base, x.limit});
    for (const AddressRange &x : r.mem32) used_mem.push_back({x.base, x.limit});
    for (const AddressRange &x : r.mem64) used_mem64.push_back({x.base, x.limit});
  }
  for (const Range &r : free_ranges(used_io, 0x0d00, 0xffff))
    crs << word_io(static_cast<uint16_t>(r.base), static_cast<uint16_t>(r.limit),
                   static_cast<uint16_t>(r.limit - r.base + 1));
  crs << dword_memory(true, 0x000a0000, 0x000bffff, 0x00020000);
  for (const Range &r : free_ranges(used_mem, m.below_4g, k_ioapic_address - 1))
    crs << dword_memory(false, static_cast<uint32_t>(r.base), static_cast<uint32_t>(r.limit),
                        static_cast<uint32_t>(r.limit - r.base + 1));
  for (const Range &r : free_ranges(used_mem64, m.hole64_start, m.hole64_end - 1))
    crs << qword_memory(true, r.base, r.limit, r.limit - r.base + 1);
  scope_pci0 << name_decl("_CRS", crs);
  scope_pci0 << io_resources_device("GPE0", "GPE0 resources", static_cast<uint16_t>(p.gpe0_block), 16);
  if (m.shape.pci_hotplug) scope_pci0 << io_resources_device("PHPR", "PCI Hotplug resources", k_pcihp_io, k_pcihp_len);
  dsdt << scope_pci0;

  Term root = scope("\\");
  Term pkg = package(4);
  pkg << integer(1) << integer(1) << integer(0) << integer(0);
  root << name_decl("_S3", pkg);
  pkg = package(4);
  pkg << integer(2) << integer(2) << integer(0) << integer(0);
  root << name_decl("_S4", pkg);
  pkg = package(4);
  pkg << integer(0) << integer(0) << integer(0) << integer(0);
  root << name_decl("_S5", pkg);
  dsdt << root;

  Term fw = scope("\\_SB.PCI0");
  Term fwcf = device("FWCF");
  fwcf << name_decl("_HID", string("QEMU0002"));
  fwcf << name_decl("_STA", integer(0xb));
  crs = resource_template();
  crs << io(k_fw_cfg_io, k_fw_cfg_io, 0x01, k_fw_cfg_io_len);
  fwcf << name_decl("_CRS", crs);
  fw << fwcf;
  dsdt << fw;

  Term sb2 = scope("\\_SB");
  Term pci0_devices = scope("PCI0");
  std::vector<std::pair<unsigned, uint32_t>> bridges;
  if (v8)
    bridges = root_bus_devices_v8(pci0_devices, m);
  else
    root_bus_devices(pci0_devices, m);
  sb2 << pci0_devices;
  dsdt << sb2;

  if (m.shape.pci_hotplug && v8) {
    // build_append_notfication_callback: each bridge's PCNT, then the root's calling them,
    // newest bus first; _E01 exists even when there is nothing to notify.
    bool has_pcnt = !bridges.empty();
    if (has_pcnt) {
      Term sc = scope("\\_SB.PCI0");
      for (auto it = bridges.rbegin(); it != bridges.rend(); ++it) {
        Term br = scope(hex_name("S%.02X", it->first));
        Term pcnt = method("PCNT", 0, not_serialized);
        pcnt << store(integer(it->second), name("BNUM"));
        pcnt << call("DVNT", {name("PCIU"), integer(1)});
        pcnt << call("DVNT", {name("PCID"), integer(3)});
        br << pcnt;
        sc << br;
      }
      Term pcnt = method("PCNT", 0, not_serialized);
      for (auto it = bridges.rbegin(); it != bridges.rend(); ++it) pcnt << name(hex_name("^S%.02X.PCNT", it->first));
      sc << pcnt;
      dsdt << sc;
    }
    Term g = scope("_GPE");
    Term e01 = method("_E01", 0, not_serialized);
    if (has_pcnt) {
      e01 << acquire(name("\\_SB.PCI0.BLCK"), 0xffff);
      e01 << call("\\_SB.PCI0.PCNT");
      e01 << release(name("\\_SB.PCI0.BLCK"));
    }
    g << e01;
    dsdt << g;
  } else if (m.shape.pci_hotplug) {
    Term g = scope("_GPE");
    Term e01 = method("_E01", 0, not_serialized);
    e01 << acquire(name("\\_SB.PCI0.BLCK"), 0xffff);
    e01 << call("\\_SB.PCI0.PCNT");
    e01 << release(name("\\_SB.PCI0.BLCK"));
    g << e01;
    dsdt << g;
  }
  return dsdt.content();
}

// ---- fixed tables -------------------------------------------------------------------------

void build_facs(TableBlob &t, std::vector<GeneratedTable> &tables) {
  uint32_t start = t.size();
  const char *sig = "FACS";
  t.bytes().insert(t.bytes().end(), sig, sig + 4);
  t.le(64, 4);
  t.le(0, 4);
  t.le(0, 4);
  t.le(0, 4);
  t.le(0, 4);
  t.bytes().resize(t.bytes().size() + 40, 0);
  tables.push_back({"FACS", start, 64});
}

void build_fadt(TableBlob &t, const Machine &m, uint32_t facs, uint32_t dsdt, std::vector<GeneratedTable> &tables) {
  const AcpiProfile &p = m.profile;
  const bool smm = m.shape.smm;
  const uint32_t io = p.pm_io_base;
  uint32_t flags = (1u << 0) | (1u << 2) | (1u << 5) | (1u << 7) | (1u << 15) | (1u << 10);
  if (m.shape.cpus > 8) flags |= 1u << 18; // FORCE_APIC_CLUSTER_MODEL
  uint32_t start = t.begin("FACP", 3, p);
  t.pointer(facs, 4);
  t.pointer(dsdt, 4);
  t.le(1, 1); // INT_MODEL: multiple APIC
  t.le(0, 1);
  t.le(p.sci_irq, 2);
  t.le(smm ? 0xb2 : 0, 4);
  t.le(smm ? 2 : 0, 1);
  t.le(smm ? 3 : 0, 1);
  t.le(0, 1);
  t.le(0, 1);
  t.le(io, 4);
  t.le(0, 4);
  t.le(io + 4, 4);
  t.le(0, 4);
  t.le(0, 4);
  t.le(io + 8, 4);
  t.le(p.gpe0_block, 4);
  t.le(0, 4);
  t.le(4, 1);
  t.le(2, 1);
  t.le(0, 1);
  t.le(4, 1);
  t.le(16, 1); // GPE0_BLK_LEN (ICH9_PMIO_GPE0_LEN)
  t.le(0, 1);
  t.le(0, 1);
  t.le(0, 1);
  t.le(0xfff, 2);
  t.le(0xfff, 2);
  t.le(0, 2);
  t.le(0, 2);
  t.le(0, 1);
  t.le(0, 1);
  t.le(0, 1);
  t.le(0, 1);
  t.le(0x32, 1); // CENTURY (RTC_CENTURY)
  t.le(0x2, 2);  // IAPC_BOOT_ARCH: 8042
  t.le(0, 1);
  t.le(flags, 4);
  append_gas(t, 1, 8, 0, 0, 0xcf9); // RESET_REG
  t.le(0xf, 1);
  t.le(0, 3);
  t.le(0, 8); // X_FIRMWARE_CTRL
  t.pointer(dsdt, 8);
  append_gas(t, 1, 32, 0, 0, io);
  append_gas(t, 0, 0, 0, 0, 0);
  append_gas(t, 1, 16, 0, 0, io + 4);
  append_gas(t, 0, 0, 0, 0, 0);
  append_gas(t, 0, 0, 0, 0, 0);
  append_gas(t, 1, 32, 0, 0, io + 8);
  append_gas(t, 1, 128, 0, 0, p.gpe0_block);
  append_gas(t, 0, 0, 0, 0, 0);
  t.end(start, "FACP", tables);
}

void build_madt(TableBlob &t, const Machine &m, std::vector<GeneratedTable> &tables) {
  uint32_t start = t.begin("APIC", m.profile.has(AcpiVariation::madt_revision_3) ? 3 : 1, m.profile);
  t.le(k_lapic_address, 4);
  t.le(m.shape.pic || !m.profile.has(AcpiVariation::madt_pcat_compat_follows_pic) ? 1 : 0, 4); // PCAT_COMPAT
  bool x2apic = false;
  for (uint32_t i = 0; i < m.shape.cpus; ++i) {
    t.append(madt_cpu_entry(i, i));
    x2apic = x2apic || i > 254;
  }
  // IO APIC
  t.le(1, 1);
  t.le(12, 1);
  t.le(0, 1);
  t.le(0, 1);
  t.le(k_ioapic_address, 4);
  t.le(0, 4);
  auto override_entry = [&](uint8_t src, uint32_t gsi, uint16_t flags) {
    t.le(2, 1);
    t.le(10, 1);
    t.le(0, 1);
    t.le(src, 1);
    t.le(gsi, 4);
    t.le(flags, 2);
  };
  if (m.profile.has(AcpiVariation::tdx_edge_irqs)) {
    override_entry(0, 2, 0x5);
    for (uint8_t i = 1; i < 16; ++i) override_entry(i, i, 0x5);
  } else {
    override_entry(0, 2, 0);
    for (uint8_t i = 1; i < 16; ++i)
      if (k_pci_irq_mask & (1u << i)) override_entry(i, i, 0xd);
  }
  if (x2apic) {
    t.le(0xa, 1);
    t.le(12, 1);
    t.le(0, 2);
    t.le(0xffffffff, 4);
    t.le(1, 1);
    t.le(0, 3);
  } else {
    t.le(4, 1);
    t.le(6, 1);
    t.le(0xff, 1);
    t.le(0, 2);
    t.le(1, 1);
  }
  t.end(start, "APIC", tables);
}

void build_hpet_table(TableBlob &t, const Machine &m, std::vector<GeneratedTable> &tables) {
  uint32_t start = t.begin("HPET", 1, m.profile);
  t.le(0x8086a201, 4);
  append_gas(t, 0, 0, 0, 0, k_hpet_base);
  t.le(0, 1);
  t.le(0, 2);
  t.le(0, 1);
  t.end(start, "HPET", tables);
}

// build_srat_memory: a Memory Affinity structure.
void srat_memory(TableBlob &t, uint64_t base, uint64_t length, uint32_t node, uint32_t flags) {
  t.le(1, 1);
  t.le(40, 1);
  t.le(node, 4);
  t.le(0, 2);
  t.le(base, 8); // low, high
  t.le(length, 8);
  t.le(0, 4);
  t.le(flags, 4);
  t.le(0, 8);
}

// build_srat (hw/i386/acpi-build.c), for -numa nodes without hotpluggable memory (no maxmem, so
// no device-memory entry), NVDIMMs, SGX EPC or generic initiators: the vCPUs' affinity, then each
// node's RAM in node order, laid out as QEMU does (cut at the 640 KiB hole and at the end of RAM
// below 4 GiB, which continues at above_4g_start), then disabled entries up to nodes + 2.
void build_srat(TableBlob &t, const Machine &m, std::vector<GeneratedTable> &tables) {
  constexpr uint64_t hole_640k_start = 640 * 1024, hole_640k_end = 1024 * 1024;
  constexpr uint32_t enabled = 1; // MEM_AFFINITY_ENABLED
  uint32_t start = t.begin("SRAT", 1, m.profile);
  t.le(1, 4); // Reserved (1 for backward compatibility)
  t.le(0, 8);
  for (uint32_t i = 0; i < m.shape.cpus; ++i) {
    const uint32_t apic_id = i, node = m.cpu_node[i];
    if (apic_id < 255) { // Processor Local APIC/SAPIC Affinity
      t.le(0, 1);
      t.le(16, 1);
      t.le(node & 0xff, 1);
      t.le(apic_id, 1);
      t.le(1, 4); // enabled
      t.le(0, 1);
      t.le(node >> 8, 3);
      t.le(0, 4);
    } else { // Processor Local x2APIC Affinity
      t.le(2, 1);
      t.le(24, 1);
      t.le(0, 2);
      t.le(node, 4);
      t.le(apic_id, 4);
      t.le(1, 4);
      t.le(0, 4);
      t.le(0, 4);
    }
  }
  const uint32_t mem_start = t.size();
  uint64_t next_base = 0;
  const size_t nodes = m.layout.nodes.size();
  for (size_t i = 0; i < nodes; ++i) {
    const auto node = static_cast<uint32_t>(i);
    uint64_t mem_base = next_base;
    uint64_t mem_len = m.layout.nodes[i].memory;
    next_base = mem_base + mem_len; // the nodes add up to the machine's memory (validated)
    if (mem_base <= hole_640k_start && next_base > hole_640k_start) {
      mem_len -= next_base - hole_640k_start;
      if (mem_len > 0) srat_memory(t, mem_base, mem_len, node, enabled);
      if (next_base <= hole_640k_end) { // 640 KiB < RAM < 1 MiB
        next_base = hole_640k_end;
        continue;
      }
      mem_base = hole_640k_end;
      mem_len = next_base - hole_640k_end;
    }
    if (mem_base <= m.below_4g && next_base > m.below_4g) {
      mem_len -= next_base - m.below_4g;
      if (mem_len > 0) srat_memory(t, mem_base, mem_len, node, enabled);
      mem_base = m.above_4g_start;
      mem_len = next_base - m.below_4g;
      next_base = mem_base + mem_len;
    }
    if (mem_len > 0) srat_memory(t, mem_base, mem_len, node, enabled);
  }
  for (size_t slots = (t.size() - mem_start) / 40; slots < nodes + 2; ++slots) srat_memory(t, 0, 0, 0, 0);
  t.end(start, "SRAT", tables);
}

void build_mcfg(TableBlob &t, const Machine &m, std::vector<GeneratedTable> &tables) {
  uint32_t start = t.begin("MCFG", 1, m.profile);
  t.le(0, 8);
  t.le(m.profile.mcfg_base, 8);
  t.le(0, 2);
  t.le(0, 1);
  t.le((m.profile.mcfg_size - 1) >> 20, 1); // PCIE_MMCFG_BUS(size - 1)
  t.le(0, 4);
  t.end(start, "MCFG", tables);
}

void build_waet(TableBlob &t, const Machine &m, std::vector<GeneratedTable> &tables) {
  uint32_t start = t.begin("WAET", 1, m.profile);
  t.le(1u << 1, 4);
  t.end(start, "WAET", tables);
}

} // namespace

void validate_acpi_shape(const VmShape &s, const AcpiProfile &p) {
  const std::string where = shape_origin(s);
  if (s.cpus == 0) throw InputError(where, "cpus must be at least 1");
  if (s.cpus > p.max_cpus)
    throw InputError(where, "" + std::to_string(s.cpus) + " CPUs is more than " + p.name + " allows (" +
                                std::to_string(p.max_cpus) + ", the q35 machine's limit in QEMU " + p.qemu_version +
                                ")");
  if (s.memory == 0 || s.memory % (1ull << 20) != 0)
    throw InputError(where, "memory must be a positive multiple of 1 MiB (QEMU's -m), got " + std::to_string(s.memory) +
                                " bytes");
  if (s.memory > p.max_memory)
    throw InputError(where, "memory " + format_memory_size(s.memory) + " is more than " + p.name + " accepts (" +
                                format_memory_size(p.max_memory) + ", its max_memory)");
  const uint64_t hole = s.pci_hole64_size.value_or(p.default_pci_hole64_size);
  if (hole > p.max_pci_hole64_size)
    throw InputError(where, "the 64-bit PCI hole of " + hex_u64(hole) + " bytes is more than " + p.name + " accepts (" +
                                hex_u64(p.max_pci_hole64_size) + ", its max_pci_hole64_size)");
  // QEMU's own check (hw/i386/pc.c pc_memory_init): the highest address RAM and the hole use must
  // fit phys-bits, or QEMU refuses to start ("phys-bits too low").
  std::optional<uint64_t> max_used = qemu_max_used_gpa(s, p.default_pci_hole64_size);
  if (!max_used || (p.phys_bits < 64 && *max_used >= (1ull << p.phys_bits)))
    throw InputError(where, "RAM above 4 GiB plus the 64-bit PCI hole end at " +
                                (max_used ? hex_u64(*max_used) : std::string("more than 2^64")) + ", past the " +
                                std::to_string(p.phys_bits) + "-bit address space QEMU " + p.qemu_version +
                                " allows (" + p.name + " phys_bits)");
  const NumaLayout layout = numa_layout(s);
  if (const size_t root_bus = layout.root_bus.size(); root_bus > 30)
    throw InputError(where, "" + std::to_string(root_bus) +
                                " devices on the root bus; slots 1-30 are free on q35 (0 is the host bridge, 31 the "
                                "LPC/SMBus)");
  validate_numa_layout(s);
  (void)derive_machine(s, p); // the 64-bit window must fit the address space, the expanders' windows theirs
}

GeneratedAcpi generate_acpi(const VmShape &shape, const AcpiProfile &profile) {
  validate_acpi_shape(shape, profile);
  Machine m = derive_machine(shape, profile);
  GeneratedAcpi out;
  Loader loader;
  TableBlob t(loader);
  loader.allocate(k_tables_file, 64, 1 /* HIGH */);

  uint32_t facs = t.size();
  build_facs(t, out.tables);
  uint32_t dsdt = t.size();
  {
    uint32_t start = t.begin("DSDT", 1, profile);
    t.append(build_dsdt_aml(m));
    t.end(start, "DSDT", out.tables);
  }
  std::vector<uint32_t> offsets;
  offsets.push_back(t.size());
  build_fadt(t, m, facs, dsdt, out.tables);
  offsets.push_back(t.size());
  build_madt(t, m, out.tables);
  if (shape.hpet) {
    offsets.push_back(t.size());
    build_hpet_table(t, m, out.tables);
  }
  if (!m.layout.nodes.empty()) { // [SRAT, SLIT, HMAT]: SLIT and HMAT need -numa dist / hmat=on
    offsets.push_back(t.size());
    build_srat(t, m, out.tables);
  }
  offsets.push_back(t.size());
  build_mcfg(t, m, out.tables);
  offsets.push_back(t.size());
  build_waet(t, m, out.tables);

  uint32_t rsdt = t.size();
  {
    uint32_t start = t.begin("RSDT", 1, profile);
    for (uint32_t off : offsets) t.pointer(off, 4);
    t.end(start, "RSDT", out.tables);
  }

  // RSDP (build_rsdp, revision 0): its allocation is prepended, so it comes first.
  loader.allocate(k_rsdp_file, 16, 2 /* FSEG */);
  Bytes rsdp;
  const char *sig = "RSD PTR ";
  rsdp.insert(rsdp.end(), sig, sig + 8);
  rsdp.push_back(0);
  rsdp.insert(rsdp.end(), profile.oem_id.begin(), profile.oem_id.end());
  rsdp.resize(15, 0);
  rsdp.push_back(0); // revision
  loader.add_pointer(k_rsdp_file, k_tables_file, 16, 4);
  Loader::put_le(rsdp, rsdt, 4);
  loader.add_checksum(k_rsdp_file, 8, 0, 20);

  Bytes tables = std::move(t.bytes());
  tables.resize((tables.size() + k_tables_align - 1) / k_tables_align * k_tables_align, 0);
  out.blobs.tables = std::move(tables);
  out.blobs.rsdp = std::move(rsdp);
  out.blobs.table_loader = loader.finish();
  return out;
}

} // namespace mrforge
