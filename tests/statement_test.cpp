// The in-toto statement of a build output, its parser, the reference values exported from it, and
// `mrforge verify` / `mrforge reference-values` reading a signed statement. Digests are checked
// against sha256sum(1), base64 against base64(1), signatures are made with openssl(1) over the
// DSSE pre-authentication encoding built here from the spec: independent of the code under test.
#include "log_vectors.hpp"
#include "support/guest_fixture.hpp"
#include "test_support.hpp"

#include <builder/attest/measurement_statement.hpp>
#include <builder/attest/reference_values.hpp>

#include <measure/util/errors.hpp>
#include <measure/util/hash.hpp>

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <cctype>
#include <filesystem>
#include <functional>
#include <map>
#include <set>

namespace fs = std::filesystem;
using namespace mrforge;
using namespace mrforge::test;
using Json = nlohmann::json;
using OJson = nlohmann::ordered_json;

namespace {

// "HEX  NAME" lines of `sha256sum NAMES` run in DIR.
std::map<std::string, std::string> shell_sha256(const std::string &dir, const std::vector<std::string> &names) {
  std::string cmd = "cd " + shell_quote(dir) + " && sha256sum";
  for (const auto &n : names) cmd += " " + shell_quote(n);
  ShellResult r = run_shell(cmd);
  INFO(r.err);
  REQUIRE(r.exit_code == 0);
  std::map<std::string, std::string> out;
  size_t pos = 0;
  while (pos < r.out.size()) {
    size_t end = r.out.find('\n', pos);
    std::string line = r.out.substr(pos, end - pos);
    out[line.substr(66)] = line.substr(0, 64);
    pos = end + 1;
  }
  return out;
}

std::string sha256_of(const std::string &path) {
  ShellResult r = run_shell("sha256sum " + shell_quote(path));
  REQUIRE(r.exit_code == 0);
  return r.out.substr(0, 64);
}

Json read_json(const std::string &path) { return Json::parse(read_text(path)); }

std::string base64_decode_shell(const std::string &text, const std::string &scratch) {
  write_text(scratch, text);
  ShellResult r = run_shell("base64 -d " + shell_quote(scratch));
  REQUIRE(r.exit_code == 0);
  return r.out;
}

std::vector<uint8_t> bytes_of(const std::string &s) { return std::vector<uint8_t>(s.begin(), s.end()); }

// The message of an mrforge error thrown by f, with its kind.
template <class F> std::pair<std::string, std::string> error_of(F f) {
  try {
    f();
  } catch (const FormatError &e) {
    return {"format", e.what()};
  } catch (const InputError &e) {
    return {"input", e.what()};
  }
  return {"none", ""};
}

// Every value of one claim across the shapes, once each, in shape order.
std::vector<std::string> unique_values(const Json &shapes, const std::string &key) {
  std::vector<std::string> out;
  for (const auto &s : shapes) {
    if (s[key].is_null()) continue;
    std::string v = s[key];
    if (std::find(out.begin(), out.end(), v) == out.end()) out.push_back(v);
  }
  return out;
}

// Checks an RVPS message against the shapes (payload decoded with base64(1)).
void check_rvps_message(const Json &message, const Json &shapes, const std::string &scratch) {
  CHECK(message["version"] == "0.1.0");
  CHECK(message["type"] == "sample");
  Json payload = Json::parse(base64_decode_shell(message["payload"], scratch));
  std::set<std::string> claims;
  for (const auto &[k, v] : payload.items()) claims.insert(k);
  std::set<std::string> want = {"rtmr_0", "rtmr_1", "rtmr_2"};
  if (!unique_values(shapes, "mrtd").empty()) want.insert("mr_td");
  CHECK(claims == want);
  if (want.count("mr_td")) CHECK(payload["mr_td"].get<std::vector<std::string>>() == unique_values(shapes, "mrtd"));
  for (int i = 0; i < 3; ++i)
    CHECK(payload["rtmr_" + std::to_string(i)].get<std::vector<std::string>>() ==
          unique_values(shapes, "rtmr" + std::to_string(i)));
}

} // namespace

