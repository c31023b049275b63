// check_vtpm_log on a real vTPM log (tests/data/boot/, see its README): the engine's prediction
// for qemu-7.2-vtpm against what OVMF 2022.11 and the Linux 6.12 EFI stub logged, and the
// alignment's verdicts when the real log is altered (an event changed, dropped, moved, added).
#include "test_support.hpp"

#include <measure/acpi/acpi_digests.hpp>
#include <measure/documents/profile_yaml.hpp>
#include <measure/formats/tcg_log.hpp>
#include <measure/util/errors.hpp>
#include <measure/verify/vtpm_check.hpp>

#include <catch2/catch.hpp>

#include <algorithm>

using namespace mrforge;
using namespace mrforge::test;

namespace {

constexpr const char *k_log = "tests/data/boot/vtpm-1g.eventlog";
constexpr const char *k_cmdline = "tests/data/boot/vtpm-1g.cmdline";

TcgLog fixture_log() { return parse_tcg_log(read(source_path(k_log)), k_log); }

std::string fixture_cmdline() {
  std::string s = read_text(source_path(k_cmdline));
  while (!s.empty() && s.back() == '\n') s.pop_back();
  return s;
}

const LogEvent &only_event(const TcgLog &log, uint32_t pcr, uint32_t type) {
  const LogEvent *found = nullptr;
  for (const LogEvent &e : log.events)
    if (e.index == pcr && e.type == type) {
      REQUIRE(found == nullptr);
      found = &e;
    }
  REQUIRE(found != nullptr);
  return *found;
}

// The engine's prediction for the fixture boot. Everything is computed from the profile, the
// OVMF variant and the recorded command line; the kernel and initrd files of that boot are not in
// the repository (see the README), so their two digests are supplied from the unaltered log and
// the test of those two rules is the live boot test ("[boot][qemu]").
VtpmPrediction fixture_prediction(const TcgLog &log) {
  PlatformProfile profile = load_platform_profile("qemu-7.2-vtpm");
  OvmfVariant ovmf = load_ovmf_variant(profile.default_ovmf_variant);
  MeasureInputs in;
  in.cmdline = fixture_cmdline();
  in.cpus = 1;
  in.memory = 1ull << 30;
  in.supplied[DigestSlot::kernel] = to_sha384(*only_event(log, 4, 0x80000003).find(k_tpm_alg_sha384));
  std::vector<const LogEvent *> tags;
  for (const LogEvent &e : log.events)
    if (e.index == 9) tags.push_back(&e);
  REQUIRE(tags.size() == 2);
  in.supplied[DigestSlot::initrd] = to_sha384(*tags[1]->find(k_tpm_alg_sha384));
  return predict_vtpm(profile, ovmf, in);
}

std::vector<EventCheck> failures(const std::vector<EventCheck> &checks) {
  std::vector<EventCheck> out;
  for (const EventCheck &c : checks)
    if (c.status == CheckStatus::fail) out.push_back(c);
  return out;
}

std::string dump(const std::vector<EventCheck> &checks) {
  std::string s;
  for (const EventCheck &c : checks)
    s += std::string(check_status_name(c.status)) + " PCR" + std::to_string(c.pcr) + " " + c.what + " | " + c.note +
         "\n";
  return s;
}

size_t index_of(const TcgLog &log, uint32_t pcr, uint32_t type, size_t nth = 0) {
  for (size_t i = 0; i < log.events.size(); ++i)
    if (log.events[i].index == pcr && log.events[i].type == type && nth-- == 0) return i;
  FAIL("no such event");
  return 0;
}

Bytes &sha384_of(LogEvent &e) {
  for (LogDigest &d : e.digests)
    if (d.algorithm == k_tpm_alg_sha384) return d.digest;
  FAIL("no sha384 digest");
  return e.digests.front().digest;
}

} // namespace

