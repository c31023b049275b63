// dstack's measurement.tdx.cbor: the real file of a dstack TD (../shared/vectors/dstack/
// tdx-lite-getquote.json, vm_config.tdx_measurement) read, written back byte for byte, checked
// against that TD's own log and quote; truncated and malformed files refused with the offset or
// field; RTMR3's events classified; and `mrforge verify --quote DOC` on the real documents,
// with tampering that must name the register and event.
#include "support/guest_fixture.hpp"
#include "test_support.hpp"

#include <measure/documents/attestation_inputs.hpp>
#include <measure/documents/dstack_measurement.hpp>
#include <measure/documents/profile_yaml.hpp>
#include <measure/dstack/checksum_file.hpp>
#include <measure/dstack/runtime_event_names.hpp>
#include <measure/dstack/td_hob_witness.hpp>
#include <measure/dstack/tdx_measurement_file.hpp>
#include <measure/engine/td_hob.hpp>
#include <measure/util/base64.hpp>
#include <measure/util/errors.hpp>

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <filesystem>

using namespace mrforge;
using namespace mrforge::test;

namespace {

constexpr const char *k_lite = "dstack/tdx-lite-getquote.json";
constexpr const char *k_report = "dstack/quote-report.json";

nlohmann::json vector_json(const std::string &rel) {
  Bytes b = read(vector_path(rel));
  return nlohmann::json::parse(b.begin(), b.end());
}

nlohmann::json lite_vm_config() {
  nlohmann::json vm = vector_json(k_lite).at("vm_config");
  return vm.is_string() ? nlohmann::json::parse(vm.get<std::string>()) : vm;
}

Bytes lite_file() {
  return base64_decode(lite_vm_config().at("tdx_measurement").at("measurement").get<std::string>(), "t");
}
Bytes lite_checksum() {
  return base64_decode(lite_vm_config().at("tdx_measurement").at("checksum_file").get<std::string>(), "t");
}

EventLog log_of(const std::string &rel) { return event_log_from_input(read(vector_path(rel)), rel); }

// The log's digest of the `n`th event of `reg`.
Sha384 logged(const EventLog &log, Register reg, size_t n) {
  auto events = events_of(log, reg);
  REQUIRE(events.size() > n);
  return *events[n]->digest;
}

std::string corpus(const std::string &name) { return source_path("tests/fuzz/corpus/dstack_measurement/" + name); }

} // namespace

TEST_CASE("dstack's real measurement file is read, agrees with its TD's log, and is written back byte for byte",
          "[dstack]") {
  const Bytes file = lite_file();
  REQUIRE(file.size() == 384);
  TdxMeasurementFile m = parse_tdx_measurement_file(file, "tdx_measurement");
  EventLog log = log_of(k_lite);
  // The image's digests are those the TD logged (RTMR1 event 0, RTMR2 events 0 and 1).
  CHECK(to_hex(m.kernel_authenticode) == to_hex(logged(log, Register::rtmr1, 0)));
  CHECK(to_hex(m.cmdline_sha384) == to_hex(logged(log, Register::rtmr2, 0)));
  CHECK(to_hex(m.initrd_sha384) == to_hex(logged(log, Register::rtmr2, 1)));
  CHECK(m.ovmf == "pre202505");
  // QEMU 8.2.2 adds pages in two passes: the quote's MRTD is the two-pass candidate, not the other.
  TdQuote q = parse_td_quote(quote_bytes_from_input(read(vector_path(k_lite)), k_lite), k_lite);
  CHECK(to_hex(m.mrtd_two_pass) == to_hex(q.mrtd));
  CHECK(to_hex(m.mrtd_single_pass) != to_hex(q.mrtd));
  CHECK(to_hex(m.td_hob) == "80100904000609020b021010");
  // The writer gives dstack's bytes (ciborium's struct order, minimal heads).
  CHECK(write_tdx_measurement_file(m) == file);

  // The TD HOB witness gives back the TDVF's TD_HOB and TempMem sections, and mrforge's TD HOB
  // for 2 GiB is the one the TD logged (RTMR0 event 0); the witness writes back the same.
  std::vector<TdvfSection> sections = parse_td_hob_witness(m.td_hob, "td_hob");
  REQUIRE(sections.size() == 4);
  CHECK(sections[1].type == TdvfSectionType::td_hob);
  CHECK(sections[1].gpa == 0x809000);
  CHECK(sections[3].mem_size == 0x10000);
  PlatformProfile p = load_platform_profile("qemu-8.2-tdx");
  CHECK(to_hex(td_hob_digest(sections, 2ull << 30, p.memory_layout)) == to_hex(logged(log, Register::rtmr0, 0)));
  CHECK(td_hob_witness(sections, "sections") == m.td_hob);

  // The checksum file lists the file and hashes to the vm_config's os_image_hash.
  const Bytes sums = lite_checksum();
  CHECK(checksum_file_entry(sums, "measurement.tdx.cbor", "sha256sum.txt") == sha256(file));
  CHECK(to_hex(sha256(sums)) == lite_vm_config().at("os_image_hash").get<std::string>());
  CHECK(checksum_line(sha256(file), "measurement.tdx.cbor") == std::string(sums.begin(), sums.end()));
}

