// Reading real event logs of ../shared/vectors in tests: dstack's JSON logs and binary CCEL logs,
// flattened into one shape (register 0..3, event type, digest, event data).
#pragma once

#include <measure/util/bytes.hpp>
#include <measure/util/hash.hpp>

#include <cstdint>
#include <string>
#include <vector>

namespace mrforge::test {

struct VectorEvent {
  unsigned reg = 0; // 0..3 = RTMR0..3
  uint32_t type = 0;
  Sha384 digest{};
  Bytes data; // event payload (may be empty in dstack "lite" logs)
};

// dstack attestation JSON (field "event_log": a JSON string with [{imr, event_type, digest,
// event, event_payload}]); RTMR3 events are skipped.
std::vector<VectorEvent> dstack_boot_events(const std::string &rel);
// Binary CCEL log (MR index 1..4 = RTMR0..3); EV_NO_ACTION skipped.
std::vector<VectorEvent> ccel_events(const std::string &rel);
// RTMR0..3 of the quote (hex text in field "quote") of a dstack attestation JSON.
std::vector<Sha384> dstack_quote_rtmrs(const std::string &rel);
// The first event of `reg` with `type` (FAILs the test if none).
const VectorEvent &first_event(const std::vector<VectorEvent> &events, unsigned reg, uint32_t type);
std::vector<VectorEvent> events_of(const std::vector<VectorEvent> &events, unsigned reg, uint32_t type);
// The component digests an auditor of a dstack app holds published (CFV, ACPI, kernel, cmdline,
// initrd), taken here from the dstack vector's own log, as `mrforge measure/verify` options:
// {"--digest", "cfv=HEX", "--digest", "acpi-loader=HEX", ...}.
std::vector<std::string> published_digest_args(const std::string &rel);

} // namespace mrforge::test
