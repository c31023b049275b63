// The TD HOB that QEMU builds for a TDX guest, as OVMF measures it into RTMR0.
//
// Follows QEMU target/i386/kvm/tdx.c (tdx_finalize_vm, tdx_init_ram_entries,
// tdx_accept_ram_range) and hw/i386/tdvf-hob.c (tdvf_hob_create); dstack-mr src/tdvf.rs
// (measure_td_hob) computes the same bytes. Structures from the UEFI PI spec, vol. 3 (HOBs).
//
//   RAM ranges: QEMU's e820 RAM entries, [0, low) and [high_base, high_base + high) when the
//   platform splits RAM around the 32-bit PCI hole (MemoryLayout). Every TD_HOB and TempMem
//   section is "accepted": it must lie inside one RAM entry, which it splits into the unaccepted
//   part before it, itself, and the unaccepted part after it. Adjacent accepted sections stay
//   separate ranges. All ranges are sorted by start.
//
//   The list: a PHIT HOB (EFI_HOB_HANDOFF_INFO_TABLE, 56 bytes: type 1, length 56, reserved 0,
//   version 9, boot mode 0, four zero u64 memory fields, u64 EfiEndOfHobList), then one resource
//   descriptor HOB per range (EFI_HOB_RESOURCE_DESCRIPTOR, 48 bytes: type 3, length 48, reserved
//   0, zero owner GUID, u32 resource type, u32 attributes, u64 start, u64 length), then an 8-byte
//   end-of-list HOB. EfiEndOfHobList is the guest address just past the end-of-list HOB:
//   TD_HOB gpa + bytes before it + 8. OVMF measures the list without the end-of-list HOB.
#include <measure/engine/td_hob.hpp>

#include <measure/util/errors.hpp>
#include <measure/util/reader.hpp>

#include <algorithm>