TEST_CASE("The engine's qemu-7.2-vtpm prediction matches every event of a real OVMF vTPM log", "[vtpm_check]") {
  TcgLog log = fixture_log();
  VtpmPrediction p = fixture_prediction(log);
  // 5 Secure Boot variables, PCR7 separator, kernel, BootOrder, Boot0000, "Calling EFI
  // Application", 7 separators, cmdline, initrd, 2 ExitBootServices actions.
  CHECK(p.events.size() == 21);
  std::vector<EventCheck> checks = check_vtpm_log(log, p.events);
  INFO(dump(checks));
  CHECK(all_passed(checks));
  size_t pass = 0, skip = 0;
  for (const EventCheck &c : checks) (c.status == CheckStatus::pass ? pass : skip) += 1;
  CHECK(pass == 21);
  CHECK(skip == 3); // PCR0: EV_S_CRTM_VERSION and two EV_EFI_PLATFORM_FIRMWARE_BLOB (OVMF's own code)
  // Checks come in log order, and the computed ones name their origin.
  for (size_t i = 1; i < checks.size(); ++i) CHECK(*checks[i - 1].log_index < *checks[i].log_index);
  auto cmd = std::find_if(checks.begin(), checks.end(),
                          [](const EventCheck &c) { return c.what == "kernel command line (LoadOptions)"; });
  REQUIRE(cmd != checks.end());
  CHECK(cmd->pcr == 9);
  CHECK(cmd->note.find("computed: UTF-16") != std::string::npos);
}

TEST_CASE("A vTPM log whose kernel digest differs fails on PCR4's kernel event only", "[vtpm_check]") {
  TcgLog log = fixture_log();
  VtpmPrediction p = fixture_prediction(log);
  size_t k = index_of(log, 4, 0x80000003);
  sha384_of(log.events[k])[0] ^= 0x01;
  std::vector<EventCheck> bad = failures(check_vtpm_log(log, p.events));
  INFO(dump(bad));
  REQUIRE(bad.size() == 1);
  CHECK(bad[0].pcr == 4);
  CHECK(bad[0].what == "kernel (PE Authenticode, SHA-384)");
  CHECK(bad[0].actual == to_hex(sha384_of(log.events[k])));
  CHECK(bad[0].expected != bad[0].actual);
  CHECK(bad[0].log_index == k);
  CHECK(bad[0].note.find("different digest") != std::string::npos);
}

TEST_CASE("A vTPM log missing Boot0000 reports that event as missing", "[vtpm_check]") {
  TcgLog log = fixture_log();
  VtpmPrediction p = fixture_prediction(log);
  log.events.erase(log.events.begin() + static_cast<long>(index_of(log, 1, 0x80000002, 1)));
  std::vector<EventCheck> checks = check_vtpm_log(log, p.events);
  std::vector<EventCheck> bad = failures(checks);
  INFO(dump(checks));
  REQUIRE(bad.size() == 1);
  CHECK(bad[0].pcr == 1);
  CHECK(bad[0].what.find("Boot0000") != std::string::npos);
  CHECK(bad[0].note == "missing from the log");
  CHECK(bad[0].actual.empty());
  CHECK_FALSE(all_passed(checks));
}

TEST_CASE("Swapped cmdline and initrd events in PCR9 are out of order", "[vtpm_check]") {
  TcgLog log = fixture_log();
  VtpmPrediction p = fixture_prediction(log);
  size_t a = index_of(log, 9, 0x6, 0), b = index_of(log, 9, 0x6, 1);
  std::swap(log.events[a], log.events[b]);
  std::vector<EventCheck> bad = failures(check_vtpm_log(log, p.events));
  INFO(dump(bad));
  // Same type, so the alignment keeps one as a match and reports the other as missing here and
  // present elsewhere in the same PCR, plus the extra record.
  REQUIRE(bad.size() == 2);
  CHECK(bad[0].pcr == 9);
  CHECK(bad[1].pcr == 9);
  bool out_of_order = false, unexpected = false;
  for (const EventCheck &c : bad) {
    out_of_order = out_of_order || c.note.find("(out of order)") != std::string::npos;
    unexpected = unexpected || c.note.find("not predicted here: it is the predicted") != std::string::npos;
  }
  CHECK(out_of_order);
  CHECK(unexpected);
}

