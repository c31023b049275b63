// PE/COFF headers.
//
// Format (Microsoft "PE Format", learn.microsoft.com/windows/win32/debug/pe-format): an MS-DOS
// header starting with "MZ" whose u32 e_lfanew at 0x3C gives the offset of the "PE\0\0" signature;
// a 20-byte COFF file header (Machine, NumberOfSections, ..., SizeOfOptionalHeader,
// Characteristics); the optional header (magic 0x10B PE32 or 0x20B PE32+) whose fixed part ends in
// NumberOfRvaAndSizes, followed by that many 8-byte data directories (index 4 is the certificate
// table, whose "address" is a file offset); then the section table, 40 bytes per section.
//
// Validation mirrors what edk2 checks before it loads and measures an image
// (MdePkg/Library/BasePeCoffLib/BasePeCoff.c, PeCoffLoaderGetPeHeader) so that an image accepted
// here is one OVMF would accept, plus bounds for every byte range the Authenticode hash reads
// (SecurityPkg/Tcg/Tcg2Dxe/MeasureBootPeCoff.c). Unlike edk2 we require the "MZ" header (edk2 also
// accepts a bare "PE\0\0" at offset 0; no kernel or UKI is built that way) and reject the IA64
// PE32-magic quirk. Everything is read through Reader; ranges are compared, never added.
#include <measure/formats/pe.hpp>

#include <measure/util/reader.hpp>

#include <array>
#include <stdexcept>

