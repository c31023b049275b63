#include <measure/dstack/runtime_event_names.hpp>

#include <measure/util/hash.hpp>

#include <algorithm>

namespace mrforge {

namespace {

enum class Payload { empty, bytes20, bytes32, bytes20_or_empty, json, text };

struct KnownEvent {
  const char *name;
  Payload payload;
  const char *meaning;
};

// dstack-util/src/system_setup.rs at 312dc605 (line numbers of that commit), in emission order.
constexpr KnownEvent k_known[] = {
    {"system-preparing", Payload::empty, "the guest starts preparing the app (2699)"},
    {"app-id", Payload::bytes20, "app id (2700; compose hash's first 20 bytes unless pinned)"},
    {"compose-hash", Payload::bytes32, "sha256 of app-compose.json (2701)"},
    {"init-script-hash", Payload::bytes32, "sha256 of an init script (2709-2711)"},
    {"gpu-policy-hash", Payload::bytes32, "sha256 of the GPU policy (2712-2715)"},
    {"gpu-attestation", Payload::json,
     "NVIDIA GPU TEE attestation {version, provider, devices, cc_mode, devtools, evidence_sha256} (1946)"},
    {"instance-id", Payload::bytes20_or_empty, "instance id (2717; empty with no_instance_id)"},
    {"boot-mr-done", Payload::empty, "boot measurements done (2718)"},
    {"os-image-hash", Payload::bytes32, "OS image hash from the KMS (2150)"},
    {"key-provider", Payload::json, "key provider {name, id} (2778)"},
    {"storage-fs", Payload::text, "file system of the data disk (2810)"},
    {"system-ready", Payload::empty, "the app starts (2826)"},
};
constexpr const char *k_system_ready = "system-ready";

bool printable(ByteView b) {
  return std::all_of(b.begin(), b.end(), [](uint8_t c) { return c >= 0x20 && c < 0x7f; });
}

// Decodes `e` as the known event `k`; empty `problem` when it fits.
void decode(const KnownEvent &k, const LoggedEvent &e, Rtmr3Event &out) {
  const size_t n = e.data.size();
  auto size_problem = [&](const char *expected) {
    out.problem = "payload of " + std::to_string(n) + " bytes, dstack gives " + expected;
  };
  switch (k.payload) {
  case Payload::empty:
    if (n) size_problem("none");
    break;
  case Payload::bytes20:
    if (n != 20) size_problem("20");
    out.value = to_hex(e.data);
    break;
  case Payload::bytes20_or_empty:
    if (n != 20 && n != 0) size_problem("20 or none");
    out.value = to_hex(e.data);
    break;
  case Payload::bytes32:
    if (n != 32) size_problem("32");
    out.value = to_hex(e.data);
    break;
  case Payload::json:
    if (n < 2 || e.data.front() != '{' || e.data.back() != '}' || !printable(e.data))
      out.problem = "payload is not the compact JSON object dstack writes";
    out.value.assign(e.data.begin(), e.data.end());
    break;
  case Payload::text:
    if (!n || !printable(e.data)) out.problem = "payload is not a printable name";
    out.value.assign(e.data.begin(), e.data.end());
    break;
  }
}

} // namespace

const char *rtmr3_event_kind_name(Rtmr3EventKind k) {
  switch (k) {
  case Rtmr3EventKind::dstack: return "dstack";
  case Rtmr3EventKind::app: return "app";
  case Rtmr3EventKind::unknown: break;
  }
  return "NOT UNDERSTOOD";
}

std::vector<Rtmr3Event> classify_rtmr3_events(const EventLog &log) {
  std::vector<Rtmr3Event> out;
  bool ready = false;
  for (const LoggedEvent *e : events_of(log, Register::rtmr3)) {
    Rtmr3Event r;
    r.index = e->index;
    r.name = e->name;
    if (e->type != k_dstack_runtime_event_type) {
      r.problem = "event type " + std::to_string(e->type) + " is not dstack's runtime event (0x08000001)";
      out.push_back(std::move(r));
      continue;
    }
    if (e->data_check.status == DataCheck::mismatch) {
      r.problem = "its name and payload do not match its digest";
      out.push_back(std::move(r));
      continue;
    }
    if (ready) {
      r.kind = Rtmr3EventKind::app;
      r.meaning = "emitted by the app after system-ready";
      r.value.assign(e->data.begin(), e->data.end());
      out.push_back(std::move(r));
      continue;
    }
    const KnownEvent *k = nullptr;
    for (const KnownEvent &c : k_known)
      if (e->name == c.name) k = &c;
    if (!k) {
      r.problem = "dstack defines no such event before system-ready";
      r.value = to_hex(e->data);
    } else {
      r.meaning = k->meaning;
      decode(*k, *e, r);
      if (r.problem.empty()) r.kind = Rtmr3EventKind::dstack;
      if (e->name == k_system_ready) ready = true;
    }
    out.push_back(std::move(r));
  }
  return out;
}

bool all_understood(const std::vector<Rtmr3Event> &events) {
  return std::none_of(events.begin(), events.end(),
                      [](const Rtmr3Event &e) { return e.kind == Rtmr3EventKind::unknown; });
}

} // namespace mrforge
