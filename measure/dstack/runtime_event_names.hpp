// RTMR3 as dstack fills it: runtime events (type 0x08000001, name and payload; digest in
// measure/formats/event_log.hpp) that dstack's guest emits while it prepares the app, up to and
// including `system-ready`, then whatever the app itself emits (the guest agent's EmitEvent),
// which dstack's verifier leaves to the app (Dstack-TEE/dstack at 312dc605:
// dstack-util/src/system_setup.rs emits them; dstack-attest/src/attestation.rs find_event stops
// at system-ready). Each event of the log is classified and its payload decoded by what dstack
// puts in it; an event dstack does not define before system-ready, an event of another type, or
// a payload of the wrong shape is "not understood".
#pragma once

#include <measure/formats/event_log.hpp>

#include <string>
#include <vector>

namespace mrforge {

enum class Rtmr3EventKind {
  dstack,  // an event dstack's guest emits before the app runs, payload as dstack defines it
  app,     // after system-ready: the app's own (legitimate, not interpreted)
  unknown, // not understood: not a dstack event, or not of the shape dstack gives it
};
const char *rtmr3_event_kind_name(Rtmr3EventKind k); // "dstack", "app", "NOT UNDERSTOOD"

struct Rtmr3Event {
  size_t index = 0; // LoggedEvent::index
  std::string name; // the event's name (raw; escape before printing)
  Rtmr3EventKind kind = Rtmr3EventKind::unknown;
  std::string meaning; // "compose hash: sha256 of app-compose.json", ...
  std::string value;   // the payload decoded: hex for ids and hashes, the text of text payloads (raw)
  std::string problem; // for unknown: why
};

// The RTMR3 events of `log`, in log order. Never throws.
std::vector<Rtmr3Event> classify_rtmr3_events(const EventLog &log);

// True when every event was understood (dstack's or an app's).
bool all_understood(const std::vector<Rtmr3Event> &events);

} // namespace mrforge
