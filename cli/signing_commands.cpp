// mrforge keygen / sign / verify-signature: signing keys, DSSE envelopes around the in-toto
// statement of a build output, and their check (signature over the pre-authentication encoding,
// then optionally every subject's digest against the files).
#include "commands.hpp"
#include "output.hpp"

#include <builder/attest/dsse.hpp>
#include <builder/attest/measurement_statement.hpp>
#include <builder/attest/signing_key.hpp>
#include <builder/system/output_dir.hpp>
#include <measure/engine/engine.hpp>
#include <measure/util/errors.hpp>
#include <measure/util/hash.hpp>
#include <measure/util/size_text.hpp>

#include <algorithm>
#include <filesystem>
#include <iostream>
#include <memory>
#include <optional>

namespace mrforge::cli {

namespace {

namespace fs = std::filesystem;

// --- keygen -------------------------------------------------------------------------------

struct KeygenOptions {
  std::string type = "ed25519";
  std::string prefix;
  bool json = false;
};

int run_keygen(const KeygenOptions &o) {
  builder::KeyType type = o.type == "ecdsa-p256" ? builder::KeyType::ecdsa_p256 : builder::KeyType::ed25519;
  std::string private_path = o.prefix + ".key";
  std::string public_path = o.prefix + ".pub";
  std::string keyid = builder::generate_key_pair(type, private_path, public_path);
  if (o.json) {
    Json j;
    j["keyid"] = keyid;
    j["type"] = builder::key_type_name(type);
    j["private_key"] = private_path;
    j["public_key"] = public_path;
    print_json(j);
    return k_exit_ok;
  }
  print_table({{"key id", keyid},
               {"type", builder::key_type_name(type)},
               {"private key", private_path + " (mode 0600: keep it secret, give it only to the signer)"},
               {"public key", public_path + " (publish it: verify-signature --pub needs it)"}});
  return k_exit_ok;
}

// --- sign ---------------------------------------------------------------------------------

struct SignOptions {
  std::string key;
  std::string out;
  std::string envelope;
  bool json = false;
};

// OUT without trailing '/' plus ".intoto.json": beside the output directory, never inside it.
std::string default_envelope_path(const std::string &out) {
  std::string dir = out;
  while (dir.size() > 1 && dir.back() == '/') dir.pop_back();
  std::string name = fs::path(dir).filename().string();
  if (name.empty() || name == "." || name == ".." || dir == "/")
    throw InputError(out, "cannot name the envelope after this directory; give -o ENVELOPE");
  return dir + ".intoto.json";
}

bool is_inside(const std::string &path, const std::string &dir) {
  std::error_code ec;
  fs::path p = fs::weakly_canonical(fs::absolute(path), ec);
  if (ec) return false;
  fs::path d = fs::weakly_canonical(fs::absolute(dir), ec);
  if (ec) return false;
  return std::mismatch(d.begin(), d.end(), p.begin(), p.end()).first == d.end();
}

int run_sign(const SignOptions &o) {
  builder::SigningKey key = builder::load_private_key(o.key); // first: a key problem fails fast
  std::string envelope_path = o.envelope.empty() ? default_envelope_path(o.out) : o.envelope;
  if (is_inside(envelope_path, o.out))
    throw InputError("-o", envelope_path + " is inside the output directory " + o.out +
                               "; write the envelope beside it (the default is OUT.intoto.json)");
  nlohmann::ordered_json statement = builder::make_statement(o.out);
  std::vector<uint8_t> payload = builder::statement_bytes(statement);
  std::string payload_sha256 = to_hex(sha256(ByteView(payload)));
  size_t payload_size = payload.size();
  builder::DsseEnvelope env = builder::sign_envelope(builder::k_in_toto_payload_type, std::move(payload), key);
  write_file_atomically(envelope_path, builder::envelope_json(env), 0644);

  size_t subjects = statement.contains("subject") ? statement["subject"].size() : 0;
  std::string predicate_type = statement.value("predicateType", "");
  if (o.json) {
    Json j;
    j["envelope"] = envelope_path;
    j["payload_type"] = builder::k_in_toto_payload_type;
    j["predicate_type"] = predicate_type;
    j["subjects"] = subjects;
    j["payload_sha256"] = payload_sha256;
    j["payload_size"] = payload_size;
    j["keyid"] = key.keyid;
    j["key_type"] = builder::key_type_name(key.type);
    print_json(j);
    return k_exit_ok;
  }
  print_table({{"statement", predicate_type + ", " + std::to_string(subjects) + " subjects"},
               {"payload", "sha256 " + payload_sha256 + " (" + std::to_string(payload_size) + " bytes)"},
               {"key id", key.keyid + " (" + builder::key_type_name(key.type) + ")"},
               {"envelope", envelope_path}});
  return k_exit_ok;
}

// --- verify-signature ---------------------------------------------------------------------

struct VerifySignatureOptions {
  std::string pub;
  std::string envelope;
  std::string artifacts;
  bool json = false;
};

std::string optional_hex(const std::optional<Sha384> &d) { return d ? to_hex(*d) : "-"; }

Json statement_json(const builder::Statement &st) {
  Json j;
  j["predicate_type"] = st.predicate_type;
  j["kind"] = st.kind;
  j["recipe"] = {{"name", st.recipe_name}, {"sha256", st.recipe_sha256}};
  j["lock_sha256"] = st.lock_sha256;
  j["tool"] = st.tool;
  if (st.kind == "DstackApp")
    j["app"] = {{"compose_hash", st.app_compose_hash},
                {"app_id", st.app_id},
                {"app_id_source", st.app_id_pinned ? "recipe" : "compose-hash"}};
  j["subjects"] = Json::array();
  for (const auto &s : st.subjects) j["subjects"].push_back({{"name", s.name}, {"sha256", s.sha256}});
  j["shapes"] = Json::array();
  for (const auto &s : st.shapes) {
    Json shape;
    shape["profile"] = s.profile;
    shape["ovmf_variant"] = s.ovmf_variant;
    shape["cpus"] = s.cpus;
    shape["memory_bytes"] = s.memory_bytes;
    shape["acpi"] = s.acpi_record;
    shape["cmdline"] = s.cmdline;
    shape["firmware"] = {{"name", s.firmware_name}, {"sha256", s.firmware_sha256}};
    shape["mrtd"] = s.expected.mrtd ? Json(to_hex(*s.expected.mrtd)) : Json(nullptr);
    for (size_t i = 0; i < 3; ++i)
      shape["rtmr" + std::to_string(i)] = s.expected.rtmr[i] ? Json(to_hex(*s.expected.rtmr[i])) : Json(nullptr);
    j["shapes"].push_back(shape);
  }
  return j;
}

void print_statement(const builder::Statement &st) {
  std::vector<std::vector<std::string>> head = {{"predicate", st.predicate_type + " (" + st.kind + ")"}};
  if (!st.recipe_name.empty() || !st.recipe_sha256.empty())
    head.push_back({"recipe", st.recipe_name + ", sha256 " + st.recipe_sha256});
  if (!st.lock_sha256.empty()) head.push_back({"lock", "sha256 " + st.lock_sha256});
  if (st.kind == "DstackApp") {
    head.push_back({"compose hash", st.app_compose_hash});
    head.push_back({"app id", st.app_id + (st.app_id_pinned ? " (pinned by the recipe)" : "")});
  }
  head.push_back({"tool", st.tool});
  print_table(head);
  std::cout << "\nsubjects (" << st.subjects.size() << "):\n";
  std::vector<std::vector<std::string>> rows;
  for (const auto &s : st.subjects) rows.push_back({"  " + s.name, s.sha256});
  print_table(rows);
  for (const auto &s : st.shapes) {
    std::cout << "\n";
    print_line(s.profile + ", " + std::to_string(s.cpus) + " vCPU, " + format_memory_size(s.memory_bytes) +
               ", OVMF variant " + s.ovmf_variant + ", ACPI " + s.acpi);
    std::vector<std::vector<std::string>> mr = {{"  firmware", s.firmware_name + ", sha256 " + s.firmware_sha256},
                                                {"  cmdline", s.cmdline},
                                                {"  MRTD", optional_hex(s.expected.mrtd)}};
    for (size_t i = 0; i < 3; ++i) mr.push_back({"  RTMR" + std::to_string(i), optional_hex(s.expected.rtmr[i])});
    print_table(mr);
  }
}

int run_verify_signature(const VerifySignatureOptions &o) {
  builder::SigningKey key = builder::load_public_key(o.pub);
  builder::DsseEnvelope env = builder::read_envelope(o.envelope);
  builder::DsseVerification v = builder::verify_envelope(env, key);
  if (!v.ok) {
    if (o.json) {
      Json j;
      j["result"] = "signature does not verify";
      j["envelope"] = o.envelope;
      j["keyid"] = key.keyid;
      j["reason"] = v.message;
      print_json(j);
    }
    std::cerr << "mrforge: " << message_text(o.envelope + ": signature does not verify: " + v.message) << "\n";
    return k_exit_mismatch;
  }
  // Only authenticated bytes are interpreted from here on (protocol.md: verify, then check the
  // type, then parse).
  builder::Statement st = builder::statement_from_envelope(env, o.envelope);
  std::string payload_sha256 = to_hex(sha256(ByteView(env.payload)));

  std::vector<std::string> problems;
  if (!o.artifacts.empty()) problems = builder::check_subjects(st, o.artifacts);
  bool passed = problems.empty();

  if (o.json) {
    Json j;
    j["result"] = passed ? "ok" : "artifacts do not match";
    j["envelope"] = o.envelope;
    j["keyid"] = v.keyid;
    j["key_type"] = builder::key_type_name(key.type);
    j["payload_type"] = env.payload_type;
    j["payload_sha256"] = payload_sha256;
    j["statement"] = statement_json(st);
    if (!o.artifacts.empty()) j["artifacts"] = {{"dir", o.artifacts}, {"match", passed}, {"problems", problems}};
    print_json(j);
    return passed ? k_exit_ok : k_exit_mismatch;
  }
  print_table({{"signature", "ok, key " + v.keyid + " (" + builder::key_type_name(key.type) + ", " + o.pub + ")"},
               {"payload", env.payload_type + ", sha256 " + payload_sha256}});
  print_statement(st);
  if (!o.artifacts.empty()) {
    std::cout << "\nartifacts in " << o.artifacts << ": ";
    if (passed) {
      std::cout << "all " << st.subjects.size() << " subjects match\n";
    } else {
      std::cout << problems.size() << " problem(s)\n";
      for (const auto &p : problems) print_line("  " + p);
    }
  }
  std::cout << "\n" << (passed ? "RESULT: OK" : "RESULT: ARTIFACTS DO NOT MATCH") << "\n";
  return passed ? k_exit_ok : k_exit_mismatch;
}

} // namespace

void add_keygen_command(CLI::App &app, Runner &run) {
  auto o = std::make_shared<KeygenOptions>();
  CLI::App *cmd =
      add_command(app, run, o, "keygen", "Create a signing key pair for `mrforge sign` (PEM files)", run_keygen);
  cmd->footer("Writes PREFIX.key (PKCS#8, unencrypted, mode 0600) and PREFIX.pub (SubjectPublicKeyInfo) and prints\n"
              "the key id (hex sha256 of the public key's DER). Existing files are never overwritten; the private\n"
              "key is never printed. Ed25519 signatures are deterministic; ECDSA P-256 ones are not.\n"
              "Example: mrforge keygen -o ci-signing\n"
              "Exit codes: 0 ok, 1 usage error, 2 bad input (a key file exists), 3 internal error.");
  cmd->add_option("--type", o->type, "Key type (default ed25519)")->check(CLI::IsMember({"ed25519", "ecdsa-p256"}));
  cmd->add_option("-o,--output", o->prefix, "Path prefix: writes PREFIX.key and PREFIX.pub")->required();
  cmd->add_flag("--json", o->json, "Print JSON: {keyid, type, private_key, public_key}");
}

void add_sign_command(CLI::App &app, Runner &run) {
  auto o = std::make_shared<SignOptions>();
  CLI::App *cmd =
      add_command(app, run, o, "sign",
                  "Sign the measurements of a build output: a DSSE envelope around an in-toto statement", run_sign);
  cmd->footer("The statement (in-toto Statement v1) lists the sha256 of every artifact as subjects; its predicate\n"
              "holds MRTD and RTMR0-2 per VM shape with every input that determines them, the recipe and lock\n"
              "digests and the tool version. Its bytes depend only on OUT's content; with an Ed25519 key the\n"
              "whole envelope is reproducible. Group and others must not be able to read the key (chmod 600).\n"
              "Example: mrforge sign --key ci-signing.key out/guest   (writes out/guest.intoto.json)\n"
              "Exit codes: 0 ok, 1 usage error, 2 bad input (key file, output directory), 3 internal error.");
  cmd->add_option("--key", o->key, "Private key (PEM, from mrforge keygen)")->required();
  cmd->add_option("OUT", o->out, "Output directory of `mrforge build`")->required();
  cmd->add_option("-o,--output", o->envelope, "Envelope file (default: OUT.intoto.json, beside OUT)");
  cmd->add_flag("--json", o->json,
                "Print JSON: {envelope, payload_type, predicate_type, subjects, payload_sha256, keyid, ...}");
}

void add_verify_signature_command(CLI::App &app, Runner &run) {
  auto o = std::make_shared<VerifySignatureOptions>();
  CLI::App *cmd =
      add_command(app, run, o, "verify-signature",
                  "Check a DSSE envelope's signature and print the signed measurements; optionally the files",
                  run_verify_signature);
  cmd->footer("The signature is checked over the DSSE pre-authentication encoding of the payload and its type\n"
              "before anything in the payload is read. With --artifacts, every subject's file in OUT is hashed\n"
              "and compared with the statement; each difference is printed on its own line.\n"
              "Example: mrforge verify-signature --pub ci-signing.pub out/guest.intoto.json --artifacts out/guest\n"
              "Exit codes: 0 ok, 1 usage error, 2 bad input (malformed envelope or key file, not an in-toto\n"
              "statement), 3 internal error, 4 the signature does not verify or an artifact does not match.");
  cmd->add_option("--pub", o->pub, "Public key (PEM, the .pub file of mrforge keygen)")->required();
  cmd->add_option("ENVELOPE", o->envelope, "DSSE envelope written by mrforge sign")->required();
  cmd->add_option("--artifacts", o->artifacts, "Also check every subject's sha256 against the files in this directory");
  cmd->add_flag("--json", o->json,
                "Print JSON: {result, keyid, payload_sha256, statement: {subjects, shapes, ...}, artifacts}");
}

} // namespace mrforge::cli