TEST_CASE("An action logged into the wrong PCR is reported in both places", "[vtpm_check]") {
  TcgLog log = fixture_log();
  VtpmPrediction p = fixture_prediction(log);
  size_t last = index_of(log, 5, 0x80000007, 1); // "Exit Boot Services Returned with Success"
  log.events[last].index = 4;
  std::vector<EventCheck> bad = failures(check_vtpm_log(log, p.events));
  INFO(dump(bad));
  REQUIRE(bad.size() == 2);
  CHECK(bad[0].pcr == 5);
  CHECK(bad[0].what == "Exit Boot Services Returned with Success");
  CHECK(bad[0].note == "missing here: the same event is log event " + std::to_string(last) + " in PCR4");
  CHECK(bad[1].pcr == 4);
  CHECK(bad[1].what == "EV_EFI_ACTION");
  CHECK(bad[1].note == "not predicted here: it is the predicted \"Exit Boot Services Returned with Success\" of PCR5");
}

TEST_CASE("An extra event in the vTPM log fails as not predicted", "[vtpm_check]") {
  TcgLog log = fixture_log();
  VtpmPrediction p = fixture_prediction(log);
  size_t sep = index_of(log, 3, 0x4);
  log.events.insert(log.events.begin() + static_cast<long>(sep) + 1, log.events[sep]);
  std::vector<EventCheck> bad = failures(check_vtpm_log(log, p.events));
  INFO(dump(bad));
  REQUIRE(bad.size() == 1);
  CHECK(bad[0].pcr == 3);
  CHECK(bad[0].what == "EV_SEPARATOR");
  CHECK(bad[0].expected.empty());
}

TEST_CASE("A prediction for another memory size fails the vTPM log's kernel event", "[vtpm_check]") {
  // The engine on a real kernel: the patched setup header (and so the Authenticode digest)
  // depends on the memory size; nothing else in the prediction does.
  TcgLog log = fixture_log();
  PlatformProfile profile = load_platform_profile("qemu-7.2-vtpm");
  OvmfVariant ovmf = load_ovmf_variant(profile.default_ovmf_variant);
  Bytes kernel = read(debian_kernel_612());
  Bytes initrd(4096 * 3 + 17, 0x5a);
  MeasureInputs in;
  in.kernel = NamedBytes{kernel, "vmlinuz"};
  in.initrd = NamedBytes{initrd, "initrd"};
  in.cmdline = fixture_cmdline();
  in.cpus = 1;
  in.memory = 1ull << 30;
  VtpmPrediction one = predict_vtpm(profile, ovmf, in);
  in.memory = 2ull << 30;
  VtpmPrediction two = predict_vtpm(profile, ovmf, in);
  REQUIRE(one.events.size() == two.events.size());
  for (size_t i = 0; i < one.events.size(); ++i) {
    INFO(one.events[i].event.description);
    CHECK((one.events[i].event.digest == two.events[i].event.digest) == (one.events[i].step != EventStep::kernel));
  }
  CHECK(one.measurement.inputs.front().first == "profile");
  CHECK_FALSE(one.measurement.mrtd); // no MRTD on a TPM
}

TEST_CASE("A vTPM log without a SHA-384 bank is refused", "[vtpm_check]") {
  TcgLog log = fixture_log();
  VtpmPrediction p = fixture_prediction(log);
  log.algorithms.erase(std::remove_if(log.algorithms.begin(), log.algorithms.end(),
                                      [](const SpecIdAlgorithm &a) { return a.id == k_tpm_alg_sha384; }),
                       log.algorithms.end());
  CHECK_THROWS_AS(check_vtpm_log(log, p.events), FormatError);
}

TEST_CASE("The vTPM prediction needs a tpm-pcrs profile and maps steps to TCG PCRs", "[vtpm_check]") {
  PlatformProfile tdx = load_platform_profile("qemu-8.2-tdx");
  CHECK(tdx.measured_into == MeasurementTarget::tdx_rtmrs);
  OvmfVariant ovmf = load_ovmf_variant("debian-bookworm-2022.11");
  CHECK_THROWS_AS(predict_vtpm(tdx, ovmf, MeasureInputs{}), InputError);
  PlatformProfile vtpm = load_platform_profile("qemu-7.2-vtpm");
  CHECK(vtpm.measured_into == MeasurementTarget::tpm_pcrs);
  CHECK(tpm_pcrs_of(EventStep::separator_boot) == std::vector<uint32_t>{0, 1, 2, 3, 4, 5, 6});
  CHECK(tpm_pcrs_of(EventStep::kernel) == std::vector<uint32_t>{4});
  CHECK(tpm_pcrs_of(EventStep::td_hob).empty());
  // A tpm-pcrs profile listing a TD-only step that yields events is refused.
  PlatformProfile bad = vtpm;
  bad.events.insert(bad.events.begin(), EventStep::td_hob);
  MeasureInputs in;
  in.supplied[DigestSlot::td_hob] = Sha384{};
  in.supplied[DigestSlot::kernel] = Sha384{};
  in.memory = 1ull << 30;
  CHECK_THROWS_AS(predict_vtpm(bad, ovmf, in), InputError);
  // The YAML field is strict.
  std::string text = read_text(source_path("measure/profiles/platform/qemu-7.2-vtpm.yaml"));
  std::string broken = text;
  broken.replace(broken.find("measured_into: tpm-pcrs"), 23, "measured_into: pcrs");
  CHECK_THROWS_AS(parse_platform_profile(broken, "x.yaml"), DocumentError);
}

