// Verifying a TD against a prediction: (1) the event log must replay to the quote's RTMR0-3 and
// no event's data may contradict its digest (event_data_check.hpp),
// (2) the expected MRTD and RTMR0-2 are compared with the quote's, (3) where a register differs,
// the expected events are aligned with the log's to name the first event that diverges and the
// input that fed it, and (4) when the engine inputs are at hand, the engine is re-run under
// neighbouring assumptions (page order, memory size, kernel header patch, OVMF variant, other
// profiles) to say which one reproduces what the TD actually reported.
// The expected side comes only from the engine or an expected-values file, never from the log
// being verified.
#pragma once

#include <measure/engine/engine.hpp>
#include <measure/engine/profile.hpp>
#include <measure/formats/event.hpp>
#include <measure/formats/event_log.hpp>
#include <measure/formats/quote.hpp>

#include <array>
#include <cstddef>
#include <optional>
#include <string>
#include <vector>

namespace mrforge {

// Step 1: one register of the log's replay against the quote.
struct RegisterCheck {
  Register reg = Register::rtmr0;
  Sha384 quote{};
  Sha384 replayed{};
  bool match = false;
};

// Replays the log and compares RTMR0-3 with the quote's (four entries, RTMR0 first). A mismatch
// means the log is not this TD's log or was altered. Does not throw.
std::vector<RegisterCheck> check_log_against_quote(const EventLog &log, const TdQuote &quote);

// The first event of a register where the expected events and the log's part.
struct Divergence {
  Register reg = Register::rtmr0;
  size_t position = 0;               // index within that register's events
  std::optional<Event> expected;     // absent: the log has an event the prediction does not
  std::optional<LoggedEvent> actual; // absent: the log lacks an event the prediction has
  std::string message;               // one line naming the register, position, event and its input
};

// Step 3: for each of RTMR0-2 whose expected events fold to another value than the log's events
// of that register, the first position where they differ (type or digest; an extra or missing
// event is a divergence too). Registers that agree yield nothing. Does not throw.
std::vector<Divergence> align(const Measurement &expected, const EventLog &log);

// An assumption that, changed, reproduces what the TD reported.
struct Explanation {
  std::string assumption;         // "memory 2 GiB instead of 4 GiB", "profile qemu-9.2-tdx instead of ..."
  std::string what_it_reproduces; // "the quote's RTMR0", "the quote's MRTD", "the log's RTMR1 event 0"
};

// The neighbouring platform profiles and OVMF variants diagnosis tries (the shipped ones,
// typically: the CLI loads them; this library does not read YAML).
struct Alternatives {
  std::vector<PlatformProfile> profiles;
  std::vector<OvmfVariant> ovmf_variants;
};

// Whether the expected MRTD (from the firmware given to the engine) is compared with the
// quote's. `ignore` is for a firmware given only for its TDVF layout (TD HOB), not the TD's own.
enum class MrtdPolicy { compare, ignore };

// Memory sizes diagnosis tries besides the given size +- 1 GiB (GiB).
inline constexpr unsigned k_diagnosis_memory_gib[] = {1,  2,  3,  4,  6,   8,   12,  16,  24,
                                                      32, 48, 64, 96, 128, 192, 256, 384, 512};

// Re-runs the engine under neighbouring assumptions (flipped MRTD page order when the MRTD
// differs; other memory sizes; every other profile in `alternatives`, which covers the kernel
// header patch on/off; every other OVMF variant, which covers separator placement and
// SecureBoot) and returns those that reproduce, for something that differs now, the quote's
// MRTD or register value or the log's digest at a divergence. An alternative the engine cannot
// compute (mrforge::Error is caught) is not an explanation. Returns nothing when nothing
// differs. `expected` is measure(profile, ovmf, in); the given assumptions are not re-run.
std::vector<Explanation> diagnose(const PlatformProfile &profile, const OvmfVariant &ovmf, const MeasureInputs &in,
                                  const Measurement &expected, const TdQuote &quote,
                                  const std::vector<Divergence> &divergences, const Alternatives &alternatives,
                                  MrtdPolicy mrtd = MrtdPolicy::compare);

// Step 1: an event whose data does not match its digest (the log's data was altered).
struct DataMismatch {
  size_t index = 0; // LoggedEvent::index
  std::optional<Register> reg;
  uint32_t type = 0;
  std::string note; // DataVerdict::note: the rule and the two digests
};

struct VerifyReport {
  std::vector<RegisterCheck> log_vs_quote;       // step 1
  std::vector<DataMismatch> data_mismatches;     // step 1: events whose data contradicts their digest
  bool log_consistent = false;                   // replays to the quote's RTMR0-3, no data mismatch
  std::optional<bool> mrtd_match;                // absent: no expected MRTD
  std::array<std::optional<bool>, 3> rtmr_match; // expected RTMR0-2 against the quote; absent: not expected
  std::vector<Divergence> divergences;           // step 3
  std::vector<Explanation> explanations;         // diagnosis
  std::vector<std::string> notes;                // what was not checked and why
  // The log is consistent, at least one value was compared, and everything compared matches.
  bool ok() const;
};

// Steps 1-3 and diagnosis, with the engine inputs at hand. Throws what measure() throws for
// the given inputs (InputError, FormatError): the prediction itself must be computable.
VerifyReport verify(const PlatformProfile &profile, const OvmfVariant &ovmf, const MeasureInputs &in,
                    const EventLog &log, const TdQuote &quote, const Alternatives &alternatives,
                    MrtdPolicy mrtd = MrtdPolicy::compare);

// Expected values without engine inputs (e.g. a measurements JSON): any of MRTD, RTMR0-2 and the
// expected event list. Missing RTMRs are folded from the events when there are any.
struct ExpectedValues {
  std::optional<Sha384> mrtd;
  std::array<std::optional<Sha384>, 3> rtmr;
  std::vector<Event> events; // RTMR0-2 events in log order; may be empty
};

// Steps 1-3, no diagnosis. Throws InputError("expected", ...) when a given RTMR disagrees with
// what the given events of that register fold to (the expected file contradicts itself).
VerifyReport verify(const ExpectedValues &expected, const EventLog &log, const TdQuote &quote);

} // namespace mrforge
