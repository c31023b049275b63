// The mrforge command line, run as a user runs it: exit codes, JSON shape, errors that name the
// input, and agreement between subcommands.
#include "log_vectors.hpp"
#include "test_support.hpp"

#include <measure/formats/firmware.hpp>
#include <measure/util/hash.hpp>

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include <array>
#include <csignal>
#include <cstdio>
#include <fcntl.h>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <sys/wait.h>
#include <unistd.h>

namespace fs = std::filesystem;
using namespace mrforge::test;

namespace {

using Run = mrforge::test::ShellResult;

Run run_mrforge(const std::vector<std::string> &args) { return mrforge::test::run_mrforge_cli(args); }

const std::vector<std::string> k_acpi_digests = mrforge::test::placeholder_acpi_digest_args();

} // namespace

TEST_CASE("mrforge --help documents subcommands and exit codes, usage errors exit 1", "[cli]") {
  Run help = run_mrforge({"--help"});
  CHECK(help.exit_code == 0);
  CHECK(help.out.find("measure") != std::string::npos);
  CHECK(help.out.find("inspect") != std::string::npos);
  CHECK(help.out.find("Exit codes: 0 ok, 1 usage error, 2 bad input") != std::string::npos);
  CHECK(run_mrforge({}).exit_code == 1);
  CHECK(run_mrforge({"measure", "--cpus", "2"}).exit_code == 1);
  CHECK(run_mrforge({"frobnicate"}).exit_code == 1);
  Run mh = run_mrforge({"measure", "--help"});
  CHECK(mh.exit_code == 0);
  CHECK(mh.out.find("--acpi-tables") != std::string::npos);
}

TEST_CASE("mrforge measure --json prints the registers, the events and the inputs", "[cli]") {
  TempDir d("cli");
  write_text(d / "initrd.img", std::string(8192, 'i'));
  auto args =
      with({"measure", "--firmware", debian_ovmf(), "--kernel", debian_kernel_612(), "--initrd", (d / "initrd.img"),
            "--cmdline", "console=hvc0", "--cpus", "2", "--memory", "2G", "--profile", "qemu-8.2-tdx"},
           k_acpi_digests);
  Run r = run_mrforge(with(args, {"--json"}));
  INFO(r.err);
  REQUIRE(r.exit_code == 0);
  auto j = nlohmann::json::parse(r.out);
  for (const char *k : {"mrtd", "rtmr0", "rtmr1", "rtmr2"}) {
    REQUIRE(j.at(k).is_string());
    CHECK(j.at(k).get<std::string>().size() == 96);
  }
  REQUIRE(j.at("events").size() == 20);
  for (const auto &e : j.at("events")) {
    for (const char *k : {"register", "type", "description", "digest", "source"}) CHECK(e.contains(k));
    std::string reg = e.at("register");
    CHECK((reg == "rtmr0" || reg == "rtmr1" || reg == "rtmr2"));
  }
  CHECK(j["events"][0]["type"] == "EV_EFI_HANDOFF_TABLES2");
  CHECK(j["events"][16]["type"] == "EV_EVENT_TAG");
  CHECK(j.at("inputs").at("profile").get<std::string>().rfind("qemu-8.2-tdx", 0) == 0);
  CHECK(j["events"][8]["source"] == "supplied digest (--digest acpi-loader)");

  // The MRTD agrees with `inspect firmware` for the profile's page order (two-pass for QEMU 8.2).
  Run fw = run_mrforge({"inspect", "firmware", debian_ovmf(), "--json"});
  REQUIRE(fw.exit_code == 0);
  auto fj = nlohmann::json::parse(fw.out);
  CHECK(fj["mrtd"]["two-pass"] == j["mrtd"]);
  CHECK(fj["cfv_digest"] == j["events"][1]["digest"]);

  // The text output carries the same values.
  Run text = run_mrforge(args);
  REQUIRE(text.exit_code == 0);
  CHECK(text.out.find("RTMR1  " + j["rtmr1"].get<std::string>()) != std::string::npos);
}

TEST_CASE("mrforge measure IMAGE_DIR reads dstack's metadata.json", "[cli]") {
  TempDir d("cli");
  // Copies: files of an image directory are never read through a symbolic link.
  fs::copy_file(debian_ovmf(), d / "ovmf.fd");
  fs::copy_file(debian_kernel_612(), d / "bzImage");
  write_text(d / "initramfs.cpio.gz", std::string(4096, 'r'));
  write_text(
      d / "metadata.json",
      R"({"bios": "ovmf.fd", "kernel": "bzImage", "initrd": "initramfs.cpio.gz", "cmdline": "console=ttyS0", "version": "1"})");
  auto shape = with({"--cpus", "4", "--memory", "4G", "--profile", "qemu-9.2-tdx", "--json"}, k_acpi_digests);
  Run from_dir = run_mrforge(with({"measure", d.path()}, shape));
  INFO(from_dir.err);
  REQUIRE(from_dir.exit_code == 0);
  Run explicit_files = run_mrforge(with({"measure", "--firmware", debian_ovmf(), "--kernel", debian_kernel_612(),
                                         "--initrd", (d / "initramfs.cpio.gz"), "--cmdline", "console=ttyS0"},
                                        shape));
  REQUIRE(explicit_files.exit_code == 0);
  auto a = nlohmann::json::parse(from_dir.out), b = nlohmann::json::parse(explicit_files.out);
  for (const char *k : {"mrtd", "rtmr0", "rtmr1", "rtmr2"}) CHECK(a[k] == b[k]);

  write_text(d / "metadata.json", R"({"bios": "../ovmf.fd", "kernel": "bzImage", "cmdline": ""})");
  Run escape = run_mrforge(with({"measure", d.path()}, shape));
  CHECK(escape.exit_code == 2);
  CHECK(escape.err.find("bios") != std::string::npos);
}

