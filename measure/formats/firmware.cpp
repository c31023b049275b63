// Parser of the TDX metadata in an OVMF firmware image.
//
// Format (edk2 OvmfPkg/ResetVector/Ia16/ResetVectorVtf0.asm "guidedStructureEnd", QEMU
// hw/i386/pc_sysfw_ovmf.c pc_system_parse_ovmf_flash / pc_system_ovmf_table_find):
//
//   ... | entry_1 ... entry_n | u16 table_len | footer GUID | 32 bytes (reset vector) |  <- end of file
//
//   The footer GUID 96b582de-1fb2-45f7-baea-a366c55a082d ends 32 bytes before the end of the file.
//   table_len counts the entries and the footer itself (u16 + GUID). Each entry is
//   `data | u16 entry_len | GUID`, entry_len covering all three, so the table is walked backwards
//   from the footer. GUIDs are in EFI layout.
//
//   The entry e47a6535-984a-4798-865e-4685a7bf8ec2 (TDX metadata offset) holds a u32: the offset
//   of the TDVF descriptor counted back from the end of the file.
//
// TDVF descriptor (Intel TDX Virtual Firmware Design Guide, "TDVF metadata"; QEMU hw/i386/tdvf.c):
//
//   "TDVF" | u32 length | u32 version (1) | u32 section count | count x 32-byte section
//   section: u32 data_offset | u32 raw_size | u64 gpa | u64 mem_size | u32 type | u32 attributes
//
// Rules enforced (fail closed: anything the host would reject, or that would make MRTD or the TD
// HOB ambiguous, is an error):
//   - the table lies inside the file, every entry is at least 19 bytes (it must advance and carry
//     data), no GUID appears twice, at most k_max_guided_entries entries;
//   - the TDX entry's data is exactly the u32 offset; the descriptor lies inside the file;
//   - version 1; 1..k_max_tdvf_sections sections; length == 16 + 32 * count (QEMU);
//   - per section: known type and attribute bits; gpa and mem_size 4 KiB aligned, mem_size > 0,
//     mem_size >= raw_size, gpa + mem_size within the 52-bit physical address space; raw data
//     inside the file (data_offset 0 when there is none); BFV and CFV carry raw data, TD_HOB,
//     TempMem and PermMem carry none (QEMU, td-shim); MR.EXTEND only for sections whose raw data
//     fills their memory; PAGE.AUG only without raw data and without MR.EXTEND;
//   - at least one BFV, at most one CFV, at most one TD_HOB; no two sections overlap in
//     guest physical memory; the pages added at build time total at most k_max_added_bytes.
#include <measure/formats/firmware.hpp>

#include <measure/util/errors.hpp>
#include <measure/util/reader.hpp>

#include <algorithm>
#include <numeric>