TEST_CASE("A measurement file cut anywhere is refused at an offset", "[dstack]") {
  const Bytes file = lite_file();
  for (size_t n = 0; n < file.size(); ++n) {
    INFO(n);
    CHECK_THROWS_AS(parse_tdx_measurement_file(ByteView(file.data(), n), "cut"), FormatError);
  }
}

TEST_CASE("Malformed measurement files, witnesses and checksum files are refused naming the offset or field",
          "[dstack]") {
  struct Case {
    const char *seed;
    const char *message;
  } cases[] = {
      {"trailing-byte.cbor", "cut+0x180: 1 bytes after the measurement map"},
      {"version-4.cbor", "version 4 is not supported"},
      {"indefinite-map.cbor", "cut+0x0: an indefinite-length map: not part of dstack's measurement file"},
      {"map-count-2-64.cbor", "cut+0x0: a map of 18446744073709551615 pairs in 383 remaining bytes"},
      {"bstr-length-2-63.cbor", "cut+0x3: truncated"},
      {"unknown-key.cbor", "tdvf.mrtd.two_pass is missing"},
      {"duplicate-key.cbor", "tdvf.ovmf is given twice"},
      {"nested-deep.cbor", "maps nested deeper than the format's 3"},
      {"tag-and-float.cbor", "cut+0x9: a tag: not part of dstack's measurement file"},
  };
  for (const Case &c : cases) {
    INFO(c.seed);
    Bytes b = read(corpus(c.seed));
    CHECK_THAT(error_message([&] { parse_tdx_measurement_file(b, "cut"); }), Catch::Contains(c.message));
  }
  // A field of the wrong type names the field: version as an empty byte string.
  Bytes file = lite_file();
  REQUIRE(file[9] == 0x03);
  file[9] = 0x40;
  CHECK_THAT(error_message([&] { parse_tdx_measurement_file(file, "f"); }),
             Catch::Contains("f+0x0: version is not an unsigned integer"));
  CHECK_THAT(error_message([&] { parse_td_hob_witness(read(corpus("witness-nonminimal")), "w"); }),
             Catch::Contains("w+0x0: base page: not the shortest encoding"));
  CHECK_THAT(error_message([&] { parse_td_hob_witness(read(corpus("witness-overlap")), "w"); }),
             Catch::Contains("range 1 starts before the end of the previous one"));
  CHECK_THAT(error_message(
                 [&] { checksum_file_entry(read(corpus("sha256sum-duplicate.txt")), "measurement.tdx.cbor", "sums"); }),
             Catch::Contains("sums+0x57: measurement.tdx.cbor is listed twice"));
  // What the reader refuses is never written.
  TdxMeasurementFile m = parse_tdx_measurement_file(lite_file(), "f");
  m.ovmf = "pre 202505";
  CHECK_THROWS_AS(write_tdx_measurement_file(m), InputError);
}

