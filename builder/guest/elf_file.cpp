// ELF interpreter, DT_NEEDED and section reading with libelf. See elf_file.hpp.
#include <builder/guest/elf_file.hpp>

#include <measure/util/errors.hpp>
#include <measure/util/file_io.hpp>

#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <gelf.h>
#include <libelf.h>
#include <memory>
#include <mutex>
#include <sys/stat.h>
#include <unistd.h>
#include <utility>

namespace mrforge::builder {

namespace {

// Caps on table walks, so that a crafted file cannot make the reader loop for long.
constexpr size_t k_max_sections = 1u << 16;
constexpr size_t k_max_program_headers = 1u << 16;
constexpr size_t k_max_dynamic_entries = 1u << 20;
// Larger ELF files than this are refused (the biggest Debian kernel modules and libraries are far smaller).
constexpr FileLimit k_elf_file{"ELF file", 1ull << 30};

void init_libelf() {
  static std::once_flag once;
  std::call_once(once, [] { (void)elf_version(EV_CURRENT); });
}

std::string libelf_error() {
  const char *msg = elf_errmsg(-1);
  return msg != nullptr ? msg : "unknown libelf error";
}

struct ElfDeleter {
  void operator()(Elf *e) const noexcept { elf_end(e); }
};

// A parsed ELF image over a private copy of the bytes (libelf may convert a memory image in place).
class ElfImage {
public:
  ElfImage(std::string_view bytes, const std::string &source) : m_bytes(bytes), m_source(source) {
    init_libelf();
    if (m_bytes.size() < EI_NIDENT || std::memcmp(m_bytes.data(), ELFMAG, SELFMAG) != 0)
      throw FormatError(source, 0, "not an ELF file (no \\x7fELF magic)");
    m_elf.reset(elf_memory(m_bytes.data(), m_bytes.size()));
    if (!m_elf) throw FormatError(source, 0, "cannot parse the ELF file: " + libelf_error());
    if (elf_kind(m_elf.get()) != ELF_K_ELF) throw FormatError(source, 0, "not an ELF object");
    if (gelf_getehdr(m_elf.get(), &m_ehdr) == nullptr)
      throw FormatError(source, 0, "cannot read the ELF header: " + libelf_error());
    // libelf treats header tables that lie past the end of the file as absent; refuse them instead.
    // Extended numbering (PN_XNUM, e_shnum 0 with e_shoff set, SHN_XINDEX) is only needed for more
    // than 65279 entries and is refused.
    if (m_ehdr.e_phnum == PN_XNUM) throw error(0, "extended program header numbering (PN_XNUM) is not supported");
    if (m_ehdr.e_shoff != 0 && m_ehdr.e_shnum == 0) throw error(0, "extended section numbering is not supported");
    if (m_ehdr.e_shstrndx == SHN_XINDEX) throw error(0, "extended section name table index is not supported");
    check_table("program header table", m_ehdr.e_phoff, m_ehdr.e_phnum, m_ehdr.e_phentsize, ELF_T_PHDR);
    check_table("section header table", m_ehdr.e_shoff, m_ehdr.e_shnum, m_ehdr.e_shentsize, ELF_T_SHDR);
  }
  Elf *get() const { return m_elf.get(); }
  const GElf_Ehdr &ehdr() const { return m_ehdr; }
  const std::string &source() const { return m_source; }
  std::string_view bytes() const { return m_bytes; }

  size_t section_count() const {
    size_t n = 0;
    if (elf_getshdrnum(m_elf.get(), &n) != 0) throw error(0, "cannot count the sections: " + libelf_error());
    if (n > k_max_sections)
      throw error(0, std::to_string(n) + " sections (more than " + std::to_string(k_max_sections) + ")");
    return n;
  }

  FormatError error(uint64_t offset, const std::string &message) const {
    return FormatError(m_source, offset, message);
  }

