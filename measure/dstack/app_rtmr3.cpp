#include <measure/dstack/app_rtmr3.hpp>
#include <measure/formats/event_log.hpp>
#include <measure/util/errors.hpp>

namespace mrforge {

std::optional<DstackGuest> dstack_guest_from_name(const std::string &name) {
  if (name == "0.6.0") return DstackGuest::v0_6_0;
  if (name == "312dc605") return DstackGuest::g312dc605;
  return std::nullopt;
}

const char *dstack_guest_name(DstackGuest g) { return g == DstackGuest::v0_6_0 ? "0.6.0" : "312dc605"; }

const char *dstack_guest_names() { return "0.6.0, 312dc605"; }

std::string dstack_key_provider_event_name(const std::string &choice) {
  return choice == "local" ? "local-sgx" : choice; // kms, none
}

Sha256 dstack_default_gpu_policy_hash() { return sha256(ByteView::of(std::string_view("{}"))); }

namespace {

Bytes text(const std::string &s) { return Bytes(s.begin(), s.end()); }

void require_size(const Bytes &b, size_t n, const char *what) {
  if (b.size() != n)
    throw InputError(what, "expected " + std::to_string(n) + " bytes, got " + std::to_string(b.size()));
}

} // namespace

std::vector<ExpectedRuntimeEvent> expected_app_rtmr3_events(const AppRtmr3Inputs &in) {
  require_size(in.app_id, 20, "app id");
  require_size(in.compose_hash, 32, "compose hash");
  if (in.key_provider != "kms" && in.key_provider != "local" && in.key_provider != "none")
    throw InputError("key provider", "expected kms, local or none, got '" + in.key_provider + "'");
  if (in.key_provider_id.size() % 2 != 0 || !is_lower_hex(in.key_provider_id, in.key_provider_id.size()))
    throw InputError("key provider id", "expected lower-case hex");
  if (in.key_provider == "none" && !in.key_provider_id.empty())
    throw InputError("key provider id", "the key provider none has an empty id");
  if (in.key_provider != "none" && in.key_provider_id.empty())
    throw InputError("key provider id", "the " + in.key_provider +
                                            " key provider's id (the KMS's key, the sealing measurement) is needed: "
                                            "the TD logs it in key-provider");
  if (in.no_instance_id) {
    if (!in.instance_id.empty()) throw InputError("instance id", "the app sets no_instance_id: it is empty");
  } else {
    require_size(in.instance_id, 20, "instance id");
  }
  if (in.key_provider == "kms") {
    if (!in.os_image_hash) throw InputError("os-image-hash", "a KMS app's TD logs the OS image hash the KMS returned");
    require_size(*in.os_image_hash, 32, "os-image-hash");
  } else if (in.os_image_hash) {
    throw InputError("os-image-hash",
                     "only a KMS app's TD logs one (the " + in.key_provider + " key provider's does not)");
  }
  if (in.storage_fs != "zfs" && in.storage_fs != "ext4")
    throw InputError("storage fs", "expected zfs or ext4, got '" + in.storage_fs + "'");

  std::vector<ExpectedRuntimeEvent> out;
  auto add = [&](const char *name, Bytes payload, const char *source) {
    ExpectedRuntimeEvent e;
    e.name = name;
    e.payload = std::move(payload);
    e.digest =
        dstack_runtime_event_digest(k_dstack_runtime_event_type, e.name, ByteView(e.payload.data(), e.payload.size()));
    e.source = source;
    out.push_back(std::move(e));
  };
  add("system-preparing", {}, "empty");
  add("app-id", in.app_id, "the app record");
  add("compose-hash", in.compose_hash, "the app record");
  if (in.guest == DstackGuest::g312dc605) {
    const Sha256 policy = dstack_default_gpu_policy_hash();
    add("gpu-policy-hash", Bytes(policy.begin(), policy.end()), "dstack's default GPU policy {} (the app sets none)");
  }
  add("instance-id", in.instance_id, in.no_instance_id ? "empty: the app sets no_instance_id" : "the TD's instance id");
  add("boot-mr-done", {}, "empty");
  if (in.os_image_hash) add("os-image-hash", *in.os_image_hash, "the OS image hash the KMS returned");
  add("key-provider",
      text("{\"name\":\"" + dstack_key_provider_event_name(in.key_provider) + "\",\"id\":\"" + in.key_provider_id +
           "\"}"),
      "the app's key provider and its id");
  add("storage-fs", text(in.storage_fs), "the TD's storage file system");
  add("system-ready", {}, "empty");
  return out;
}

Sha384 replay_rtmr3(const std::vector<ExpectedRuntimeEvent> &events) {
  Sha384 mr{};
  for (const ExpectedRuntimeEvent &e : events) extend(mr, e.digest);
  return mr;
}

} // namespace mrforge
