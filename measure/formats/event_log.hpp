// One shape for every event log mrforge reads (binary TCG2/CCEL logs, dstack's JSON logs, IMA
// lists appended to RTMR2): an ordered list of events with the register each extends, its type,
// its SHA-384 digest, its data and whether that data is what the digest covers. Replay, display
// and verification all read this list.
#pragma once

#include <measure/formats/event.hpp>
#include <measure/formats/event_data_check.hpp>
#include <measure/formats/tcg_log.hpp>

#include <optional>
#include <string>
#include <vector>

namespace mrforge {

struct LoggedEvent {
  size_t index = 0;            // position in the source log (0-based, EV_NO_ACTION included)
  uint64_t offset = 0;         // byte offset in a binary log; 0 for JSON logs
  std::optional<Register> reg; // absent for events that extend nothing (EV_NO_ACTION)
  uint32_t type = 0;
  std::optional<Sha384> digest;   // the SHA-384 digest that was extended (absent for EV_NO_ACTION)
  std::vector<LogDigest> digests; // every digest the record carries (binary logs)
  Bytes data;                     // the event data as logged
  std::string name;               // dstack runtime events (RTMR3): the event name
  std::string origin;             // "ccel", "dstack-json", "ima" ...: where the record came from
  DataVerdict data_check;         // whether `data` (and `name`) is what the digests cover
};

struct EventLog {
  std::string source;                      // file name, for messages
  std::string format;                      // "tcg2", "dstack-json", ...
  std::vector<SpecIdAlgorithm> algorithms; // from the Spec ID event of a binary log
  std::vector<LoggedEvent> events;
};

// A binary CCEL log (MR index 1..4 = RTMR0..3), each event's data checked against every digest
// of its record (check_event_data). Records without a SHA-384 digest that extend a
// register make it throw FormatError (the message names the algorithms the log does have).
EventLog event_log_from_ccel(const TcgLog &log);

// The registers the log replays to: each RTMR from 48 zero bytes, SHA384(rtmr || digest) per event.
RtmrValues replay(const EventLog &log);

// The events of one register, in log order.
std::vector<const LoggedEvent *> events_of(const EventLog &log, Register reg);

// dstack's runtime event type (RTMR3 events its guest agent extends).
constexpr uint32_t k_dstack_runtime_event_type = 0x08000001;

// dstack's runtime event digest (RTMR3): SHA384(u32le(type) || ":" || name || ":" || payload)
// (dstack cc-eventlog src/tdx.rs, runtime event version 1).
Sha384 dstack_runtime_event_digest(uint32_t type, const std::string &name, ByteView payload);

} // namespace mrforge