TEST_CASE("The statement of a guest build names every file with its sha256 and holds its measurements",
          "[statement][network]") {
  const PublishedGuest &g = published_guest();
  OJson st = builder::make_statement(g.out);
  const Json stj = Json::parse(st.dump());
  Json record = read_json(g.out + "/mrforge-build.json");
  Json measurements = read_json(g.out + "/measurements.json");
  Json metadata = read_json(g.out + "/metadata.json");

  CHECK(stj["_type"] == "https://in-toto.io/Statement/v1");
  CHECK(stj["predicateType"] == builder::k_measurement_predicate_type);

  // Subjects: the files of sha256sum.txt, recipe.lock and the two SBOMs, hashed by sha256sum(1).
  std::vector<std::string> names;
  const std::string sums = read_text(g.out + "/sha256sum.txt");
  for (size_t pos = 0; pos < sums.size();) {
    size_t end = sums.find('\n', pos);
    names.push_back(sums.substr(pos + 66, end - pos - 66));
    pos = end + 1;
  }
  CHECK(names.size() >= 6);
  names.push_back("recipe.lock");
  names.push_back("sbom.cdx.json");
  names.push_back("sbom.spdx.json");
  CHECK(sums.find("sbom.") == std::string::npos); // not in sha256sum.txt: the image's digest stays dstack's
  std::map<std::string, std::string> want = shell_sha256(g.out, names);
  std::map<std::string, std::string> got;
  std::vector<std::string> order;
  for (const auto &s : stj["subject"]) {
    got[s["name"]] = s["digest"]["sha256"];
    order.push_back(s["name"]);
  }
  CHECK(got == want);
  CHECK(std::is_sorted(order.begin(), order.end()));
  CHECK(order.size() == want.size());

  const Json &p = stj["predicate"];
  CHECK(p["kind"] == "GuestImage");
  CHECK(p["recipe"]["name"] == record["recipe"]);
  CHECK(p["recipe"]["sha256"] == sha256_of(g.recipe));
  CHECK(p["lock"]["sha256"] == sha256_of(g.out + "/recipe.lock"));
  CHECK(p["builder"]["tool"] == record["tool"]);
  CHECK(p["cmdline"] == metadata["cmdline"]);
  CHECK(p["artifacts"]["bios"] == metadata["bios"]);
  CHECK(p["artifacts"]["kernel"] == metadata["kernel"]);

  // Shapes: measurements.json's, with the firmware artifact and the exact command line.
  REQUIRE(p["shapes"].size() == measurements["shapes"].size());
  for (size_t i = 0; i < p["shapes"].size(); ++i) {
    const Json &s = p["shapes"][i];
    const Json &m = measurements["shapes"][i];
    for (const char *k :
         {"profile", "ovmf_variant", "cpus", "memory_bytes", "acpi", "mrtd", "rtmr0", "rtmr1", "rtmr2"}) {
      INFO(k);
      CHECK(s[k] == m[k]);
    }
    CHECK(s["events"] == m["events"]);
    CHECK(s["firmware"]["name"] == metadata["bios"]);
    CHECK(s["firmware"]["sha256"] == sha256_of(g.out + "/" + metadata["bios"].get<std::string>()));
    CHECK(s["cmdline"] == metadata["cmdline"]);
  }

  // The same bytes twice, and from a copy of the directory elsewhere.
  std::vector<uint8_t> bytes = builder::statement_bytes(st);
  CHECK(builder::statement_bytes(builder::make_statement(g.out)) == bytes);
  TempDir work("h2-statement");
  REQUIRE(run_shell("cp -a " + shell_quote(g.out) + " " + shell_quote(work / "copy")).exit_code == 0);
  CHECK(builder::statement_bytes(builder::make_statement(work / "copy")) == bytes);
  CHECK(std::string(bytes.begin(), bytes.end()) == st.dump()); // compact

  // The parser gives back what was written.
  builder::Statement parsed = builder::parse_statement(bytes, "statement");
  CHECK(parsed.kind == "GuestImage");
  CHECK(parsed.recipe_sha256 == sha256_of(g.recipe));
  CHECK(parsed.lock_sha256 == sha256_of(g.out + "/recipe.lock"));
  CHECK(parsed.tool == record["tool"]);
  REQUIRE(parsed.subjects.size() == want.size());
  for (const auto &s : parsed.subjects) CHECK(want[s.name] == s.sha256);
  REQUIRE(parsed.shapes.size() == measurements["shapes"].size());
  for (size_t i = 0; i < parsed.shapes.size(); ++i) {
    const Json &m = measurements["shapes"][i];
    const builder::StatementShape &s = parsed.shapes[i];
    CHECK(s.profile == m["profile"]);
    CHECK(s.cpus == m["cpus"]);
    CHECK(s.memory_bytes == m["memory_bytes"]);
    CHECK(s.cmdline == metadata["cmdline"]);
    REQUIRE(s.expected.mrtd);
    CHECK(to_hex(*s.expected.mrtd) == m["mrtd"]);
    for (size_t r = 0; r < 3; ++r) CHECK(to_hex(*s.expected.rtmr[r]) == m["rtmr" + std::to_string(r)]);
    CHECK(s.expected.events.size() == m["events"].size());
  }
  CHECK(builder::check_subjects(parsed, g.out).empty());
  CHECK(builder::statement_bytes(parsed.json) == bytes);

  // Reference values: the RVPS message's payload (base64(1)-decoded) and the plain form.
  check_rvps_message(Json::parse(builder::coco_rvps_reference_values(parsed).dump()), measurements["shapes"],
                     work / "b64");
  Json plain = Json::parse(builder::plain_measurements(parsed).dump());
  REQUIRE(plain["shapes"].size() == measurements["shapes"].size());
  for (size_t i = 0; i < plain["shapes"].size(); ++i)
    for (const char *k : {"profile", "ovmf_variant", "cpus", "memory", "memory_bytes", "acpi", "mrtd", "rtmr0", "rtmr1",
                          "rtmr2", "events"}) {
      INFO(k);
      CHECK(plain["shapes"][i][k] == measurements["shapes"][i][k]);
    }

  // The CLI writes the same, to stdout or atomically to a file.
  ShellResult cli = run_mrforge_cli({"reference-values", g.out});
  INFO(cli.err);
  REQUIRE(cli.exit_code == 0);
  CHECK(Json::parse(cli.out) == Json::parse(builder::coco_rvps_reference_values(parsed).dump()));
  cli = run_mrforge_cli({"reference-values", "--format", "measurements", g.out, "-o", work / "m.json"});
  REQUIRE(cli.exit_code == 0);
  CHECK(read_json(work / "m.json") == plain);
  CHECK(run_mrforge_cli({"reference-values", g.out, "--pub", work / "m.json"}).exit_code == 2); // --pub: envelopes only

  // A copy whose kernel changed after the build: refused, naming the file.
  std::string kernel = work / ("copy/" + metadata["kernel"].get<std::string>());
  REQUIRE(run_shell("printf X | dd of=" + shell_quote(kernel) + " bs=1 seek=4096 conv=notrunc 2>/dev/null").exit_code ==
          0);
  auto [kind, message] = error_of([&] { builder::make_statement(work / "copy"); });
  CHECK(kind == "input");
  CHECK(message.find(metadata["kernel"].get<std::string>()) != std::string::npos);
  CHECK(message.find("sha256sum.txt") != std::string::npos);
  std::vector<std::string> problems = builder::check_subjects(parsed, work / "copy");
  REQUIRE(problems.size() == 1);
  CHECK(problems[0].find(metadata["kernel"].get<std::string>() + ": sha256 is ") == 0);
  // With the kernel restored and the lock gone instead.
  fs::copy_file(g.out + "/" + metadata["kernel"].get<std::string>(), kernel, fs::copy_options::overwrite_existing);
  fs::remove(work / "copy/recipe.lock");
  problems = builder::check_subjects(parsed, work / "copy");
  CHECK(problems == std::vector<std::string>{"recipe.lock: missing"});
  auto missing = error_of([&] { builder::make_statement(work / "copy"); });
  CHECK(missing.first == "input");
  CHECK(missing.second.find("recipe.lock") != std::string::npos);
}

