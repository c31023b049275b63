// mrforge verify: is this TD running exactly the image we expect, on the platform we expect?
// 1. the log replays to the quote's RTMRs; 2. the quote's MRTD/RTMR0-2 equal the expected values
// (from the measure engine and trusted inputs, or a measurements JSON), never from the log itself;
// 3. on a difference, the first divergent event and the neighbouring assumption that explains it;
// 4. RTMR3's dstack runtime events, listed.
#include "app_verify.hpp"
#include "attestation_files.hpp"
#include "commands.hpp"
#include "measure_options.hpp"
#include "output.hpp"

#include <builder/attest/expected_values.hpp>

#include <measure/documents/attestation_inputs.hpp>
#include <measure/documents/dstack_measurement.hpp>
#include <measure/documents/measurement_json.hpp>
#include <measure/documents/profile_yaml.hpp>
#include <measure/dstack/runtime_event_names.hpp>
#include <measure/formats/tcg_log.hpp>
#include <measure/util/errors.hpp>
#include <measure/util/input_limits.hpp>
#include <measure/util/mapped_file.hpp>
#include <measure/util/size_text.hpp>
#include <measure/util/strings.hpp>
#include <measure/util/terminal_text.hpp>
#include <measure/verify/verify.hpp>

#include <filesystem>
#include <iostream>
#include <memory>
#include <optional>

