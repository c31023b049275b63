#include <builder/boot/uki_image.hpp>

#include <measure/util/errors.hpp>
#include <measure/util/reader.hpp>

#include <algorithm>
#include <cstring>

namespace mrforge::builder {

namespace {

constexpr uint16_t k_machine_x86_64 = 0x8664;
constexpr uint16_t k_subsystem_efi_application = 10;
constexpr size_t k_section_header_size = 40;
constexpr uint64_t k_page = 4096;
// IMAGE_SCN_CNT_INITIALIZED_DATA | IMAGE_SCN_MEM_READ, as ukify and objcopy give data sections.
constexpr uint32_t k_data_section_flags = 0x40000040;
// COFF header: NumberOfSections at +2 after "PE\0\0"; optional header fields (PE32+).
constexpr size_t k_coff_number_of_sections = 4 + 2;
constexpr size_t k_coff_symbol_table = 4 + 8;  // PointerToSymbolTable
constexpr size_t k_coff_symbol_count = 4 + 12; // NumberOfSymbols
constexpr size_t k_optional_header = 4 + 20;
constexpr size_t k_opt_size_of_initialized_data = 8;
constexpr size_t k_opt_size_of_image = 56;

uint64_t round_up(uint64_t v, uint64_t a) { return (v + a - 1) / a * a; }

} // namespace

uint32_t pe_checksum(ByteView image, uint64_t checksum_offset) {
  uint64_t sum = 0;
  const uint8_t *p = image.data();
  const size_t n = image.size();
  for (size_t i = 0; i < n; i += 2) {
    if (i >= checksum_offset && i < checksum_offset + 4) continue;
    uint32_t word = p[i] | (i + 1 < n ? static_cast<uint32_t>(p[i + 1]) << 8 : 0);
    sum += word;
    sum = (sum & 0xffff) + (sum >> 16);
  }
  sum = (sum & 0xffff) + (sum >> 16);
  return static_cast<uint32_t>(sum + n);
}

Bytes assemble_uki(ByteView stub, const std::string &stub_source, const std::vector<UkiSection> &sections) {
  PeImage pe = parse_pe(stub, stub_source);
  if (pe.machine != k_machine_x86_64 || !pe.pe32_plus)
    throw FormatError(stub_source, 0,
                      std::string("not an x86-64 PE32+ image (machine ") + pe_machine_name(pe.machine) +
                          "): use the x86-64 stub, linuxx64.efi.stub");
  if (pe.subsystem != k_subsystem_efi_application)
    throw FormatError(stub_source, 0, "not an EFI application (subsystem " + std::to_string(pe.subsystem) + ")");
  if (pe.cert_table_size != 0)
    throw FormatError(stub_source, pe.cert_table_offset,
                      "the stub is signed: appending sections would invalidate its signature (use the unsigned "
                      "stub and sign the UKI afterwards)");
  if (pe.sections.empty()) throw FormatError(stub_source, pe.section_table_offset, "the stub has no sections");
  for (const UkiSection &s : sections) {
    if (s.name.empty() || s.name.size() > 8 || s.name[0] != '.')
      throw InputError("UKI section '" + s.name + "'", "a section name is '.' and at most 7 more characters");
    if (s.data.size() > 0xffffffffull - 2 * k_page)
      throw InputError("UKI section " + s.name, "larger than a PE section can be (4 GiB)");
    for (const PeSection &have : pe.sections)
      if (have.name == s.name)
        throw FormatError(stub_source, pe.section_table_offset,
                          "the stub already has a " + s.name + " section: is it a UKI already?");
  }
  const uint64_t table_end = pe.section_table_offset + k_section_header_size * pe.sections.size();
  const uint64_t new_table_end = table_end + k_section_header_size * sections.size();
  if (new_table_end > pe.size_of_headers)
    throw FormatError(stub_source, table_end,
                      "no room for " + std::to_string(sections.size()) +
                          " more section headers before SizeOfHeaders (" + std::to_string(pe.size_of_headers) + ")");
  for (uint64_t i = table_end; i < new_table_end; ++i)
    if (stub[i] != 0)
      throw FormatError(stub_source, i, "the space after the section table is not zero: it holds something else");

  // Where the stub ends: in memory after its last section, in the file after its last raw data.
  uint64_t next_va = 0;
  uint64_t file_end = pe.size_of_headers;
  for (const PeSection &s : pe.sections) {
    next_va = std::max<uint64_t>(next_va, uint64_t(s.virtual_address) + std::max(s.virtual_size, s.raw_size));
    if (s.raw_size) file_end = std::max<uint64_t>(file_end, uint64_t(s.raw_offset) + s.raw_size);
  }
  const uint64_t file_alignment = std::max<uint32_t>(pe.file_alignment, 1);
  const uint64_t va_alignment = std::max<uint64_t>(pe.section_alignment, k_page);
  Bytes out(stub.data(), stub.data() + file_end);
  out.resize(round_up(out.size(), file_alignment), 0);

  uint64_t initialized =
      Reader(out, stub_source)
          .peek_le<uint32_t>(pe.pe_header_offset + k_optional_header + k_opt_size_of_initialized_data);
  size_t header_at = table_end;
  for (const UkiSection &s : sections) {
    next_va = round_up(next_va, va_alignment);
    const uint64_t raw_offset = out.size();
    const uint64_t raw_size = round_up(s.data.size(), file_alignment);
    if (next_va + raw_size > 0xffffffffull || raw_offset + raw_size > 0xffffffffull)
      throw InputError("UKI", "the image would exceed 4 GiB, beyond what PE32+ addresses");
    out.insert(out.end(), s.data.begin(), s.data.end());
    out.resize(raw_offset + raw_size, 0);
    std::memcpy(&out[header_at], s.name.data(), s.name.size());            // the rest of the 8 bytes stays zero
    store_le(out, header_at + 8, static_cast<uint32_t>(s.data.size()), 4); // VirtualSize
    store_le(out, header_at + 12, static_cast<uint32_t>(next_va), 4);      // VirtualAddress
    store_le(out, header_at + 16, static_cast<uint32_t>(raw_size), 4);     // SizeOfRawData
    store_le(out, header_at + 20, static_cast<uint32_t>(raw_offset), 4);   // PointerToRawData
    store_le(out, header_at + 36, k_data_section_flags, 4);                // Characteristics
    header_at += k_section_header_size;
    initialized += raw_size;
    next_va += s.data.size();
  }
  const uint64_t size_of_image = round_up(next_va, va_alignment);
  store_le(out, pe.pe_header_offset + k_coff_number_of_sections, pe.sections.size() + sections.size(), 2);
  // The stub's COFF symbol table (debug data after its last section, which the PE format says an
  // image should not have) is not copied: its pointer and count are cleared rather than left
  // pointing into the new sections.
  store_le(out, pe.pe_header_offset + k_coff_symbol_table, 0, 4);
  store_le(out, pe.pe_header_offset + k_coff_symbol_count, 0, 4);
  store_le(out, pe.pe_header_offset + k_optional_header + k_opt_size_of_initialized_data,
           std::min<uint64_t>(initialized, 0xffffffffull), 4);
  store_le(out, pe.pe_header_offset + k_optional_header + k_opt_size_of_image, static_cast<uint32_t>(size_of_image), 4);
  store_le(out, pe.checksum_offset, 0, 4);
  store_le(out, pe.checksum_offset, pe_checksum(ByteView(out.data(), out.size()), pe.checksum_offset), 4);
  parse_pe(ByteView(out.data(), out.size()), "assembled UKI"); // what we wrote must be what OVMF accepts
  return out;
}

} // namespace mrforge::builder
