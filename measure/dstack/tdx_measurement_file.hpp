// dstack's `measurement.tdx.cbor` (version 3): the image-static material from which dstack's
// verifier computes a TD's MRTD and RTMR0-2 without downloading the image (Dstack-TEE/dstack at
// 312dc605: dstack-types/src/lib.rs CborTdxOsImageMeasurement, written by ciborium from serde):
//
//   { "version": uint 3,
//     "image": { "cmdline_sha384": bstr 48,       SHA-384 of UTF-16LE(cmdline + " initrd=initrd") + NUL
//                "kernel_authenticode": bstr 48,  Authenticode SHA-384 of the QEMU-patched kernel
//                "initrd_sha384": bstr 48 },      SHA-384 of the initrd file
//     "tdvf":  { "ovmf": tstr,                    the OVMF variant ("pre202505" is dstack's only one)
//                "mrtd": { "single_pass": bstr 48, "two_pass": bstr 48 },
//                "td_hob": bstr } }               TdHobWitnessV1 (td_hob_witness.hpp)
//
// Definite-length maps with text keys in exactly this order (serde's struct order), minimal
// heads. The CBOR itself (RFC 8949) is read and written by libcbor; this file only maps it to a
// struct. The reader is strict: every key present once, no other key, each value of its type and
// size, no indefinite lengths, tags, floats or simple values, nothing after the map.
#pragma once

#include <measure/util/bytes.hpp>
#include <measure/util/hash.hpp>

#include <cstddef>
#include <cstdint>
#include <string>

namespace mrforge {

// The file name dstack gives it (lib.rs TDX_MEASUREMENT_FILENAME).
constexpr const char *k_tdx_measurement_file_name = "measurement.tdx.cbor";
// The only version dstack reads (lib.rs TdxOsImageMeasurement::VERSION).
constexpr uint64_t k_tdx_measurement_version = 3;
// Limits of the reader: the real file is 384 bytes; the TD HOB witness of a TDVF with a few
// sections is a dozen bytes; a variant name is a short identifier.
constexpr size_t k_max_tdx_measurement_size = 64 * 1024;
constexpr size_t k_max_td_hob_witness_size = 4096;
constexpr size_t k_max_ovmf_name_size = 64;

struct TdxMeasurementFile {
  Sha384 cmdline_sha384{};
  Sha384 kernel_authenticode{};
  Sha384 initrd_sha384{};
  std::string ovmf; // printable ASCII, 1..k_max_ovmf_name_size bytes
  Sha384 mrtd_single_pass{};
  Sha384 mrtd_two_pass{};
  Bytes td_hob; // TdHobWitnessV1, 1..k_max_td_hob_witness_size bytes (not decoded here)
};

// Throws FormatError{source, offset} for bytes that are not one CBOR map in the shape above:
// malformed or truncated CBOR, indefinite lengths, tags, floats, simple values, nesting deeper
// than the format, a collection claiming more items than bytes remain, trailing bytes (offsets
// are those of the offending item); a missing, repeated or unknown key, a value of the wrong type
// or size, a version other than 3 (these name the field, e.g. "tdvf.mrtd.two_pass", at offset 0).
TdxMeasurementFile parse_tdx_measurement_file(ByteView bytes, const std::string &source);

// The file's bytes as dstack writes them (definite maps in struct order, minimal heads). Throws
// InputError for an `ovmf` name or TD HOB witness outside the reader's limits (what the reader
// would refuse is never written).
Bytes write_tdx_measurement_file(const TdxMeasurementFile &m);

} // namespace mrforge
