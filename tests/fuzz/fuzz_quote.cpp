// Fuzz target for the TDX quote and TDREPORT parsers. Any input must either parse or throw
// mrforge::Error. The seed corpus (tests/fuzz/corpus/quote: real v4/v5 quotes, a TDREPORT, an
// SGX quote) also runs as an ordinary test.
#include <measure/formats/quote.hpp>
#include <measure/util/errors.hpp>

#include <cstddef>
#include <cstdint>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  const mrforge::ByteView input(data, size);
  try {
    (void)mrforge::parse_td_quote(input, "fuzz");
  } catch (const mrforge::Error &) {
  }
  try {
    (void)mrforge::parse_td_report(input, "fuzz");
  } catch (const mrforge::Error &) {
  }
  return 0;
}
