// The three fw_cfg files QEMU serves for ACPI (etc/table-loader, etc/acpi/rsdp, etc/acpi/tables),
// as bytes, and reading/writing them as a directory.
#pragma once

#include <measure/util/bytes.hpp>

#include <string>

namespace mrforge {

struct AcpiBlobs {
  Bytes table_loader;
  Bytes rsdp;
  Bytes tables;
};

// Reads DIR's blobs (any layout locate_acpi_blobs accepts). Throws InputError / SystemError.
AcpiBlobs read_acpi_blobs(const std::string &dir);

// Writes DIR/table-loader, DIR/rsdp, DIR/tables (each through a temporary file and rename;
// creates DIR). Throws SystemError naming the file.
void write_acpi_blobs(const AcpiBlobs &blobs, const std::string &dir);

} // namespace mrforge
