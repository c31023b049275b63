// Reading what an ELF file needs at run time and its named sections, through elfutils' libelf
// (gelf, so 32- and 64-bit files of either byte order are handled alike).
//
// - The program interpreter: the PT_INTERP segment, a NUL-terminated path ("System V ABI", "Program
//   Interpreter"), e.g. "/lib64/ld-linux-x86-64.so.2".
// - Shared-library dependencies: the DT_NEEDED entries of the SHT_DYNAMIC section, in their order,
//   as strings of the section its sh_link names (what `readelf -d` prints as "Shared library").
// - A section's bytes by name (section names from e_shstrndx), e.g. a kernel module's ".modinfo".
//
// Files are untrusted: every offset is checked by libelf or here, and anything that does not parse
// is a FormatError naming the source.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace mrforge::builder {

struct ElfDependencies {
  std::string interpreter;         // PT_INTERP without its NUL; "" for a static file or a library without one
  std::vector<std::string> needed; // DT_NEEDED, in order
};

// From bytes (the parsers) and from a file (which they read whole). `source` names the file in
// messages. Throws FormatError {source, offset} for anything that is not a well-formed ELF file
// (truncated, garbage, PT_INTERP not NUL-terminated, DT_NEEDED outside its string table), and
// SystemError if the file cannot be read.
ElfDependencies parse_elf_dependencies(std::string_view elf, const std::string &source);
ElfDependencies read_elf_dependencies(const std::string &path, const std::string &source);

// The bytes of the section named `section` ("" if the file has no such section, or if it is
// SHT_NOBITS). Throws as above.
std::string elf_section(std::string_view elf, const std::string &section, const std::string &source);
std::string read_elf_section(const std::string &path, const std::string &section, const std::string &source);

} // namespace mrforge::builder
