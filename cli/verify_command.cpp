// mrforge verify: is this TD running exactly the image we expect, on the platform we expect?
// 1. the log replays to the quote's RTMRs; 2. the quote's MRTD/RTMR0-2 equal the expected values
// (from the measure engine and trusted inputs, or a measurements JSON), never from the log itself;
// 3. on a difference, the first divergent event and the neighbouring assumption that explains it;
// 4. RTMR3's dstack runtime events, listed.
#include "attestation_files.hpp"
#include "commands.hpp"
#include "measure_options.hpp"
#include "output.hpp"

#include <builder/dsse.hpp>
#include <builder/measurement_statement.hpp>
#include <builder/signing_key.hpp>

#include <measure/attestation_inputs.hpp>
#include <measure/errors.hpp>
#include <measure/json_text.hpp>
#include <measure/mapped_file.hpp>
#include <measure/measurement_json.hpp>
#include <measure/profile_yaml.hpp>
#include <measure/tcg_log.hpp>
#include <measure/verify.hpp>

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
  std::string pub; // the signer's public key when --expected is a DSSE envelope
  long shape = -1; // --expected-shape N, -1: not given
  MeasureOptions inputs;
  bool no_mrtd = false;
  bool json = false;
};

// The expected values of --expected FILE, in one of three forms: the JSON of `mrforge measure
// --json`; a guest build's measurements.json ({"shapes": [...]}); a DSSE envelope around our
// in-toto statement (its signature checked with --pub first). The last two may hold several VM
// shapes: --expected-shape N picks one.
struct ExpectedFile {
  ExpectedValues values;
  std::string note; // where the values came from, for the report
};

// "profile qemu-8.2-tdx, 2 vCPUs, 2 GiB" for the list of shapes.
std::string shape_label(const std::string &profile, uint64_t cpus, uint64_t memory_bytes) {
  return "profile " + profile + ", " + std::to_string(cpus) + " vCPU" + (cpus == 1 ? "" : "s") + ", " +
         format_memory_size(memory_bytes);
}

size_t pick_shape(const std::vector<std::string> &labels, long shape, const std::string &path) {
  if (labels.empty()) throw InputError(path, "holds no VM shapes: nothing to compare the quote with");
  if (shape >= 0 && static_cast<size_t>(shape) >= labels.size())
    throw InputError("--expected-shape", std::to_string(shape) + " is out of range: " + path + " holds " +
                                             std::to_string(labels.size()) + " VM shape(s), numbered from 0");
  if (shape < 0 && labels.size() > 1) {
    std::string list;
    for (size_t i = 0; i < labels.size(); ++i) list += "\n  --expected-shape " + std::to_string(i) + ": " + labels[i];
    throw InputError("--expected-shape", path + " holds " + std::to_string(labels.size()) +
                                             " VM shapes; pick the TD's with --expected-shape N:" + list);
  }
  return shape < 0 ? 0 : static_cast<size_t>(shape);
}

ExpectedFile read_measurements_shapes(const Json &j, long shape, const std::string &path) {
  const Json &shapes = j["shapes"];
  if (!shapes.is_array()) throw InputError(path + ": shapes", "expected an array of VM shapes");
  std::vector<std::string> labels;
  for (const Json &s : shapes) {
    auto str = [&](const char *k) {
      return s.is_object() && s.contains(k) && s[k].is_string() ? s[k].get<std::string>() : "?";
    };
    auto num = [&](const char *k) {
      return s.is_object() && s.contains(k) && s[k].is_number_unsigned() ? s[k].get<uint64_t>() : uint64_t{0};
    };
    labels.push_back(shape_label(str("profile"), num("cpus"), num("memory_bytes")));
  }
  size_t n = pick_shape(labels, shape, path);
  std::string where = path + ": shapes[" + std::to_string(n) + "]";
  return {expected_values_from_json(shapes[n], where), "expected values: " + where + " (" + labels[n] + ")"};
}

// Returns nullopt after printing why when the envelope's signature does not verify.
std::optional<ExpectedFile> read_expected(const std::string &path, const std::string &pub, long shape) {
  Bytes text = read_file(path);
  Json j = parse_json_text(text, path);
  bool envelope = j.is_object() && j.contains("payloadType") && j.contains("signatures");
  if (!envelope && !pub.empty())
    throw InputError("--pub", path + " is not a signed statement (DSSE envelope): --pub is only for one");
  if (envelope) {
    if (pub.empty())
      throw InputError("--pub", path + " is a signed statement (DSSE envelope): give the signer's public key with "
                                       "--pub PUB");
    builder::SigningKey key = builder::load_public_key(pub);
    builder::DsseEnvelope env = builder::parse_envelope(std::string(text.begin(), text.end()), path);
    builder::DsseVerification v = builder::verify_envelope(env, key);
    if (!v.ok) {
      std::cerr << "mrforge: signature check failed: " << message_text(path + ": " + v.message)
                << ": the expected values are not trusted, nothing was compared\n";
      return std::nullopt;
    }
    builder::Statement st = builder::statement_from_envelope(env, path);
    std::vector<std::string> labels;
    for (const builder::StatementShape &s : st.shapes) labels.push_back(shape_label(s.profile, s.cpus, s.memory_bytes));
    size_t n = pick_shape(labels, shape, path);
    return ExpectedFile{st.shapes[n].expected, "expected values: shape " + std::to_string(n) + " (" + labels[n] +
                                                   ") of the statement in " + path + ", signed by key " + v.keyid +
                                                   " (recipe " + st.recipe_name + ", " + st.tool + ")"};
  }
  if (j.is_object() && j.contains("shapes")) return read_measurements_shapes(j, shape, path);
  if (shape >= 0)
    throw InputError("--expected-shape",
                     path + " holds one measurement (`mrforge measure --json`), not a list of shapes");
  return ExpectedFile{expected_values_from_json(j, path), ""};
}

