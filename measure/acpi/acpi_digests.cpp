#include <measure/acpi/acpi_digests.hpp>
#include <measure/util/errors.hpp>
#include <measure/util/mapped_file.hpp>
#include <measure/util/reader.hpp>
#include <measure/util/strings.hpp>

#include <sys/stat.h>

namespace mrforge {

namespace {

bool is_file(const std::string &path) {
  struct stat st {};
  return ::stat(path.c_str(), &st) == 0 && S_ISREG(st.st_mode);
}

std::string find_blob(const std::string &dir, const std::string &flat, const std::string &fw_cfg_name) {
  const std::string candidates[] = {dir + "/" + flat, dir + "/" + flat + "/raw", dir + "/" + fw_cfg_name,
                                    dir + "/" + fw_cfg_name + "/raw"};
  for (const auto &c : candidates)
    if (is_file(c)) return c;
  throw InputError(dir, "no ACPI blob '" + fw_cfg_name + "' (tried " + join(candidates, ", ") +
                            "); copy it from /sys/firmware/qemu_fw_cfg/by_name/" + fw_cfg_name + "/raw in the guest");
}

// QEMU's BIOSLinker command size (hw/acpi/bios-linker-loader.c: BiosLinkerLoaderEntry is 128 bytes).
constexpr size_t k_linker_command_size = 128;

} // namespace

AcpiBlobPaths locate_acpi_blobs(const std::string &dir) {
  struct stat st {};
  if (::stat(dir.c_str(), &st) != 0 || !S_ISDIR(st.st_mode)) throw InputError(dir, "not a directory of ACPI blobs");
  return {find_blob(dir, "table-loader", "etc/table-loader"), find_blob(dir, "rsdp", "etc/acpi/rsdp"),
          find_blob(dir, "tables", "etc/acpi/tables")};
}

AcpiDigests acpi_digests(ByteView table_loader, const std::string &loader_source, ByteView rsdp,
                         const std::string &rsdp_source, ByteView tables, const std::string &tables_source) {
  if (table_loader.empty() || table_loader.size() % k_linker_command_size != 0)
    throw FormatError(loader_source, table_loader.size(),
                      "table-loader must be a whole number of 128-byte linker commands, has " +
                          std::to_string(table_loader.size()) + " bytes");
  Reader r(rsdp, rsdp_source);
  r.expect(ByteView::of("RSD PTR "), "RSDP signature (expected \"RSD PTR \")");
  if (rsdp.size() != 20 && rsdp.size() != 36)
    throw FormatError(rsdp_source, rsdp.size(),
                      "an RSDP has 20 (ACPI 1.0) or 36 bytes, this one " + std::to_string(rsdp.size()));
  if (tables.empty()) throw FormatError(tables_source, 0, "the ACPI tables blob is empty");
  return {sha384(table_loader), sha384(rsdp), sha384(tables)};
}

AcpiDigests acpi_digests_from_dir(const std::string &dir) {
  AcpiBlobPaths p = locate_acpi_blobs(dir);
  Bytes loader = read_file(p.table_loader, limits::k_acpi_blob), rsdp = read_file(p.rsdp, limits::k_acpi_blob),
        tables = read_file(p.tables, limits::k_acpi_blob);
  return acpi_digests(loader, p.table_loader, rsdp, p.rsdp, tables, p.tables);
}

} // namespace mrforge