namespace mrforge::cli {

namespace {

struct VerifyOptions {
  std::string quote;
  std::string event_log;
  std::string ima;
  std::string expected;
  std::string pub;                // the signer's public key when --expected is a DSSE envelope
  std::string app;                // --app DIR|mrforge-app.json: RTMR3 against a dstack app record
  std::string app_compose;        // --app-compose FILE: the deployed app-compose.json
  std::string dstack_measurement; // --dstack-measurement FILE|IMAGE_DIR
  long shape = -1;                // --expected-shape N, -1: not given
  MeasureOptions inputs;
  bool no_mrtd = false;
  bool log_only = false;
  bool json = false;
};

// An RTMR3 event's payload as shown: never data that contradicts its digest.
std::string rtmr3_payload(const LoggedEvent &e) {
  return e.data_check.status == DataCheck::mismatch ? "(data does not match its digest: not shown)"
                                                    : payload_text(e.data);
}

// Exactly what was compared, for the summary line: "MRTD, RTMR0, RTMR1, RTMR2 against ...".
struct Comparison {
  std::vector<std::string> compared, differing, not_compared;
  std::string against; // where the expected values came from
  bool log_only = false;
};

Comparison comparison(const VerifyReport &r, const std::string &against, bool log_only) {
  Comparison c;
  c.against = against;
  c.log_only = log_only;
  auto one = [&](const char *name, const std::optional<bool> &m) {
    if (!m)
      c.not_compared.push_back(name);
    else {
      c.compared.push_back(name);
      if (!*m) c.differing.push_back(name);
    }
  };
  one("MRTD", r.mrtd_match);
  for (size_t i = 0; i < 3; ++i) one(("RTMR" + std::to_string(i)).c_str(), r.rtmr_match[i]);
  return c;
}

// "RESULT: OK: MRTD, RTMR0, RTMR1, RTMR2 match the engine's prediction (...); the event log replays to
// the quote's RTMR0-3; not compared: none".
struct DstackSide;
std::string dstack_summary(const DstackSide &d);

std::string summary_line(const VerifyReport &r, const Comparison &c, bool passed, const AppVerification *app = nullptr,
                         const DstackSide *dstack = nullptr) {
  std::string replay = r.log_consistent             ? "the event log replays to the quote's RTMR0-3"
                       : !r.data_mismatches.empty() ? "the event log's digests replay to the quote but " +
                                                          std::to_string(r.data_mismatches.size()) +
                                                          " event(s) hold data that does not match their digests"
                                                    : "the event log does NOT replay to the quote's RTMRs";
  if (c.log_only)
    return std::string(passed ? "RESULT: OK (log only): " : "RESULT: MISMATCH (log only): ") + replay +
           "; no register was compared with expected values (RTMR3 events are listed, not checked)";
  std::string line = passed ? "RESULT: OK: " : "RESULT: MISMATCH: ";
  if (c.compared.empty() && app)
    line += app_summary(*app);
  else if (c.compared.empty())
    line += "nothing was compared (no expected MRTD or RTMR0-2)";
  else if (!c.differing.empty())
    line += join(c.differing, ", ") + " differ" + (c.differing.size() == 1 ? "s" : "") + " from " + c.against;
  else
    line += join(c.compared, ", ") + " match " + c.against;
  if (app && !c.compared.empty()) line += "; " + app_summary(*app);
  if (dstack) line += dstack_summary(*dstack);
  line += "; " + replay;
  if (!c.not_compared.empty()) line += "; not compared: " + join(c.not_compared, ", ");
  return line;
}

// What the dstack path adds to the report: the sources of each register, the measurement file's
// binding, and RTMR3's events decoded.
struct DstackSide {
  DstackExpectation expectation;
  std::vector<Rtmr3Event> rtmr3;
};

Json report_json(const VerifyReport &r, const EventLog &log, bool passed, const Comparison &cmp,
                 const AppVerification *app, const DstackSide *dstack) {
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
  j["log_only"] = cmp.log_only;
  j["compared"] = cmp.compared;
  j["differing"] = cmp.differing;
  j["not_compared"] = cmp.not_compared;
  j["expected_source"] = cmp.log_only ? Json(nullptr) : Json(cmp.against);
  j["summary"] = summary_line(r, cmp, passed, app, dstack);
  j["app"] = app ? app_verification_json(*app) : Json(nullptr);
  j["data_mismatches"] = Json::array();
  for (const DataMismatch &m : r.data_mismatches)
    j["data_mismatches"].push_back(Json{{"index", m.index},
                                        {"register", m.reg ? Json(register_name(*m.reg)) : Json(nullptr)},
                                        {"type", event_type_label(m.type)},
                                        {"note", m.note}});
  j["rtmr3_events"] = Json::array();
  for (const LoggedEvent *e : events_of(log, Register::rtmr3))
    j["rtmr3_events"].push_back(Json{{"name", e->name},
                                     {"payload", rtmr3_payload(*e)},
                                     {"data_check", data_check_name(e->data_check.status)},
                                     {"digest", e->digest ? Json(to_hex(*e->digest)) : Json(nullptr)}});
  if (dstack) {
    j["sources"] = dstack->expectation.sources;
    j["measurement_file_binding"] = dstack->expectation.binding;
    j["measurement_file_bound"] = dstack->expectation.bound;
    j["rtmr3_decoded"] = Json::array();
    for (const Rtmr3Event &e : dstack->rtmr3)
      j["rtmr3_decoded"].push_back(Json{{"index", e.index},
                                        {"name", e.name},
                                        {"kind", rtmr3_event_kind_name(e.kind)},
                                        {"meaning", e.meaning},
                                        {"value", e.value},
                                        {"problem", e.problem}});
    j["rtmr3_all_understood"] = all_understood(dstack->rtmr3);
  }
  return j;
}

// "; RTMR3: 9 events, all understood (1 app event); measurement file bound to os_image_hash".
std::string dstack_summary(const DstackSide &d) {
  size_t app = 0, unknown = 0;
  std::vector<std::string> unknown_names;
  for (const Rtmr3Event &e : d.rtmr3) {
    if (e.kind == Rtmr3EventKind::app) ++app;
    if (e.kind == Rtmr3EventKind::unknown) {
      ++unknown;
      unknown_names.push_back("#" + std::to_string(e.index) + " " +
                              terminal_text(e.name.empty() ? "(no name)" : e.name));
    }
  }
  std::string s = "; RTMR3: " + std::to_string(d.rtmr3.size()) + " event(s)";
  s += unknown ? ", NOT all understood (" + join(unknown_names, ", ") + ")" : ", all understood";
  if (app) s += " (" + std::to_string(app) + " app event(s) after system-ready)";
  s += d.expectation.bound
           ? "; measurement file bound to the vm_config's os_image_hash"
           : "; measurement file binding " + d.expectation.binding.substr(0, d.expectation.binding.find(':'));
  return s;
}

std::string verdict(std::optional<bool> m) { return !m ? "not expected" : *m ? "match" : "MISMATCH"; }

void print_report(const VerifyReport &r, const EventLog &log, const TdQuote &q, bool passed, const Comparison &cmp,
                  const AppVerification *app, const DstackSide *dstack) {
  std::cout << "Log against the quote (replay):\n";
  std::vector<std::vector<std::string>> rows;
  bool replays = true;
  for (const RegisterCheck &c : r.log_vs_quote) {
    rows.push_back({"  " + std::string(register_name(c.reg)), c.match ? "match" : "MISMATCH", to_hex(c.quote)});
    replays = replays && c.match;
  }
  print_table(rows);
  if (!replays)
    std::cout << "  The log does not replay to the quote: it is not this TD's log, or it was altered. Its events "
                 "are not trusted below.\n";
  if (!r.data_mismatches.empty()) {
    std::cout << "\nEvents whose data does not match their digest (the log's data was altered; not trusted):\n";
    for (const DataMismatch &m : r.data_mismatches)
      print_line("  log event " + std::to_string(m.index) + " (" + (m.reg ? register_name(*m.reg) : "-") + ", " +
                 event_type_label(m.type) + "): " + m.note);
  }
  if (dstack) {
    std::cout << "\nExpected values from:\n";
    for (const std::string &line : dstack->expectation.sources) print_line("  " + line);
    print_line("  measurement file binding: " + dstack->expectation.binding);
  }
  std::cout << "\nQuote against the expected values:\n";
  print_table({{"  mrtd", verdict(r.mrtd_match), to_hex(q.mrtd)},
               {"  rtmr0", verdict(r.rtmr_match[0]), to_hex(q.rtmr[0])},
               {"  rtmr1", verdict(r.rtmr_match[1]), to_hex(q.rtmr[1])},
               {"  rtmr2", verdict(r.rtmr_match[2]), to_hex(q.rtmr[2])}});
  if (!r.divergences.empty()) {
    std::cout << "\nFirst divergent events:\n";
    for (const Divergence &d : r.divergences) print_line("  " + d.message);
  }
  if (!r.explanations.empty()) {
    std::cout << "\nNeighbouring assumptions that reproduce the actual values:\n";
    for (const Explanation &e : r.explanations)
      print_line("  " + e.assumption + ": reproduces " + e.what_it_reproduces);
  }
  auto rtmr3 = events_of(log, Register::rtmr3);
  if (dstack && r.log_consistent) {
    std::cout << "\nRTMR3 runtime events (decoded as dstack defines them):\n";
    std::vector<std::vector<std::string>> ev = {{"  #", "NAME", "KIND", "VALUE"}};
    for (const Rtmr3Event &e : dstack->rtmr3) {
      std::string value = e.kind == Rtmr3EventKind::unknown ? e.problem : e.value.empty() ? "(empty)" : e.value;
      ev.push_back({"  " + std::to_string(e.index), e.name.empty() ? "(no name)" : e.name,
                    rtmr3_event_kind_name(e.kind), value});
    }
    print_table(ev);
  } else if (!rtmr3.empty() && r.log_consistent) {
    std::cout << "\nRTMR3 runtime events:\n";
    std::vector<std::vector<std::string>> ev = {{"  #", "NAME", "CHECK", "PAYLOAD"}};
    for (const LoggedEvent *e : rtmr3)
      ev.push_back({"  " + std::to_string(e->index), e->name.empty() ? event_type_label(e->type) : e->name,
                    data_check_name(e->data_check.status), rtmr3_payload(*e)});
    print_table(ev);
  }
  if (app) print_app_verification(*app);
  std::cout << "\n";
  for (const std::string &n : r.notes) print_line("note: " + n);
  for (const std::string &n : quote_notes(q)) print_line("note: " + n);
  std::cout << summary_line(r, cmp, passed, app, dstack) << "\n";
}

int run_expected(const VerifyOptions &o);
int run_dstack(const VerifyOptions &o, const Bytes &document);

int run_verify(const VerifyOptions &o) {
  if (!o.expected.empty() && any_measure_option(o.inputs))
    throw InputError("--expected", "give either --expected FILE or the measure options, not both");
  if (o.expected.empty() && !o.pub.empty()) throw InputError("--pub", "only with --expected ENVELOPE");
  if (o.expected.empty() && o.shape >= 0) throw InputError("--expected-shape", "only with --expected FILE");
  if (!o.app_compose.empty() && o.app.empty()) throw InputError("--app-compose", "only with --app");
  if (o.log_only && !o.app.empty())
    throw InputError("--log-only", "checks only that the log belongs to the quote: give it without --app");
  if (!o.dstack_measurement.empty() && (!o.expected.empty() || any_measure_option(o.inputs) || o.log_only))
    throw InputError("--dstack-measurement", "the measurement file gives the expected values: not with --expected, "
                                             "--log-only or the measure options");
  if (!o.expected.empty() || any_measure_option(o.inputs) || o.log_only) return run_expected(o);
  // A dstack attestation document whose vm_config carries tdx_measurement, or one given its
  // image's measurement file, needs nothing else (--app adds RTMR3's app events).
  Bytes document = read_file(o.quote, limits::k_quote);
  if (!o.dstack_measurement.empty() || has_dstack_tdx_measurement(document)) return run_dstack(o, document);
  return run_expected(o);
}

int run_expected(const VerifyOptions &o) {
  const bool expected_given = !o.expected.empty() || any_measure_option(o.inputs) || !o.app.empty();
  if (o.log_only && expected_given)
    throw InputError("--log-only", "checks only that the log belongs to the quote: give it without expected values");
  if (!o.log_only && !expected_given)
    throw InputError("--expected",
                     "nothing to compare the quote with: give --expected FILE|DIR (measurements.json, `mrforge "
                     "measure --json` output or a signed statement), an IMAGE_DIR or the measure options; "
                     "--log-only accepts \"the log belongs to the quote\" as the whole result; a dstack document "
                     "without tdx_measurement takes its image's measurement.tdx.cbor with --dstack-measurement");
  // A signed statement's signature is checked before anything else is read.
  std::optional<builder::ExpectedFile> expected;
  if (!o.expected.empty()) {
    expected = builder::read_expected_file(
        o.expected, o.pub, o.shape < 0 ? std::nullopt : std::optional<size_t>(static_cast<size_t>(o.shape)));
    if (!expected->values) {
      std::cerr << "mrforge: signature check failed: " << message_text(expected->refusal)
                << ": the expected values are not trusted, nothing was compared\n";
      return k_exit_mismatch;
    }
  }
  TdQuote quote = read_quote(o.quote);
  EventLog log = read_event_log(o.event_log.empty() ? o.quote : o.event_log, o.ima);
  VerifyReport report;
  std::string against;
  if (expected) {
    report = verify(*expected->values, log, quote);
    if (!expected->note.empty()) report.notes.insert(report.notes.begin(), expected->note);
    against = "the expected values of " + expected->against;
  } else if (!o.log_only && any_measure_option(o.inputs)) {
    LoadedRequest loaded = load_measure_request(o.inputs);
    const MeasureRequest &r = loaded.request();
    Alternatives alt;
    for (const std::string &name : shipped_platform_profiles()) {
      PlatformProfile p = load_platform_profile(name);
      if (p.measured_into == MeasurementTarget::tdx_rtmrs) alt.profiles.push_back(std::move(p)); // TD hosts only
    }
    for (const std::string &name : shipped_ovmf_variants()) alt.ovmf_variants.push_back(load_ovmf_variant(name));
    report = verify(r.profile, r.ovmf.variant, measure_inputs(r), log, quote, alt,
                    o.no_mrtd ? MrtdPolicy::ignore : MrtdPolicy::compare);
    report.notes.insert(report.notes.begin(), loaded.notes.begin(), loaded.notes.end());
    against = "the engine's prediction (profile " + r.profile.name + ", OVMF variant " + r.ovmf.variant.name + ", " +
              std::to_string(r.cpus) + " vCPU, " + format_memory_size(r.memory) + ")";
  } else {
    report = verify(ExpectedValues{}, log, quote);
  }
  // With --log-only the only claim is that the log belongs to the quote.
  bool passed = o.log_only ? report.log_consistent : report.ok();
  Comparison c = comparison(report, against, o.log_only);
  // --app: RTMR3's app events against the record; with no register expected, they are the result.
  std::optional<AppVerification> app;
  if (!o.app.empty()) {
    app = verify_app(o.app, o.app_compose, log, report.log_consistent);
    passed = (c.compared.empty() ? report.log_consistent : passed) && app->ok();
  }
  const AppVerification *app_ptr = app ? &*app : nullptr;
  if (o.json)
    print_json(report_json(report, log, passed, c, app_ptr, nullptr));
  else
    print_report(report, log, quote, passed, c, app_ptr, nullptr);
  return passed ? k_exit_ok : k_exit_mismatch;
}

// --dstack-measurement FILE|IMAGE_DIR: a measurement.tdx.cbor, or an image directory holding one
// (and its sha256sum.txt, which binds it to the image).
DstackMeasurementInput read_dstack_measurement(const std::string &path) {
  DstackMeasurementInput in;
  if (std::filesystem::is_directory(path)) {
    in.measurement = InputFile::open_in(path, k_tdx_measurement_file_name, limits::k_dstack_measurement).read_all();
    in.measurement_source = path + "/" + k_tdx_measurement_file_name;
    if (std::filesystem::exists(path + "/sha256sum.txt")) {
      in.checksum_file = InputFile::open_in(path, "sha256sum.txt", limits::k_text_record).read_all();
      in.checksum_source = path + "/sha256sum.txt";
    }
  } else {
    in.measurement = read_file(path, limits::k_dstack_measurement);
    in.measurement_source = path;
  }
  return in;
}

int run_dstack(const VerifyOptions &o, const Bytes &document) {
  std::optional<DstackMeasurementInput> given;
  if (!o.dstack_measurement.empty()) given = read_dstack_measurement(o.dstack_measurement);
  DstackSide side{dstack_expectation(document, o.quote, given), {}};
  TdQuote quote = read_quote(o.quote);
  EventLog log = read_event_log(o.event_log.empty() ? o.quote : o.event_log, o.ima);
  VerifyReport report = verify(side.expectation.expected, log, quote);
  report.notes.insert(report.notes.begin(), side.expectation.notes.begin(), side.expectation.notes.end());
  side.rtmr3 = classify_rtmr3_events(log);
  // The image hash the TD logged (from the KMS) is reported next to the vm_config's, not compared:
  // the registers above are what tie the TD to the image.
  for (const Rtmr3Event &e : side.rtmr3)
    if (e.kind == Rtmr3EventKind::dstack && e.name == "os-image-hash" && e.value != side.expectation.os_image_hash)
      report.notes.push_back("RTMR3 event " + std::to_string(e.index) + " os-image-hash " + e.value +
                             " is not the vm_config's os_image_hash " +
                             (side.expectation.os_image_hash.empty() ? "(absent)" : side.expectation.os_image_hash) +
                             " (the hash the TD was given by its key provider; not compared)");
  Comparison c = comparison(report, side.expectation.against, false);
  // Every register compared, every RTMR3 event understood, the file bound to the image: only
  // then is the TD this image.
  bool passed = report.ok() && c.not_compared.empty() && all_understood(side.rtmr3) && side.expectation.bound;
  // --app: RTMR3's app events against the app's record as well.
  std::optional<AppVerification> app;
  if (!o.app.empty()) {
    app = verify_app(o.app, o.app_compose, log, report.log_consistent);
    passed = passed && app->ok();
  }
  const AppVerification *app_ptr = app ? &*app : nullptr;
  if (o.json)
    print_json(report_json(report, log, passed, c, app_ptr, &side));
  else
    print_report(report, log, quote, passed, c, app_ptr, &side);
  return passed ? k_exit_ok : k_exit_mismatch;
}

} // namespace

void add_verify_command(CLI::App &app, Runner &run) {
  auto o = std::make_shared<VerifyOptions>();
  CLI::App *cmd =
      add_command(app, run, o, "verify", "Check a TD's quote and event log against expected measurements", run_verify);
  cmd->footer("Expected values come from --expected FILE|DIR or are computed by the measure engine from an\n"
              "IMAGE_DIR or the measure options; never from the log being verified. --expected reads the JSON of\n"
              "`mrforge measure --json`, a guest build's measurements.json (or its output directory), or a signed\n"
              "statement (the DSSE envelope of `mrforge sign`, checked with --pub before anything else). When the\n"
              "file holds several VM shapes, --expected-shape N (from 0) picks the TD's. An IMAGE_DIR from `mrforge\n"
              "build` gives its VM shape from measurements.json (--image-shape N).\n"
              "What is compared: the log must replay to the quote's RTMR0-3; MRTD and RTMR0-2 must equal the\n"
              "expected values (each register without an expected value is listed as not compared); the first\n"
              "divergent event is named. RTMR3 events are listed, not compared, unless --app names a dstack app\n"
              "record (mrforge-app.json of `mrforge build APP.yaml`): then app-id, compose-hash, key-provider's\n"
              "name (and id, storage-fs, when the app pins them) are compared, the values only the running TD knows\n"
              "(instance-id, os-image-hash, ...) are shown as taken from the log, and the first divergent RTMR3\n"
              "event is named. Without expected values verify refuses to run (exit 2) unless --log-only says\n"
              "that the replay is the whole check. The last line says exactly what was compared.\n"
              "A dstack attestation document whose vm_config has tdx_measurement (dstack's measurement.tdx.cbor)\n"
              "needs nothing else: MRTD and RTMR0-2 are computed from that file and the vm_config (RTMR0 with\n"
              "mrforge's ACPI tables), RTMR3's events are decoded as dstack defines them (one it does not define\n"
              "before system-ready fails the check; later ones are the app's), and the file's binding to the\n"
              "vm_config's os_image_hash is checked. --dstack-measurement gives the file for a document without it.\n"
              "Example:\n"
              "  mrforge verify --quote quote.bin --event-log ccel.bin --firmware OVMF.fd --kernel vmlinuz \\\n"
              "    --initrd initrd.img --cmdline 'console=hvc0' --cpus 2 --memory 2G --profile qemu-9.2-tdx \\\n"
              "    --acpi-tables acpi/\n"
              "  mrforge verify --quote quote.bin --event-log ccel.bin --expected image.intoto.json --pub ci.pub \\\n"
              "    --expected-shape 0\n"
              "  mrforge verify --quote dstack-getquote.json\n"
              "Exit codes: 0 the TD matches, 1 usage error, 2 bad input, 3 internal error, 4 mismatch or a\n"
              "signature that does not verify.");
  cmd->add_option("--quote", o->quote, "Quote: binary, hex text, or dstack attestation JSON")->required();
  cmd->add_option("--event-log", o->event_log,
                  "Event log: binary CCEL, hex text, dstack JSON (default: the --quote file, for a dstack attestation "
                  "JSON that holds both)");
  cmd->add_option("--ima", o->ima, "IMA ASCII measurement list whose entries extend RTMR2 after the firmware log");
  cmd->add_option("--expected", o->expected,
                  "Expected values: `mrforge measure --json` output, a build's measurements.json, or a signed "
                  "statement (DSSE envelope; needs --pub)");
  cmd->add_option("--dstack-measurement", o->dstack_measurement,
                  "dstack's measurement.tdx.cbor of the TD's image (or an image directory holding it and its "
                  "sha256sum.txt), for a dstack document whose vm_config has no tdx_measurement");
  cmd->add_option("--pub", o->pub, "The signer's public key (PEM) for a signed statement given to --expected");
  cmd->add_option("--app", o->app,
                  "A dstack app built by mrforge (its output directory or mrforge-app.json): RTMR3's app-id, "
                  "compose-hash and key-provider events are compared with it");
  cmd->add_option("--app-compose", o->app_compose,
                  "With --app: the deployed app-compose.json, to name the service whose image differs when the "
                  "compose hash does")
      ->check(CLI::ExistingFile);
  cmd->add_option("--expected-shape", o->shape,
                  "Which VM shape of --expected to compare with (0-based), when it holds several")
      ->check(CLI::Range(0L, 1000000L));
  cmd->add_flag("--log-only", o->log_only,
                "Check only that the event log replays to the quote (nothing is compared with expected values); "
                "without it, verify needs expected values");
  cmd->add_flag("--no-mrtd", o->no_mrtd,
                "Do not compare MRTD (when --firmware is a stand-in used only for its TDVF layout)");
  add_measure_options(cmd, o->inputs, false);
  cmd->add_flag("--json", o->json, "Print JSON");
}

} // namespace mrforge::cli