TEST_CASE("RTMR3's events are decoded as dstack defines them, app events after system-ready are listed as such",
          "[dstack]") {
  std::vector<Rtmr3Event> lite = classify_rtmr3_events(log_of(k_lite));
  std::vector<std::string> names;
  for (const Rtmr3Event &e : lite) names.push_back(e.name);
  CHECK(names == std::vector<std::string>{"system-preparing", "app-id", "compose-hash", "instance-id", "boot-mr-done",
                                          "os-image-hash", "key-provider", "storage-fs", "system-ready"});
  CHECK(all_understood(lite));
  CHECK(lite[1].value == "86b0e55f2fa8e4fb69d890f14f54d5612707646e");
  CHECK(lite[7].value == "zfs");

  std::vector<Rtmr3Event> report = classify_rtmr3_events(log_of(k_report));
  REQUIRE(report.size() == 8);
  CHECK(all_understood(report));
  CHECK(report[6].kind == Rtmr3EventKind::dstack);
  CHECK(report[7].name == "LIUM_MINER_HOTKEY");
  CHECK(report[7].kind == Rtmr3EventKind::app);

  // An event dstack does not define before system-ready, and a known one of the wrong shape.
  EventLog forged = log_of(k_report);
  for (LoggedEvent &e : forged.events) {
    if (e.name == "instance-id") e.data.pop_back();
    if (e.name == "boot-mr-done") e.name = "debug-shell";
  }
  std::vector<Rtmr3Event> f = classify_rtmr3_events(forged);
  CHECK_FALSE(all_understood(f));
  CHECK(f[3].kind == Rtmr3EventKind::unknown);
  CHECK(f[3].problem == "payload of 19 bytes, dstack gives 20 or none");
  CHECK(f[4].kind == Rtmr3EventKind::unknown);
  CHECK(f[4].problem == "dstack defines no such event before system-ready");

  // A newer guest's GPU events (system_setup.rs 1442-1446, 1946), before instance-id.
  EventLog gpu = log_of(k_lite);
  auto at =
      std::find_if(gpu.events.begin(), gpu.events.end(), [](const LoggedEvent &e) { return e.name == "instance-id"; });
  REQUIRE(at != gpu.events.end());
  LoggedEvent attestation = *at;
  attestation.name = "gpu-attestation";
  const std::string json = "{\"version\":1,\"provider\":\"nvidia\",\"devices\":1,\"cc_mode\":\"on\",\"devtools\":false,"
                           "\"evidence_sha256\":\"" +
                           std::string(64, 'a') + "\"}";
  attestation.data.assign(json.begin(), json.end());
  attestation.digest = dstack_runtime_event_digest(attestation.type, attestation.name,
                                                   ByteView(attestation.data.data(), attestation.data.size()));
  gpu.events.insert(at, attestation);
  std::vector<Rtmr3Event> g = classify_rtmr3_events(gpu);
  CHECK(all_understood(g));
  CHECK(g[3].name == "gpu-attestation");
  CHECK(g[3].value == json);
}