TEST_CASE("Bad inputs exit 2 with a message naming the input", "[cli]") {
  auto base = with({"--cmdline", "", "--cpus", "1", "--memory", "2G", "--profile", "qemu-9.2-tdx"}, k_acpi_digests);
  Run missing =
      run_mrforge(with({"measure", "--firmware", "/nonexistent/OVMF.fd", "--kernel", debian_kernel_612()}, base));
  CHECK(missing.exit_code == 2);
  CHECK(missing.err.find("/nonexistent/OVMF.fd: cannot open") != std::string::npos);

  Run split = run_mrforge(
      with({"measure", "--firmware", "/usr/share/OVMF/OVMF_CODE.fd", "--kernel", debian_kernel_612()}, base));
  CHECK(split.exit_code == 2);
  CHECK(split.err.find("OVMF_CODE.fd+0x") != std::string::npos);
  CHECK(split.err.find("unified OVMF.fd") != std::string::npos);

  Run not_pe = run_mrforge(with({"measure", "--firmware", debian_ovmf(), "--kernel", debian_ovmf()}, base));
  CHECK(not_pe.exit_code == 2);
  CHECK(not_pe.err.find(debian_ovmf() + "+0x") != std::string::npos);

  Run memory = run_mrforge({"measure", "--firmware", debian_ovmf(), "--cmdline", "", "--cpus", "1", "--memory", "3P",
                            "--profile", "qemu-9.2-tdx"});
  CHECK(memory.exit_code == 2);
  CHECK(memory.err.find("--memory") != std::string::npos);

  Run digest = run_mrforge(
      with({"measure", "--firmware", debian_ovmf(), "--kernel", debian_kernel_612(), "--digest", "kernal=00"}, base));
  CHECK(digest.exit_code == 2);
  CHECK(digest.err.find("unknown component 'kernal'") != std::string::npos);

  Run profile = run_mrforge({"measure", "--cmdline", "", "--cpus", "1", "--memory", "2G", "--profile", "qemu-7.0-tdx"});
  CHECK(profile.exit_code == 2);
  CHECK(profile.err.find("known:") != std::string::npos);

  // A platform profile without an ACPI generator profile: the blobs or their digests are needed.
  TempDir d("cli-no-acpi");
  std::string no_generator = read_text(source_path("measure/profiles/platform/qemu-10.2-tdx.yaml"));
  const size_t at = no_generator.find("  generator: qemu-10.2-tdx\n");
  REQUIRE(at != std::string::npos);
  no_generator.erase(at, std::string("  generator: qemu-10.2-tdx\n").size());
  write_text(d / "no-generator.yaml", no_generator);
  Run no_acpi = run_mrforge({"measure", "--firmware", debian_ovmf(), "--kernel", debian_kernel_612(), "--cmdline", "",
                             "--cpus", "1", "--memory", "2G", "--profile", d / "no-generator.yaml"});
  CHECK(no_acpi.exit_code == 2);
  CHECK(no_acpi.err.find("--acpi-tables") != std::string::npos);
  // QEMU 9.2 has one: the tables are generated for the shape, and the inputs say so.
  Run generated = run_mrforge({"measure", "--firmware", debian_ovmf(), "--kernel", debian_kernel_612(), "--cmdline", "",
                               "--cpus", "1", "--memory", "2G", "--profile", "qemu-9.2-tdx", "--json"});
  INFO(generated.err);
  REQUIRE(generated.exit_code == 0);
  const std::string origin = nlohmann::json::parse(generated.out)["inputs"]["acpi_tables"];
  CHECK(origin.rfind("generated by mrforge (ACPI profile qemu-9.2-tdx (sha256:", 0) == 0);
  CHECK(origin.find(")) for 1 CPUs, 2G, pic off, smm off") != std::string::npos);
}

TEST_CASE("mrforge inspect kernel reports the Authenticode digests and the signature", "[cli]") {
  Run r = run_mrforge({"inspect", "kernel", debian_kernel_612(), "--json"});
  INFO(r.err);
  REQUIRE(r.exit_code == 0);
  auto j = nlohmann::json::parse(r.out);
  CHECK(j["signed"] == true);
  CHECK(j["authenticode"]["sha256"].get<std::string>().size() == 64);
  CHECK(j["authenticode"]["sha384"].get<std::string>().size() == 96);
  CHECK(j["boot_protocol"] == "2.15");
  CHECK(j["setup_header"]["can_be_loaded_above_4g"] == true);
  Run profiles = run_mrforge({"profiles", "--json"});
  REQUIRE(profiles.exit_code == 0);
  CHECK(nlohmann::json::parse(profiles.out)["platform_profiles"].size() >= 3);
}

namespace {

nlohmann::json vector_json(const std::string &rel) {
  std::ifstream in(vector_path(rel));
  return nlohmann::json::parse(in);
}

} // namespace

TEST_CASE("mrforge quote show --json prints the quote's fields in lowercase hex", "[cli][quote]") {
  Run r = run_mrforge({"quote", "show", vector_path("dstack/quote-report.json"), "--json"});
  INFO(r.err);
  REQUIRE(r.exit_code == 0);
  auto j = nlohmann::json::parse(r.out);
  for (const char *k : {"version", "tee_type", "mrtd", "rtmr0", "rtmr1", "rtmr2", "rtmr3", "mrconfigid", "report_data",
                        "td_attributes"})
    CHECK(j.contains(k));
  CHECK(j["version"] == 4);
  CHECK(j["report_data"].get<std::string>().rfind("1234", 0) == 0); // vm report_data of the vector
  CHECK(j["td_attributes_decoded"]["debug"] == false);

  Run sgx = run_mrforge({"quote", "show", vector_path("automata/sgx_v3_quote.bin")});
  CHECK(sgx.exit_code == 2);
  CHECK(sgx.err.find("SGX") != std::string::npos);
}