namespace mrforge {

namespace {

// MS-DOS header (PE Format, "MS-DOS Stub"): "MZ" at 0, e_lfanew at 0x3C, 0x40 bytes in all.
constexpr uint16_t k_dos_magic = 0x5A4D; // "MZ"
constexpr size_t k_dos_lfanew_offset = 0x3C;
constexpr size_t k_dos_header_size = 0x40;
constexpr uint32_t k_pe_signature = 0x00004550; // "PE\0\0"

// COFF file header (PE Format, "COFF File Header"): 20 bytes after the signature.
constexpr size_t k_coff_header_size = 20;
constexpr size_t k_coff_machine = 0;
constexpr size_t k_coff_number_of_sections = 2;
constexpr size_t k_coff_size_of_optional_header = 16;
constexpr size_t k_coff_characteristics = 18;

// Optional header (PE Format, "Optional Header Standard/Windows-Specific Fields").
constexpr uint16_t k_pe32_magic = 0x10B;
constexpr uint16_t k_pe32_plus_magic = 0x20B;
constexpr size_t k_opt_address_of_entry_point = 16;
constexpr size_t k_opt_image_base_pe32 = 28;      // u32
constexpr size_t k_opt_image_base_pe32_plus = 24; // u64
constexpr size_t k_opt_section_alignment = 32;
constexpr size_t k_opt_file_alignment = 36;
constexpr size_t k_opt_size_of_image = 56;
constexpr size_t k_opt_size_of_headers = 60;
constexpr size_t k_opt_checksum = 64;
constexpr size_t k_opt_subsystem = 68;
constexpr size_t k_opt_number_of_rva_and_sizes_pe32 = 92;
constexpr size_t k_opt_number_of_rva_and_sizes_pe32_plus = 108;
// Size of the fixed part, i.e. where the data directories start.
constexpr size_t k_opt_fixed_size_pe32 = 96;
constexpr size_t k_opt_fixed_size_pe32_plus = 112;

// Data directories: at most 16 (EFI_IMAGE_NUMBER_OF_DIRECTORY_ENTRIES, edk2 PeImage.h);
// index 4 is the certificate table (EFI_IMAGE_DIRECTORY_ENTRY_SECURITY).
constexpr uint32_t k_max_data_directories = 16;
constexpr uint32_t k_security_directory_index = 4;
constexpr size_t k_data_directory_size = 8;

// Section table (PE Format, "Section Table"): 40-byte entries.
constexpr size_t k_section_header_size = 40;
constexpr size_t k_section_name_size = 8;
constexpr size_t k_section_virtual_size = 8;
constexpr size_t k_section_virtual_address = 12;
constexpr size_t k_section_raw_size = 16;
constexpr size_t k_section_raw_offset = 20;
constexpr size_t k_section_characteristics = 36;
// "the Windows loader limits the number of sections to 96" (PE Format, COFF File Header).
constexpr uint16_t k_max_sections = 96;

// EFI subsystems (PE Format, "Windows Subsystem"): EFI application, boot service driver,
// runtime driver, EFI ROM.
constexpr uint16_t k_subsystem_efi_first = 10;
constexpr uint16_t k_subsystem_efi_last = 13;

struct MachineName {
  uint16_t machine;
  const char *name;
};
// IMAGE_FILE_MACHINE_* of the architectures UEFI defines (UEFI 2.10, 2.3.4 and PE Format).
constexpr std::array<MachineName, 11> k_machines{{
    {0x014C, "i386"},
    {0x8664, "x86_64"},
    {0x01C2, "arm"}, // ARMTHUMB_MIXED
    {0xAA64, "aarch64"},
    {0x0200, "ia64"},
    {0x0EBC, "ebc"},
    {0x5032, "riscv32"},
    {0x5064, "riscv64"},
    {0x5128, "riscv128"},
    {0x6232, "loongarch32"},
    {0x6264, "loongarch64"},
}};

template <typename T> T le_at(const Reader &r, size_t pos, const char *what) {
  ByteView b = r.view(pos, sizeof(T), what);
  T v = 0;
  for (size_t i = 0; i < sizeof(T); ++i) v = static_cast<T>(v | (static_cast<T>(b[i]) << (8 * i)));
  return v;
}

bool known_machine(uint16_t machine) {
  for (const auto &m : k_machines)
    if (m.machine == machine) return true;
  return false;
}

std::string section_label(size_t index, const std::string &name) {
  return "section " + std::to_string(index) + " (" + name + ")";
}

} // namespace

const char *pe_machine_name(uint16_t machine) {
  for (const auto &m : k_machines)
    if (m.machine == machine) return m.name;
  return "unknown";
}

namespace {

// Parses from `image`, the first image.size() bytes of a file of `file_size` bytes: every bound is
// checked against file_size, every field read from `image` (a read beyond it is a FormatError).
PeImage parse_pe_from(ByteView image, uint64_t file_size, const std::string &source) {
  Reader r(image, source);
  PeImage pe;
  pe.file_size = file_size;

  // MS-DOS header.
  if (file_size < 2 || le_at<uint16_t>(r, 0, "MZ signature") != k_dos_magic)
    r.fail_at(0, "not a PE/COFF image: no MZ signature");
  const uint32_t lfanew = le_at<uint32_t>(r, k_dos_lfanew_offset, "MS-DOS header e_lfanew");
  if (lfanew < k_dos_header_size)
    r.fail_at(k_dos_lfanew_offset, "e_lfanew " + hex_u64(lfanew) + " points into the MS-DOS header");
  // file_size >= k_dos_header_size here, since e_lfanew was read.
  if (lfanew > file_size - 4)
    r.fail_at(k_dos_lfanew_offset, "not a PE/COFF image: e_lfanew " + hex_u64(lfanew) +
                                       " lies beyond the end of the file (size " + hex_u64(file_size) + ")");
  if (le_at<uint32_t>(r, lfanew, "PE signature") != k_pe_signature)
    r.fail_at(lfanew, "not a PE/COFF image: no \"PE\\0\\0\" signature at e_lfanew " + hex_u64(lfanew));
  pe.pe_header_offset = lfanew;

  // COFF file header. lfanew + 4 <= size() was checked above, so these sums cannot wrap.
  const size_t coff = size_t{lfanew} + 4;
  (void)r.view(coff, k_coff_header_size, "COFF file header");
  pe.machine = le_at<uint16_t>(r, coff + k_coff_machine, "COFF Machine");
  if (!known_machine(pe.machine))
    r.fail_at(coff + k_coff_machine, "COFF Machine " + hex_u64(pe.machine) + " is not a UEFI architecture");
  const uint16_t section_count = le_at<uint16_t>(r, coff + k_coff_number_of_sections, "COFF NumberOfSections");
  const uint16_t optional_size = le_at<uint16_t>(r, coff + k_coff_size_of_optional_header, "COFF SizeOfOptionalHeader");
  pe.characteristics = le_at<uint16_t>(r, coff + k_coff_characteristics, "COFF Characteristics");
  if (section_count == 0) r.fail_at(coff + k_coff_number_of_sections, "the image has no sections");
  if (section_count > k_max_sections)
    r.fail_at(coff + k_coff_number_of_sections, "NumberOfSections " + std::to_string(section_count) +
                                                    " exceeds the PE limit of " + std::to_string(k_max_sections));

  // Optional header.
  const size_t opt = coff + k_coff_header_size;
  const uint16_t magic = le_at<uint16_t>(r, opt, "optional header magic");
  if (magic != k_pe32_magic && magic != k_pe32_plus_magic)
    r.fail_at(opt, "optional header magic " + hex_u64(magic) + " is neither PE32 (0x10b) nor PE32+ (0x20b)");
  pe.pe32_plus = magic == k_pe32_plus_magic;
  const size_t fixed_size = pe.pe32_plus ? k_opt_fixed_size_pe32_plus : k_opt_fixed_size_pe32;
  if (optional_size < fixed_size)
    r.fail_at(coff + k_coff_size_of_optional_header,
              "SizeOfOptionalHeader " + hex_u64(optional_size) + " is smaller than the fixed " +
                  (pe.pe32_plus ? "PE32+" : "PE32") + " optional header (" + hex_u64(fixed_size) + ")");
  (void)r.view(opt, optional_size, "optional header");
  pe.address_of_entry_point = le_at<uint32_t>(r, opt + k_opt_address_of_entry_point, "AddressOfEntryPoint");
  pe.image_base = pe.pe32_plus ? le_at<uint64_t>(r, opt + k_opt_image_base_pe32_plus, "ImageBase")
                               : le_at<uint32_t>(r, opt + k_opt_image_base_pe32, "ImageBase");
  pe.section_alignment = le_at<uint32_t>(r, opt + k_opt_section_alignment, "SectionAlignment");
  pe.file_alignment = le_at<uint32_t>(r, opt + k_opt_file_alignment, "FileAlignment");
  pe.size_of_image = le_at<uint32_t>(r, opt + k_opt_size_of_image, "SizeOfImage");
  pe.size_of_headers = le_at<uint32_t>(r, opt + k_opt_size_of_headers, "SizeOfHeaders");
  pe.checksum_offset = opt + k_opt_checksum;
  pe.subsystem = le_at<uint16_t>(r, opt + k_opt_subsystem, "Subsystem");
  if (pe.subsystem < k_subsystem_efi_first || pe.subsystem > k_subsystem_efi_last)
    r.fail_at(opt + k_opt_subsystem, "Subsystem " + std::to_string(pe.subsystem) + " is not an EFI subsystem (10..13)");
  const size_t rva_count_pos =
      opt + (pe.pe32_plus ? k_opt_number_of_rva_and_sizes_pe32_plus : k_opt_number_of_rva_and_sizes_pe32);
  pe.number_of_rva_and_sizes = le_at<uint32_t>(r, rva_count_pos, "NumberOfRvaAndSizes");
  if (pe.number_of_rva_and_sizes > k_max_data_directories)
    r.fail_at(rva_count_pos, "NumberOfRvaAndSizes " + std::to_string(pe.number_of_rva_and_sizes) + " exceeds " +
                                 std::to_string(k_max_data_directories));
  // edk2 PeCoffLoaderGetPeHeader: the optional header is exactly the fixed part plus the
  // directories it declares.
  if (optional_size - fixed_size != size_t{pe.number_of_rva_and_sizes} * k_data_directory_size)
    r.fail_at(coff + k_coff_size_of_optional_header,
              "SizeOfOptionalHeader " + hex_u64(optional_size) + " does not match NumberOfRvaAndSizes " +
                  std::to_string(pe.number_of_rva_and_sizes) + " (expected " +
                  hex_u64(fixed_size + size_t{pe.number_of_rva_and_sizes} * k_data_directory_size) + ")");
  const size_t directories = opt + fixed_size;
  for (uint32_t i = 0; i < pe.number_of_rva_and_sizes; ++i) {
    const size_t at = directories + size_t{i} * k_data_directory_size;
    pe.data_directories.push_back(
        {le_at<uint32_t>(r, at, "data directory"), le_at<uint32_t>(r, at + 4, "data directory")});
  }

  // Header sizes against the section table (edk2 PeCoffLoaderGetPeHeader, checks 3 and 4).
  const size_t section_table = opt + optional_size;
  pe.section_table_offset = section_table;
  const size_t size_of_headers_pos = opt + k_opt_size_of_headers;
  if (pe.size_of_image <= section_table || (pe.size_of_image - section_table) / k_section_header_size <= section_count)
    r.fail_at(opt + k_opt_size_of_image, "SizeOfImage " + hex_u64(pe.size_of_image) + " cannot hold the headers and " +
                                             std::to_string(section_count) + " section headers");
  if (pe.size_of_headers <= section_table ||
      (pe.size_of_headers - section_table) / k_section_header_size < section_count)
    r.fail_at(size_of_headers_pos, "SizeOfHeaders " + hex_u64(pe.size_of_headers) + " does not cover the " +
                                       std::to_string(section_count) + " section headers at " + hex_u64(section_table));
  if (pe.size_of_headers >= pe.size_of_image)
    r.fail_at(size_of_headers_pos, "SizeOfHeaders " + hex_u64(pe.size_of_headers) + " is not below SizeOfImage " +
                                       hex_u64(pe.size_of_image));
  if (pe.size_of_headers > file_size)
    r.fail_at(size_of_headers_pos, "SizeOfHeaders " + hex_u64(pe.size_of_headers) +
                                       " lies beyond the end of the file (size " + hex_u64(file_size) + ")");

  // Section table: inside SizeOfHeaders, hence inside the file.
  uint64_t raw_bytes = 0; // sum of SizeOfRawData: at most 96 * 4 GiB, no overflow
  for (uint16_t i = 0; i < section_count; ++i) {
    const size_t at = section_table + size_t{i} * k_section_header_size;
    ByteView name_bytes = r.view(at, k_section_name_size, "section name");
    PeSection s;
    for (size_t k = 0; k < k_section_name_size && name_bytes[k] != 0; ++k)
      s.name.push_back(static_cast<char>(name_bytes[k]));
    s.virtual_size = le_at<uint32_t>(r, at + k_section_virtual_size, "section VirtualSize");
    s.virtual_address = le_at<uint32_t>(r, at + k_section_virtual_address, "section VirtualAddress");
    s.raw_size = le_at<uint32_t>(r, at + k_section_raw_size, "section SizeOfRawData");
    s.raw_offset = le_at<uint32_t>(r, at + k_section_raw_offset, "section PointerToRawData");
    s.characteristics = le_at<uint32_t>(r, at + k_section_characteristics, "section Characteristics");
    if (s.raw_size != 0 && (s.raw_offset > file_size || s.raw_size > file_size - s.raw_offset))
      r.fail_at(at + k_section_raw_offset, section_label(i, s.name) + ": raw data [" + hex_u64(s.raw_offset) + ", +" +
                                               hex_u64(s.raw_size) + ") lies beyond the end of the file (size " +
                                               hex_u64(file_size) + ")");
    raw_bytes += s.raw_size;
    pe.sections.push_back(std::move(s));
  }

  // Certificate table (data directory 4; its address is a file offset, PE Format "The Attribute
  // Certificate Table").
  if (pe.number_of_rva_and_sizes > k_security_directory_index) {
    const size_t entry = directories + k_security_directory_index * k_data_directory_size;
    pe.cert_dir_entry_offset = entry;
    const PeDataDirectory &cert = pe.data_directories[k_security_directory_index];
    if (cert.size != 0) {
      if (cert.virtual_address < pe.size_of_headers)
        r.fail_at(entry, "certificate table at " + hex_u64(cert.virtual_address) +
                             " overlaps the headers (SizeOfHeaders " + hex_u64(pe.size_of_headers) + ")");
      if (cert.virtual_address > file_size || cert.size > file_size - cert.virtual_address)
        r.fail_at(entry, "certificate table [" + hex_u64(cert.virtual_address) + ", +" + hex_u64(cert.size) +
                             ") lies beyond the end of the file (size " + hex_u64(file_size) + ")");
      pe.cert_table_offset = cert.virtual_address;
      pe.cert_table_size = cert.size;
    }
  }

  // edk2 MeasurePeImageAndExtend hashes [SUM_OF_BYTES_HASHED, FileSize - CertSize) as trailing
  // data and refuses the image (EFI_UNSUPPORTED, nothing measured) when the file is longer than
  // SUM_OF_BYTES_HASHED but shorter than SUM_OF_BYTES_HASHED + CertSize.
  const uint64_t sum_of_bytes_hashed = uint64_t{pe.size_of_headers} + raw_bytes;
  if (pe.file_size > sum_of_bytes_hashed && pe.file_size - sum_of_bytes_hashed < pe.cert_table_size)
    r.fail_at(pe.cert_dir_entry_offset.value_or(0),
              "certificate table size " + hex_u64(pe.cert_table_size) + " exceeds the " +
                  hex_u64(pe.file_size - sum_of_bytes_hashed) +
                  " bytes after headers and section data: edk2 refuses to measure this image");
  return pe;
}

} // namespace

PeImage parse_pe(ByteView image, const std::string &source) { return parse_pe_from(image, image.size(), source); }

std::optional<PeImage> parse_pe_head(ByteView head, uint64_t file_size, const std::string &source) {
  if (head.size() > file_size) throw std::invalid_argument("parse_pe_head: the head is longer than the file");
  if (head.size() == file_size) return parse_pe(head, source);
  // On success every field read lies below SizeOfHeaders (the section table ends there), so a
  // parse whose SizeOfHeaders fits in the head read only bytes it has and equals parse_pe of the
  // whole file. Any failure may come from a read beyond the head: the caller decides on the whole file.
  try {
    PeImage pe = parse_pe_from(head, file_size, source);
    if (pe.size_of_headers <= head.size()) return pe;
  } catch (const FormatError &) {
  }
  return std::nullopt;
}

} // namespace mrforge