TEST_CASE("verify --quote on a dstack document compares every register with its measurement file", "[dstack][cli]") {
  ShellResult r = run_mrforge_cli({"verify", "--quote", vector_path(k_lite)});
  INFO(r.out << r.err);
  CHECK(r.exit_code == 0);
  for (const char *line :
       {"MRTD: tdx_measurement tdvf.mrtd.two_pass (QEMU 8.2.2: 8.x adds pages in two passes)",
        "RTMR0: mrforge's engine: TD HOB from tdx_measurement tdvf.td_hob for 2 GiB, CFV and UEFI variables of OVMF "
        "variant edk2-stable202411",
        "RTMR1: mrforge's engine: tdx_measurement image.kernel_authenticode",
        "RTMR2: mrforge's engine: tdx_measurement image.cmdline_sha384 and image.initrd_sha384",
        "measurement file binding: sha256sum.txt lists the measurement file and hashes to the vm_config's "
        "os_image_hash e6f5cfec20c02e7b97baa213d0f718020b55e040172d90ccbcb946d56c8b09db",
        "  mrtd   match", "  rtmr0  match", "  rtmr1  match", "  rtmr2  match",
        "RESULT: OK: MRTD, RTMR0, RTMR1, RTMR2 match dstack's measurement file"})
    CHECK_THAT(r.out, Catch::Contains(line));
  for (const char *name : {"system-preparing", "app-id", "compose-hash", "instance-id", "boot-mr-done", "os-image-hash",
                           "key-provider", "storage-fs", "system-ready"})
    CHECK_THAT(r.out, Catch::Contains(name));
  CHECK_THAT(r.out, Catch::Contains("RTMR3: 9 event(s), all understood"));

  // JSON: each register's source, each RTMR3 event.
  ShellResult j = run_mrforge_cli({"verify", "--quote", vector_path(k_lite), "--json"});
  REQUIRE(j.exit_code == 0);
  nlohmann::json doc = nlohmann::json::parse(j.out);
  CHECK(doc.at("ok") == true);
  CHECK(doc.at("not_compared").empty());
  CHECK(doc.at("sources").size() == 5);
  CHECK(doc.at("rtmr3_decoded").size() == 9);
  CHECK(doc.at("rtmr3_all_understood") == true);
}

TEST_CASE("verify --quote on a dstack document: a changed digest in the measurement file names the register and "
          "event, a document without one asks for it",
          "[dstack][cli]") {
  TempDir dir("dstack-verify");
  nlohmann::json doc = vector_json(k_lite);
  nlohmann::json vm = lite_vm_config();
  Bytes file = lite_file();
  // image.kernel_authenticode's last byte (the 48 bytes before "initrd_sha384"'s key).
  std::string text(file.begin(), file.end());
  size_t key = text.find("\x6dinitrd_sha384");
  REQUIRE(key != std::string::npos);
  file[key - 1] ^= 0x01;
  vm["tdx_measurement"]["measurement"] = base64_encode(file);
  doc["vm_config"] = vm.dump();
  write_text(dir / "tampered.json", doc.dump());
  ShellResult r = run_mrforge_cli({"verify", "--quote", dir / "tampered.json"});
  INFO(r.out << r.err);
  CHECK(r.exit_code == 4);
  CHECK_THAT(r.out, Catch::Contains("  rtmr1  MISMATCH") &&
                        Catch::Contains("RTMR1 event 0 (EV_EFI_BOOT_SERVICES_APPLICATION, kernel (PE Authenticode, "
                                        "SHA-384))") &&
                        Catch::Contains("fed by: tdx_measurement image.kernel_authenticode") &&
                        Catch::Contains("measurement file binding: FAILED") &&
                        Catch::Contains("RESULT: MISMATCH: RTMR1 differs from dstack's measurement file"));

  // quote-report.json's host predates tdx_measurement: verify needs the image's file.
  ShellResult none = run_mrforge_cli({"verify", "--quote", vector_path(k_report)});
  CHECK(none.exit_code == 2);
  CHECK_THAT(none.err, Catch::Contains("--dstack-measurement"));
  // Given another image's file (the lite TD's), every image-dependent register differs, and the
  // file is not bound to anything.
  Bytes good = lite_file();
  write_file(dir / "measurement.tdx.cbor", std::string(good.begin(), good.end()));
  ShellResult other = run_mrforge_cli(
      {"verify", "--quote", vector_path(k_report), "--dstack-measurement", dir / "measurement.tdx.cbor"});
  INFO(other.out << other.err);
  CHECK(other.exit_code == 4);
  CHECK_THAT(other.out, Catch::Contains("MRTD: " + dir / "measurement.tdx.cbor" + " tdvf.mrtd.single_pass") &&
                            Catch::Contains("measurement file binding: not checked") &&
                            Catch::Contains("RTMR3: 8 event(s), all understood (1 app event(s) after system-ready)"));
}