namespace mrforge {

namespace {

// edk2 OvmfPkg/ResetVector/Ia16/ResetVectorVtf0.asm: the footer GUID is followed by 32 bytes
// (reset vector and alignment) up to the end of the image; QEMU: bytes_after_table_footer = 32.
constexpr size_t k_bytes_after_footer = 32;
constexpr size_t k_guid_size = 16;
constexpr size_t k_entry_trailer = sizeof(uint16_t) + k_guid_size; // u16 length + GUID
// Our cap: real OVMF builds carry about 6 entries (SEV, TDX, reset vector, ...).
constexpr size_t k_max_guided_entries = 64;
// QEMU hw/i386/pc_sysfw_ovmf.c OVMF_TABLE_FOOTER_GUID.
constexpr const char *k_footer_guid = "96b582de-1fb2-45f7-baea-a366c55a082d";
// QEMU hw/i386/tdvf.c TDX_METADATA_OFFSET_GUID.
constexpr const char *k_tdx_metadata_offset_guid = "e47a6535-984a-4798-865e-4685a7bf8ec2";

// QEMU hw/i386/tdvf.c: TDVF_SIGNATURE "TDVF", TDX_METADATA_VERSION 1, 16-byte header and
// 32-byte TdvfSectionEntry.
constexpr uint32_t k_tdvf_version = 1;
constexpr size_t k_descriptor_header_size = 16;
constexpr size_t k_section_size = 32;
// Our cap: OVMF has 6 sections, td-shim about 8.
constexpr uint32_t k_max_tdvf_sections = 64;
// x86-64 physical addresses have at most 52 bits (Intel SDM vol. 3A, 4.1.4, MAXPHYADDR).
constexpr uint64_t k_max_gpa = uint64_t{1} << 52;
// Our cap on the memory added at build time (sections without PAGE.AUG), so that computing MRTD
// stays bounded: OVMF adds about 2.1 MiB, td-shim with a payload a few hundred MiB.
constexpr uint64_t k_max_added_bytes = uint64_t{1} << 30;
constexpr uint32_t k_known_attributes = k_tdvf_attribute_mr_extend | k_tdvf_attribute_page_aug;
constexpr uint32_t k_max_section_type = static_cast<uint32_t>(TdvfSectionType::payload_param);

std::string section_label(size_t index, TdvfSectionType type) {
  return "TDVF section " + std::to_string(index) + " (" + section_type_name(type) + ")";
}

// Walks the GUIDed table backwards from its footer. Returns the entries in file order.
std::vector<GuidedEntry> parse_guided_table(const Reader &file) {
  const size_t size = file.size();
  const Guid footer_guid = Guid::parse(k_footer_guid);
  if (size < k_bytes_after_footer + k_entry_trailer)
    file.fail_at(0, "no TDX metadata: a file of " + hex_u64(size) +
                        " bytes is too small to end with the OVMF GUIDed table footer (" + k_footer_guid + ")");
  const size_t footer_guid_pos = size - k_bytes_after_footer - k_guid_size;
  if (Guid::from_bytes(file.view(footer_guid_pos, k_guid_size, "footer GUID")) != footer_guid)
    file.fail_at(footer_guid_pos, std::string("no TDX metadata: no OVMF GUIDed table footer (") + k_footer_guid +
                                      ") 32 bytes before the end of the file: not an OVMF image");
  const size_t table_len_pos = footer_guid_pos - sizeof(uint16_t);
  const size_t table_len = file.peek_le<uint16_t>(table_len_pos);
  const size_t table_end = size - k_bytes_after_footer;
  if (table_len < k_entry_trailer)
    file.fail_at(table_len_pos,
                 "GUIDed table length " + std::to_string(table_len) + " is smaller than its own footer (18 bytes)");
  if (table_len > table_end)
    file.fail_at(table_len_pos,
                 "GUIDed table length " + std::to_string(table_len) + " reaches before the start of the file");
  const size_t table_start = table_end - table_len;

  std::vector<GuidedEntry> entries;
  size_t end = table_len_pos; // end of the entry to read next
  while (end > table_start) {
    if (end - table_start < k_entry_trailer)
      file.fail_at(table_start, "GUIDed table: " + std::to_string(end - table_start) +
                                    " bytes left at its start, too few for an entry");
    if (entries.size() == k_max_guided_entries)
      file.fail_at(end, "GUIDed table has more than " + std::to_string(k_max_guided_entries) + " entries");
    const size_t len_pos = end - k_entry_trailer;
    const size_t entry_len = file.peek_le<uint16_t>(len_pos);
    const Guid guid = Guid::from_bytes(file.view(end - k_guid_size, k_guid_size, "GUIDed table entry GUID"));
    // An entry of fewer than 19 bytes carries no data (or would not advance the walk).
    if (entry_len <= k_entry_trailer)
      file.fail_at(len_pos, "GUIDed table entry " + guid.str() + ": length " + std::to_string(entry_len) +
                                " leaves no data (an entry is data + u16 length + GUID)");
    if (entry_len > end - table_start)
      file.fail_at(len_pos, "GUIDed table entry " + guid.str() + ": length " + std::to_string(entry_len) +
                                " reaches before the start of the table");
    for (const GuidedEntry &e : entries)
      if (e.guid == guid) file.fail_at(end - k_guid_size, "GUIDed table: GUID " + guid.str() + " appears twice");
    const size_t data_offset = end - entry_len;
    entries.push_back({guid, file.absolute(data_offset), entry_len - k_entry_trailer});
    end = data_offset;
  }
  std::reverse(entries.begin(), entries.end());
  return entries;
}

TdvfSection read_section(Reader &r) {
  TdvfSection s;
  s.data_offset = r.read_le<uint32_t>();
  s.raw_size = r.read_le<uint32_t>();
  s.gpa = r.read_le<uint64_t>();
  s.mem_size = r.read_le<uint64_t>();
  const size_t type_pos = r.pos();
  const uint32_t type = r.read_le<uint32_t>();
  s.attributes = r.read_le<uint32_t>();
  if (type > k_max_section_type) r.fail_at(type_pos, "unknown TDVF section type " + std::to_string(type));
  s.type = static_cast<TdvfSectionType>(type);
  return s;
}

// Checks one section on its own. `at` is the position of the section entry in the file.
void check_section(const Reader &file, size_t at, size_t index, const TdvfSection &s) {
  // Field positions within the 32-byte entry.
  const size_t data_offset_at = at, raw_size_at = at + 4, gpa_at = at + 8, mem_size_at = at + 16,
               attributes_at = at + 28;
  const std::string label = section_label(index, s.type);
  if ((s.attributes & ~k_known_attributes) != 0)
    file.fail_at(attributes_at, label + ": unknown attribute bits " + hex_u64(s.attributes & ~k_known_attributes));
  if (s.gpa % k_tdx_page_size != 0) file.fail_at(gpa_at, label + ": gpa " + hex_u64(s.gpa) + " is not 4 KiB aligned");
  if (s.mem_size % k_tdx_page_size != 0)
    file.fail_at(mem_size_at, label + ": memory size " + hex_u64(s.mem_size) + " is not a multiple of 4 KiB");
  if (s.mem_size == 0) file.fail_at(mem_size_at, label + ": memory size is 0");
  if (s.gpa >= k_max_gpa || s.mem_size > k_max_gpa - s.gpa)
    file.fail_at(gpa_at, label + ": memory [" + hex_u64(s.gpa) + ", +" + hex_u64(s.mem_size) +
                             ") lies beyond the 52-bit physical address space");
  if (s.mem_size < s.raw_size)
    file.fail_at(raw_size_at, label + ": raw data size " + hex_u64(s.raw_size) + " is larger than the memory size " +
                                  hex_u64(s.mem_size));

  if (s.raw_size == 0) {
    if (s.data_offset != 0)
      file.fail_at(data_offset_at, label + ": data offset " + hex_u64(s.data_offset) + " given without raw data");
  } else if (s.data_offset > file.size() || s.raw_size > file.size() - s.data_offset) {
    // The split Debian OVMF_CODE.fd is OVMF.fd without its leading VARS volume: its descriptor
    // still gives offsets within the unified image, so the code volume runs past the end.
    file.fail_at(data_offset_at, label + ": raw data [" + hex_u64(s.data_offset) + ", +" + hex_u64(s.raw_size) +
                                     ") extends past the end of this " + hex_u64(file.size()) +
                                     "-byte file: this looks like a split OVMF_CODE image; MRTD needs the unified "
                                     "OVMF.fd (CODE+VARS) image");
  }

  switch (s.type) {
  case TdvfSectionType::bfv:
  case TdvfSectionType::cfv:
    // QEMU hw/i386/tdvf.c: "The sections that must be copied from firmware image to TD memory".
    if (s.raw_size == 0) file.fail_at(raw_size_at, label + ": has no raw data");
    break;
  case TdvfSectionType::td_hob:
  case TdvfSectionType::temp_mem:
  case TdvfSectionType::perm_mem:
    // QEMU hw/i386/tdvf.c (TD_HOB, TempMem), td-shim metadata.rs validate_sections (PermMem).
    if (s.raw_size != 0) file.fail_at(raw_size_at, label + ": must have no raw data, has " + hex_u64(s.raw_size));
    break;
  case TdvfSectionType::payload:
  case TdvfSectionType::payload_param: break;
  }

  // QEMU/KVM measure mem_size bytes copied from data_offset on (KVM_TDX_INIT_MEM_REGION), i.e.
  // whatever follows the raw data in the file; we accept MR.EXTEND only where that is the raw data.
  if (s.mr_extend() && s.raw_size != s.mem_size)
    file.fail_at(attributes_at, label + ": MR.EXTEND with raw data size " + hex_u64(s.raw_size) +
                                    " different from the memory size " + hex_u64(s.mem_size));
  // TDH.MEM.PAGE.AUG adds pages without content after the build, so nothing can be copied or measured.
  if (s.page_aug() && (s.mr_extend() || s.raw_size != 0))
    file.fail_at(attributes_at, label + ": PAGE.AUG together with raw data or MR.EXTEND");
}

// Checks the rules that concern several sections. `first_at` is the position of section 0.
void check_section_set(const Reader &file, size_t first_at, const std::vector<TdvfSection> &sections) {
  auto at = [&](size_t i) { return first_at + i * k_section_size; };
  size_t bfv = 0, cfv = 0, td_hob = 0;
  uint64_t added = 0;
  for (size_t i = 0; i < sections.size(); ++i) {
    const TdvfSection &s = sections[i];
    if (s.type == TdvfSectionType::bfv) ++bfv;
    if (s.type == TdvfSectionType::cfv && ++cfv > 1) file.fail_at(at(i), section_label(i, s.type) + ": second CFV");
    if (s.type == TdvfSectionType::td_hob && ++td_hob > 1)
      file.fail_at(at(i), section_label(i, s.type) + ": second TD_HOB");
    if (!s.page_aug()) {
      added += s.mem_size; // each <= 2^52 and at most 64 sections: cannot overflow
      if (added > k_max_added_bytes)
        file.fail_at(at(i), section_label(i, s.type) + ": sections added at build time exceed " +
                                hex_u64(k_max_added_bytes) + " bytes");
    }
  }
  if (bfv == 0) file.fail_at(first_at, "TDVF descriptor has no BFV section");

  std::vector<size_t> order(sections.size());
  std::iota(order.begin(), order.end(), size_t{0});
  std::sort(order.begin(), order.end(), [&](size_t a, size_t b) {
    return sections[a].gpa != sections[b].gpa ? sections[a].gpa < sections[b].gpa : a < b;
  });
  for (size_t k = 1; k < order.size(); ++k) {
    const TdvfSection &lo = sections[order[k - 1]], &hi = sections[order[k]];
    if (hi.gpa - lo.gpa < lo.mem_size) // hi.gpa >= lo.gpa by the sort
      file.fail_at(at(std::max(order[k - 1], order[k])),
                   section_label(order[k], hi.type) + ": memory [" + hex_u64(hi.gpa) + ", +" + hex_u64(hi.mem_size) +
                       ") overlaps " + section_label(order[k - 1], lo.type) + " [" + hex_u64(lo.gpa) + ", +" +
                       hex_u64(lo.mem_size) + ")");
  }
}

} // namespace

const char *section_type_name(TdvfSectionType type) {
  switch (type) {
  case TdvfSectionType::bfv: return "BFV";
  case TdvfSectionType::cfv: return "CFV";
  case TdvfSectionType::td_hob: return "TD_HOB";
  case TdvfSectionType::temp_mem: return "TempMem";
  case TdvfSectionType::perm_mem: return "PermMem";
  case TdvfSectionType::payload: return "Payload";
  case TdvfSectionType::payload_param: return "PayloadParam";
  }
  return "unknown";
}

FirmwareImage parse_firmware(ByteView fw, const std::string &source) {
  const Reader file(fw, source);
  FirmwareImage image;
  image.size = fw.size();
  image.guided_table = parse_guided_table(file);

  const Guid tdx_guid = Guid::parse(k_tdx_metadata_offset_guid);
  auto it = std::find_if(image.guided_table.begin(), image.guided_table.end(),
                         [&](const GuidedEntry &e) { return e.guid == tdx_guid; });
  if (it == image.guided_table.end())
    file.fail_at(file.size() - k_bytes_after_footer - k_entry_trailer,
                 std::string("no TDX metadata: the OVMF GUIDed table has no TDX metadata offset entry (") +
                     k_tdx_metadata_offset_guid + "): this firmware was built without TDX support");
  // QEMU reads a u32 at the start of the data, dstack-mr the last 4 bytes: require exactly 4.
  if (it->data_size != sizeof(uint32_t))
    file.fail_at(it->data_offset,
                 "TDX metadata offset entry holds " + std::to_string(it->data_size) + " bytes of data, expected a u32");
  const size_t offset_pos = it->data_offset;
  const uint32_t from_end = file.peek_le<uint32_t>(offset_pos);
  if (from_end > file.size())
    file.fail_at(offset_pos, "TDVF descriptor offset " + hex_u64(from_end) +
                                 " from the end points before the start of this " + hex_u64(file.size()) +
                                 "-byte file: this looks like a split OVMF_CODE image; MRTD needs "
                                 "the unified OVMF.fd (CODE+VARS) image");
  const size_t tdvf_offset = file.size() - from_end;
  if (from_end < k_descriptor_header_size)
    file.fail_at(offset_pos,
                 "TDVF descriptor offset " + hex_u64(from_end) + " from the end leaves no room for its header");
  image.tdvf_offset = tdvf_offset;

  Reader d = file.sub(tdvf_offset, file.size() - tdvf_offset, "TDVF descriptor");
  d.expect(ByteView::of("TDVF"), "TDVF descriptor signature (expected \"TDVF\")");
  const size_t length_pos = d.pos();
  const uint32_t length = d.read_le<uint32_t>();
  const size_t version_pos = d.pos();
  image.tdvf_version = d.read_le<uint32_t>();
  if (image.tdvf_version != k_tdvf_version)
    d.fail_at(version_pos, "unsupported TDVF descriptor version " + std::to_string(image.tdvf_version));
  const size_t count_pos = d.pos();
  const uint32_t count = d.read_le<uint32_t>();
  if (count == 0) d.fail_at(count_pos, "TDVF descriptor has no sections");
  if (count > k_max_tdvf_sections)
    d.fail_at(count_pos, "TDVF descriptor has " + std::to_string(count) + " sections, more than the " +
                             std::to_string(k_max_tdvf_sections) + " we accept");
  const uint64_t expected_length = k_descriptor_header_size + uint64_t{count} * k_section_size;
  if (length != expected_length)
    d.fail_at(length_pos, "TDVF descriptor length " + hex_u64(length) + " does not match its " + std::to_string(count) +
                              " sections (expected " + hex_u64(expected_length) + ")");
  if (length > d.size())
    d.fail_at(length_pos, "TDVF descriptor of " + hex_u64(length) + " bytes runs past the end of the file");

  const size_t first_at = tdvf_offset + k_descriptor_header_size;
  for (uint32_t i = 0; i < count; ++i) {
    const size_t at = first_at + size_t{i} * k_section_size;
    Reader sr = file.sub(at, k_section_size, "TDVF section");
    TdvfSection s = read_section(sr);
    check_section(file, at, i, s);
    image.sections.push_back(s);
  }
  check_section_set(file, first_at, image.sections);
  return image;
}

} // namespace mrforge