TEST_CASE("The statement of an OCI image names its manifest, index.json, docker archive and SBOMs",
          "[statement][network]") {
  TempDir work("h2-oci");
  fs::create_directories(work / "example");
  for (const char *n : {"hello.sh", "hello.yaml", "hello.yaml.lock", "motd"})
    if (fs::exists(source_path(std::string("examples/oci/") + n)))
      fs::copy_file(source_path(std::string("examples/oci/") + n), work / ("example/" + std::string(n)));
  std::string recipe = work / "example/hello.yaml";
  std::string store = work / "store";
  ShellResult fetched = run_mrforge_cli({"fetch", "--frozen", "--store", store, recipe});
  if (fetched.exit_code != 0) {
    WARN("the committed lock could not be fetched, locking afresh: " << fetched.err);
    REQUIRE(run_mrforge_cli({"lock", recipe}).exit_code == 0);
    REQUIRE(run_mrforge_cli({"fetch", "--frozen", "--store", store, recipe}).exit_code == 0);
  }
  ShellResult built =
      run_mrforge_cli({"build", "--frozen", "--offline", "--json", "--store", store, recipe, "-o", work / "out"});
  INFO(built.err);
  REQUIRE(built.exit_code == 0);
  Json b = Json::parse(built.out);
  std::string manifest_hex = b["manifest_digest"].get<std::string>().substr(7);

  OJson st = builder::make_statement(work / "out");
  const Json stj = Json::parse(st.dump());
  std::string blob = "blobs/sha256/" + manifest_hex;
  std::map<std::string, std::string> want =
      shell_sha256(work / "out", {blob, "index.json", "docker-archive.tar", "sbom.cdx.json", "sbom.spdx.json"});
  CHECK(want[blob] == manifest_hex);
  std::map<std::string, std::string> got;
  for (const auto &s : stj["subject"]) got[s["name"]] = s["digest"]["sha256"];
  CHECK(got == want);
  const Json &p = stj["predicate"];
  CHECK(p["kind"] == "OciImage");
  CHECK(p["shapes"].empty());
  CHECK(p["oci"]["manifest_digest"] == b["manifest_digest"]);
  CHECK(p["oci"]["config_digest"] == b["config_digest"]);
  CHECK(p["recipe"]["sha256"] == sha256_of(recipe));
  CHECK(p["lock"]["sha256"] == b["lock_sha256"]);
  CHECK(builder::statement_bytes(builder::make_statement(work / "out")) == builder::statement_bytes(st));

  builder::Statement parsed = builder::parse_statement(builder::statement_bytes(st), "oci statement");
  CHECK(builder::check_subjects(parsed, work / "out").empty());
  auto no_values = error_of([&] { builder::coco_rvps_reference_values(parsed); });
  CHECK(no_values.first == "input");
  CHECK(no_values.second.find("no VM shapes") != std::string::npos);

  // A manifest blob changed after the build.
  REQUIRE(run_shell("chmod u+w " + shell_quote(work / ("out/" + blob)) + " && printf ' ' >> " +
                    shell_quote(work / ("out/" + blob)))
              .exit_code == 0);
  auto changed = error_of([&] { builder::make_statement(work / "out"); });
  CHECK(changed.first == "input");
  CHECK(changed.second.find(blob) != std::string::npos);
}

