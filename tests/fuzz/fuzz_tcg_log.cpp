// Fuzz target for the event-log parser: TCG2 crypto-agile logs and CCEL data. Any input must
// either parse or throw mrforge::Error; a parsed log has every event's data checked against its
// digests (never throws) and is replayed (which may throw FormatError for a log without SHA-384 or
// with a bad MR index, never anything else). The seed corpus (tests/fuzz/corpus/tcg_log: small
// real CCEL logs, and real logs whose event data was forged with the digests kept) also runs as an
// ordinary test; tcg_log.dict holds the strings the data-check rules look for.
#include <measure/formats/event_data_check.hpp>
#include <measure/formats/event_log.hpp>
#include <measure/formats/tcg_log.hpp>
#include <measure/util/errors.hpp>

#include <cstddef>
#include <cstdint>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  try {
    const mrforge::TcgLog log = mrforge::parse_tcg_log(mrforge::ByteView(data, size), "fuzz");
    for (const auto &e : log.events) {
      (void)mrforge::tcg_event_type_name(e.type);
      (void)mrforge::check_event_data(e.type, e.data, e.digests);
    }
    (void)mrforge::event_log_from_ccel(log);
    (void)mrforge::replay_rtmrs(log);
  } catch (const mrforge::Error &) {
  }
  return 0;
}
