// Fuzz target for attestation inputs as users hand them to `mrforge eventlog|quote|verify`: a
// quote or an event log as binary, hex text or a dstack JSON document (GetQuote, quote-report,
// attestation), Azure TDX evidence, and IMA ASCII measurement lists. Any input must either parse
// or throw mrforge::Error; what parses is used as the commands use it (quote parsed and
// annotated, log replayed). The seed corpus (tests/fuzz/corpus/attestation) also runs as an
// ordinary test; run_fuzzers.sh adds every file of ../shared/vectors.
#include <measure/documents/attestation_inputs.hpp>
#include <measure/formats/event_log.hpp>
#include <measure/formats/quote.hpp>
#include <measure/util/errors.hpp>

#include <cstddef>
#include <cstdint>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  const mrforge::ByteView input(data, size);
  try {
    mrforge::Bytes quote = mrforge::quote_bytes_from_input(input, "fuzz");
    (void)mrforge::quote_notes(mrforge::parse_td_quote(quote, "fuzz"));
  } catch (const mrforge::Error &) {
  }
  try {
    (void)mrforge::replay(mrforge::event_log_from_input(input, "fuzz"));
  } catch (const mrforge::Error &) {
  }
  try {
    (void)mrforge::ima_events(input, "fuzz");
  } catch (const mrforge::Error &) {
  }
  return 0;
}
