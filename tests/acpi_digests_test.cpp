// "ACPI DATA" digests from the three fw_cfg blobs in a directory, in each accepted layout.
#include "test_support.hpp"

#include <measure/acpi/acpi_digests.hpp>
#include <measure/util/errors.hpp>

#include <catch2/catch.hpp>

#include <filesystem>
#include <fstream>

using namespace mrforge;
namespace fs = std::filesystem;

namespace {

struct TempDir {
  fs::path path;
  TempDir() {
    char tmpl[] = "/tmp/mrforge-acpi-XXXXXX";
    path = mkdtemp(tmpl);
  }
  ~TempDir() { fs::remove_all(path); }
};

void write(const fs::path &p, const Bytes &b) {
  fs::create_directories(p.parent_path());
  std::ofstream(p, std::ios::binary)
      .write(reinterpret_cast<const char *>(b.data()), static_cast<std::streamsize>(b.size()));
}

// Blobs shaped like QEMU's: 4096-byte loader (32 commands), a 20-byte ACPI 1.0 RSDP, 128 KiB tables.
struct Blobs {
  Bytes loader = Bytes(4096, 0x01);
  Bytes rsdp;
  Bytes tables = Bytes(0x20000, 0x00);
  Blobs() {
    std::string sig = "RSD PTR ";
    rsdp.assign(sig.begin(), sig.end());
    rsdp.resize(20, 0x42);
    tables[0] = 'F';
  }
};

} // namespace

TEST_CASE("ACPI digests are the SHA-384 of each blob in every accepted directory layout", "[acpi]") {
  Blobs b;
  const char *layouts[][3] = {
      {"table-loader", "rsdp", "tables"},
      {"etc/table-loader", "etc/acpi/rsdp", "etc/acpi/tables"},
      {"etc/table-loader/raw", "etc/acpi/rsdp/raw", "etc/acpi/tables/raw"}, // cp -r of sysfs by_name/etc
  };
  for (const auto &l : layouts) {
    INFO(l[0]);
    TempDir d;
    write(d.path / l[0], b.loader);
    write(d.path / l[1], b.rsdp);
    write(d.path / l[2], b.tables);
    AcpiDigests a = acpi_digests_from_dir(d.path.string());
    CHECK(to_hex(a.table_loader) == to_hex(sha384(b.loader)));
    CHECK(to_hex(a.rsdp) == to_hex(sha384(b.rsdp)));
    CHECK(to_hex(a.tables) == to_hex(sha384(b.tables)));
  }
}

TEST_CASE("Missing or malformed ACPI blobs are named in the error", "[acpi]") {
  Blobs b;
  TempDir d;
  write(d.path / "table-loader", b.loader);
  write(d.path / "rsdp", b.rsdp);
  CHECK_THROWS_WITH(acpi_digests_from_dir(d.path.string()),
                    Catch::Contains("etc/acpi/tables") && Catch::Contains("qemu_fw_cfg"));
  CHECK_THROWS_AS(acpi_digests_from_dir((d.path / "nope").string()), InputError);

  CHECK_THROWS_WITH(acpi_digests(Bytes(100, 0), "L", b.rsdp, "R", b.tables, "T"),
                    Catch::Contains("L+0x64") && Catch::Contains("128-byte"));
  Bytes bad_rsdp = b.rsdp;
  bad_rsdp[0] = 'X';
  CHECK_THROWS_WITH(acpi_digests(b.loader, "L", bad_rsdp, "R", b.tables, "T"),
                    Catch::Contains("R+0x0") && Catch::Contains("RSDP"));
  Bytes short_rsdp(b.rsdp.begin(), b.rsdp.begin() + 8);
  CHECK_THROWS_AS(acpi_digests(b.loader, "L", short_rsdp, "R", b.tables, "T"), FormatError);
  CHECK_THROWS_WITH(acpi_digests(b.loader, "L", b.rsdp, "R", Bytes(), "T"), Catch::Contains("empty"));
}