  // Refuses a byte range [offset, offset + size) that is not inside the file.
  void check_range(const std::string &what, uint64_t offset, uint64_t size) const {
    if (offset > m_bytes.size() || size > m_bytes.size() - offset)
      throw error(offset, what + " (" + std::to_string(size) + " bytes at offset " + std::to_string(offset) +
                              ") extends past the end of the file (" + std::to_string(m_bytes.size()) + " bytes)");
  }

private:
  void check_table(const std::string &what, uint64_t offset, uint64_t count, uint64_t entry_size, Elf_Type type) const {
    if (count == 0) return;
    size_t expected = gelf_fsize(m_elf.get(), type, 1, EV_CURRENT);
    if (entry_size != expected)
      throw error(0, what + ": entry size " + std::to_string(entry_size) + ", expected " + std::to_string(expected));
    check_range(what, offset, count * entry_size); // both below 2^16: no overflow
  }

  std::string m_bytes;
  std::string m_source;
  std::unique_ptr<Elf, ElfDeleter> m_elf;
  GElf_Ehdr m_ehdr{};
};

std::string read_interpreter(const ElfImage &image) {
  size_t count = 0;
  if (elf_getphdrnum(image.get(), &count) != 0)
    throw image.error(0, "cannot count the program headers: " + libelf_error());
  if (count > k_max_program_headers)
    throw image.error(image.ehdr().e_phoff, std::to_string(count) + " program headers (more than " +
                                                std::to_string(k_max_program_headers) + ")");
  std::string interpreter;
  bool found = false;
  for (size_t i = 0; i < count; ++i) {
    GElf_Phdr ph;
    if (gelf_getphdr(image.get(), static_cast<int>(i), &ph) == nullptr)
      throw image.error(image.ehdr().e_phoff,
                        "cannot read program header " + std::to_string(i) + ": " + libelf_error());
    if (ph.p_type != PT_INTERP) continue;
    if (found) throw image.error(ph.p_offset, "more than one PT_INTERP segment");
    found = true;
    image.check_range("PT_INTERP segment", ph.p_offset, ph.p_filesz);
    std::string_view bytes = image.bytes();
    std::string_view text = bytes.substr(static_cast<size_t>(ph.p_offset), static_cast<size_t>(ph.p_filesz));
    size_t nul = text.find('\0');
    if (nul == std::string_view::npos) throw image.error(ph.p_offset, "PT_INTERP path is not NUL-terminated");
    if (nul == 0) throw image.error(ph.p_offset, "PT_INTERP path is empty");
    interpreter = std::string(text.substr(0, nul));
  }
  return interpreter;
}

// Section `index` and its header; FormatError when libelf cannot read them.
std::pair<Elf_Scn *, GElf_Shdr> section_header(const ElfImage &image, size_t index) {
  Elf_Scn *scn = elf_getscn(image.get(), index);
  GElf_Shdr sh;
  if (scn == nullptr || gelf_getshdr(scn, &sh) == nullptr)
    throw image.error(image.ehdr().e_shoff,
                      "cannot read section header " + std::to_string(index) + ": " + libelf_error());
  return {scn, sh};
}

std::vector<std::string> read_needed(const ElfImage &image) {
  std::vector<std::string> needed;
  size_t sections = image.section_count();
  bool seen_dynamic = false;
  for (size_t index = 1; index < sections; ++index) {
    auto [scn, sh] = section_header(image, index);
    if (sh.sh_type != SHT_DYNAMIC) continue;
    if (seen_dynamic) throw image.error(sh.sh_offset, "more than one SHT_DYNAMIC section");
    seen_dynamic = true;
    if (sh.sh_link == 0 || sh.sh_link >= sections)
      throw image.error(sh.sh_offset, "dynamic section (section " + std::to_string(index) + ") links to string table " +
                                          std::to_string(sh.sh_link) + ", which does not exist");
    image.check_range("dynamic section", sh.sh_offset, sh.sh_size);
    Elf_Scn *strings = elf_getscn(image.get(), sh.sh_link);
    GElf_Shdr strings_sh;
    if (strings == nullptr || gelf_getshdr(strings, &strings_sh) == nullptr)
      throw image.error(sh.sh_offset, "cannot read the dynamic string table's section header: " + libelf_error());
    if (strings_sh.sh_type != SHT_STRTAB)
      throw image.error(sh.sh_offset, "dynamic section links to section " + std::to_string(sh.sh_link) +
                                          ", which is not a string table");
    image.check_range("dynamic string table", strings_sh.sh_offset, strings_sh.sh_size);
    Elf_Data *data = elf_getdata(scn, nullptr);
    if (data == nullptr) throw image.error(sh.sh_offset, "cannot read the dynamic section: " + libelf_error());
    size_t entry_size = gelf_fsize(image.get(), ELF_T_DYN, 1, EV_CURRENT);
    if (entry_size == 0) throw image.error(sh.sh_offset, "cannot size dynamic entries: " + libelf_error());
    size_t entries = data->d_size / entry_size;
    if (entries > k_max_dynamic_entries)
      throw image.error(sh.sh_offset, std::to_string(entries) + " dynamic entries (more than " +
                                          std::to_string(k_max_dynamic_entries) + ")");
    for (size_t i = 0; i < entries; ++i) {
      GElf_Dyn dyn;
      if (gelf_getdyn(data, static_cast<int>(i), &dyn) == nullptr)
        throw image.error(sh.sh_offset, "cannot read dynamic entry " + std::to_string(i) + ": " + libelf_error());
      if (dyn.d_tag == DT_NULL) break;
      if (dyn.d_tag != DT_NEEDED) continue;
      const char *name = elf_strptr(image.get(), sh.sh_link, static_cast<size_t>(dyn.d_un.d_val));
      if (name == nullptr)
        throw image.error(sh.sh_offset + i * entry_size,
                          "DT_NEEDED entry " + std::to_string(i) + " points at string offset " +
                              std::to_string(dyn.d_un.d_val) + ", outside string table " + std::to_string(sh.sh_link));
      if (*name == '\0')
        throw image.error(sh.sh_offset + i * entry_size, "DT_NEEDED entry " + std::to_string(i) + " is empty");
      needed.emplace_back(name);
    }
  }
  return needed;
}

} // namespace

ElfDependencies parse_elf_dependencies(std::string_view elf, const std::string &source) {
  ElfImage image(elf, source);
  ElfDependencies deps;
  deps.interpreter = read_interpreter(image);
  deps.needed = read_needed(image);
  return deps;
}

std::string elf_section(std::string_view elf, const std::string &section, const std::string &source) {
  ElfImage image(elf, source);
  size_t sections = image.section_count();
  size_t names = 0;
  if (sections == 0) return "";
  if (elf_getshdrstrndx(image.get(), &names) != 0)
    throw image.error(0, "cannot find the section name table: " + libelf_error());
  if (names == 0 || names >= sections)
    throw image.error(0, "section name table index " + std::to_string(names) + " is not a section");
  for (size_t index = 1; index < sections; ++index) {
    auto [scn, sh] = section_header(image, index);
    const char *name = elf_strptr(image.get(), names, sh.sh_name);
    if (name == nullptr)
      throw image.error(image.ehdr().e_shoff, "section " + std::to_string(index) + ": name offset " +
                                                  std::to_string(sh.sh_name) + " is outside the section name table");
    if (section != name) continue;
    if (sh.sh_type == SHT_NOBITS) return "";
    image.check_range("section " + section, sh.sh_offset, sh.sh_size);
    std::string_view bytes = image.bytes();
    return std::string(bytes.substr(static_cast<size_t>(sh.sh_offset), static_cast<size_t>(sh.sh_size)));
  }
  return "";
}

ElfDependencies read_elf_dependencies(const std::string &path, const std::string &source) {
  return parse_elf_dependencies(read_text_file(path, k_elf_file), source);
}

std::string read_elf_section(const std::string &path, const std::string &section, const std::string &source) {
  return elf_section(read_text_file(path, k_elf_file), section, source);
}

} // namespace mrforge::builder
