// The RTMR3 a dstack TD reaches before its app runs: the runtime events dstack's guest emits for
// an app (dstack-util system_setup.rs), from what an app record determines plus the values only a
// running TD knows (its instance id, the KMS's os-image-hash and key, the storage file system).
//
// The events differ between guest generations; each generation is stated with its evidence:
//   "0.6.0"     system-preparing, app-id, compose-hash, instance-id, boot-mr-done,
//               os-image-hash (KMS only), key-provider, storage-fs, system-ready: the log of
//               dstack's tdx-lite vector (a dstack-0.6.0 guest; verifier fixture at 312dc605)
//   "312dc605"  as 0.6.0 with gpu-policy-hash after compose-hash (sha256 of JCS of the app's
//               requirements.gpu_policy, or of "{}"): system_setup.rs 2699-2826 at 312dc605
// An app with attested GPUs adds gpu-attestation, whose payload holds the attestation's evidence
// hash: no app record can predict it, so it is not modelled. Init scripts are not either (mrforge's
// apps have none).
#pragma once

#include <measure/util/bytes.hpp>
#include <measure/util/hash.hpp>

#include <optional>
#include <string>
#include <vector>

namespace mrforge {

enum class DstackGuest { v0_6_0, g312dc605 };
// "0.6.0" or "312dc605"; nullopt for anything else.
std::optional<DstackGuest> dstack_guest_from_name(const std::string &name);
const char *dstack_guest_name(DstackGuest g);
const char *dstack_guest_names(); // "0.6.0, 312dc605" for messages

// The name dstack's guest writes in the key-provider event for an app's key_provider choice
// (KeyProviderInfo, system_setup.rs 2768-2777): kms -> "kms", local -> "local-sgx", none -> "none".
std::string dstack_key_provider_event_name(const std::string &choice);
// gpu-policy-hash for an app without requirements.gpu_policy: sha256 of JCS("{}") (dstack-types
// lib.rs:389-407 DEFAULT_GPU_POLICY, gpu_policy_hash).
Sha256 dstack_default_gpu_policy_hash();

struct AppRtmr3Inputs {
  DstackGuest guest = DstackGuest::g312dc605;
  Bytes app_id;                       // 20 bytes (the record's)
  Bytes compose_hash;                 // 32 bytes
  std::string key_provider;           // kms, local, none
  std::string key_provider_id;        // lower-case hex: the KMS's key or the sealing measurement ("" for none)
  bool no_instance_id = false;        // then instance_id must be empty
  Bytes instance_id;                  // 20 bytes: the TD's (random seed), or empty with no_instance_id
  std::optional<Bytes> os_image_hash; // 32 bytes, KMS only: what the KMS returned
  std::string storage_fs;             // zfs or ext4
};

struct ExpectedRuntimeEvent {
  std::string name;
  Bytes payload;
  Sha384 digest{};
  std::string source; // where the payload comes from: "the app record", "--instance-id", ...
};

// The events in emission order. Throws InputError naming the value for a missing or malformed one
// (an instance id without no_instance_id, an os-image-hash for a non-KMS app, a key provider id for
// none, ...).
std::vector<ExpectedRuntimeEvent> expected_app_rtmr3_events(const AppRtmr3Inputs &in);

// RTMR3 after the events: 48 zero bytes, each event extends SHA384(mr || digest).
Sha384 replay_rtmr3(const std::vector<ExpectedRuntimeEvent> &events);

} // namespace mrforge
