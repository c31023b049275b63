// mrforge quote show: the fields of a TDX quote (v4/v5) or TDREPORT. Parsing only: the signature
// chain is not checked against Intel's collateral, and the output says so.
#include "attestation_files.hpp"
#include "commands.hpp"
#include "output.hpp"

#include <measure/documents/attestation_inputs.hpp>
#include <measure/util/reader.hpp>

#include <iostream>
#include <memory>

namespace mrforge::cli {

namespace {

struct QuoteOptions {
  std::string quote;
  bool json = false;
};

// TDATTRIBUTES bits (Intel TDX module ABI, TD_PARAMS.ATTRIBUTES).
Json td_attributes_json(uint64_t a) {
  return Json{{"debug", (a & 1) != 0},
              {"sept_ve_disable", (a >> 28 & 1) != 0},
              {"pks", (a >> 30 & 1) != 0},
              {"kl", (a >> 31 & 1) != 0},
              {"perfmon", (a >> 63 & 1) != 0}};
}

std::string le_hex(uint64_t v) {
  Bytes b(8);
  for (size_t i = 0; i < 8; ++i) b[i] = static_cast<uint8_t>(v >> (8 * i));
  return to_hex(b);
}

int run_quote_show(const QuoteOptions &o) {
  TdQuote q = read_quote(o.quote);
  std::vector<std::string> notes = quote_notes(q);
  Json j{{"version", q.version},
         {"tee_type", hex_u64(q.tee_type)},
         {"body_type", q.body_type},
         {"attestation_key_type", q.attestation_key_type},
         {"qe_svn", q.qe_svn},
         {"pce_svn", q.pce_svn},
         {"tee_tcb_svn", to_hex(q.tee_tcb_svn)},
         {"mrseam", to_hex(q.mrseam)},
         {"mrsignerseam", to_hex(q.mrsignerseam)},
         {"seam_attributes", le_hex(q.seam_attributes)},
         {"td_attributes", le_hex(q.td_attributes)},
         {"td_attributes_decoded", td_attributes_json(q.td_attributes)},
         {"xfam", le_hex(q.xfam)},
         {"mrtd", to_hex(q.mrtd)},
         {"mrconfigid", to_hex(q.mrconfigid)},
         {"mrowner", to_hex(q.mrowner)},
         {"mrownerconfig", to_hex(q.mrownerconfig)},
         {"rtmr0", to_hex(q.rtmr[0])},
         {"rtmr1", to_hex(q.rtmr[1])},
         {"rtmr2", to_hex(q.rtmr[2])},
         {"rtmr3", to_hex(q.rtmr[3])},
         {"report_data", to_hex(q.report_data)}};
  if (!q.tee_tcb_svn2.empty()) {
    j["tee_tcb_svn2"] = to_hex(q.tee_tcb_svn2);
    j["mrservicetd"] = to_hex(q.mrservicetd);
  }
  j["signature_data_size"] = q.signature_data.size();
  j["quote_size"] = q.quote_bytes;
  j["padding_size"] = q.padding_bytes;
  j["notes"] = notes;
  if (o.json) {
    print_json(j);
    return k_exit_ok;
  }
  std::vector<std::vector<std::string>> rows;
  for (const auto &[k, v] : j.items()) {
    if (k == "notes" || k == "td_attributes_decoded") continue;
    rows.push_back({k, v.is_string() ? v.get<std::string>() : v.dump()});
  }
  rows.push_back({"debug TD", q.td_attributes & 1 ? "YES (TDATTRIBUTES.DEBUG)" : "no"});
  print_table(rows);
  for (const std::string &n : notes) print_line("note: " + n);
  return k_exit_ok;
}

} // namespace

void add_quote_command(CLI::App &app, Runner &run) {
  CLI::App *cmd = app.add_subcommand("quote", "Show a TDX quote");
  cmd->require_subcommand(1);
  auto o = std::make_shared<QuoteOptions>();
  CLI::App *s = add_command(*cmd, run, o, "show", "Header and TD report fields of a TDX quote (v4, v5) or TDREPORT",
                            run_quote_show);
  s->add_option("quote", o->quote, "Quote: binary, hex text, or a dstack attestation JSON (field \"quote\")")
      ->required();
  s->add_flag("--json", o->json, "Print JSON (lowercase hex)");
}

} // namespace mrforge::cli