TEST_CASE("mrforge eventlog replay --json equals the manifest's replayed RTMRs", "[cli][eventlog]") {
  auto manifest = vector_json("MANIFEST.json");
  for (const char *rel : {"trustee/eventlog/CCEL_data_grub", "go-eventlog/CCEL_unpadded.data.bin"}) {
    INFO(rel);
    Run r = run_mrforge({"eventlog", "replay", vector_path(rel), "--json"});
    REQUIRE(r.exit_code == 0);
    auto j = nlohmann::json::parse(r.out);
    for (int i = 0; i < 4; ++i)
      CHECK(j["rtmr" + std::to_string(i)] == manifest["event_logs"][rel]["replayed_rtmr"][static_cast<size_t>(i)]);
  }
  Run show = run_mrforge({"eventlog", "show", vector_path("trustee/eventlog/CCEL_data_ovmf"), "--json"});
  REQUIRE(show.exit_code == 0);
  auto j = nlohmann::json::parse(show.out);
  CHECK(j["events"].size() == manifest["event_logs"]["trustee/eventlog/CCEL_data_ovmf"]["events"]);
  CHECK(j["events"][16]["register"] == "rtmr2");
}

TEST_CASE("mrforge verify passes for a real dstack TD and names the divergence when an input changes",
          "[cli][verify]") {
  const std::string vec = "dstack/quote-report.json";
  auto base = with({"verify", "--quote", vector_path(vec), "--firmware", debian_ovmf(), "--no-mrtd", "--cpus", "16",
                    "--cmdline", "", "--profile", "qemu-9.2-tdx"},
                   mrforge::test::published_digest_args(vec));
  Run ok = run_mrforge(with(base, {"--memory", "64G", "--json"}));
  INFO(ok.err);
  REQUIRE(ok.exit_code == 0);
  auto j = nlohmann::json::parse(ok.out);
  CHECK(j["ok"] == true);
  CHECK(j["log_consistent"] == true);
  CHECK(j["rtmr3_events"].size() >= 8);

  Run wrong = run_mrforge(with(base, {"--memory", "32G", "--json"}));
  CHECK(wrong.exit_code == 4);
  auto w = nlohmann::json::parse(wrong.out);
  CHECK(w["ok"] == false);
  REQUIRE(!w["divergences"].empty());
  CHECK(w["divergences"][0]["register"] == "rtmr0");
  CHECK(w["divergences"][0]["position"] == 0);
  bool explained = false;
  for (const auto &e : w["explanations"])
    explained |= e["assumption"].get<std::string>().find("64 GiB") != std::string::npos;
  CHECK(explained);

  // The same expected values through a file written by `mrforge measure --json`.
  TempDir d("cli");
  auto measure_args = with({"measure", "--firmware", debian_ovmf(), "--cpus", "16", "--memory", "64G", "--cmdline", "",
                            "--profile", "qemu-9.2-tdx", "--json"},
                           mrforge::test::published_digest_args(vec));
  Run m = run_mrforge(measure_args);
  REQUIRE(m.exit_code == 0);
  auto expected = nlohmann::json::parse(m.out);
  expected["mrtd"] = nullptr; // Debian's OVMF.fd stood in for its TDVF layout only
  write_text(d / "expected.json", expected.dump());
  Run from_file = run_mrforge({"verify", "--quote", vector_path(vec), "--expected", (d / "expected.json")});
  INFO(from_file.out);
  CHECK(from_file.exit_code == 0);
}

TEST_CASE("mrforge verify checks every quote and log pair of the vectors for consistency", "[cli][verify]") {
  struct Pair {
    std::string quote, log, ima;
  } pairs[] = {
      {"go-tdx-guest/cos-113-tdx-quote.dat", "go-tdx-guest/ccel_data.dat", ""},
      {"cc-trusted-api/quote.bin", "cc-trusted-api/ccel_data.bin", "cc-trusted-api/ima_log.bin"},
      {"dstack/tdx-lite-getquote.json", "dstack/tdx-lite-getquote.json", ""},
      {"dstack/quote-report.json", "dstack/quote-report.json", ""},
  };
  for (const auto &p : pairs) {
    INFO(p.quote);
    std::vector<std::string> args = {"verify",      "--quote",          vector_path(p.quote),
                                     "--event-log", vector_path(p.log), "--json"};
    if (!p.ima.empty()) args = with(args, {"--ima", vector_path(p.ima)});
    // Without expected values verify refuses: it would otherwise pass having compared nothing. A
    // dstack document whose vm_config carries tdx_measurement has them (dstack_measurement_test.cpp).
    Run refused = run_mrforge(args);
    if (p.quote == "dstack/tdx-lite-getquote.json") {
      CHECK(refused.exit_code == 0);
      auto j = nlohmann::json::parse(refused.out);
      CHECK(j["compared"] == nlohmann::json::array({"MRTD", "RTMR0", "RTMR1", "RTMR2"}));
      CHECK_THAT(j["expected_source"].get<std::string>(), Catch::StartsWith("dstack's measurement file"));
    } else {
      CHECK(refused.exit_code == 2);
      CHECK(refused.out.empty());
      CHECK_THAT(refused.err, Catch::Contains("nothing to compare the quote with") && Catch::Contains("--log-only"));
    }
    // --log-only makes "the log belongs to the quote" the whole, stated, result.
    Run r = run_mrforge(with(args, {"--log-only"}));
    INFO(r.err);
    CHECK(r.exit_code == 0);
    auto j = nlohmann::json::parse(r.out);
    CHECK(j["log_consistent"] == true);
    CHECK(j["log_only"] == true);
    CHECK(j["compared"].empty());
    CHECK(j["not_compared"] == nlohmann::json::array({"MRTD", "RTMR0", "RTMR1", "RTMR2"}));
    CHECK(j["summary"] == "RESULT: OK (log only): the event log replays to the quote's RTMR0-3; no register was "
                          "compared with expected values (RTMR3 events are listed, not checked)");
    Run text = run_mrforge(
        with({"verify", "--quote", vector_path(p.quote), "--event-log", vector_path(p.log), "--log-only"},
             p.ima.empty() ? std::vector<std::string>{} : std::vector<std::string>{"--ima", vector_path(p.ima)}));
    CHECK(text.exit_code == 0);
    CHECK_THAT(text.out, Catch::EndsWith("RESULT: OK (log only): the event log replays to the quote's RTMR0-3; no "
                                         "register was compared with expected values (RTMR3 events are listed, not "
                                         "checked)\n"));
  }
  // --log-only with expected values is a contradiction.
  Run both = run_mrforge({"verify", "--quote", vector_path("dstack/tdx-lite-getquote.json"), "--log-only", "--expected",
                          vector_path("dstack/tdx-lite-getquote.json")});
  CHECK(both.exit_code == 2);
  CHECK_THAT(both.err, Catch::Contains("--log-only"));
  // Without the IMA list, cc-trusted-api's RTMR2 does not replay: named, exit 4.
  Run no_ima = run_mrforge({"verify", "--quote", vector_path("cc-trusted-api/quote.bin"), "--event-log",
                            vector_path("cc-trusted-api/ccel_data.bin"), "--json", "--log-only"});
  CHECK(no_ima.exit_code == 4);
  auto j = nlohmann::json::parse(no_ima.out);
  CHECK(j["log_vs_quote"][2]["match"] == false);
  CHECK(j["log_vs_quote"][1]["match"] == true);
}

