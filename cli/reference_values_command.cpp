// mrforge reference-values: the expected measurements of a build (or of a signed statement) in
// the forms other verifiers ingest: the message Confidential Containers' reference value provider
// service registers (builder/attest/reference_values.hpp cites the format's source), or a plain
// measurements.json.
#include "commands.hpp"
#include "output.hpp"

#include <builder/attest/dsse.hpp>
#include <builder/attest/measurement_statement.hpp>
#include <builder/attest/reference_values.hpp>
#include <builder/attest/signing_key.hpp>
#include <builder/system/output_dir.hpp>

#include <measure/util/errors.hpp>

#include <filesystem>
#include <iostream>
#include <memory>

namespace mrforge::cli {

namespace {

struct ReferenceValuesOptions {
  std::string source; // an output directory or a DSSE envelope
  std::string format = "coco-rvps";
  std::string pub;
  std::string output; // empty: stdout
};

int run_reference_values(const ReferenceValuesOptions &o) {
  builder::Statement statement;
  std::error_code ec;
  if (!std::filesystem::exists(o.source, ec)) throw InputError(o.source, "no such file or directory");
  if (std::filesystem::is_directory(o.source, ec)) {
    if (!o.pub.empty()) throw InputError("--pub", "only for a signed statement (DSSE envelope), not a directory");
    statement = builder::parse_statement(builder::statement_bytes(builder::make_statement(o.source)), o.source);
  } else {
    if (o.pub.empty())
      throw InputError("--pub", o.source + " is not a directory, so it must be a signed statement (DSSE envelope): "
                                           "give the signer's public key with --pub PUB");
    builder::SigningKey key = builder::load_public_key(o.pub);
    builder::DsseEnvelope envelope = builder::read_envelope(o.source);
    builder::DsseVerification v = builder::verify_envelope(envelope, key);
    if (!v.ok) {
      std::cerr << "mrforge: signature check failed: " << message_text(o.source + ": " + v.message)
                << ": no reference values written\n";
      return k_exit_mismatch;
    }
    statement = builder::statement_from_envelope(envelope, o.source);
  }
  Json out = o.format == "measurements" ? builder::plain_measurements(statement)
                                        : builder::coco_rvps_reference_values(statement);
  std::string text = json_output(out);
  if (o.output.empty() || o.output == "-")
    std::cout << text;
  else
    write_file_atomically(o.output, text);
  return k_exit_ok;
}

} // namespace

void add_reference_values_command(CLI::App &app, Runner &run) {
  auto o = std::make_shared<ReferenceValuesOptions>();
  CLI::App *cmd =
      add_command(app, run, o, "reference-values",
                  "Export a build's expected measurements for other verifiers (CoCo RVPS, measurements.json)",
                  run_reference_values);
  cmd->footer(
      "SOURCE is a `mrforge build` output directory (its statement is made from the files, each one hashed) or\n"
      "a signed statement (the DSSE envelope of `mrforge sign`), whose signature --pub checks first.\n"
      "--format coco-rvps (default) writes the message Trustee's reference value provider service registers\n"
      "(`rvps-tool register --path FILE`): {\"version\": \"0.1.0\", \"type\": \"sample\", \"payload\": BASE64} whose\n"
      "payload lists every VM shape's value under the claim names of the attestation service's default TDX\n"
      "policy (mr_td, rtmr_0, rtmr_1, rtmr_2). It holds no expiry: RVPS sets one when it ingests the values.\n"
      "--format measurements writes {\"shapes\": [...]}, which `mrforge verify --expected` reads.\n"
      "Example:\n"
      "  mrforge reference-values image.intoto.json --pub ci.pub -o rvps-message.json\n"
      "Exit codes: 0 written, 1 usage error, 2 bad input, 3 internal error, 4 signature does not verify.");
  cmd->add_option("SOURCE", o->source, "Build output directory or DSSE envelope")->required();
  cmd->add_option("--format", o->format, "coco-rvps (default) or measurements")
      ->check(CLI::IsMember({"coco-rvps", "measurements"}));
  cmd->add_option("--pub", o->pub, "The signer's public key (PEM), when SOURCE is an envelope");
  cmd->add_option("-o,--output", o->output, "Write to FILE (atomically) instead of standard output");
}

} // namespace mrforge::cli