TEST_CASE("An OVMF variant that measures QEMU's ACPI blobs under a vTPM adds them to PCR1 in its order",
          "[vtpm_check]") {
  PlatformProfile profile = load_platform_profile("qemu-7.2-vtpm");
  OvmfVariant trixie = load_ovmf_variant("debian-trixie-2025.02");
  const std::string dir = source_path("tests/data/acpi/qemu-7.2-q35/c1-m2g");
  MeasureInputs in;
  in.cmdline = "console=ttyS0";
  in.cpus = 1;
  in.memory = 2ull << 30;
  in.supplied[DigestSlot::kernel] = Sha384{};
  // Without the blobs the prediction names what to give; the default variant measures none.
  CHECK_THROWS_WITH(predict_vtpm(profile, trixie, in), Catch::Contains("--acpi-tables DIR"));
  VtpmPrediction bookworm = predict_vtpm(profile, load_ovmf_variant("debian-bookworm-2022.11"), in);
  for (const PcrEvent &e : bookworm.events) CHECK(e.step != EventStep::acpi_tables);

  in.acpi = acpi_digests_from_dir(dir);
  in.acpi_origin = dir;
  VtpmPrediction p = predict_vtpm(profile, trixie, in);
  std::vector<const PcrEvent *> acpi;
  for (const PcrEvent &e : p.events)
    if (e.step == EventStep::acpi_tables) acpi.push_back(&e);
  REQUIRE(acpi.size() == 4);
  // The digests by the host's sha384sum: the three blobs as read from fw_cfg, and QEMU's etc/tpm/log
  // (64 KiB of zero bytes).
  auto sha384sum = [](const std::string &command) {
    ShellResult r = run_shell(command + " | sha384sum | cut -d' ' -f1");
    REQUIRE(r.exit_code == 0);
    return r.out.substr(0, 96);
  };
  const std::string expected[] = {sha384sum("cat " + shell_quote(dir + "/table-loader")),
                                  sha384sum("cat " + shell_quote(dir + "/rsdp")), sha384sum("head -c 65536 /dev/zero"),
                                  sha384sum("cat " + shell_quote(dir + "/tables"))};
  const char *names[] = {"etc/table-loader", "etc/acpi/rsdp", "etc/tpm/log", "etc/acpi/tables"};
  for (size_t i = 0; i < 4; ++i) {
    INFO(i);
    CHECK(acpi[i]->pcr == 1);
    CHECK(acpi[i]->event.type == 0x0000000A); // EV_PLATFORM_CONFIG_FLAGS
    CHECK(acpi[i]->event.description == std::string("ACPI DATA: ") + names[i]);
    CHECK(to_hex(acpi[i]->event.digest) == expected[i]);
  }
  // In PCR1, before the boot variables (the log order of a real boot).
  auto first_boot_variable = std::find_if(p.events.begin(), p.events.end(),
                                          [](const PcrEvent &e) { return e.step == EventStep::boot_variables; });
  REQUIRE(first_boot_variable != p.events.end());
  CHECK(acpi.back() < &*first_boot_variable);

  // A profile that does not say what QEMU serves as etc/tpm/log cannot predict it.
  PlatformProfile unsized = profile;
  unsized.qemu_tpm_log_size = 0;
  CHECK_THROWS_WITH(predict_vtpm(unsized, trixie, in), Catch::Contains("acpi.tpm_log_size"));
}
