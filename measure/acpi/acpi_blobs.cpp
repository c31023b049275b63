#include <measure/acpi/acpi_blobs.hpp>

#include <measure/acpi/acpi_digests.hpp>
#include <measure/util/errors.hpp>
#include <measure/util/mapped_file.hpp>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <string>
#include <unistd.h>

namespace mrforge {

namespace {

void write_atomically(const std::string &path, const Bytes &data) {
  std::string tmp = path + ".tmp." + std::to_string(::getpid());
  std::FILE *f = std::fopen(tmp.c_str(), "wb");
  if (!f) throw SystemError(tmp, std::string("cannot create: ") + std::strerror(errno));
  bool ok = std::fwrite(data.data(), 1, data.size(), f) == data.size();
  ok = (std::fflush(f) == 0) && ok;
  ok = (std::fclose(f) == 0) && ok;
  if (!ok || std::rename(tmp.c_str(), path.c_str()) != 0) {
    int err = errno;
    std::remove(tmp.c_str());
    throw SystemError(path, std::string("cannot write: ") + std::strerror(err));
  }
}

} // namespace

AcpiBlobs read_acpi_blobs(const std::string &dir) {
  AcpiBlobPaths paths = locate_acpi_blobs(dir);
  return AcpiBlobs{read_file(paths.table_loader, limits::k_acpi_blob), read_file(paths.rsdp, limits::k_acpi_blob),
                   read_file(paths.tables, limits::k_acpi_blob)};
}

void write_acpi_blobs(const AcpiBlobs &blobs, const std::string &dir) {
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) throw SystemError(dir, "cannot create the directory: " + ec.message());
  write_atomically(dir + "/table-loader", blobs.table_loader);
  write_atomically(dir + "/rsdp", blobs.rsdp);
  write_atomically(dir + "/tables", blobs.tables);
}

} // namespace mrforge