// ---- outputs that are not ours are never replaced ------------------------------------------

namespace {

// Every entry below `dir` (not following symlinks): its path and its content or link target.
std::map<std::string, std::string> snapshot(const fs::path &dir) {
  std::map<std::string, std::string> out;
  for (auto it = fs::recursive_directory_iterator(dir); it != fs::recursive_directory_iterator(); ++it) {
    std::string rel = fs::relative(it->path(), dir).string();
    if (it->is_symlink())
      out[rel] = "-> " + fs::read_symlink(it->path()).string();
    else if (it->is_regular_file())
      out[rel] = mrforge::test::read_text(it->path().string());
    else
      out[rel] = "(dir)";
  }
  return out;
}

// Temporary siblings an output left next to `path` (OUT.mrforge-tmp-*, OUT.tmp-*).
std::vector<std::string> leftovers(const fs::path &path) {
  std::vector<std::string> out;
  std::string prefix = path.filename().string() + ".";
  for (const auto &e : fs::directory_iterator(path.parent_path()))
    if (e.path().filename().string().rfind(prefix, 0) == 0) out.push_back(e.path().filename().string());
  return out;
}

// A directory that mrforge must not replace, and the words its refusal names.
struct NotOurs {
  std::string name;
  std::function<void(const fs::path &)> make;
  std::string words;
};

std::vector<NotOurs> not_our_outputs(const std::string &other_kind) {
  auto record = [](const std::string &content) {
    return [content](const fs::path &d) {
      fs::create_directories(d);
      write_text(d / "keep.txt", "precious\n");
      write_text(d / "mrforge-build.json", content);
    };
  };
  return {
      {"no record",
       [](const fs::path &d) {
         fs::create_directories(d / "sub");
         write_text(d / "keep.txt", "precious\n");
         write_text(d / "sub/also.txt", "also precious\n");
       },
       "exists and is not mrforge's output: it has no mrforge-build.json"},
      {"an empty record", record(""), "its mrforge-build.json is not a build record"},
      {"a garbage record",
       record("\x7f"
              "ELF garbage{"),
       "its mrforge-build.json is not a build record"},
      {"a record of another tool", record("{\"recipe\": \"x\", \"tool\": \"other\"}\n"),
       "does not name an output kind"},
      {"a record that is an array", record("[\"output_kind\"]"), "does not name an output kind"},
      {"a record with a second document", record("{\"output_kind\": \"x\"} {}"), "is not a build record"},
      {"a record of another kind", record("{\"output_kind\": \"" + other_kind + "\"}\n"),
       "holds mrforge's " + other_kind + " output, not "},
      {"a symlinked record",
       [](const fs::path &d) {
         fs::create_directories(d);
         write_text(d / "keep.txt", "precious\n");
         write_text(d.parent_path() / "elsewhere.json", "{\"output_kind\": \"acpi-generated\"}\n");
         fs::create_symlink(d.parent_path() / "elsewhere.json", d / "mrforge-build.json");
       },
       "its mrforge-build.json is a symlink"},
      {"a directory as record",
       [](const fs::path &d) {
         fs::create_directories(d / "mrforge-build.json");
         write_text(d / "keep.txt", "precious\n");
       },
       "is not a regular file"},
      {"a symlink to a directory",
       [](const fs::path &d) {
         fs::create_directories(d.parent_path() / "real");
         write_text(d.parent_path() / "real/keep.txt", "precious\n");
         fs::create_symlink(d.parent_path() / "real", d);
       },
       "is a symlink; mrforge never writes an output through a symlink"},
      {"a symlink to nowhere", [](const fs::path &d) { fs::create_symlink(d.parent_path() / "nowhere", d); },
       "is a symlink"},
      {"a file", [](const fs::path &d) { write_text(d, "a file\n"); }, "exists and is not a directory"},
  };
}

// For each output mrforge must not replace: makes it as WORK/out in a fresh directory WORK, runs
// `refuse` (which runs the command and checks its refusal, naming `words`), then checks that
// nothing under WORK changed (nothing replaced, nothing written through a link, no leftovers).
void for_each_not_ours(
    const std::string &other_kind,
    const std::function<void(const fs::path &out, const fs::path &work, const std::string &words)> &refuse) {
  for (const NotOurs &c : not_our_outputs(other_kind)) {
    INFO(c.name);
    TempDir work("cli");
    fs::path out = work / "out";
    c.make(out);
    auto before = snapshot(work.path());
    refuse(out, work.path(), c.words);
    CHECK(snapshot(work.path()) == before);
  }
}

// A refusal: exit 2 and a message with these words.
void check_refused(const Run &r, const std::string &words) {
  INFO(r.err);
  CHECK(r.exit_code == 2);
  CHECK(r.err.rfind("mrforge: error: ", 0) == 0);
  CHECK(r.err.find(words) != std::string::npos);
}

} // namespace

