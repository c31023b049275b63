// The in-toto Statement v1 that `mrforge sign` wraps in a DSSE envelope: subjects are the sha256
// of every artifact of a build output directory, the predicate (k_measurement_predicate_type)
// holds the expected MRTD and RTMR0-2 per VM shape with every input that determines them, the
// recipe and lock digests and the tool version. The statement's bytes are a function of the
// output directory's content only (keys in a fixed order, compact, no timestamps, no paths of
// the machine that made it), so two reproducible builds give byte-identical statements.
//
//   {"_type": "https://in-toto.io/Statement/v1",
//    "subject": [{"name": "OVMF.fd", "digest": {"sha256": HEX}}, ...],          sorted by name
//    "predicateType": k_measurement_predicate_type,
//    "predicate": {"builder": {"tool": "mrforge 0.1.0"},
//                  "recipe": {"name", "sha256"}, "lock": {"sha256"}, "kind": "GuestImage"|"OciImage",
//                  "cmdline": ..., "artifacts": {role: name},                     (GuestImage)
//                  "shapes": [{"profile", "ovmf_variant", "cpus", "memory_bytes", "acpi",
//                              "firmware": {"name", "sha256"}, "cmdline",
//                              "mrtd", "rtmr0", "rtmr1", "rtmr2", "events": [...]}],
//                  "oci": {"manifest_digest", "config_digest", "index_digest", "ref",
//                          "layers": [{"name", "digest", "diff_id", "size", "media_type"}]}}}
//                                                                                   (OciImage)
//                  "app": {"name", "compose_hash", "app_id", "app_id_source", "key_provider", "no_instance_id",
//                          "services": [{"name", "image", "source": "recipe", "recipe", "lock",
//                                        "oci"} | {"name", "image", "source": "oci-layout",
//                                        "oci_layout": PATH, "oci"}]}  (DstackApp; no "lock"; a
//                                        pinned service's oci.layers have no name or diff_id)
//
// Subjects. GuestImage: every file of sha256sum.txt (the artifacts, metadata.json and
// measurements.json), recipe.lock, sbom.spdx.json and sbom.cdx.json. OciImage: the manifest blob(s)
// named by index.json ("blobs/sha256/HEX"), index.json, docker-archive.tar (the manifest digest
// covers the config and the layers) and the two SBOMs. The SBOMs' digests are the build record's
// ("sbom": {name: sha256}); an output without them is refused. An OciImage has no shapes ("shapes": []): a container
// image is not measured into a TD's registers by itself. DstackApp: app-compose.json (its digest is the compose hash),
// docker-compose.yaml, mrforge-app.json, and each service's OCI subjects under images/NAME/ (a service
// pinned from an OCI layout has no SBOMs: mrforge did not build it).
//
// Shapes are a guest build's measurements.json entries without "memory" (the same number as
// memory_bytes) and "inputs" (host paths), plus the firmware artifact and the exact command line;
// events are measurement_json's event objects. Hex is lower case everywhere; "mrtd" may be null
// (not expected) in statements written by others, never in make_statement's.
#pragma once

#include <builder/attest/dsse.hpp>

#include <measure/verify/verify.hpp>

#include <nlohmann/json.hpp>

#include <cstdint>
#include <string>
#include <vector>

namespace mrforge::builder {

constexpr const char *k_in_toto_statement_type = "https://in-toto.io/Statement/v1";
constexpr const char *k_measurement_predicate_type = "https://mrforge.dev/attestation/tdx-measurements/v1";

// Reads a `mrforge build` output directory (GuestImage, OciImage or DstackApp; recognised by its
// mrforge-build.json) and returns the statement. Every subject's file is hashed while reading and
// must have the digest the directory records (sha256sum.txt, the build record's lock_sha256,
// index.json's manifest digests, the record's index_digest). Throws InputError naming the file
// that is missing or inconsistent (an artifact whose sha256 differs from sha256sum.txt, a
// command line that differs between metadata.json and the build record, ...), FormatError for
// JSON that does not parse, SystemError for unreadable files.
nlohmann::ordered_json make_statement(const std::string &out_dir);
// The payload bytes: make_statement(out_dir).dump() as UTF-8.
std::vector<uint8_t> statement_bytes(const nlohmann::ordered_json &statement);

struct StatementSubject {
  std::string name; // path relative to the output directory
  std::string sha256;
};

struct StatementShape {
  std::string profile;
  std::string ovmf_variant;
  unsigned cpus = 0;
  uint64_t memory_bytes = 0;
  std::string acpi;                   // where the ACPI digests come from (the acpi object's origin)
  nlohmann::ordered_json acpi_record; // the whole acpi object (source, origin, digests, VM shape)
  std::string cmdline;
  std::string firmware_name;   // the firmware artifact (role "bios")
  std::string firmware_sha256; // its sha256, lower-case hex
  ExpectedValues expected;     // MRTD (may be absent), RTMR0-2 and the events
};

struct Statement {
  std::vector<StatementSubject> subjects;
  std::string predicate_type;
  std::string kind;
  std::string recipe_name;
  std::string recipe_sha256;
  std::string lock_sha256;
  std::string tool;
  std::vector<StatementShape> shapes;
  std::string app_compose_hash; // DstackApp: sha256 of app-compose.json
  std::string app_id;           // DstackApp: its first 20 bytes, or the id the recipe pins
  bool app_id_pinned = false;   // DstackApp: app_id_source "recipe"
  nlohmann::ordered_json json;  // the whole statement as parsed
};

// Strict: throws FormatError(what, offset, ...) for bytes that are not JSON, InputError naming
// the field (what + ".predicate.shapes[0].rtmr1", ...) for a statement of another type or predicate type, missing or
// mistyped fields, hex that is not lower-case or of the wrong length, a subject name that leaves the output directory,
// and a shape whose events do not fold to its RTMR values.
Statement parse_statement(const std::vector<uint8_t> &payload, const std::string &what);

// The statement of a DSSE envelope whose signature the caller has checked: requires payloadType
// k_in_toto_payload_type (InputError(what + ": payloadType", ...) otherwise), then
// parse_statement(payload, what + ": payload").
Statement statement_from_envelope(const DsseEnvelope &envelope, const std::string &what);

// For --artifacts: every subject's file in `dir`, hashed. One line per problem ("rootfs.img:
// sha256 is X, the statement says Y", "vmlinuz: missing"); empty when all match.
std::vector<std::string> check_subjects(const Statement &statement, const std::string &dir);

} // namespace mrforge::builder
