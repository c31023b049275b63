// mrforge measure: expected MRTD and RTMR0-2 (and the event list) for a firmware, kernel, initrd,
// command line and VM shape on a platform profile; with --app, the RTMR3 a dstack TD reaches before
// the app runs, from the app's record and the values only the running TD knows.
#include "app_verify.hpp"
#include "commands.hpp"
#include "measure_options.hpp"
#include "output.hpp"

#include <measure/dstack/app_rtmr3.hpp>
#include <measure/engine/engine.hpp>
#include <measure/util/errors.hpp>
#include <measure/util/file_io.hpp>
#include <measure/util/hash.hpp>
#include <measure/util/input_limits.hpp>
#include <measure/util/mapped_file.hpp>
#include <measure/util/size_text.hpp>
#include <measure/util/terminal_text.hpp>

#include <filesystem>
#include <iostream>
#include <memory>
#include <optional>

namespace mrforge::cli {

namespace {

struct AppRuntimeOptions {
  std::string app;             // --app DIR|mrforge-app.json
  std::string dstack_guest;    // --dstack-guest
  std::string instance_id;     // --instance-id HEX
  std::string key_provider_id; // --key-provider-id HEX
  std::string os_image_hash;   // --os-image-hash HEX
  std::string os_image;        // --os-image DIR (its sha256sum.txt)
  std::string storage_fs;      // --storage-fs
};

struct MeasureCommandOptions {
  MeasureOptions inputs;
  AppRuntimeOptions app;
  bool json = false;
  bool events = false;
};

Bytes hex_option(const std::string &value, const char *option, size_t size) {
  Bytes b = from_hex(value, option);
  if (b.size() != size)
    throw InputError(option, "expected " + std::to_string(size) + " bytes (" + std::to_string(2 * size) +
                                 " hex digits), got " + std::to_string(b.size()));
  return b;
}

struct AppRtmr3 {
  AppRecord record;
  DstackGuest guest = DstackGuest::g312dc605;
  std::vector<ExpectedRuntimeEvent> events;
  Sha384 rtmr3{};
  std::vector<std::string> notes;
};

// The app's expected RTMR3: what the record fixes, the rest from the options (each checked against
// what the record pins, since the guest refuses a key provider id or storage other than the app's).
AppRtmr3 app_rtmr3(const AppRuntimeOptions &o) {
  AppRtmr3 r;
  r.record = read_app_record(o.app);
  const AppRecord &rec = r.record;
  if (o.dstack_guest.empty())
    throw InputError("--dstack-guest", std::string("the dstack guest's generation decides which events it emits: "
                                                   "give one of ") +
                                           dstack_guest_names());
  std::optional<DstackGuest> guest = dstack_guest_from_name(o.dstack_guest);
  if (!guest)
    throw InputError("--dstack-guest", "'" + echoed(o.dstack_guest) + "' is not one of " + dstack_guest_names());
  r.guest = *guest;

  AppRtmr3Inputs in;
  in.guest = *guest;
  in.app_id = from_hex(rec.app_id, rec.source + ".app_id");
  in.compose_hash = from_hex(rec.compose_hash, rec.source + ".compose_hash");
  in.key_provider = rec.key_provider;
  in.no_instance_id = rec.no_instance_id;

  if (rec.no_instance_id) {
    if (!o.instance_id.empty())
      throw InputError("--instance-id", "the app sets no_instance_id: its TD logs an empty instance id");
  } else {
    if (o.instance_id.empty())
      throw InputError("--instance-id", "the TD's instance id (20 bytes, from its random seed) is needed");
    in.instance_id = hex_option(o.instance_id, "--instance-id", 20);
  }

  if (rec.key_provider == "none") {
    if (!o.key_provider_id.empty()) throw InputError("--key-provider-id", "the app's key provider is none: no id");
  } else if (!rec.key_provider_id.empty()) {
    in.key_provider_id = rec.key_provider_id;
    if (!o.key_provider_id.empty() && to_hex(from_hex(o.key_provider_id, "--key-provider-id")) != in.key_provider_id)
      throw InputError("--key-provider-id", "the app pins " + rec.key_provider_id + ": its TD refuses another");
  } else {
    if (o.key_provider_id.empty())
      throw InputError("--key-provider-id", "the " + rec.key_provider +
                                                " key provider's id (the KMS's key, the sealing measurement) is "
                                                "needed: the app pins none");
    in.key_provider_id = to_hex(from_hex(o.key_provider_id, "--key-provider-id"));
  }

  if (!o.os_image_hash.empty() && !o.os_image.empty())
    throw InputError("--os-image", "give --os-image-hash or --os-image, not both");
  if (rec.key_provider != "kms" && (!o.os_image_hash.empty() || !o.os_image.empty()))
    throw InputError(o.os_image.empty() ? "--os-image-hash" : "--os-image",
                     "only a KMS app's TD logs the OS image hash (this app's key provider is " + rec.key_provider +
                         ")");
  if (!o.os_image_hash.empty()) in.os_image_hash = hex_option(o.os_image_hash, "--os-image-hash", 32);
  if (!o.os_image.empty()) {
    // dstack's os_image_hash: sha256 of the image's sha256sum.txt (as the KMS knows it).
    Bytes sums = InputFile::open_in(o.os_image, "sha256sum.txt", limits::k_text_record).read_all();
    const Sha256 h = sha256(ByteView(sums.data(), sums.size()));
    in.os_image_hash = Bytes(h.begin(), h.end());
    r.notes.push_back("os-image-hash " + to_hex(h) + ": sha256 of " + o.os_image +
                      "/sha256sum.txt, as the KMS gives it for this image");
  }
  if (rec.key_provider == "kms" && !in.os_image_hash)
    throw InputError("--os-image-hash", "a KMS app's TD logs the OS image hash the KMS returned: give it, or the "
                                        "image directory with --os-image");

  if (!rec.storage_fs.empty()) {
    in.storage_fs = rec.storage_fs;
    if (!o.storage_fs.empty() && o.storage_fs != rec.storage_fs)
      throw InputError("--storage-fs", "the app sets storage_fs " + rec.storage_fs + ", which overrides the TD's");
  } else if (!o.storage_fs.empty()) {
    in.storage_fs = o.storage_fs;
  } else {
    in.storage_fs = "zfs";
    r.notes.push_back("storage-fs zfs: dstack's default (the app sets none; give --storage-fs if the TD's kernel "
                      "command line sets dstack.storage_fs)");
  }
  r.events = expected_app_rtmr3_events(in);
  r.rtmr3 = replay_rtmr3(r.events);
  return r;
}

Json app_rtmr3_json(const AppRtmr3 &a) {
  Json events = Json::array();
  for (const ExpectedRuntimeEvent &e : a.events)
    events.push_back({{"name", e.name},
                      {"payload_hex", to_hex(ByteView(e.payload.data(), e.payload.size()))},
                      {"digest", to_hex(e.digest)},
                      {"source", e.source}});
  return {{"app", a.record.name},
          {"compose_hash", a.record.compose_hash},
          {"dstack_guest", dstack_guest_name(a.guest)},
          {"rtmr3", to_hex(a.rtmr3)},
          {"events", events}};
}

void print_app_rtmr3_events(const AppRtmr3 &a) {
  std::cout << "\nRTMR3 events (dstack guest " << dstack_guest_name(a.guest) << "):\n";
  std::vector<std::vector<std::string>> table = {{"#", "EVENT", "PAYLOAD", "DIGEST", "FROM"}};
  for (size_t i = 0; i < a.events.size(); ++i) {
    const ExpectedRuntimeEvent &e = a.events[i];
    table.push_back({std::to_string(i), e.name, payload_text(ByteView(e.payload.data(), e.payload.size())),
                     to_hex(e.digest), e.source});
  }
  print_table(table);
}

bool any_app_option(const AppRuntimeOptions &o) {
  return !o.dstack_guest.empty() || !o.instance_id.empty() || !o.key_provider_id.empty() || !o.os_image_hash.empty() ||
         !o.os_image.empty() || !o.storage_fs.empty();
}

void run_measure(const MeasureCommandOptions &o) {
  std::optional<AppRtmr3> app;
  if (o.app.app.empty() && any_app_option(o.app))
    throw InputError("--app", "--dstack-guest, --instance-id, --key-provider-id, --os-image-hash, --os-image and "
                              "--storage-fs describe a dstack app's TD: give the app with --app");
  if (!o.app.app.empty()) {
    app = app_rtmr3(o.app);
    for (const std::string &n : app->notes) std::cerr << "note: " << n << "\n";
  }
  // --app alone: RTMR3 only.
  if (app && !any_measure_option(o.inputs)) {
    if (o.json) {
      print_json(app_rtmr3_json(*app));
      return;
    }
    print_table({{"RTMR3", to_hex(app->rtmr3)}});
    if (o.events) print_app_rtmr3_events(*app);
    std::cerr << "app " << terminal_text(app->record.name) << ", compose hash " << app->record.compose_hash
              << ", dstack guest " << dstack_guest_name(app->guest) << "\n";
    return;
  }

  LoadedRequest loaded = load_measure_request(o.inputs);
  const MeasureRequest &r = loaded.request();
  Measurement m = measure(r);
  // What the user should know of how the request was made (stderr, so that --json stays data).
  for (const std::string &n : loaded.notes) std::cerr << "note: " << n << "\n";

  if (o.json) {
    Json j = measurement_json(m);
    if (app) j["app_rtmr3"] = app_rtmr3_json(*app);
    print_json(j);
    return;
  }
  std::vector<std::vector<std::string>> rows;
  rows.push_back({"MRTD", m.mrtd ? to_hex(*m.mrtd) : "(no --firmware given)"});
  for (size_t i = 0; i < 3; ++i) rows.push_back({"RTMR" + std::to_string(i), to_hex(m.rtmr[i])});
  if (app) rows.push_back({"RTMR3", to_hex(app->rtmr3)});
  print_table(rows);
  for (const auto &[name, value] : m.inputs)
    if (name == "not_measured") std::cerr << "warning: not measured in a TD: " << terminal_text(value) << "\n";
  if (o.events) {
    std::cout << "\n";
    std::vector<std::vector<std::string>> table = {{"#", "MR", "TYPE", "DIGEST", "DESCRIPTION"}};
    for (size_t i = 0; i < m.events.size(); ++i) {
      const Event &e = m.events[i];
      table.push_back(
          {std::to_string(i), register_name(e.reg), event_type_label(e.type), to_hex(e.digest), e.description});
      table.push_back({"", "", "", "", "  <- " + e.source});
    }
    print_table(table);
    if (app) print_app_rtmr3_events(*app);
  }
  std::cerr << "profile " << r.profile.name << ", OVMF variant " << r.ovmf.variant.name << ", "
            << format_memory_size(r.memory) << ", " << r.cpus << " vCPU\n";
}

} // namespace

void add_measure_command(CLI::App &app, Runner &run) {
  auto o = std::make_shared<MeasureCommandOptions>();
  CLI::App *cmd =
      add_command(app, run, o, "measure",
                  "Compute the expected MRTD and RTMR0-2 of a TDX guest, and RTMR3 of a dstack app", run_measure);
  cmd->footer(
      "Inputs come from files (--firmware, --kernel, --initrd), an IMAGE_DIR with dstack's metadata.json, or as\n"
      "digests (--digest NAME=HEX, NAME one of " +
      digest_slot_names() +
      ") for components whose binaries you do not have.\n"
      "An IMAGE_DIR built by `mrforge build` also has measurements.json: its VM shape (profile, OVMF variant,\n"
      "CPUs, memory, ACPI source) is used unless options override it (--image-shape N picks one of several).\n"
      "The OVMF variant is the one the firmware's fingerprint identifies; a contradicting --ovmf-variant is an\n"
      "error. For a firmware mrforge does not know, the profile's default is used and reported as assumed.\n"
      "With --app (a dstack app built by `mrforge build APP.yaml`), RTMR3 as the TD reaches it before the app\n"
      "runs: the app record fixes app-id, compose-hash and the key provider's name; the values only the\n"
      "running TD knows are options (--instance-id; --key-provider-id unless the app pins it; for a KMS app\n"
      "--os-image-hash or --os-image; --storage-fs, default zfs, unless the app sets it), and --dstack-guest\n"
      "says which events the guest emits (0.6.0: as dstack's tdx-lite vector; 312dc605: adds gpu-policy-hash).\n"
      "With no other option only RTMR3 is computed.\n"
      "Example:\n"
      "  mrforge measure --firmware /usr/share/ovmf/OVMF.fd --kernel vmlinuz --initrd initrd.img \\\n"
      "    --cmdline 'console=hvc0' --cpus 2 --memory 2G --profile qemu-9.2-tdx --acpi-tables acpi/\n"
      "  mrforge measure --app build/hello-app --dstack-guest 0.6.0 --instance-id HEX40 \\\n"
      "    --key-provider-id HEX --os-image build/guest --events\n"
      "Exit codes: 0 ok, 1 usage error, 2 bad input, 3 internal error.");
  add_measure_options(cmd, o->inputs, true, [o] { return !o->app.app.empty() || any_app_option(o->app); });
  AppRuntimeOptions &a = o->app;
  cmd->add_option("--app", a.app, "A dstack app built by mrforge (its output directory or mrforge-app.json)");
  cmd->add_option("--dstack-guest", a.dstack_guest,
                  std::string("With --app: the dstack guest generation (") + dstack_guest_names() + ")");
  cmd->add_option("--instance-id", a.instance_id, "With --app: the TD's instance id (40 hex digits)");
  cmd->add_option("--key-provider-id", a.key_provider_id,
                  "With --app: the key provider's id (the KMS's key, the sealing measurement; hex)");
  cmd->add_option("--os-image-hash", a.os_image_hash, "With --app (KMS): the OS image hash the KMS returns (hex)");
  cmd->add_option("--os-image", a.os_image,
                  "With --app (KMS): the OS image directory; its hash is sha256 of its sha256sum.txt");
  cmd->add_option("--storage-fs", a.storage_fs, "With --app: the TD's storage file system (zfs, ext4)")
      ->check(CLI::IsMember({"zfs", "ext4"}));
  cmd->add_flag("--json", o->json,
                "Print JSON: {mrtd, rtmr0, rtmr1, rtmr2, events, inputs[, app_rtmr3]}, or with only --app "
                "{app, compose_hash, dstack_guest, rtmr3, events}");
  cmd->add_flag("--events", o->events, "Also print the expected event list");
}

} // namespace mrforge::cli