TEST_CASE("The guest image's measurement.tdx.cbor, read by an independent CBOR decoder, agrees with "
          "measurements.json",
          "[dstack][guest][network]") {
  REQUIRE(std::filesystem::exists("/usr/bin/python3"));
  REQUIRE(run_shell("/usr/bin/python3 -c 'import cbor2'").exit_code == 0); // Debian's python3-cbor2
  const PublishedGuest &g = published_guest();
  const std::string file = g.out + "/measurement.tdx.cbor";
  // cbor2 decodes it to JSON (hex for byte strings) and re-encodes it to the same bytes.
  ShellResult py =
      run_shell("/usr/bin/python3 -c '"
                "import cbor2, json, sys\n"
                "b = open(sys.argv[1], \"rb\").read()\n"
                "m = cbor2.loads(b)\n"
                "assert cbor2.dumps(m) == b, \"re-encoded bytes differ\"\n"
                "h = lambda d: {k: (v.hex() if isinstance(v, bytes) else h(v) if isinstance(v, dict) else v) for k, v "
                "in d.items()}\n"
                "print(json.dumps({\"keys\": [list(m), list(m[\"image\"]), list(m[\"tdvf\"])], \"m\": h(m)}))' " +
                shell_quote(file));
  INFO(py.err);
  REQUIRE(py.exit_code == 0);
  nlohmann::json d = nlohmann::json::parse(py.out);
  CHECK(d.at("keys") == nlohmann::json::parse(R"([["version","image","tdvf"],
      ["cmdline_sha384","kernel_authenticode","initrd_sha384"],["ovmf","mrtd","td_hob"]])"));
  nlohmann::json m = d.at("m");
  CHECK(m.at("version") == 3);

  nlohmann::json shape = nlohmann::json::parse(read_text(g.out + "/measurements.json")).at("shapes").at(0);
  REQUIRE(shape.at("memory_bytes") == 2ull << 30); // where the file's kernel digest holds
  auto event = [&](const std::string &reg, size_t n) {
    size_t seen = 0;
    for (const auto &e : shape.at("events"))
      if (e.at("register") == reg && seen++ == n) return e;
    FAIL("no event " << n << " in " << reg);
    return nlohmann::json();
  };
  CHECK(m.at("image").at("kernel_authenticode") == event("rtmr1", 0).at("digest"));
  CHECK(m.at("image").at("cmdline_sha384") == event("rtmr2", 0).at("digest"));
  CHECK(m.at("image").at("initrd_sha384") == event("rtmr2", 1).at("digest"));
  // The recipe's profile (qemu-8.2-tdx) adds pages in two passes: its MRTD is the two-pass candidate.
  CHECK(m.at("tdvf").at("mrtd").at("two_pass") == shape.at("mrtd"));
  CHECK(m.at("tdvf").at("mrtd").at("single_pass") != shape.at("mrtd"));
  // Debian's OVMF is not dstack's pre202505 build: the file names mrforge's variant, which dstack's
  // tooling refuses rather than predict RTMR0 for another firmware.
  CHECK(m.at("tdvf").at("ovmf") == shape.at("ovmf_variant"));
  CHECK(m.at("tdvf").at("ovmf") == "debian-bookworm-2022.11");
  // The TD HOB witness gives the TD HOB of measurements.json's RTMR0 event 0.
  std::vector<TdvfSection> sections =
      parse_td_hob_witness(from_hex(m.at("tdvf").at("td_hob").get<std::string>(), "td_hob"), "td_hob");
  CHECK(to_hex(td_hob_digest(sections, 2ull << 30, load_platform_profile("qemu-8.2-tdx").memory_layout)) ==
        event("rtmr0", 0).at("digest"));
  // sha256sum.txt lists it as dstack's tooling reads it, and digest.txt is sha256(sha256sum.txt).
  const Bytes sums = read(g.out + "/sha256sum.txt");
  CHECK(checksum_file_entry(sums, "measurement.tdx.cbor", "sha256sum.txt") == sha256(read(file)));
  CHECK(read_text(g.out + "/digest.txt") == to_hex(sha256(sums)) + "\n");
}