TEST_CASE("acpi generate -o replaces only an earlier acpi generate output, never through a symlink", "[cli][outputs]") {
  const std::vector<std::string> shape = {"acpi", "generate", "--cpus", "1", "--memory", "2G"};
  for_each_not_ours("oci-image", [&](const fs::path &out, const fs::path &, const std::string &words) {
    Run r = run_mrforge(with(shape, {"-o", out.string()}));
    check_refused(r, words);
    CHECK(r.err.find("mrforge: error: " + out.string()) == 0);
  });
  // A fresh path, an empty directory, and the command's own earlier output are replaced whole.
  TempDir work("cli");
  fs::path out = work / "nested/out";
  Run first = run_mrforge(with(shape, {"-o", out.string() + "/"}));
  INFO(first.err);
  REQUIRE(first.exit_code == 0);
  auto record = nlohmann::json::parse(mrforge::test::read_text((out / "mrforge-build.json").string()));
  CHECK(record["output_kind"] == "acpi-generated");
  CHECK(record["profile"] == "qemu-7.2-q35");
  for (const char *f : {"table-loader", "rsdp", "tables", "shape.yaml", "tables.txt"})
    CHECK(fs::is_regular_file(out / f));
  write_text(out / "stale.txt", "from an earlier run\n");
  Run again = run_mrforge(with(shape, {"-o", out.string()}));
  CHECK(again.exit_code == 0);
  CHECK_FALSE(fs::exists(out / "stale.txt")); // the whole directory was replaced
  CHECK(leftovers(out).empty());
  fs::path empty = work / "empty";
  fs::create_directories(empty);
  CHECK(run_mrforge(with(shape, {"-o", empty.string()})).exit_code == 0);
  // The capture of the same blobs is another kind of output: not replaced by generate.
  record["output_kind"] = "acpi-captured";
  write_text(out / "mrforge-build.json", record.dump());
  Run other = run_mrforge(with(shape, {"-o", out.string()}));
  CHECK(other.exit_code == 2);
  CHECK(other.err.find("holds mrforge's acpi-captured output, not acpi-generated") != std::string::npos);
}

TEST_CASE("build -o refuses, before any work, a directory that is not an earlier build of the same kind",
          "[cli][outputs]") {
  const std::string oci = mrforge::test::source_path("examples/oci/hello.yaml");
  const std::string guest = mrforge::test::source_path("recipes/debian-bookworm-tdx.yaml");
  for (const auto &[recipe, other_kind] : {std::pair{oci, std::string("guest-image")}, {guest, "oci-image"}}) {
    INFO(recipe);
    for_each_not_ours(other_kind, [&](const fs::path &out, const fs::path &work, const std::string &words) {
      // --frozen and an empty store: had the output check not come first, the build would fail
      // later for another reason (or fetch from the network).
      check_refused(
          run_mrforge({"build", "--frozen", "--store", (work / "store").string(), recipe, "-o", out.string()}), words);
      CHECK_FALSE(fs::exists(work / "store"));
    });
  }
}

TEST_CASE("acpi capture and boot --save-acpi refuse an output that is not theirs before booting", "[cli][outputs]") {
  for_each_not_ours("acpi-generated", [&](const fs::path &out, const fs::path &work, const std::string &words) {
    check_refused(run_mrforge({"acpi", "capture", "--cpus", "1", "--memory", "2G", "-o", out.string()}), words);
    check_refused(run_mrforge({"boot", (work / "no-image").string(), "--save-acpi", out.string()}), words);
  });
}

TEST_CASE("a file output replaces a symlink instead of writing through it", "[cli][outputs]") {
  TempDir work("cli");
  fs::create_directories(work / "src");
  write_text(work / "src/a.txt", "a\n");
  write_text(work / "target.txt", "not to be overwritten\n");
  fs::create_symlink(work / "target.txt", work / "out.tar");
  Run r = run_mrforge({"archive", (work / "src"), "-o", (work / "out.tar"), "--mtime", "0", "--compression", "none"});
  INFO(r.err);
  REQUIRE(r.exit_code == 0);
  CHECK(mrforge::test::read_text((work / "target.txt")) == "not to be overwritten\n");
  CHECK(fs::is_regular_file(fs::symlink_status(work / "out.tar")));
  CHECK(leftovers(work / "out.tar").empty());
}

