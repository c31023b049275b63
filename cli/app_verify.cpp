#include "app_verify.hpp"

#include <measure/util/errors.hpp>
#include <measure/util/hash.hpp>
#include <measure/util/input_limits.hpp>
#include <measure/util/mapped_file.hpp>
#include <measure/util/strings.hpp>
#include <measure/util/terminal_text.hpp>

#include <filesystem>
#include <optional>

namespace fs = std::filesystem;

namespace mrforge::cli {

namespace {

std::string record_path_of(const std::string &app) {
  std::error_code ec;
  if (fs::is_directory(app, ec)) return (fs::path(app) / k_app_record_file).string();
  return app;
}

// The images of the record's services, for a record read without its app-compose.json.
AppComposeContent images_of(const AppRecord &r) {
  AppComposeContent c;
  for (const AppServiceRecord &s : r.services) c.images.emplace_back(s.name, s.image);
  return c;
}

// What a compose-hash mismatch means, and which service differs when the deployed file is at hand.
std::vector<std::string> explain_compose_hash(const AppRecord &record, const std::optional<AppComposeContent> &ours,
                                              const std::string &app_compose, ByteView logged) {
  std::vector<std::string> out;
  std::string services;
  for (const AppServiceRecord &s : record.services) services += (services.empty() ? "" : ", ") + s.name + " " + s.image;
  if (app_compose.empty()) {
    out.push_back("the compose hash is the sha256 of the whole app-compose.json: the compose file with every "
                  "service's image digest (the record's: " +
                  services +
                  ") and the app's settings (name, runner, key provider, gateway, public logs/sysinfo, allowed "
                  "envs, pre-launch script); one hash cannot say which part differs");
    out.push_back("give --app-compose FILE (the app-compose.json that was deployed) to name the service whose image "
                  "differs");
    return out;
  }
  Bytes bytes = read_file(app_compose, limits::k_json_document);
  std::string hash = compose_hash_of(ByteView(bytes.data(), bytes.size()));
  if (hash != to_hex(logged)) {
    out.push_back(app_compose + " is not the app-compose.json this TD ran: its sha256 is " + hash +
                  ", the TD's compose hash is " + to_hex(logged) + "; it cannot say which service differs");
    return out;
  }
  AppComposeContent deployed = parse_app_compose(ByteView(bytes.data(), bytes.size()), app_compose);
  AppComposeContent recorded = ours ? *ours : images_of(record);
  for (const std::string &d : app_compose_differences(recorded, deployed)) out.push_back(d);
  if (!ours) out.push_back("(the record's app-compose.json is not beside it: only the service images were compared)");
  return out;
}

} // namespace

AppRecord read_app_record(const std::string &app) {
  const std::string record_path = record_path_of(app);
  Bytes record_bytes = read_file(record_path, limits::k_json_document);
  return parse_app_record(ByteView(record_bytes.data(), record_bytes.size()), record_path);
}

AppVerification verify_app(const std::string &app, const std::string &app_compose, const EventLog &log,
                           bool log_trusted) {
  AppVerification v;
  const std::string record_path = record_path_of(app);
  v.record = read_app_record(app);
  // The record's own app-compose.json, when it is beside the record, must be the one it hashed.
  std::optional<AppComposeContent> ours;
  const std::string ours_path = (fs::path(record_path).parent_path() / v.record.app_compose).string();
  std::error_code ec;
  if (fs::is_regular_file(ours_path, ec)) {
    Bytes b = read_file(ours_path, limits::k_json_document);
    std::string hash = compose_hash_of(ByteView(b.data(), b.size()));
    if (hash != v.record.compose_hash)
      throw InputError(ours_path, "sha256 is " + hash + " but " + record_path + " records compose_hash " +
                                      v.record.compose_hash + ": the app output was changed after the build");
    ours = parse_app_compose(ByteView(b.data(), b.size()), ours_path);
  }
  AppExpectation e;
  e.app_id = from_hex(v.record.app_id, record_path + ".app_id");
  e.compose_hash = from_hex(v.record.compose_hash, record_path + ".compose_hash");
  e.no_instance_id = v.record.no_instance_id;
  e.key_provider = v.record.key_provider;
  e.key_provider_id = v.record.key_provider_id;
  e.storage_fs = v.record.storage_fs;
  v.check = check_app_events(e, log);
  v.log_trusted = log_trusted;
  if (v.check.compose_hash_match == false)
    v.explanation = explain_compose_hash(
        v.record, ours, app_compose, ByteView(v.check.logged_compose_hash.data(), v.check.logged_compose_hash.size()));
  return v;
}

void print_app_verification(const AppVerification &v) {
  std::cout << "\nRTMR3 against the app record (" << terminal_text(v.record.name) << ", compose hash "
            << v.record.compose_hash << "):\n";
  std::vector<std::vector<std::string>> rows = {{"  #", "EVENT", "CHECK", "PAYLOAD", "NOTE"}};
  for (const AppEventCheck &c : v.check.events)
    rows.push_back({"  " + std::to_string(c.index), c.name, app_event_status_name(c.status),
                    payload_text(ByteView(c.payload.data(), c.payload.size())), c.note});
  print_table(rows);
  if (!v.log_trusted)
    std::cout << "  The log does not replay to the quote: these events are not the TD's, nothing above is trusted.\n";
  if (v.check.first_divergent) {
    const AppEventCheck &c = v.check.events[*v.check.first_divergent];
    print_line("  first divergent RTMR3 event: log event " + std::to_string(c.index) + " (" + c.name + "): " + c.note);
  }
  for (const std::string &p : v.check.problems) print_line("  " + p);
  if (!v.explanation.empty()) {
    std::cout << "  compose-hash differs:\n";
    for (const std::string &l : v.explanation) print_line("    " + l);
  }
}

std::string app_summary(const AppVerification &v) {
  const std::string of = "the app record of " + terminal_text(v.record.name);
  if (!v.log_trusted) return "RTMR3 not compared with " + of + " (the log does not replay to the quote)";
  if (v.check.ok()) {
    // The events whose value the record determines (the empty markers go without saying).
    std::vector<std::string> compared;
    for (const AppEventCheck &c : v.check.events)
      if (c.status == AppEventStatus::match && c.name != "system-preparing" && c.name != "boot-mr-done" &&
          c.name != "system-ready")
        compared.push_back(c.name);
    return "RTMR3's " + join(compared, ", ") + " match " + of;
  }
  std::vector<std::string> bad;
  if (v.check.app_id_match == false) bad.push_back("app-id");
  if (v.check.compose_hash_match == false) bad.push_back("compose-hash");
  if (v.check.first_divergent) {
    const std::string &n = v.check.events[*v.check.first_divergent].name;
    if (n != "app-id" && n != "compose-hash") bad.push_back(n);
  }
  std::string line = "RTMR3 differs from " + of + (bad.empty() ? "" : " (" + join(bad, ", ") + ")");
  if (!v.check.problems.empty()) line += ": " + join(v.check.problems, "; ");
  return line;
}

Json app_verification_json(const AppVerification &v) {
  Json j{{"ok", v.ok()},
         {"record", v.record.source},
         {"name", v.record.name},
         {"compose_hash", v.record.compose_hash},
         {"app_id", v.record.app_id},
         {"log_trusted", v.log_trusted},
         {"app_id_match", v.check.app_id_match ? Json(*v.check.app_id_match) : Json(nullptr)},
         {"compose_hash_match", v.check.compose_hash_match ? Json(*v.check.compose_hash_match) : Json(nullptr)},
         {"events", Json::array()}};
  for (const AppEventCheck &c : v.check.events)
    j["events"].push_back(Json{{"index", c.index},
                               {"name", c.name},
                               {"check", app_event_status_name(c.status)},
                               {"payload_hex", to_hex(ByteView(c.payload.data(), c.payload.size()))},
                               {"expected", c.expected},
                               {"note", c.note}});
  j["first_divergent"] = v.check.first_divergent ? Json(v.check.events[*v.check.first_divergent].index) : Json(nullptr);
  j["problems"] = v.check.problems;
  j["compose_hash_explanation"] = v.explanation;
  j["services"] = Json::array();
  for (const AppServiceRecord &s : v.record.services) {
    Json service{{"name", s.name}, {"image", s.image}, {"source", s.source}};
    if (s.source == k_app_source_oci_layout)
      service["oci_layout"] = s.oci_layout;
    else
      service["recipe"] = s.recipe;
    j["services"].push_back(std::move(service));
  }
  return j;
}

} // namespace mrforge::cli
