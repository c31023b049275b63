// RTMR3 of a dstack TD against an app: dstack's guest (dstack-util system_setup.rs at 312dc605)
// extends RTMR3 with runtime events (type 0x08000001, digest event_log.hpp
// dstack_runtime_event_digest) in this order before it starts the app:
//   system-preparing (empty), app-id (20 bytes), compose-hash (32 bytes, sha256 of
//   app-compose.json), init-script-hash* (32), gpu-policy-hash (32, newer guests), gpu-attestation
//   (JSON, with attested GPUs), instance-id (20 bytes, empty with no_instance_id), boot-mr-done
//   (empty), os-image-hash (32, KMS only), key-provider (JSON {"name","id"}), storage-fs
//   ("zfs"/"ext4", newer guests), system-ready (empty),
// then application events (guest-agent EmitEvent) which dstack's verifier leaves out of the app
// info (attestation.rs find_event stops at system-ready).
//
// What an app record determines is compared: app-id, compose-hash, the empty payloads of
// system-preparing, boot-mr-done and system-ready, instance-id's empty payload when the app sets
// no_instance_id, gpu-policy-hash (the app sets no GPU policy: sha256 of "{}", dstack's default),
// no init-script-hash (the app has no init_script), key-provider's name (the guest writes {"name":N,"id":HEX} with N
// "kms", "local-sgx" or "none" for the app's key_provider kms, local, none: system_setup.rs:2768-2777) and its id when
// the app pins key_provider_id (the guest refuses another: verify_key_provider_id), and storage-fs when the app sets
// storage_fs (it overrides the command line: parse_dstack_options). What only the running TD knows (instance-id's
// random seed, the KMS's os-image-hash, an unpinned key-provider id, storage-fs the app leaves to the command line, the
// GPU attestation) is reported as taken from the log. Application events after system-ready are reported, not compared.
// An event before system-ready that dstack's guest does not emit, a runtime event whose data contradicts its digest, or
// an RTMR3 event of another type is a divergence.
#pragma once

#include <measure/formats/event_log.hpp>

#include <optional>
#include <string>
#include <vector>

namespace mrforge {

// What the app record says RTMR3 must hold.
struct AppExpectation {
  Bytes app_id;       // 20 bytes
  Bytes compose_hash; // 32 bytes
  bool no_instance_id = false;
  std::string key_provider;    // the app's choice (kms, local, none); empty: key-provider not compared
  std::string key_provider_id; // lower-case hex the app pins, or "" (the id is then taken from the log)
  std::string storage_fs;      // "zfs"/"ext4" the app sets, or "" (taken from the log)
};

enum class AppEventStatus {
  match,     // compared with the record: equal
  mismatch,  // compared: different (or not an event the guest emits there)
  from_log,  // runtime-only value, reported as the log has it
  app_event, // after system-ready: the application's own event
};
const char *app_event_status_name(AppEventStatus s); // "match", "MISMATCH", "from log", "app event"

struct AppEventCheck {
  size_t index = 0; // LoggedEvent::index
  std::string name;
  Bytes payload;
  AppEventStatus status = AppEventStatus::from_log;
  std::string expected; // what the record says (hex or description), for compared events
  std::string note;     // why it differs, or where a runtime value comes from
};

struct AppCheck {
  std::vector<AppEventCheck> events;      // every RTMR3 event, in log order
  std::optional<size_t> first_divergent;  // index into `events`
  std::vector<std::string> problems;      // missing or repeated app-id/compose-hash events
  std::optional<bool> app_id_match;       // absent: no app-id event
  std::optional<bool> compose_hash_match; // absent: no compose-hash event
  Bytes logged_compose_hash;              // the compose-hash event's payload (if any)
  bool ok() const;                        // every compared event matches, none missing
};

// Compares the RTMR3 events of `log` with the app. The caller checks that the log replays to the
// quote (verify.hpp) before trusting any of this. Does not throw.
AppCheck check_app_events(const AppExpectation &expected, const EventLog &log);

} // namespace mrforge