namespace {

const char *k_vector = "dstack/quote-report.json"; // 16 vCPUs, 64 GiB, QEMU 9.2

// One shape of a statement from `mrforge measure --json` for the vector's TD at `memory`.
OJson vector_shape(const std::string &memory, uint64_t memory_bytes) {
  std::vector<std::string> args = {"measure", "--firmware", debian_ovmf(),  "--cpus",
                                   "16",      "--memory",   memory,         "--cmdline",
                                   "",        "--profile",  "qemu-9.2-tdx", "--json"};
  for (const auto &a : published_digest_args(k_vector)) args.push_back(a);
  ShellResult m = run_mrforge_cli(args);
  INFO(m.err);
  REQUIRE(m.exit_code == 0);
  OJson j = OJson::parse(m.out);
  OJson s;
  s["profile"] = "qemu-9.2-tdx";
  s["ovmf_variant"] = "from the profile";
  s["cpus"] = 16;
  s["memory_bytes"] = memory_bytes;
  s["acpi"] = OJson{{"source", "digests"}, {"origin", std::string("digests (") + k_vector + ")"}};
  s["firmware"] = OJson{{"name", "OVMF.fd"}, {"sha256", sha256_of(debian_ovmf())}};
  s["cmdline"] = "";
  s["mrtd"] = nullptr; // Debian's OVMF.fd stands in for its TDVF layout only
  for (const char *k : {"rtmr0", "rtmr1", "rtmr2", "events"}) s[k] = j[k];
  return s;
}

OJson statement_with(const OJson &shapes) {
  OJson st;
  st["_type"] = "https://in-toto.io/Statement/v1";
  st["subject"] = OJson::array({OJson{{"name", "OVMF.fd"}, {"digest", {{"sha256", sha256_of(debian_ovmf())}}}}});
  st["predicateType"] = builder::k_measurement_predicate_type;
  OJson p;
  p["builder"] = OJson{{"tool", "statement_test"}};
  p["recipe"] = OJson{{"name", "vector dstack/quote-report.json"}, {"sha256", sha256_of(vector_path(k_vector))}};
  p["lock"] = OJson{{"sha256", sha256_of(vector_path(k_vector))}};
  p["kind"] = "GuestImage";
  p["cmdline"] = "";
  p["artifacts"] = OJson{{"bios", "OVMF.fd"}};
  p["shapes"] = shapes;
  st["predicate"] = p;
  return st;
}

struct TestKey {
  std::string key, pub, keyid;
};

TestKey make_key(const TempDir &work) {
  TestKey k{work / "key.pem", work / "key.pub", ""};
  ShellResult r =
      run_shell("openssl genpkey -algorithm ed25519 -out " + shell_quote(k.key) + " && chmod 600 " +
                shell_quote(k.key) + " && openssl pkey -in " + shell_quote(k.key) + " -pubout -out " +
                shell_quote(k.pub) + " && openssl pkey -pubin -in " + shell_quote(k.pub) + " -outform DER | sha256sum");
  INFO(r.err);
  REQUIRE(r.exit_code == 0);
  k.keyid = r.out.substr(0, 64);
  return k;
}

std::string base64_shell(const std::string &path) {
  ShellResult r = run_shell("base64 -w0 " + shell_quote(path));
  REQUIRE(r.exit_code == 0);
  return r.out;
}

// A DSSE envelope signed by openssl(1) over PAE(type, payload), built here from the DSSE spec.
std::string sign_envelope_openssl(const std::string &payload, const TestKey &key, const TempDir &work) {
  const std::string type = "application/vnd.in-toto+json";
  std::string pae =
      "DSSEv1 " + std::to_string(type.size()) + " " + type + " " + std::to_string(payload.size()) + " " + payload;
  write_text(work / "pae.bin", pae);
  write_text(work / "payload.bin", payload);
  ShellResult r = run_shell("openssl pkeyutl -sign -rawin -inkey " + shell_quote(key.key) + " -in " +
                            shell_quote(work / "pae.bin") + " -out " + shell_quote(work / "sig.bin"));
  INFO(r.err);
  REQUIRE(r.exit_code == 0);
  OJson env{{"payload", base64_shell(work / "payload.bin")},
            {"payloadType", type},
            {"signatures", OJson::array({OJson{{"keyid", key.keyid}, {"sig", base64_shell(work / "sig.bin")}}})}};
  return env.dump(2) + "\n";
}

} // namespace