namespace mrforge {

namespace {

// UEFI PI spec vol. 3: EFI_HOB_TYPE_HANDOFF, EFI_HOB_TYPE_RESOURCE_DESCRIPTOR, structure sizes,
// EFI_HOB_HANDOFF_TABLE_VERSION.
constexpr uint16_t k_hob_type_handoff = 0x0001;
constexpr uint16_t k_hob_type_resource_descriptor = 0x0003;
constexpr uint16_t k_phit_size = 56;
constexpr uint16_t k_resource_descriptor_size = 48;
constexpr uint64_t k_end_of_list_size = 8; // EFI_HOB_GENERIC_HEADER
constexpr uint32_t k_handoff_table_version = 9;
// EFI_RESOURCE_SYSTEM_MEMORY (accepted) and EFI_RESOURCE_MEMORY_UNACCEPTED (PI spec 1.8).
constexpr uint32_t k_resource_system_memory = 0;
constexpr uint32_t k_resource_memory_unaccepted = 7;
// QEMU hw/i386/tdvf-hob.h EFI_RESOURCE_ATTRIBUTE_TDVF_PRIVATE and _TDVF_UNACCEPTED are both
// PRESENT | INITIALIZED | TESTED.
constexpr uint32_t k_resource_attributes = 0x7;
// QEMU system/vl.c set_memory_options(): -m is rounded up with QEMU_ALIGN_UP(sz, 8192), so the RAM
// of a real guest is always a multiple of 8 KiB.
constexpr uint64_t k_qemu_ram_granularity = 8192;
// x86-64 physical addresses have at most 52 bits (Intel SDM vol. 3A, 4.1.4, MAXPHYADDR).
constexpr uint64_t k_max_physical_address = uint64_t{1} << 52;

struct RamRange {
  uint64_t start;
  uint64_t length;
  bool accepted;
};

struct Accepted {
  uint64_t start;
  uint64_t end;
  size_t index; // of the section
};

std::string section_label(size_t index, const TdvfSection &s) {
  return "TDVF section " + std::to_string(index) + " (" + section_type_name(s.type) + ") [" + hex_u64(s.gpa) + ", +" +
         hex_u64(s.mem_size) + ")";
}

// QEMU's e820 RAM entries for `memory_bytes` of RAM (hw/i386/pc.c pc_memory_init).
std::vector<RamRange> ram_entries(uint64_t memory_bytes, const MemoryLayout &layout) {
  if (memory_bytes == 0) throw InputError("memory size", "0 bytes: a TD needs RAM");
  if (memory_bytes % k_qemu_ram_granularity != 0)
    throw InputError("memory size",
                     hex_u64(memory_bytes) +
                         " bytes is not a multiple of 8 KiB; QEMU rounds -m up to 8 KiB, give that size");
  if (memory_bytes > k_max_physical_address)
    throw InputError("memory size", hex_u64(memory_bytes) + " bytes is more than a 52-bit physical address space");
  const uint64_t low = layout.low_memory(memory_bytes);
  if (low > memory_bytes || low % k_tdx_page_size != 0 || layout.high_base % k_tdx_page_size != 0)
    throw InputError("memory layout", "low RAM of " + hex_u64(low) + " bytes for " + hex_u64(memory_bytes) +
                                          " bytes of RAM, high base " + hex_u64(layout.high_base) +
                                          ": not page aligned or larger than the RAM");
  const uint64_t high = memory_bytes - low;
  std::vector<RamRange> entries;
  if (low != 0) entries.push_back({0, low, false});
  if (high != 0) {
    if (layout.high_base < low)
      throw InputError("memory layout",
                       "high RAM base " + hex_u64(layout.high_base) + " lies below the end of low RAM " + hex_u64(low));
    if (layout.high_base > k_max_physical_address || high > k_max_physical_address - layout.high_base)
      throw InputError("memory size",
                       hex_u64(memory_bytes) + " bytes of RAM end past the 52-bit physical address space");
    entries.push_back({layout.high_base, high, false});
  }
  return entries;
}

// The TD_HOB and TempMem sections, which QEMU accepts; sorted by address, checked for overlaps.
std::vector<Accepted> accepted_sections(const std::vector<TdvfSection> &sections, const std::string &source) {
  std::vector<Accepted> out;
  for (size_t i = 0; i < sections.size(); ++i) {
    const TdvfSection &s = sections[i];
    switch (s.type) {
    case TdvfSectionType::bfv:
    case TdvfSectionType::cfv: break; // firmware volumes live in the flash range, not in RAM
    case TdvfSectionType::td_hob:
    case TdvfSectionType::temp_mem:
      if (s.gpa % k_tdx_page_size != 0 || s.mem_size % k_tdx_page_size != 0 || s.mem_size == 0 ||
          s.gpa > k_max_physical_address || s.mem_size > k_max_physical_address - s.gpa)
        throw InputError(source, "TD HOB: " + section_label(i, s) + " is not a valid page range");
      out.push_back({s.gpa, s.gpa + s.mem_size, i});
      break;
    case TdvfSectionType::perm_mem:
    case TdvfSectionType::payload:
    case TdvfSectionType::payload_param:
      // QEMU target/i386/kvm/tdx.c tdx_finalize_vm(): "Unsupported TDVF section".
      throw InputError(source, "TD HOB: " + section_label(i, s) + ": QEMU builds no TD HOB for firmware with " +
                                   section_type_name(s.type) + " sections");
    }
  }
  std::sort(out.begin(), out.end(), [](const Accepted &a, const Accepted &b) { return a.start < b.start; });
  for (size_t k = 1; k < out.size(); ++k)
    if (out[k].start < out[k - 1].end)
      throw InputError(source, "TD HOB: " + section_label(out[k].index, sections[out[k].index]) + " overlaps " +
                                   section_label(out[k - 1].index, sections[out[k - 1].index]));
  return out;
}

const TdvfSection &td_hob_section(const std::vector<TdvfSection> &sections, const std::string &source) {
  const TdvfSection *found = nullptr;
  for (const TdvfSection &s : sections) {
    if (s.type != TdvfSectionType::td_hob) continue;
    if (found) throw InputError(source, "TD HOB: the TDVF metadata has two TD_HOB sections");
    found = &s;
  }
  // QEMU target/i386/kvm/tdx.c tdx_get_hob_entry(): "TDVF metadata doesn't specify TD_HOB location."
  if (!found)
    throw InputError(source, "TD HOB: the TDVF metadata has no TD_HOB section, so QEMU builds no TD HOB for this "
                             "firmware (it refuses to start the TD); is it a TDX build of OVMF?");
  return *found;
}

// Splits the RAM entries around the accepted sections, as tdx_accept_ram_range() does.
std::vector<RamRange> split_ram(const std::vector<RamRange> &entries, const std::vector<Accepted> &accepted,
                                const std::vector<TdvfSection> &sections, uint64_t memory_bytes) {
  std::vector<RamRange> out;
  std::vector<bool> placed(accepted.size(), false);
  for (const RamRange &e : entries) {
    const uint64_t end = e.start + e.length;
    uint64_t cursor = e.start;
    for (size_t k = 0; k < accepted.size(); ++k) {
      const Accepted &a = accepted[k];
      if (a.start < e.start || a.end > end) continue;
      if (a.start > cursor) out.push_back({cursor, a.start - cursor, false});
      out.push_back({a.start, a.end - a.start, true});
      cursor = a.end;
      placed[k] = true;
    }
    if (cursor < end) out.push_back({cursor, end - cursor, false});
  }
  for (size_t k = 0; k < accepted.size(); ++k)
    if (!placed[k])
      // QEMU target/i386/kvm/tdx.c tdx_finalize_vm(): "Failed to accept memory for TDVF section".
      throw InputError("memory size", hex_u64(memory_bytes) + " bytes of RAM do not hold " +
                                          section_label(accepted[k].index, sections[accepted[k].index]) +
                                          " in one RAM range; QEMU refuses to start such a TD");
  return out;
}

} // namespace

Bytes build_td_hob(const std::vector<TdvfSection> &sections, uint64_t memory_bytes, const MemoryLayout &layout,
                   const std::string &source) {
  const std::vector<RamRange> entries = ram_entries(memory_bytes, layout);
  const TdvfSection &hob_section = td_hob_section(sections, source);
  const std::vector<Accepted> accepted = accepted_sections(sections, source);
  const std::vector<RamRange> ranges = split_ram(entries, accepted, sections, memory_bytes);

  const uint64_t list_size = k_phit_size + uint64_t{k_resource_descriptor_size} * ranges.size();
  // QEMU hw/i386/tdvf-hob.c tdvf_get_area(): "TD_HOB overrun".
  if (list_size + k_end_of_list_size > hob_section.mem_size)
    throw InputError(source, "TD HOB: a list of " + hex_u64(list_size + k_end_of_list_size) +
                                 " bytes does not fit the " + hex_u64(hob_section.mem_size) + "-byte TD_HOB section");

  Bytes hob;
  hob.reserve(static_cast<size_t>(list_size));
  // PHIT HOB (EFI_HOB_HANDOFF_INFO_TABLE).
  append_le(hob, k_hob_type_handoff, 2);
  append_le(hob, k_phit_size, 2);
  append_le(hob, 0, 4); // Reserved
  append_le(hob, k_handoff_table_version, 4);
  append_le(hob, 0, 4);                                                // BootMode
  append_le(hob, 0, 8);                                                // EfiMemoryTop
  append_le(hob, 0, 8);                                                // EfiMemoryBottom
  append_le(hob, 0, 8);                                                // EfiFreeMemoryTop
  append_le(hob, 0, 8);                                                // EfiFreeMemoryBottom
  append_le(hob, hob_section.gpa + list_size + k_end_of_list_size, 8); // EfiEndOfHobList
  // Resource descriptor HOBs (EFI_HOB_RESOURCE_DESCRIPTOR).
  for (const RamRange &r : ranges) {
    append_le(hob, k_hob_type_resource_descriptor, 2);
    append_le(hob, k_resource_descriptor_size, 2);
    append_le(hob, 0, 4); // Reserved
    append_le(hob, 0, 8); // Owner GUID, zero (EFI_HOB_OWNER_ZERO)
    append_le(hob, 0, 8);
    append_le(hob, r.accepted ? k_resource_system_memory : k_resource_memory_unaccepted, 4);
    append_le(hob, k_resource_attributes, 4);
    append_le(hob, r.start, 8);
    append_le(hob, r.length, 8);
  }
  return hob;
}

Sha384 td_hob_digest(const std::vector<TdvfSection> &sections, uint64_t memory_bytes, const MemoryLayout &layout,
                     const std::string &source) {
  return sha384(build_td_hob(sections, memory_bytes, layout, source));
}

} // namespace mrforge
