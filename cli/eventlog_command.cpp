// mrforge eventlog show|replay: the events of a TD's log, decoded, and the registers they replay to.
#include "attestation_files.hpp"
#include "commands.hpp"
#include "output.hpp"

#include <measure/formats/event_decode.hpp>
#include <measure/formats/event_log.hpp>
#include <measure/util/terminal_text.hpp>

#include <iostream>
#include <map>
#include <memory>

namespace mrforge::cli {

namespace {

struct EventlogOptions {
  std::string log;
  std::string ima;
  bool json = false;
};

// What a reader sees of data that contradicts its digest: not the data (it was not measured).
constexpr const char *k_mismatch_summary = "(data does not match its digest: not shown; --json has its bytes in hex)";

std::string summary_of(const LoggedEvent &e) {
  if (e.data_check.status == DataCheck::mismatch) return k_mismatch_summary;
  if (e.reg == Register::rtmr3 && !e.name.empty()) return e.name + ": " + payload_text(e.data);
  // dstack "lite" logs carry digests without event data.
  std::string summary = e.data.empty() && e.reg != Register::rtmr3
                            ? "(no event data in this log)"
                            : decode_event_data(e.type, e.data, e.origin, e.offset).summary;
  return e.name.empty() ? summary : e.name + ": " + summary;
}

std::string type_label(const LoggedEvent &e) {
  if (e.type == k_dstack_runtime_event_type) return "DSTACK_RUNTIME_EVENT";
  if (e.origin == "ima") return "IMA"; // an IMA list entry has no TCG event type
  return event_type_label(e.type);
}

// The CHECK column: how much of the DATA column the digests vouch for.
std::string check_label(const LoggedEvent &e) {
  return e.data_check.status == DataCheck::mismatch ? "MISMATCH" : data_check_name(e.data_check.status);
}

Json logged_event_json(const LoggedEvent &e) {
  DecodedEvent d = decode_event_data(e.type, e.data, e.origin, e.offset);
  if (e.data.empty() && e.reg != Register::rtmr3) d = DecodedEvent{"(no event data in this log)", {}};
  if (e.data_check.status == DataCheck::mismatch) d = DecodedEvent{k_mismatch_summary, {}};
  Json fields = Json::object();
  for (const auto &[k, v] : d.fields) fields[k] = v;
  Json j{{"index", e.index},
         {"register", e.reg ? Json(register_name(*e.reg)) : Json(nullptr)},
         {"type", type_label(e)},
         {"type_value", e.type},
         {"digest", e.digest ? Json(to_hex(*e.digest)) : Json(nullptr)},
         {"data_check", {{"status", data_check_name(e.data_check.status)}, {"note", e.data_check.note}}},
         {"summary", d.summary},
         {"fields", fields},
         {"data", to_hex(e.data)}};
  if (!e.name.empty()) j["name"] = e.name;
  return j;
}

int run_show(const EventlogOptions &o) {
  EventLog log = read_event_log(o.log, o.ima);
  if (o.json) {
    Json j{{"source", log.source}, {"format", log.format}, {"events", Json::array()}};
    for (const LoggedEvent &e : log.events) j["events"].push_back(logged_event_json(e));
    print_json(j);
    return k_exit_ok;
  }
  std::vector<std::vector<std::string>> rows = {{"#", "MR", "TYPE", "DIGEST", "CHECK", "DATA"}};
  std::map<DataCheck, size_t> counts;
  for (const LoggedEvent &e : log.events) {
    rows.push_back({std::to_string(e.index), e.reg ? register_name(*e.reg) : "-", type_label(e),
                    e.digest ? to_hex(*e.digest) : "-", check_label(e), summary_of(e)});
    ++counts[e.data_check.status];
  }
  print_table(rows);
  std::cerr << terminal_text(log.source) << ": " << log.format << ", " << log.events.size() << " events; data "
            << counts[DataCheck::verified] << " verified, " << counts[DataCheck::partial] << " partial, "
            << counts[DataCheck::unchecked] << " unchecked, " << counts[DataCheck::mismatch] << " MISMATCH\n";
  if (counts[DataCheck::mismatch] > 0)
    std::cerr << "mrforge: warning: " << counts[DataCheck::mismatch]
              << " event(s) carry data that does not match their digest: the log was altered\n";
  return k_exit_ok;
}

int run_replay(const EventlogOptions &o) {
  EventLog log = read_event_log(o.log, o.ima);
  RtmrValues mr = replay(log);
  if (o.json) {
    Json j;
    for (size_t i = 0; i < 4; ++i) j["rtmr" + std::to_string(i)] = to_hex(mr[i]);
    print_json(j);
    return k_exit_ok;
  }
  std::vector<std::vector<std::string>> rows;
  for (size_t i = 0; i < 4; ++i) rows.push_back({"RTMR" + std::to_string(i), to_hex(mr[i])});
  print_table(rows);
  return k_exit_ok;
}

void add_log_options(CLI::App *cmd, EventlogOptions &o) {
  cmd->add_option("log", o.log,
                  "Event log: binary CCEL/TCG2 (e.g. /sys/firmware/acpi/tables/data/CCEL), hex text, a dstack JSON "
                  "event log or attestation JSON")
      ->required();
  cmd->add_option("--ima", o.ima, "IMA ASCII measurement list whose entries extend RTMR2 after the firmware log");
  cmd->add_flag("--json", o.json, "Print JSON");
}

} // namespace

void add_eventlog_command(CLI::App &app, Runner &run) {
  CLI::App *cmd = app.add_subcommand("eventlog", "Show or replay a TD's event log");
  cmd->require_subcommand(1);
  auto show = std::make_shared<EventlogOptions>();
  CLI::App *s = add_command(
      *cmd, run, show, "show",
      "Table of events: index, register, type, digest, whether the data matches the digest, decoded data", run_show);
  s->footer("CHECK: verified (the digest is a hash of all the data shown), partial (of part of it: --json says\n"
            "which), unchecked (the digest covers what the data names, such as an image or a table in memory:\n"
            "the data is the log's word only), MISMATCH (the data was altered: it is not shown).");
  add_log_options(s, *show);
  auto rep = std::make_shared<EventlogOptions>();
  CLI::App *r = add_command(*cmd, run, rep, "replay", "RTMR0-3 the log replays to", run_replay);
  add_log_options(r, *rep);
}

} // namespace mrforge::cli