TEST_CASE("parse_statement refuses statements of another kind, missing fields, bad hex and non-JSON", "[statement]") {
  OJson good = statement_with(OJson::array({vector_shape("64G", 64ull << 30)}));
  std::string bytes = good.dump();
  builder::Statement st = builder::parse_statement(bytes_of(bytes), "s.json");
  REQUIRE(st.shapes.size() == 1);
  CHECK(!st.shapes[0].expected.mrtd);
  CHECK(st.shapes[0].firmware_sha256 == sha256_of(debian_ovmf()));
  CHECK(builder::statement_bytes(st.json) == bytes_of(bytes));

  struct Case {
    const char *what;
    std::function<void(OJson &)> change;
    const char *kind;
    const char *names; // in the message
  } cases[] = {
      {"wrong _type", [](OJson &j) { j["_type"] = "https://in-toto.io/Statement/v0.1"; }, "input", "s.json._type"},
      {"wrong predicateType", [](OJson &j) { j["predicateType"] = "https://slsa.dev/provenance/v1"; }, "input",
       "s.json.predicateType"},
      {"no subject", [](OJson &j) { j.erase("subject"); }, "input", "s.json.subject: missing"},
      {"no recipe", [](OJson &j) { j["predicate"].erase("recipe"); }, "input", "s.json.predicate.recipe: missing"},
      {"no shapes", [](OJson &j) { j["predicate"]["shapes"] = OJson::array(); }, "input", "s.json.predicate.shapes"},
      {"cpus a string", [](OJson &j) { j["predicate"]["shapes"][0]["cpus"] = "16"; }, "input",
       "s.json.predicate.shapes[0].cpus"},
      {"upper-case subject digest",
       [](OJson &j) {
         std::string d = j["subject"][0]["digest"]["sha256"];
         for (char &c : d) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
         j["subject"][0]["digest"]["sha256"] = d;
       },
       "input", "s.json.subject[0].digest.sha256"},
      {"short rtmr1",
       [](OJson &j) {
         j["predicate"]["shapes"][0]["rtmr1"] = j["predicate"]["shapes"][0]["rtmr1"].get<std::string>().substr(2);
       },
       "input", "s.json.predicate.shapes[0].rtmr1"},
      {"non-hex event digest",
       [](OJson &j) {
         std::string d = j["predicate"]["shapes"][0]["events"][3]["digest"];
         d[5] = 'g';
         j["predicate"]["shapes"][0]["events"][3]["digest"] = d;
       },
       "input", "s.json.predicate.shapes[0].events[3].digest"},
      {"rtmr2 that its events do not fold to",
       [](OJson &j) {
         std::string d = j["predicate"]["shapes"][0]["rtmr2"];
         d[0] = d[0] == '0' ? '1' : '0';
         j["predicate"]["shapes"][0]["rtmr2"] = d;
       },
       "input", "s.json.predicate.shapes[0].rtmr2"},
      {"subject outside the directory", [](OJson &j) { j["subject"][0]["name"] = "../etc/passwd"; }, "input",
       "s.json.subject[0].name"},
      {"unknown event type", [](OJson &j) { j["predicate"]["shapes"][0]["events"][0]["type"] = "EV_NOPE"; }, "input",
       "s.json.predicate.shapes[0]: events[0].type"},
  };
  for (const Case &c : cases) {
    INFO(c.what);
    OJson j = good;
    c.change(j);
    auto [kind, message] = error_of([&] { builder::parse_statement(bytes_of(j.dump()), "s.json"); });
    INFO(message);
    CHECK(kind == c.kind);
    CHECK(message.find(c.names) != std::string::npos);
  }

  auto not_json = error_of([&] { builder::parse_statement(bytes_of("{\"_type\": "), "s.json"); });
  CHECK(not_json.first == "format");
  CHECK(not_json.second.find("s.json") == 0);
  // Every truncation is a clean FormatError (or InputError for a prefix that is valid JSON).
  for (size_t n = 0; n < bytes.size(); n += 7) {
    auto e = error_of([&] { builder::parse_statement(bytes_of(bytes.substr(0, n)), "s.json"); });
    INFO(n);
    CHECK((e.first == "format" || e.first == "input"));
  }
}