namespace {

// Starts mrforge with `args` (default signal dispositions: this is not a shell's background job,
// which would ignore SIGINT), waits until `ready` holds (at most 60 s), sends `sig` and returns
// the wait status.
int interrupt_mrforge(const std::vector<std::string> &args, const std::function<bool()> &ready, int sig) {
  std::vector<std::string> argv_s = {MRFORGE_BINARY};
  argv_s.insert(argv_s.end(), args.begin(), args.end());
  std::vector<char *> argv;
  for (auto &a : argv_s) argv.push_back(a.data());
  argv.push_back(nullptr);
  pid_t pid = fork();
  REQUIRE(pid >= 0);
  if (pid == 0) {
    signal(SIGINT, SIG_DFL);
    signal(SIGTERM, SIG_DFL);
    signal(SIGHUP, SIG_DFL);
    int null = open("/dev/null", O_WRONLY);
    dup2(null, 1);
    dup2(null, 2);
    execv(argv[0], argv.data());
    _exit(127);
  }
  bool seen = false;
  for (int i = 0; i < 6000 && !seen; ++i) {
    seen = ready();
    if (!seen) usleep(10000);
  }
  CHECK(seen);
  kill(pid, sig);
  int status = 0;
  waitpid(pid, &status, 0);
  return status;
}

} // namespace

TEST_CASE("archive interrupted by SIGINT, SIGTERM or SIGHUP leaves no temporary file and the old output",
          "[cli][outputs]") {
  TempDir work("cli");
  fs::create_directories(work / "src");
  // Incompressible data and zstd's slowest level: seconds of work to interrupt.
  {
    std::ifstream random("/dev/urandom", std::ios::binary);
    std::string bytes(16u << 20, '\0');
    random.read(bytes.data(), static_cast<std::streamsize>(bytes.size()));
    write_text(work / "src/random.bin", bytes);
  }
  fs::path out = work / "layer.tar.zst";
  write_text(out, "the previous archive\n");
  for (int sig : {SIGINT, SIGTERM, SIGHUP}) {
    INFO("signal " << sig);
    int status = interrupt_mrforge(
        {"archive", (work / "src"), "-o", out.string(), "--compression", "zstd", "--level", "19", "--threads", "1",
         "--mtime", "0"},
        [&] {
          // Compressed bytes in the temporary file: well into the work.
          for (const std::string &name : leftovers(out)) {
            std::error_code ec;
            if (fs::file_size(work / name, ec) > 0 && !ec) return true;
          }
          return false;
        },
        sig);
    CHECK(WIFSIGNALED(status)); // it dies of the signal, as without the cleanup
    if (WIFSIGNALED(status)) CHECK(WTERMSIG(status) == sig);
    CHECK(leftovers(out).empty());
    CHECK(mrforge::test::read_text(out.string()) == "the previous archive\n");
  }
}

TEST_CASE("JSON output (--json) with a value that is not UTF-8 exits 2 naming the value", "[cli]") {
  TempDir work("cli");
  fs::create_directories(work / "src");
  write_text(work / "src/a.txt", "a\n");
  const std::string out = (work / "out\xff.tar"); // Latin-1 and other legacy names
  Run r = run_mrforge({"archive", (work / "src"), "-o", out, "--mtime", "0", "--json"});
  INFO(r.err);
  CHECK(r.exit_code == 2); // was 3, "internal error" (nlohmann type_error 316)
  CHECK(r.err.find("mrforge: error: --json: the value at /path is not valid UTF-8 (byte ") == 0);
  CHECK(r.err.find("internal error") == std::string::npos);
  CHECK(r.out.empty());
  // Without --json the same run prints its table.
  Run plain = run_mrforge({"archive", (work / "src"), "-o", out, "--mtime", "0"});
  CHECK(plain.exit_code == 0);
  // A build record cannot hold it either: a profile named in Latin-1 is refused, nothing written.
  std::string profile = mrforge::test::read_text(mrforge::test::source_path("measure/profiles/acpi/qemu-7.2-q35.yaml"));
  profile.replace(profile.find("\nname: qemu-7.2-q35\n"), 20, "\nname: qemu-7.2-\xe9\n");
  write_text(work / "latin1.yaml", profile);
  Run record = run_mrforge(
      {"acpi", "generate", "--cpus", "1", "--memory", "2G", "--profile", (work / "latin1.yaml"), "-o", (work / "gen")});
  INFO(record.err);
  CHECK(record.exit_code == 2);
  CHECK(record.err.find("cannot write its mrforge-build.json") != std::string::npos);
  CHECK_FALSE(fs::exists(work / "gen"));
  CHECK(leftovers(work / "gen").empty());
}

TEST_CASE("firmware without a TD_HOB section is bad input (exit 2), not an internal error", "[cli]") {
  // Debian's OVMF with its TD_HOB section turned into TempMem (the TDVF descriptor: 16-byte header,
  // 32-byte sections with the type at +24): valid TDVF metadata, but QEMU builds no TD HOB for it.
  mrforge::Bytes fw = mrforge::test::read(debian_ovmf());
  mrforge::FirmwareImage image = mrforge::parse_firmware(fw, "OVMF.fd");
  size_t patched = 0;
  for (size_t i = 0; i < image.sections.size(); ++i)
    if (image.sections[i].type == mrforge::TdvfSectionType::td_hob) {
      fw[image.tdvf_offset + 16 + 32 * i + 24] = static_cast<uint8_t>(mrforge::TdvfSectionType::temp_mem);
      ++patched;
    }
  REQUIRE(patched == 1);
  TempDir d("cli");
  write_text(d / "no-hob.fd", std::string(fw.begin(), fw.end()));
  REQUIRE_NOTHROW(mrforge::parse_firmware(fw, "no-hob.fd"));
  Run r = run_mrforge(with({"measure", "--firmware", (d / "no-hob.fd"), "--kernel", debian_kernel_612(), "--cmdline",
                            "", "--cpus", "1", "--memory", "2G", "--profile", "qemu-8.2-tdx"},
                           k_acpi_digests));
  INFO(r.err);
  CHECK(r.exit_code == 2);
  CHECK(r.err.rfind("mrforge: error: ", 0) == 0);
  CHECK(r.err.find("no-hob.fd: TD HOB: the TDVF metadata has no TD_HOB section") != std::string::npos);
  CHECK(r.err.find("internal error") == std::string::npos);
}

