// Every limit mrforge puts on what it reads from outside, in one place (the README's "Security:
// limits" lists the same): the size of each kind of input file, the nesting and size of parsed
// JSON and YAML, and the time and size of network transfers. Exceeding one is bad input (exit 2)
// with a message naming the file or URL and the limit; nothing is read beyond it.
#pragma once

#include <cstdint>

namespace mrforge {

// The size limit of one kind of input file, and what that kind is called in messages.
struct FileLimit {
  const char *kind;  // "quote", "event log"
  uint64_t max_size; // bytes
};

namespace limits {

constexpr uint64_t k_kib = 1024;
constexpr uint64_t k_mib = 1024 * k_kib;
constexpr uint64_t k_gib = 1024 * k_mib;
constexpr uint64_t k_tib = 1024 * k_gib;

// ---- input files: checked with fstat before the first byte is read, and again while reading
// (pseudo-files do not report their true size) --------------------------------------------------

// Attestation inputs, read into memory. A binary quote is about 5 KiB; the limit leaves room for a
// dstack JSON attestation document that carries the event log as hex next to the quote.
constexpr FileLimit k_quote{"quote", 4 * k_mib};
// A CCEL table is at most a few hundred KiB in practice (1 MiB in the largest vector); as hex or
// dstack JSON about twice that.
constexpr FileLimit k_event_log{"event log", 16 * k_mib};
constexpr FileLimit k_ima_list{"IMA measurement list", 64 * k_mib};

// Boot components, memory-mapped and hashed in place (never read into memory whole).
constexpr FileLimit k_firmware{"firmware image", 64 * k_mib}; // OVMF images are 2-16 MiB
constexpr FileLimit k_kernel{"kernel", 512 * k_mib};          // a bzImage is ~10 MiB, a UKI up to a few hundred
constexpr FileLimit k_initrd{"initrd", 4 * k_gib};            // the boot protocol's ramdisk_size is 32 bits
// A boot disk image (mapped; only its GPT is read): an ESP and a root file system.
constexpr FileLimit k_disk_image{"disk image", 64 * k_gib};
// QEMU's ACPI blobs (table-loader, rsdp, tables): QEMU caps the tables at 2 MiB
// (ACPI_BUILD_TABLE_MAX_SIZE in hw/i386/acpi-build.c).
constexpr FileLimit k_acpi_blob{"ACPI blob", 4 * k_mib};

// Documents, read into memory and parsed.
// Expected values, signed statements and DSSE envelopes, locks, metadata.json, build records, OCI
// index/manifest/config; also the largest JSON file `diff` compares field by field.
constexpr FileLimit k_json_document{"JSON document", 16 * k_mib};
// Recipes, kernel pins, platform/ACPI profiles, OVMF variants (a few KiB each).
constexpr FileLimit k_yaml_document{"YAML document", 1 * k_mib};
// VM shape files and dstack vm_configs (a few hundred bytes each).
constexpr FileLimit k_vm_shape{"VM shape", 1 * k_mib};
constexpr FileLimit k_vm_config{"dstack vm_config", 1 * k_mib};
// dstack's measurement.tdx.cbor (384 bytes; the reader's own limit is 64 KiB).
constexpr FileLimit k_dstack_measurement{"dstack measurement file", 64 * k_kib};
// Small text records of a build output (sha256sum.txt, digest.txt), host apt sources.
constexpr FileLimit k_text_record{"text file", 1 * k_mib};
// A CA certificate file of ca-certificates (PEM; Debian's are 1-3 KiB each).
constexpr FileLimit k_ca_certificate{"CA certificate", 1 * k_mib};
// PEM key files (a key is a few hundred bytes).
constexpr FileLimit k_key_file{"key file", 64 * k_kib};

// Streamed (hashed, copied or compared a block at a time; never held in memory whole).
constexpr FileLimit k_recipe_file{"recipe file source", 4 * k_gib};
// .deb files unpacked from the store (each was checked against the size and sha256 its signed
// index gives on the way in).
constexpr FileLimit k_package{"Debian package", 4 * k_gib};
// Blobs of an OCI image layout a DstackApp service is pinned to (config and layers, copied into the
// output while their sha256 is checked): a layer of a large image is a few GiB.
constexpr FileLimit k_oci_blob{"OCI image blob", 64 * k_gib};
// Files of a build output (rootfs.img, layers, ...) hashed by sign/verify-signature and compared by
// diff; a bound on time, not on memory.
constexpr FileLimit k_artifact{"artifact", 1 * k_tib};

// ---- parsed documents ---------------------------------------------------------------------------

// Arrays and objects nested deeper than this are refused by parse_json_text (at the offset of the
// opening bracket): every walk over a parsed JSON value recurses at most this deep. Real documents
// nest at most 7 levels (in-toto statements, the event logs of ../shared/vectors).
constexpr int k_max_json_depth = 128;
// The same for YAML (recipes and profiles nest at most 5 levels), and the number of nodes (scalars,
// sequences, mappings) one YAML document may have: yaml-cpp spends a few hundred bytes per node.
// Anchors and aliases are refused outright (an alias bomb expands a small file into gigabytes).
constexpr int k_max_yaml_depth = 64;
constexpr uint64_t k_max_yaml_nodes = 100000;

// ---- network transfers (builder/system/http_fetch) -----------------------------------------------------

// Each transfer (one URL) must finish within this many seconds (MRFORGE_FETCH_TIMEOUT overrides).
constexpr long k_fetch_deadline_seconds = 600;
// InRelease files (Debian's is about 150 KiB). Packages indexes and .deb files are limited to the
// size the signed InRelease or the lock gives for them.
constexpr uint64_t k_max_inrelease_size = 16 * k_mib;
// A decompressed Packages index (bookworm main/amd64: about 45 MiB).
constexpr uint64_t k_max_packages_size = 1 * k_gib;

} // namespace limits

} // namespace mrforge