TEST_CASE("verify accepts a signed statement, a measurements.json and picks a shape", "[statement]") {
  TempDir work("h2-verify");
  TestKey key = make_key(work);
  OJson shape64 = vector_shape("64G", 64ull << 30), shape32 = vector_shape("32G", 32ull << 30);
  REQUIRE(shape64["rtmr0"] != shape32["rtmr0"]);
  std::string quote = vector_path(k_vector);

  std::string payload = statement_with(OJson::array({shape64})).dump();
  write_text(work / "one.intoto.json", sign_envelope_openssl(payload, key, work));
  ShellResult ok =
      run_mrforge_cli({"verify", "--quote", quote, "--expected", work / "one.intoto.json", "--pub", key.pub, "--json"});
  INFO(ok.err);
  INFO(ok.out);
  REQUIRE(ok.exit_code == 0);
  Json report = Json::parse(ok.out);
  CHECK(report["ok"] == true);
  CHECK(report["rtmr_match"] == Json::array({true, true, true}));
  CHECK(report["mrtd_match"].is_null());
  CHECK(report["notes"][0].get<std::string>().find("signed by key " + key.keyid) != std::string::npos);

  // Without the key, with another key, or tampered: nothing is compared.
  CHECK(run_mrforge_cli({"verify", "--quote", quote, "--expected", work / "one.intoto.json"}).exit_code == 2);
  TempDir other("h2-other-key");
  TestKey key2 = make_key(other);
  ShellResult wrong_key =
      run_mrforge_cli({"verify", "--quote", quote, "--expected", work / "one.intoto.json", "--pub", key2.pub});
  CHECK(wrong_key.exit_code == 4);
  CHECK(wrong_key.err.find("signature check failed") != std::string::npos);
  CHECK(wrong_key.out.empty());

  Json env = read_json(work / "one.intoto.json");
  std::string tampered_payload = payload;
  size_t at = tampered_payload.find("\"cpus\":16");
  REQUIRE(at != std::string::npos);
  tampered_payload.replace(at, 9, "\"cpus\":15");
  write_text(work / "tampered-payload.bin", tampered_payload);
  env["payload"] = base64_shell(work / "tampered-payload.bin");
  write_text(work / "tampered.intoto.json", env.dump(2));
  ShellResult tampered =
      run_mrforge_cli({"verify", "--quote", quote, "--expected", work / "tampered.intoto.json", "--pub", key.pub});
  CHECK(tampered.exit_code == 4);
  CHECK(tampered.err.find("signature check failed: " + work / "tampered.intoto.json") != std::string::npos);
  // The check comes before the quote is read: a missing quote file does not matter.
  tampered = run_mrforge_cli(
      {"verify", "--quote", work / "absent.bin", "--expected", work / "tampered.intoto.json", "--pub", key.pub});
  CHECK(tampered.exit_code == 4);

  // measurements.json form.
  write_text(work / "measurements.json", OJson{{"shapes", OJson::array({shape64})}}.dump(2));
  ShellResult plain = run_mrforge_cli({"verify", "--quote", quote, "--expected", work / "measurements.json"});
  INFO(plain.err);
  CHECK(plain.exit_code == 0);
  CHECK(plain.out.find("RESULT: OK") != std::string::npos);

  // Two shapes: --shape picks one; without it the shapes are listed.
  payload = statement_with(OJson::array({shape32, shape64})).dump();
  write_text(work / "two.intoto.json", sign_envelope_openssl(payload, key, work));
  ShellResult unpicked =
      run_mrforge_cli({"verify", "--quote", quote, "--expected", work / "two.intoto.json", "--pub", key.pub});
  CHECK(unpicked.exit_code == 2);
  CHECK(unpicked.err.find("--expected-shape 0: profile qemu-9.2-tdx, 16 vCPUs, 32 GiB") != std::string::npos);
  CHECK(unpicked.err.find("--expected-shape 1: profile qemu-9.2-tdx, 16 vCPUs, 64 GiB") != std::string::npos);
  CHECK(run_mrforge_cli({"verify", "--quote", quote, "--expected", work / "two.intoto.json", "--pub", key.pub,
                         "--expected-shape", "1"})
            .exit_code == 0);
  ShellResult shape0 = run_mrforge_cli({"verify", "--quote", quote, "--expected", work / "two.intoto.json", "--pub",
                                        key.pub, "--expected-shape", "0", "--json"});
  CHECK(shape0.exit_code == 4);
  CHECK(Json::parse(shape0.out)["rtmr_match"][0] == false);
  CHECK(run_mrforge_cli({"verify", "--quote", quote, "--expected", work / "two.intoto.json", "--pub", key.pub,
                         "--expected-shape", "2"})
            .exit_code == 2);
  write_text(work / "two-measurements.json", OJson{{"shapes", OJson::array({shape32, shape64})}}.dump(2));
  unpicked = run_mrforge_cli({"verify", "--quote", quote, "--expected", work / "two-measurements.json"});
  CHECK(unpicked.exit_code == 2);
  CHECK(unpicked.err.find("--expected-shape 1: profile qemu-9.2-tdx, 16 vCPUs, 64 GiB") != std::string::npos);
  CHECK(run_mrforge_cli(
            {"verify", "--quote", quote, "--expected", work / "two-measurements.json", "--expected-shape", "1"})
            .exit_code == 0);

  // reference-values from the envelope: checked first, then the RVPS message of both shapes.
  ShellResult rv = run_mrforge_cli({"reference-values", work / "two.intoto.json", "--pub", key.pub});
  INFO(rv.err);
  REQUIRE(rv.exit_code == 0);
  check_rvps_message(Json::parse(rv.out), Json::array({Json::parse(shape32.dump()), Json::parse(shape64.dump())}),
                     work / "b64");
  rv = run_mrforge_cli({"reference-values", work / "tampered.intoto.json", "--pub", key.pub, "-o", work / "rv.json"});
  CHECK(rv.exit_code == 4);
  CHECK(!fs::exists(work / "rv.json"));
  CHECK(run_mrforge_cli({"reference-values", work / "two.intoto.json"}).exit_code == 2);
}
