#include <measure/acpi/acpi_blobs.hpp>

#include <measure/acpi/acpi_digests.hpp>
#include <measure/util/errors.hpp>
#include <measure/util/file_io.hpp>
#include <measure/util/mapped_file.hpp>

#include <filesystem>
#include <string>

namespace mrforge {

AcpiBlobs read_acpi_blobs(const std::string &dir) {
  AcpiBlobPaths paths = locate_acpi_blobs(dir);
  return AcpiBlobs{read_file(paths.table_loader, limits::k_acpi_blob), read_file(paths.rsdp, limits::k_acpi_blob),
                   read_file(paths.tables, limits::k_acpi_blob)};
}

void write_acpi_blobs(const AcpiBlobs &blobs, const std::string &dir) {
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) throw SystemError(dir, "cannot create the directory: " + ec.message());
  write_file_atomically(dir + "/table-loader", blobs.table_loader);
  write_file_atomically(dir + "/rsdp", blobs.rsdp);
  write_file_atomically(dir + "/tables", blobs.tables);
}

} // namespace mrforge
