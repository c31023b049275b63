// mrforge verify: is this TD running exactly the image we expect, on the platform we expect?
// 1. the log replays to the quote's RTMRs; 2. the quote's MRTD/RTMR0-2 equal the expected values
// (from the measure engine and trusted inputs, or a measurements JSON), never from the log itself;
// 3. on a difference, the first divergent event and the neighbouring assumption that explains it;
// 4. RTMR3's dstack runtime events, listed.
#include "attestation_files.hpp"
#include "commands.hpp"
#include "measure_options.hpp"
#include "output.hpp"

#include <measure/attestation_inputs.hpp>
#include <measure/errors.hpp>
#include <measure/mapped_file.hpp>
#include <measure/profile_yaml.hpp>
#include <measure/tcg_log.hpp>
#include <measure/verify.hpp>

#include <iostream>
#include <memory>

namespace mrforge::cli {

namespace {

struct VerifyOptions {
  std::string quote;
  std::string event_log;
  std::string ima;
  std::string expected;
  MeasureOptions inputs;
  bool no_mrtd = false;
  bool json = false;
};

// `mrforge measure --json` output as expected values.
ExpectedValues read_expected(const std::string &path) {
  Bytes text = read_file(path);
  Json j;
  try {
    j = Json::parse(text.begin(), text.end());
  } catch (const Json::parse_error &e) {
    throw FormatError(path, e.byte, std::string("not valid JSON: ") + e.what());
  }
  auto digest = [&](const Json &v, const std::string &what) -> std::optional<Sha384> {
    if (v.is_null()) return std::nullopt;
    if (!v.is_string()) throw InputError(path + ": " + what, "expected a hex string or null");
    return sha384_from_hex(v.get<std::string>(), path + ": " + what);
  };
  if (!j.is_object() || !j.contains("rtmr0"))
    throw InputError(path, "expected the JSON that `mrforge measure --json` prints (mrtd, rtmr0-2, events)");
  ExpectedValues ev;
  ev.mrtd = digest(j.value("mrtd", Json(nullptr)), "mrtd");
  for (size_t i = 0; i < 3; ++i) {
    std::string k = "rtmr" + std::to_string(i);
    ev.rtmr[i] = digest(j.value(k, Json(nullptr)), k);
  }
  const Json events = j.value("events", Json::array());
  for (size_t i = 0; i < events.size(); ++i) {
    const Json &e = events[i];
    std::string where = "events[" + std::to_string(i) + "]";
    Event out;
    std::string reg = e.value("register", "");
    if (reg == "rtmr0")
      out.reg = Register::rtmr0;
    else if (reg == "rtmr1")
      out.reg = Register::rtmr1;
    else if (reg == "rtmr2")
      out.reg = Register::rtmr2;
    else
      throw InputError(path + ": " + where + ".register", "expected rtmr0, rtmr1 or rtmr2, got '" + reg + "'");
    std::string type = e.value("type", "");
    std::optional<uint32_t> t = tcg_event_type_from_name(type);
    if (!t) throw InputError(path + ": " + where + ".type", "unknown TCG event type '" + type + "'");
    out.type = *t;
    std::optional<Sha384> d = digest(e.value("digest", Json(nullptr)), where + ".digest");
    if (!d) throw InputError(path + ": " + where + ".digest", "missing");
    out.digest = *d;
    out.description = e.value("description", "");
    out.source = e.value("source", path);
    ev.events.push_back(std::move(out));
  }
  return ev;
}

Json report_json(const VerifyReport &r, const EventLog &log, bool passed) {
  Json j{{"ok", passed}, {"log_consistent", r.log_consistent}, {"log_vs_quote", Json::array()}};
  for (const RegisterCheck &c : r.log_vs_quote)
    j["log_vs_quote"].push_back(Json{{"register", register_name(c.reg)},
                                     {"quote", to_hex(c.quote)},
                                     {"replayed", to_hex(c.replayed)},
                                     {"match", c.match}});
  j["mrtd_match"] = r.mrtd_match ? Json(*r.mrtd_match) : Json(nullptr);
  j["rtmr_match"] = Json::array();
  for (const auto &m : r.rtmr_match) j["rtmr_match"].push_back(m ? Json(*m) : Json(nullptr));
  j["divergences"] = Json::array();
  for (const Divergence &d : r.divergences) {
    Json dj{{"register", register_name(d.reg)}, {"position", d.position}, {"message", d.message}};
    dj["expected"] = d.expected ? event_json(*d.expected) : Json(nullptr);
    dj["actual"] = d.actual ? Json{{"index", d.actual->index},
                                   {"type", event_type_label(d.actual->type)},
                                   {"digest", d.actual->digest ? Json(to_hex(*d.actual->digest)) : Json(nullptr)}}
                            : Json(nullptr);
    j["divergences"].push_back(dj);
  }
  j["explanations"] = Json::array();
  for (const Explanation &e : r.explanations)
    j["explanations"].push_back(Json{{"assumption", e.assumption}, {"reproduces", e.what_it_reproduces}});
  j["notes"] = r.notes;
  j["rtmr3_events"] = Json::array();
  for (const LoggedEvent *e : events_of(log, Register::rtmr3))
    j["rtmr3_events"].push_back(Json{{"name", e->name},
                                     {"payload", payload_text(e->data)},
                                     {"digest", e->digest ? Json(to_hex(*e->digest)) : Json(nullptr)}});
  return j;
}

std::string verdict(std::optional<bool> m) { return !m ? "not expected" : *m ? "match" : "MISMATCH"; }

void print_report(const VerifyReport &r, const EventLog &log, const TdQuote &q, bool passed) {
  std::cout << "Log against the quote (replay):\n";
  std::vector<std::vector<std::string>> rows;
  for (const RegisterCheck &c : r.log_vs_quote)
    rows.push_back({"  " + std::string(register_name(c.reg)), c.match ? "match" : "MISMATCH", to_hex(c.quote)});
  print_table(rows);
  if (!r.log_consistent)
    std::cout << "  The log does not replay to the quote: it is not this TD's log, or it was altered. Its events "
                 "are not trusted below.\n";
  std::cout << "\nQuote against the expected values:\n";
  print_table({{"  mrtd", verdict(r.mrtd_match), to_hex(q.mrtd)},
               {"  rtmr0", verdict(r.rtmr_match[0]), to_hex(q.rtmr[0])},
               {"  rtmr1", verdict(r.rtmr_match[1]), to_hex(q.rtmr[1])},
               {"  rtmr2", verdict(r.rtmr_match[2]), to_hex(q.rtmr[2])}});
  if (!r.divergences.empty()) {
    std::cout << "\nFirst divergent events:\n";
    for (const Divergence &d : r.divergences) std::cout << "  " << d.message << "\n";
  }
  if (!r.explanations.empty()) {
    std::cout << "\nNeighbouring assumptions that reproduce the actual values:\n";
    for (const Explanation &e : r.explanations)
      std::cout << "  " << e.assumption << ": reproduces " << e.what_it_reproduces << "\n";
  }
  auto rtmr3 = events_of(log, Register::rtmr3);
  if (!rtmr3.empty() && r.log_consistent) {
    std::cout << "\nRTMR3 runtime events:\n";
    std::vector<std::vector<std::string>> ev = {{"  #", "NAME", "PAYLOAD"}};
    for (const LoggedEvent *e : rtmr3)
      ev.push_back({"  " + std::to_string(e->index), e->name.empty() ? event_type_label(e->type) : e->name,
                    payload_text(e->data)});
    print_table(ev);
  }
  std::cout << "\n";
  for (const std::string &n : r.notes) std::cout << "note: " << n << "\n";
  for (const std::string &n : quote_notes(q)) std::cout << "note: " << n << "\n";
  std::cout << (passed ? "RESULT: OK" : "RESULT: MISMATCH") << "\n";
}

int run_verify(const VerifyOptions &o) {
  TdQuote quote = read_quote(o.quote);
  EventLog log = read_event_log(o.event_log.empty() ? o.quote : o.event_log, o.ima);
  if (!o.expected.empty() && any_measure_option(o.inputs))
    throw InputError("--expected", "give either --expected FILE or the measure options, not both");
  VerifyReport report;
  bool expected_given = true;
  if (!o.expected.empty()) {
    report = verify(read_expected(o.expected), log, quote);
  } else if (any_measure_option(o.inputs)) {
    std::unique_ptr<LoadedMeasureInputs> loaded = load_measure_inputs(o.inputs);
    Alternatives alt;
    for (const std::string &name : shipped_platform_profiles()) {
      PlatformProfile p = load_platform_profile(name);
      if (p.measured_into == MeasurementTarget::tdx_rtmrs) alt.profiles.push_back(std::move(p)); // TD hosts only
    }
    for (const std::string &name : shipped_ovmf_variants()) alt.ovmf_variants.push_back(load_ovmf_variant(name));
    report = verify(loaded->profile, loaded->ovmf, loaded->in, log, quote, alt,
                    o.no_mrtd ? MrtdPolicy::ignore : MrtdPolicy::compare);
  } else {
    expected_given = false;
    report = verify(ExpectedValues{}, log, quote);
    report.notes.push_back("no expected values given (--expected FILE, an IMAGE_DIR or the measure options): only "
                           "checked that the log belongs to the quote");
  }
  // Without expected values the only claim is that the log belongs to the quote.
  bool passed = expected_given ? report.ok() : report.log_consistent;
  if (o.json)
    print_json(report_json(report, log, passed));
  else
    print_report(report, log, quote, passed);
  return passed ? k_exit_ok : k_exit_mismatch;
}

} // namespace

void add_verify_command(CLI::App &app, Runner &run) {
  auto o = std::make_shared<VerifyOptions>();
  CLI::App *cmd = app.add_subcommand("verify", "Check a TD's quote and event log against expected measurements");
  cmd->footer("Expected values come from --expected (the JSON of `mrforge measure --json`) or are computed by the\n"
              "measure engine from an IMAGE_DIR or the measure options; never from the log being verified.\n"
              "Example:\n"
              "  mrforge verify --quote quote.bin --event-log ccel.bin --firmware OVMF.fd --kernel vmlinuz \\\n"
              "    --initrd initrd.img --cmdline 'console=hvc0' --cpus 2 --memory 2G --profile qemu-9.2-tdx \\\n"
              "    --acpi-tables acpi/\n"
              "Exit codes: 0 the TD matches, 1 usage error, 2 bad input, 3 internal error, 4 mismatch.");
  cmd->add_option("--quote", o->quote, "Quote: binary, hex text, or dstack attestation JSON")->required();
  cmd->add_option("--event-log", o->event_log,
                  "Event log: binary CCEL, hex text, dstack JSON (default: the --quote file, for a dstack attestation "
                  "JSON that holds both)");
  cmd->add_option("--ima", o->ima, "IMA ASCII measurement list whose entries extend RTMR2 after the firmware log");
  cmd->add_option("--expected", o->expected, "Expected values: the JSON printed by `mrforge measure --json`");
  cmd->add_flag("--no-mrtd", o->no_mrtd,
                "Do not compare MRTD (when --firmware is a stand-in used only for its TDVF layout)");
  add_measure_options(cmd, o->inputs, false);
  cmd->add_flag("--json", o->json, "Print JSON");
  cmd->callback([o, &run] { run = [o] { return run_verify(*o); }; });
}

} // namespace mrforge::cli
