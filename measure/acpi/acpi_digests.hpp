// The three "ACPI DATA" events of RTMR0: OVMF measures QEMU's fw_cfg files etc/table-loader,
// etc/acpi/rsdp and etc/acpi/tables as QEMU serves them (OvmfPkg/AcpiPlatformDxe QemuFwCfgAcpi.c,
// TDX measurement added in edk2-stable202302). The digests are SHA-384 of each blob's bytes.
#pragma once

#include <measure/util/bytes.hpp>
#include <measure/util/hash.hpp>

#include <string>

namespace mrforge {

struct AcpiDigests {
  Sha384 table_loader{};
  Sha384 rsdp{};
  Sha384 tables{};
};

// Paths of the three blobs in a directory. Accepted layouts, tried in order per blob:
//   DIR/table-loader, DIR/rsdp, DIR/tables                      (flat copy)
//   DIR/etc/table-loader, DIR/etc/acpi/rsdp, DIR/etc/acpi/tables (fw_cfg names)
//   the same with a trailing /raw: a copy of /sys/firmware/qemu_fw_cfg/by_name (`cp -r .../by_name/etc DIR/`)
struct AcpiBlobPaths {
  std::string table_loader, rsdp, tables;
};
// Throws InputError naming the directory and every path tried when a blob is missing.
AcpiBlobPaths locate_acpi_blobs(const std::string &dir);

// Checks the blobs look like QEMU's (loader: whole 128-byte commands; rsdp: "RSD PTR " and 20 or
// 36 bytes; tables: non-empty) and hashes them. Throws FormatError naming the blob.
AcpiDigests acpi_digests(ByteView table_loader, const std::string &loader_source, ByteView rsdp,
                         const std::string &rsdp_source, ByteView tables, const std::string &tables_source);

// Reads the blobs from a directory (see locate_acpi_blobs) and hashes them.
AcpiDigests acpi_digests_from_dir(const std::string &dir);

} // namespace mrforge
