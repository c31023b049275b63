// Expected values for a dstack TD from its attestation document alone: the vm_config's
// `tdx_measurement` (dstack's measurement.tdx.cbor and sha256sum.txt, base64; or the image's
// measurement.tdx.cbor given separately) and the vm_config's VM shape. As dstack's "lite"
// verifier (Dstack-TEE/dstack at 312dc605: verifier/src/verification.rs 967-1041,
// dstack-mr/src/tdx.rs tdx_measurements_from_measurement_document), with mrforge's own engine:
//   MRTD   the file's single_pass or two_pass candidate, chosen as dstack does
//          (vm_config.qemu_single_pass_add_pages when set, which dstack passes as
//          two_pass_add_pages; else QEMU 8.x two-pass, 9.0 and later single-pass; absent 9.1.0);
//   RTMR0  the engine's events: the TD HOB from the file's TD HOB witness and the TD's memory,
//          the CFV and variables of the OVMF variant the file names (mapped to mrforge's
//          variants by their `dstack` name), the ACPI tables mrforge generates from the vm_config
//          (dstack lite takes them from the log being verified; mrforge does not);
//   RTMR1  the engine's events with the file's kernel Authenticode digest, which holds only for
//          2 GiB or at least 0xB0000000 bytes of memory (QEMU patches the kernel header by memory
//          size; dstack-mr/src/kernel.rs): otherwise RTMR1 is not expected, and a note says why;
//   RTMR2  the engine's events with the file's command-line and initrd digests.
// The file's binding to the image (sha256(sha256sum.txt) == vm_config.os_image_hash and the
// file's line in it) is checked and reported, not assumed.
#pragma once

#include <measure/dstack/image_measurement.hpp>
#include <measure/dstack/tdx_measurement_file.hpp>
#include <measure/verify/verify.hpp>

#include <optional>
#include <string>
#include <vector>

namespace mrforge {

// The image's measurement file given apart from the document (`verify --dstack-measurement`).
struct DstackMeasurementInput {
  Bytes measurement;                  // measurement.tdx.cbor
  std::string measurement_source;     // how to name it
  std::optional<Bytes> checksum_file; // the image's sha256sum.txt, when at hand
  std::string checksum_source;
};

struct DstackExpectation {
  ExpectedValues expected;
  TdxMeasurementFile file;
  std::string variant; // the mrforge OVMF variant the file's name maps to
  // One line per register: "MRTD: tdx_measurement tdvf.mrtd.two_pass (QEMU 8.2.2: two-pass)".
  std::vector<std::string> sources;
  std::vector<std::string> notes;
  // The file's binding to the image's identity: `bound` when both checks passed; otherwise what
  // failed or could not be checked.
  bool bound = false;
  std::string binding;
  std::string os_image_hash; // the vm_config's (hex as given; empty when absent)
  std::string against;       // for the summary: "dstack's measurement file (vm_config tdx_measurement) ..."
};

// True when `document` is a JSON object with a vm_config (object or JSON string) that has a
// `tdx_measurement`. Never throws (false for anything else).
bool has_dstack_tdx_measurement(ByteView document);

// The expected values for the TD the document describes. `given`: the measurement file to use
// instead of the vm_config's. Throws InputError naming the document's field (no vm_config, no
// tdx_measurement and none given, a field of the wrong type, an OVMF variant mrforge does not
// know, a vm_config ovmf_variant that contradicts the file's, a QEMU version dstack refuses),
// FormatError for a malformed measurement file, TD HOB witness, base64 or JSON.
DstackExpectation dstack_expectation(ByteView document, const std::string &source,
                                     const std::optional<DstackMeasurementInput> &given);

} // namespace mrforge
