#include <measure/formats/uki.hpp>
#include <measure/util/errors.hpp>

#include <cctype>

namespace mrforge {

const UkiSectionView *UkiImage::section(const std::string &name) const {
  for (const UkiSectionView &s : sections)
    if (s.name == name) return &s;
  return nullptr;
}

UkiImage read_uki(ByteView image, const std::string &source) {
  UkiImage u;
  u.pe = parse_pe(image, source);
  for (const PeSection &s : u.pe.sections) {
    if (s.virtual_size > s.raw_size)
      throw FormatError(source, s.raw_offset,
                        "section " + s.name + " is larger in memory (" + std::to_string(s.virtual_size) +
                            " bytes) than in the file (" + std::to_string(s.raw_size) +
                            "): its zero fill is not modelled");
    // parse_pe() checked [raw_offset, +raw_size) lies in the file when raw_size is not zero.
    u.sections.push_back({s.name, s.virtual_size ? ByteView(image.data() + s.raw_offset, s.virtual_size) : ByteView()});
  }
  if (!u.section(".linux")) throw FormatError(source, u.pe.section_table_offset, "not a UKI: no .linux section");
  const UkiSectionView *magic = u.section(".sdmagic");
  const std::string prefix = "#### LoaderInfo: ";
  std::string text = magic ? std::string(magic->data.begin(), magic->data.end()) : std::string();
  size_t at = text.find(prefix);
  if (at == std::string::npos)
    throw FormatError(source, u.pe.section_table_offset,
                      "no systemd-stub LoaderInfo in a .sdmagic section: mrforge knows what systemd-stub measures, "
                      "not other stubs");
  std::string info = text.substr(at + prefix.size());
  info = info.substr(0, info.find(" ####"));
  size_t space = info.find(' ');
  if (space == std::string::npos)
    throw FormatError(source, static_cast<uint64_t>(magic->data.begin() - image.begin()), "bad LoaderInfo: " + info);
  u.stub = info.substr(0, space);
  u.stub_version = info.substr(space + 1);
  size_t digits = 0;
  while (digits < u.stub_version.size() && digits < 6 &&
         std::isdigit(static_cast<unsigned char>(u.stub_version[digits])))
    ++digits;
  if (u.stub != "systemd-stub" || digits == 0)
    throw FormatError(source, static_cast<uint64_t>(magic->data.begin() - image.begin()),
                      "LoaderInfo '" + info + "' is not systemd-stub VERSION");
  u.stub_major = static_cast<unsigned>(std::stoul(u.stub_version.substr(0, digits)));
  return u;
}

} // namespace mrforge
