// Fuzz target for QEMU ACPI blobs as `mrforge acpi list|diff` and `measure --acpi-tables` read
// them from others: the decoder (tables, fixed-table fields, MADT entries, AML objects, loader
// commands, RSDP), its listing, the differ and the digest checks. Any input must either decode or
// throw mrforge::Error.
//
// An input holds all three blobs: a 24-byte header of six little-endian u32, for table-loader,
// rsdp and tables in turn (stored length, padded length), then the stored bytes of each. A blob
// is its stored bytes zero-extended to its padded length (at most 1 MiB), so that the seeds keep
// QEMU's 4 KiB loader and 128 KiB tables blobs without storing their zero padding.
// make_acpi_seeds.py writes such inputs from blob directories (tests/data/acpi).
#include <measure/acpi/acpi_blobs.hpp>
#include <measure/acpi/acpi_decode.hpp>
#include <measure/acpi/acpi_digests.hpp>
#include <measure/util/errors.hpp>

#include <algorithm>
#include <cstddef>
#include <cstdint>

namespace {
uint32_t le32(const uint8_t *p) {
  return static_cast<uint32_t>(p[0]) | static_cast<uint32_t>(p[1]) << 8 | static_cast<uint32_t>(p[2]) << 16 |
         static_cast<uint32_t>(p[3]) << 24;
}
} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  constexpr size_t k_header = 24;
  constexpr uint32_t k_max_padded = 1u << 20;
  if (size < k_header) return 0;
  mrforge::AcpiBlobs blobs;
  mrforge::Bytes *parts[] = {&blobs.table_loader, &blobs.rsdp, &blobs.tables};
  size_t at = k_header;
  for (int i = 0; i < 3; ++i) {
    size_t stored = std::min<size_t>(le32(data + 8 * i), size - at);
    size_t padded = std::min(le32(data + 8 * i + 4), k_max_padded);
    parts[i]->assign(data + at, data + at + stored);
    if (padded > stored) parts[i]->resize(padded, 0);
    at += stored;
  }
  try {
    (void)mrforge::acpi_listing(mrforge::decode_acpi(blobs));
  } catch (const mrforge::Error &) {
  }
  try {
    (void)mrforge::diff_acpi(blobs, blobs);
  } catch (const mrforge::Error &) {
  }
  try {
    (void)mrforge::acpi_digests(blobs.table_loader, "fuzz:table-loader", blobs.rsdp, "fuzz:rsdp", blobs.tables,
                                "fuzz:tables");
  } catch (const mrforge::Error &) {
  }
  return 0;
}
