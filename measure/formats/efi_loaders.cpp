#include <measure/formats/efi_loaders.hpp>
#include <measure/util/errors.hpp>
#include <measure/util/reader.hpp>

namespace mrforge {

namespace {

// A section's full name: names over 8 bytes are stored as "/N", N the decimal offset of the name
// in the COFF string table, which follows the symbol table (PE/COFF specification, "Section
// Table"; shim's .vendor_cert is such a name). Throws FormatError when the reference points
// outside the file or the name has no NUL there (a cut or damaged image).
std::string full_name(ByteView image, const PeImage &pe, const PeSection &s, const std::string &source) {
  if (s.name.size() < 2 || s.name[0] != '/') return s.name;
  uint64_t offset = 0;
  for (size_t i = 1; i < s.name.size(); ++i) {
    if (s.name[i] < '0' || s.name[i] > '9') return s.name;
    offset = offset * 10 + static_cast<uint64_t>(s.name[i] - '0'); // at most 7 digits
  }
  Reader r(image, source);
  const uint32_t symbols_at = r.peek_le<uint32_t>(pe.pe_header_offset + 12);
  const uint32_t symbols = r.peek_le<uint32_t>(pe.pe_header_offset + 16);
  const uint64_t name_at = uint64_t{symbols_at} + uint64_t{symbols} * 18 + offset; // IMAGE_SYMBOL: 18 bytes
  for (uint64_t i = name_at; symbols_at != 0 && i < image.size() && i - name_at <= 256; ++i)
    if (image[i] == 0)
      return std::string(reinterpret_cast<const char *>(image.data() + name_at), static_cast<size_t>(i - name_at));
  r.fail_at(pe.section_table_offset, "section name " + s.name +
                                         " refers to the COFF string table, which is not in the file or has no "
                                         "NUL-terminated name there");
}

const PeSection *find_section(ByteView image, const PeImage &pe, const std::string &name, const std::string &source) {
  for (const PeSection &s : pe.sections)
    if (full_name(image, pe, s, source) == name) return &s;
  return nullptr;
}

// The section's bytes as loaded: VirtualSize bytes, the part beyond the raw data zero.
ByteView section_bytes(ByteView image, const PeSection &s) {
  const uint32_t n = std::min(s.virtual_size, s.raw_size);
  return n ? ByteView(image.data() + s.raw_offset, n) : ByteView();
}

// The distribution's entry: "NAME.VENDOR" (shim.debian, grub.debian), the first one that has a
// version (grub.debian12 is a generation-only entry of Debian's).
const SbatEntry *vendor_entry(const std::vector<SbatEntry> &sbat, const std::string &name) {
  for (const SbatEntry &e : sbat)
    if (e.component.rfind(name + ".", 0) == 0 && !e.version.empty() && e.version != "-") return &e;
  return nullptr;
}

const SbatEntry *entry(const std::vector<SbatEntry> &sbat, const std::string &component) {
  for (const SbatEntry &e : sbat)
    if (e.component == component) return &e;
  return nullptr;
}

} // namespace

std::vector<SbatEntry> read_sbat(ByteView image, const PeImage &pe, const std::string &source) {
  std::vector<SbatEntry> out;
  const PeSection *s = find_section(image, pe, ".sbat", source);
  if (!s) return out;
  ByteView bytes = section_bytes(image, *s);
  size_t line_start = 0;
  for (size_t i = 0; i <= bytes.size(); ++i) {
    const bool end = i == bytes.size() || bytes[i] == 0; // the section is NUL-padded
    if (!end && bytes[i] != '\n') {
      if (bytes[i] < 0x20 || bytes[i] > 0x7e)
        throw FormatError(source, s->raw_offset + i, "the .sbat section has a byte that is not printable ASCII");
      continue;
    }
    if (i > line_start) {
      std::vector<std::string> fields(1);
      for (size_t k = line_start; k < i; ++k) {
        if (bytes[k] == ',')
          fields.emplace_back();
        else
          fields.back() += static_cast<char>(bytes[k]);
      }
      if (fields.size() < 5)
        throw FormatError(source, s->raw_offset + line_start,
                          "an .sbat line has " + std::to_string(fields.size()) +
                              " fields; SBAT needs component, generation, vendor, package and version");
      fields.resize(6);
      out.push_back({fields[0], fields[1], fields[2], fields[3], fields[4], fields[5]});
    }
    if (end) break;
    line_start = i + 1;
  }
  return out;
}

ShimImage read_shim(ByteView image, const std::string &source) {
  ShimImage shim;
  shim.pe = parse_pe(image, source);
  shim.sbat = read_sbat(image, shim.pe, source);
  const SbatEntry *vendor = vendor_entry(shim.sbat, "shim");
  if (!entry(shim.sbat, "shim") || !vendor)
    throw FormatError(source, shim.pe.section_table_offset,
                      "not a shim: its .sbat section has no \"shim\" and \"shim.VENDOR\" entries");
  shim.vendor = vendor->vendor;
  shim.version = vendor->version;
  if (const PeSection *s = find_section(image, shim.pe, ".vendor_cert", source)) {
    ByteView bytes = section_bytes(image, *s);
    Reader r(bytes, source, s->raw_offset);
    const uint32_t cert_size = r.read_le<uint32_t>();
    const uint32_t dbx_size = r.read_le<uint32_t>();
    const uint32_t cert_offset = r.read_le<uint32_t>();
    const uint32_t dbx_offset = r.read_le<uint32_t>();
    shim.vendor_cert = r.view(cert_offset, cert_size, "the vendor certificate");
    shim.vendor_dbx = r.view(dbx_offset, dbx_size, "the vendor dbx");
    shim.vendor_cert_offset = s->raw_offset;
  }
  return shim;
}

GrubImage read_grub(ByteView image, const std::string &source) {
  GrubImage grub;
  grub.pe = parse_pe(image, source);
  grub.sbat = read_sbat(image, grub.pe, source);
  const SbatEntry *upstream = entry(grub.sbat, "grub");
  const SbatEntry *vendor = vendor_entry(grub.sbat, "grub");
  if (!upstream || !vendor)
    throw FormatError(source, grub.pe.section_table_offset,
                      "not a GRUB EFI image: its .sbat section has no \"grub\" and \"grub.VENDOR\" entries");
  grub.version = upstream->version;
  grub.vendor = vendor->vendor;
  grub.vendor_version = vendor->version;
  return grub;
}

} // namespace mrforge