namespace {

bool has_line_starting(const std::string &text, const std::string &prefix) {
  size_t pos = 0;
  while (pos <= text.size()) {
    if (text.compare(pos, prefix.size(), prefix) == 0) return true;
    size_t nl = text.find('\n', pos);
    if (nl == std::string::npos) break;
    pos = nl + 1;
  }
  return false;
}

} // namespace

TEST_CASE("Error messages escape the input they quote and cut it short", "[cli]") {
  std::string name = std::string(100000, 'p') + "\x1b[8m\nRESULT: OK";
  Run r = run_mrforge({"measure", "--profile", name, "--cpus", "1", "--memory", "1G", "--cmdline", ""});
  CHECK(r.exit_code == 2);
  CHECK(r.err.size() < 1000);
  CHECK(r.err.find('\x1b') == std::string::npos);
  CHECK_FALSE(has_line_starting(r.err, "RESULT"));
  CHECK(r.err.find("(" + std::to_string(name.size()) + " bytes") != std::string::npos);
  // A short one is not a profile name either: refused by its length, never echoed.
  Run short_name =
      run_mrforge({"measure", "--profile", "q\x1b[8m\nRESULT: OK", "--cpus", "1", "--memory", "1G", "--cmdline", ""});
  CHECK(short_name.exit_code == 2);
  CHECK(short_name.err.find('\x1b') == std::string::npos);
  CHECK_FALSE(has_line_starting(short_name.err, "RESULT"));
  CHECK(short_name.err.find("not a profile name (16 bytes") != std::string::npos);
}

TEST_CASE("verify and eventlog show flag forged event data and never print it as measured", "[cli][eventlog][verify]") {
  // GCE COS 113: grub's kernel_cmdline event with init= rewritten in the data; the digests, and so
  // the replay against the TD's quote, are untouched.
  std::string log = mrforge::test::read_text(vector_path("go-tdx-guest/ccel_data.dat"));
  const std::string genuine = "kernel_cmdline: /syslinux/vmlinuz.A init=/usr/lib/systemd/systemd";
  const std::string forged = "kernel_cmdline: /syslinux/vmlinuz.A init=/tmp/evil/evil/evil/evil";
  REQUIRE(genuine.size() == forged.size());
  REQUIRE(log.find(genuine) != std::string::npos);
  log.replace(log.find(genuine), genuine.size(), forged);
  TempDir d("cli");
  write_text(d / "forged.bin", log);
  const std::string forged_path = (d / "forged.bin");
  const std::string quote_path = vector_path("go-tdx-guest/cos-113-tdx-quote.dat");

  Run json = run_mrforge({"verify", "--quote", quote_path, "--event-log", forged_path, "--json", "--log-only"});
  CHECK(json.exit_code == 4);
  auto j = nlohmann::json::parse(json.out);
  for (const auto &c : j["log_vs_quote"]) CHECK(c["match"] == true);
  CHECK(j["log_consistent"] == false);
  CHECK(j["ok"] == false);
  REQUIRE(j["data_mismatches"].size() == 1);
  CHECK(j["data_mismatches"][0]["type"] == "EV_IPL");
  CHECK(j["data_mismatches"][0]["register"] == "rtmr2");
  CHECK(json.out.find("tmp/evil") == std::string::npos);

  Run text = run_mrforge({"verify", "--quote", quote_path, "--event-log", forged_path, "--log-only"});
  CHECK(text.exit_code == 4);
  CHECK(text.out.find("Events whose data does not match their digest") != std::string::npos);
  CHECK(text.out.find("RESULT: MISMATCH") != std::string::npos);
  CHECK(text.out.find("tmp/evil") == std::string::npos);

  Run show = run_mrforge({"eventlog", "show", forged_path});
  CHECK(show.exit_code == 0);
  CHECK(show.out.find("MISMATCH") != std::string::npos);
  CHECK(show.out.find("tmp/evil") == std::string::npos);
  CHECK(show.err.find("1 MISMATCH") != std::string::npos);
  CHECK(show.err.find("the log was altered") != std::string::npos);
  Run show_json = run_mrforge({"eventlog", "show", forged_path, "--json"});
  REQUIRE(show_json.exit_code == 0);
  size_t mismatches = 0;
  const auto shown = nlohmann::json::parse(show_json.out);
  for (const auto &e : shown["events"]) {
    if (e["data_check"]["status"] != "mismatch") continue;
    ++mismatches;
    CHECK(e["summary"].get<std::string>().find("evil") == std::string::npos);
    CHECK(e["data"].get<std::string>().find(mrforge::to_hex(mrforge::ByteView::of("/tmp/evil"))) !=
          std::string::npos); // the bytes, as data
  }
  CHECK(mismatches == 1);

  Run real = run_mrforge({"eventlog", "show", vector_path("go-tdx-guest/ccel_data.dat")});
  CHECK(real.exit_code == 0);
  CHECK(real.err.find("13 verified, 18 partial, 12 unchecked, 0 MISMATCH") != std::string::npos);
}