// An RTMR3 event's payload as shown: never data that contradicts its digest.
std::string rtmr3_payload(const LoggedEvent &e) {
  return e.data_check.status == DataCheck::mismatch ? "(data does not match its digest: not shown)"
                                                    : payload_text(e.data);
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
  return j;
}

std::string verdict(std::optional<bool> m) { return !m ? "not expected" : *m ? "match" : "MISMATCH"; }

void print_report(const VerifyReport &r, const EventLog &log, const TdQuote &q, bool passed) {
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
  if (!rtmr3.empty() && r.log_consistent) {
    std::cout << "\nRTMR3 runtime events:\n";
    std::vector<std::vector<std::string>> ev = {{"  #", "NAME", "CHECK", "PAYLOAD"}};
    for (const LoggedEvent *e : rtmr3)
      ev.push_back({"  " + std::to_string(e->index), e->name.empty() ? event_type_label(e->type) : e->name,
                    data_check_name(e->data_check.status), rtmr3_payload(*e)});
    print_table(ev);
  }
  std::cout << "\n";
  for (const std::string &n : r.notes) print_line("note: " + n);
  for (const std::string &n : quote_notes(q)) print_line("note: " + n);
  std::cout << (passed ? "RESULT: OK" : "RESULT: MISMATCH") << "\n";
}

int run_verify(const VerifyOptions &o) {
  if (!o.expected.empty() && any_measure_option(o.inputs))
    throw InputError("--expected", "give either --expected FILE or the measure options, not both");
  if (o.expected.empty() && !o.pub.empty()) throw InputError("--pub", "only with --expected ENVELOPE");
  if (o.expected.empty() && o.shape >= 0) throw InputError("--expected-shape", "only with --expected FILE");
  // A signed statement's signature is checked before anything else is read.
  std::optional<ExpectedFile> expected;
  if (!o.expected.empty()) {
    expected = read_expected(o.expected, o.pub, o.shape);
    if (!expected) return k_exit_mismatch;
  }
  TdQuote quote = read_quote(o.quote);
  EventLog log = read_event_log(o.event_log.empty() ? o.quote : o.event_log, o.ima);
  VerifyReport report;
  bool expected_given = true;
  if (expected) {
    report = verify(expected->values, log, quote);
    if (!expected->note.empty()) report.notes.insert(report.notes.begin(), expected->note);
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
  cmd->footer("Expected values come from --expected FILE or are computed by the measure engine from an IMAGE_DIR\n"
              "or the measure options; never from the log being verified. --expected reads the JSON of\n"
              "`mrforge measure --json`, a guest build's measurements.json, or a signed statement (the DSSE\n"
              "envelope of `mrforge sign`, checked with --pub before anything else). When the file holds several\n"
              "VM shapes, --expected-shape N (from 0) picks the TD's.\n"
              "Example:\n"
              "  mrforge verify --quote quote.bin --event-log ccel.bin --firmware OVMF.fd --kernel vmlinuz \\\n"
              "    --initrd initrd.img --cmdline 'console=hvc0' --cpus 2 --memory 2G --profile qemu-9.2-tdx \\\n"
              "    --acpi-tables acpi/\n"
              "  mrforge verify --quote quote.bin --event-log ccel.bin --expected image.intoto.json --pub ci.pub \\\n"
              "    --expected-shape 0\n"
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
  cmd->add_option("--pub", o->pub, "The signer's public key (PEM) for a signed statement given to --expected");
  cmd->add_option("--expected-shape", o->shape,
                  "Which VM shape of --expected to compare with (0-based), when it holds several")
      ->check(CLI::Range(0L, 1000000L));
  cmd->add_flag("--no-mrtd", o->no_mrtd,
                "Do not compare MRTD (when --firmware is a stand-in used only for its TDVF layout)");
  add_measure_options(cmd, o->inputs, false);
  cmd->add_flag("--json", o->json, "Print JSON");
  cmd->callback([o, &run] { run = [o] { return run_verify(*o); }; });
}

} // namespace mrforge::cli
