// Reference values for verifiers that do not read our statement: the JSON that Confidential
// Containers' reference value provider service (Trustee RVPS) ingests, and a plain
// measurements.json (the form `mrforge measure --json` / the guest build write).
//
// The RVPS form, as read from confidential-containers/trustee at commit
// 78962cd416dcc8a32f9377e0066a28fe21420f69:
//   rvps/src/lib.rs: the message RVPS registers is {"version": "0.1.0", "type": EXTRACTOR,
//     "payload": STRING}; RVPS refuses any other version.
//   rvps/src/extractors/sample/{mod.rs,README.md}: the "sample" extractor base64-decodes
//     (standard alphabet, padded) the payload into {"<name>": ["<value>", ...], ...} and stores
//     each list under its name. The payload carries no expiry: RVPS itself stamps each reference
//     value "now + 12 months" when it ingests it (rvps/src/reference_value.rs,
//     MONTHS_BEFORE_EXPIRATION), so our output holds no time and stays reproducible.
//   attestation-service/src/ear_token/ear_default_policy_cpu.rego: the default EAR policy checks
//     `input.tdx.quote.body.mr_td in query_reference_value("mr_td")` and the same for "rtmr_1"
//     and "rtmr_2"; deps/verifier/src/tdx/claims.rs names the quote body claims mr_td and
//     rtmr_0..rtmr_3 and writes them with hex::encode (lower-case hex, no prefix).
// So the payload is {"mr_td": [...], "rtmr_0": [...], "rtmr_1": [...], "rtmr_2": [...]}: one
// list per claim with the value of every shape of the statement (duplicates once, in shape
// order), lower-case hex. A shape without an expected MRTD contributes nothing to "mr_td".
#pragma once

#include <builder/attest/measurement_statement.hpp>

#include <nlohmann/json.hpp>

namespace mrforge::builder {

constexpr const char *k_rvps_message_version = "0.1.0"; // trustee rvps/src/lib.rs MESSAGE_VERSION
constexpr const char *k_rvps_sample_type = "sample";

// The claims and values (the payload before base64): {"mr_td": [...], "rtmr_0": [...], ...}.
// Throws InputError when the statement holds no measurements (an OciImage).
nlohmann::ordered_json rvps_reference_value_lists(const Statement &statement);

// The RVPS message: {"version": "0.1.0", "type": "sample", "payload": BASE64(compact JSON of
// rvps_reference_value_lists)}. Throws InputError when the statement holds no measurements.
nlohmann::ordered_json coco_rvps_reference_values(const Statement &statement);

// {"shapes": [...]} as in a guest build's measurements.json (profile, ovmf_variant, cpus,
// memory, memory_bytes, acpi, firmware, cmdline, mrtd, rtmr0-2, events; no host "inputs"), which
// `mrforge verify --expected` reads. Throws InputError when the statement holds no measurements.
nlohmann::ordered_json plain_measurements(const Statement &statement);

} // namespace mrforge::builder