TEST_CASE("Event names and payloads cannot fake output lines or terminal sequences", "[cli][eventlog]") {
  // dstack runtime events (RTMR3) with blank digests, recomputed from whatever names they carry.
  auto event = [](const std::string &name, const std::string &payload) {
    return nlohmann::json{{"imr", 3},
                          {"event_type", 134217729},
                          {"digest", ""},
                          {"event", name},
                          {"event_payload", mrforge::to_hex(mrforge::ByteView::of(payload))}};
  };
  nlohmann::json log =
      nlohmann::json::array({event("x\nRESULT: OK", "\nRESULT: OK\n"), event("\x1b[8mhidden\x1b[0m", "\x1b[8m"),
                             event("caf\xc3\xa9 \xe2\x80\xae"
                                   "evil",
                                   "ok"),
                             event("bell\a\rRESULT: OK", "")});
  TempDir d("cli");
  write_text(d / "log.json", log.dump());
  Run show = run_mrforge({"eventlog", "show", (d / "log.json")});
  INFO(show.out);
  REQUIRE(show.exit_code == 0);
  CHECK(show.out.find('\x1b') == std::string::npos);
  CHECK(show.out.find('\r') == std::string::npos);
  CHECK(show.out.find('\a') == std::string::npos);
  CHECK_FALSE(has_line_starting(show.out, "RESULT"));
  CHECK(show.out.find("x\\nRESULT: OK") != std::string::npos);
  CHECK(show.out.find("\\x1b[8mhidden\\x1b[0m") != std::string::npos);
  CHECK(show.out.find("caf\xc3\xa9 \\u202eevil") != std::string::npos); // printable UTF-8 kept, bidi escaped
  // JSON keeps the names as data.
  Run json = run_mrforge({"eventlog", "show", (d / "log.json"), "--json"});
  REQUIRE(json.exit_code == 0);
  auto j = nlohmann::json::parse(json.out);
  CHECK(j["events"][0]["name"] == "x\nRESULT: OK");
  CHECK(j["events"][1]["name"] == "\x1b[8mhidden\x1b[0m");
  CHECK(json.out.find('\x1b') == std::string::npos);

  // An IMA file name that is not UTF-8: \xNN in the table, U+FFFD in JSON (not exit 3). With a
  // zero template hash (a violation) the entry is unchecked, so the table shows its name.
  std::string ima = mrforge::test::read_text(vector_path("cc-trusted-api/ima_log.bin"));
  ima.replace(ima.find("boot_aggregate"), 14, "boot\xff\xfe\x1b[8m");
  ima.replace(3, 96, std::string(96, '0')); // " 2 HASH ima-ng ..."
  REQUIRE(ima.compare(0, 4, " 2 0") == 0);
  write_text(d / "ima.txt", ima);
  std::vector<std::string> args = {"eventlog", "show", vector_path("cc-trusted-api/ccel_data.bin"), "--ima",
                                   (d / "ima.txt")};
  Run ima_text = run_mrforge(args);
  CHECK(ima_text.exit_code == 0);
  CHECK(ima_text.out.find("boot\\xff\\xfe\\x1b[8m") != std::string::npos);
  CHECK(ima_text.out.find('\x1b') == std::string::npos);
  // JSON text is UTF-8: a name that is not cannot be kept as data, so nothing is printed and the
  // error names the value (the text form above shows it escaped).
  Run ima_json = run_mrforge(with(args, {"--json"}));
  INFO(ima_json.err);
  CHECK(ima_json.exit_code == 2);
  CHECK(ima_json.out.empty());
  CHECK_THAT(ima_json.err,
             Catch::Contains("--json: the value at /events/") && Catch::Contains("/name is not valid UTF-8 (byte 4)"));
}

TEST_CASE("Recipe users become /etc/passwd records of their own, injected records are refused before any output",
          "[cli][recipe]") {
  TempDir d("cli");
  const std::string header = "apiVersion: mrforge/v1\nkind: OciImage\nname: demo\nsource_date_epoch: 1700000000\n"
                             "groups: [{name: app, gid: 1000}]\n";
  write_text(d / "ok.yaml", header + "users: [{name: app, uid: 1000, group: app, home: /srv/app}]\n");
  Run lock = run_mrforge({"lock", (d / "ok.yaml")});
  INFO(lock.err);
  REQUIRE(lock.exit_code == 0);
  Run build =
      run_mrforge({"build", "--offline", "--store", (d / "store"), (d / "ok.yaml"), "-o", (d / "out"), "--json"});
  INFO(build.err);
  REQUIRE(build.exit_code == 0);
  std::string layer = nlohmann::json::parse(build.out)["layers"][0]["digest"];
  std::string blob = d / ("out/blobs/sha256/" + layer.substr(7));
  auto extract = [&](const std::string &member) {
    return mrforge::test::run_shell("tar -xzOf " + mrforge::test::shell_quote(blob) + " " + member).out;
  };
  CHECK(extract("etc/passwd") == "root:x:0:0:root:/root:/bin/sh\napp:x:1000:1000:app:/srv/app:/bin/sh\n");
  CHECK(extract("etc/group") == "root:x:0:\napp:x:1000:\n");

  // A newline and ':' in home: a second, passwordless uid 0 record if written.
  write_text(d / "bad.yaml",
             header + "users: [{name: app, uid: 1000, group: app, home: \"/srv\\nevil::0:0::/:/bin/sh\"}]\n");
  Run bad = run_mrforge({"lock", (d / "bad.yaml")});
  CHECK(bad.exit_code == 2);
  CHECK(bad.err.find("bad.yaml:6:") != std::string::npos);
  CHECK(bad.err.find("users[0].home") != std::string::npos);
  CHECK_FALSE(has_line_starting(bad.err, "evil"));
  CHECK_FALSE(fs::exists(d / "bad.yaml.lock"));
  Run bad_build =
      run_mrforge({"build", "--offline", "--store", (d / "store"), (d / "bad.yaml"), "-o", (d / "bad-out")});
  CHECK(bad_build.exit_code == 2);
  CHECK_FALSE(fs::exists(d / "bad-out"));
}
