#include <measure/dstack/app_rtmr3.hpp>
#include <measure/util/hash.hpp>
#include <measure/util/terminal_text.hpp>
#include <measure/verify/dstack_app_check.hpp>

namespace mrforge {

namespace {

// The guest's runtime events before system-ready whose payload only the running TD knows
// (system_setup.rs: instance-id 2717, os-image-hash 2150, key-provider 2778, storage-fs 2810,
// init-script-hash 2709-2711, gpu-policy-hash via measure_gpu 2712-2715).
const char *runtime_value_source(const std::string &name) {
  if (name == "instance-id") return "the TD's random instance seed";
  if (name == "os-image-hash") return "the OS image hash the KMS returned";
  if (name == "key-provider") return "the key provider the TD used (its id is the KMS or sealing key)";
  if (name == "storage-fs") return "the TD's storage file system";
  if (name == "gpu-attestation") return "the NVIDIA GPU attestation the TD made";
  return nullptr;
}

void compare(AppEventCheck &c, ByteView expected) {
  c.expected = expected.size() == 0 ? "(empty)" : to_hex(expected);
  if (ByteView(c.payload.data(), c.payload.size()) == expected) {
    c.status = AppEventStatus::match;
  } else {
    c.status = AppEventStatus::mismatch;
    c.note = "the record gives " + c.expected;
  }
}

// The key-provider payload as the guest writes it (serde_json of KeyProviderInfo {name, id}):
// {"name":NAME,"id":HEX}. False for anything else.
bool parse_key_provider_payload(const Bytes &payload, std::string &name, std::string &id) {
  const std::string s(payload.begin(), payload.end());
  const std::string head = "{\"name\":\"", middle = "\",\"id\":\"", tail = "\"}";
  if (s.size() < head.size() + middle.size() + tail.size() || s.compare(0, head.size(), head) != 0 ||
      s.compare(s.size() - tail.size(), tail.size(), tail) != 0)
    return false;
  const size_t m = s.find(middle, head.size());
  if (m == std::string::npos) return false;
  name = s.substr(head.size(), m - head.size());
  id = s.substr(m + middle.size(), s.size() - tail.size() - m - middle.size());
  auto plain = [](const std::string &t, bool hex) {
    for (char c : t)
      if (hex ? !((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f')) : !((c >= 'a' && c <= 'z') || c == '-'))
        return false;
    return true;
  };
  return plain(name, false) && plain(id, true);
}

void check_key_provider(AppEventCheck &c, const AppExpectation &expected) {
  const std::string want = dstack_key_provider_event_name(expected.key_provider);
  c.expected = "name " + want + (expected.key_provider_id.empty() ? "" : ", id " + expected.key_provider_id);
  std::string name, id;
  if (!parse_key_provider_payload(c.payload, name, id)) {
    c.status = AppEventStatus::mismatch;
    c.note = "not the {\"name\":...,\"id\":HEX} dstack's guest writes; the app chose key_provider " +
             expected.key_provider + " (" + want + ")";
  } else if (name != want) {
    c.status = AppEventStatus::mismatch;
    c.note = "the TD used key provider " + name + "; the app chose key_provider " + expected.key_provider + " (" +
             want + ")";
  } else if (!expected.key_provider_id.empty() && id != expected.key_provider_id) {
    c.status = AppEventStatus::mismatch;
    c.note = "the TD's key provider id is " + (id.empty() ? std::string("empty") : id) + "; the app pins " +
             expected.key_provider_id;
  } else {
    c.status = AppEventStatus::match;
    c.note = "name " + name + " as the app chose (key_provider " + expected.key_provider + ")";
    if (expected.key_provider_id.empty())
      c.note += id.empty() ? "; empty id" : "; id taken from the log (the app pins no key_provider_id)";
    else
      c.note += ", id as the app pins";
  }
}

} // namespace

const char *app_event_status_name(AppEventStatus s) {
  switch (s) {
  case AppEventStatus::match: return "match";
  case AppEventStatus::mismatch: return "MISMATCH";
  case AppEventStatus::from_log: return "from log";
  case AppEventStatus::app_event: return "app event";
  }
  return "?";
}

bool AppCheck::ok() const {
  return !first_divergent && problems.empty() && app_id_match.value_or(false) && compose_hash_match.value_or(false);
}

AppCheck check_app_events(const AppExpectation &expected, const EventLog &log) {
  AppCheck r;
  bool ready = false;
  size_t app_ids = 0, compose_hashes = 0;
  for (const LoggedEvent *e : events_of(log, Register::rtmr3)) {
    AppEventCheck c;
    c.index = e->index;
    c.name = e->name;
    c.payload = e->data;
    const ByteView payload(e->data.data(), e->data.size());
    if (e->type != k_dstack_runtime_event_type) {
      c.status = AppEventStatus::mismatch;
      c.note = "not a dstack runtime event (type " + std::to_string(e->type) +
               "): dstack's guest extends RTMR3 "
               "only with runtime events";
    } else if (!e->digest || *e->digest != dstack_runtime_event_digest(e->type, e->name, payload)) {
      c.status = AppEventStatus::mismatch;
      c.note = "its name and payload do not hash to its digest: the log's data was altered";
    } else if (ready) {
      c.status = AppEventStatus::app_event;
      c.note = "emitted by the application after system-ready: not part of the app's identity";
    } else if (e->name == "app-id") {
      ++app_ids;
      compare(c, ByteView(expected.app_id.data(), expected.app_id.size()));
      if (app_ids == 1) r.app_id_match = c.status == AppEventStatus::match;
    } else if (e->name == "compose-hash") {
      ++compose_hashes;
      compare(c, ByteView(expected.compose_hash.data(), expected.compose_hash.size()));
      if (compose_hashes == 1) {
        r.compose_hash_match = c.status == AppEventStatus::match;
        r.logged_compose_hash = e->data;
      }
      if (c.status == AppEventStatus::mismatch)
        c.note = "the TD ran an app-compose.json with sha256 " + to_hex(payload) + "; the record's is " + c.expected;
    } else if (e->name == "system-preparing" || e->name == "boot-mr-done" || e->name == "system-ready") {
      compare(c, ByteView());
      if (e->name == "system-ready") ready = true;
    } else if (e->name == "instance-id" && expected.no_instance_id) {
      compare(c, ByteView());
      if (c.status == AppEventStatus::mismatch) c.note = "the app sets no_instance_id: the payload must be empty";
    } else if (e->name == "gpu-policy-hash") {
      // mrforge's app-compose.json has no requirements.gpu_policy: dstack hashes its default.
      const Sha256 default_policy = dstack_default_gpu_policy_hash();
      compare(c, ByteView(default_policy.data(), default_policy.size()));
      if (c.status == AppEventStatus::mismatch)
        c.note = "the app sets no GPU policy: dstack's guest hashes its default {} to " + c.expected;
    } else if (e->name == "init-script-hash") {
      c.status = AppEventStatus::mismatch;
      c.note = "the app has no init_script (mrforge writes none into app-compose.json), yet the TD ran one";
    } else if (e->name == "key-provider" && !expected.key_provider.empty()) {
      check_key_provider(c, expected);
    } else if (e->name == "storage-fs" && !expected.storage_fs.empty()) {
      compare(c, ByteView::of(expected.storage_fs));
      if (c.status == AppEventStatus::mismatch)
        c.note = "the TD's storage is " + echoed(std::string(c.payload.begin(), c.payload.end())) +
                 "; the app sets storage_fs " + expected.storage_fs;
    } else if (const char *source = runtime_value_source(e->name)) {
      c.status = AppEventStatus::from_log;
      c.note = std::string("taken from the log: ") + source;
      if (e->name == "storage-fs") c.note += " (the app sets no storage_fs: the command line's, or zfs)";
    } else {
      c.status = AppEventStatus::mismatch;
      c.note = "dstack's guest emits no event of this name before system-ready";
    }
    if (c.status == AppEventStatus::mismatch && !r.first_divergent) r.first_divergent = r.events.size();
    r.events.push_back(std::move(c));
  }
  if (app_ids == 0) r.problems.push_back("RTMR3 has no app-id event before system-ready");
  if (compose_hashes == 0) r.problems.push_back("RTMR3 has no compose-hash event before system-ready");
  if (app_ids > 1) r.problems.push_back("RTMR3 has " + std::to_string(app_ids) + " app-id events; the guest emits one");
  if (compose_hashes > 1)
    r.problems.push_back("RTMR3 has " + std::to_string(compose_hashes) + " compose-hash events; the guest emits one");
  return r;
}

} // namespace mrforge
