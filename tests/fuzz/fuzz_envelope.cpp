// Fuzz target for what an auditor reads from others: DSSE envelopes (JSON, base64) and the
// in-toto statements inside them (our predicate, its shapes and events). Any input must either
// parse or throw mrforge::Error. The seed corpus (tests/fuzz/corpus/envelope: real envelopes and
// statements of a guest build) also runs as an ordinary test.
#include <builder/attest/dsse.hpp>
#include <builder/attest/measurement_statement.hpp>
#include <builder/attest/reference_values.hpp>
#include <measure/util/errors.hpp>

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  using namespace mrforge::builder;
  const std::string text(reinterpret_cast<const char *>(data), size);
  // The bytes as an envelope, and the payload inside it as a statement.
  try {
    DsseEnvelope env = parse_envelope(text, "fuzz");
    (void)dsse_pae(env.payload_type, env.payload);
    (void)coco_rvps_reference_values(parse_statement(env.payload, "fuzz"));
  } catch (const mrforge::Error &) {
  }
  // The bytes as a statement directly.
  try {
    Statement s = parse_statement(std::vector<uint8_t>(data, data + size), "fuzz");
    (void)plain_measurements(s);
    (void)coco_rvps_reference_values(s);
  } catch (const mrforge::Error &) {
  }
  return 0;
}
