// QEMU boots with a software TPM: the serial protocol parser on real captured consoles
// (tests/data/boot/, see its README), live boots of a small image built here from host files
// whose vTPM log must match the engine's qemu-7.2-vtpm prediction, and `mrforge boot` of the
// bundled guest on Debian trixie's OVMF 2025.02.
#include "support/guest_fixture.hpp"
#include "test_support.hpp"

#include <builder/archive/archive_writers.hpp>
#include <builder/archive/compress.hpp>
#include <builder/fs/fs_tree.hpp>
#include <builder/system/byte_sink.hpp>
#include <builder/vm/qemu_boot.hpp>

#include <measure/documents/profile_yaml.hpp>
#include <measure/formats/tcg_log.hpp>
#include <measure/util/errors.hpp>
#include <measure/verify/vtpm_check.hpp>

#include <catch2/catch.hpp>

#include <cerrno>
#include <csignal>
#include <filesystem>

using namespace mrforge;
using namespace mrforge::builder;
using namespace mrforge::test;

namespace {

// Captured serial consoles are stored gzip'd (the ACPI dumps make them 220 kB of text).
std::string fixture(const std::string &name) {
  std::string path = source_path("tests/data/boot/" + name);
  if (name.size() < 3 || name.compare(name.size() - 3, 3, ".gz") != 0) return read_text(path);
  ShellResult r = run_shell("gzip -dc " + shell_quote(path));
  REQUIRE(r.exit_code == 0);
  return r.out;
}

bool has_failure(const BootCapture &c, const std::string &text) {
  for (const std::string &f : c.failures)
    if (f.find(text) != std::string::npos) return true;
  return false;
}

std::string failures_of(const BootCapture &c) {
  std::string s;
  for (const std::string &f : c.failures) s += f + "\n";
  return s;
}

bool process_alive(int pid) { return pid > 0 && (::kill(pid, 0) == 0 || errno != ESRCH); }

// /init of the live-test initrd: no root file system; it dumps the TPM log per the protocol,
// prints its ready line and powers off.
constexpr const char *k_test_init = R"(#!/bin/sh
export PATH=/bin
mount -t devtmpfs devtmpfs /dev
exec < /dev/null > /dev/console 2>&1
echo "MRFORGE-INIT: start"
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t securityfs securityfs /sys/kernel/security
echo 1 > /proc/sys/kernel/printk
L=/sys/kernel/security/tpm0/binary_bios_measurements
if [ -e $L ]; then
  echo "MRFORGE-CHECK-BEGIN tpm-event-log"
  base64 $L
  echo "MRFORGE-CHECK-END tpm-event-log"
else
  echo "MRFORGE-CHECK: missing tpm-event-log"
fi
echo "MRFORGE-CHECK: done"
echo "MRFORGE-READY test initrd"
poweroff -f
)";

// A gzip'd newc initramfs: host busybox-static, its applets and the init above.
std::string build_test_initrd(const TempDir &dir) {
  write_text(dir / "init", k_test_init);
  FsTree tree;
  auto add_dir = [&](const std::string &p) {
    Node n;
    n.type = NodeType::directory;
    n.mode = 0755;
    tree.add(p, n);
  };
  for (const char *d : {"bin", "dev", "proc", "sys"}) add_dir(d);
  Node busybox;
  busybox.mode = 0755;
  busybox.content_path = "/bin/busybox";
  busybox.size = std::filesystem::file_size("/bin/busybox");
  tree.add("bin/busybox", busybox);
  for (const char *a : {"sh", "mount", "echo", "base64", "poweroff", "cat", "["}) {
    Node l;
    l.type = NodeType::symlink;
    l.mode = 0777;
    l.link_target = "busybox";
    tree.add(std::string("bin/") + a, l);
  }
  Node init;
  init.mode = 0755;
  init.content_path = dir / "init";
  init.size = std::filesystem::file_size(dir / "init");
  tree.add("init", init);
  std::string path = dir / "initrd.gz";
  FileSink sink(path);
  std::unique_ptr<ByteSink> gz = make_compressor(Compression{CompressionKind::gzip, 6, 1}, sink);
  ArchiveOptions options;
  options.mtime = 1700000000;
  write_cpio_newc(tree, options, *gz);
  gz->finish();
  return path;
}

struct LiveBoot {
  BootCapture capture;
  TcgLog log;
};

BootSettings test_settings(const TempDir &dir, const std::string &initrd, uint64_t memory) {
  BootSettings s;
  s.firmware = debian_ovmf();
  s.kernel = debian_kernel_612();
  s.initrd = initrd;
  s.cmdline = "console=ttyS0 panic=-1 mrforge.check=1";
  s.memory = memory;
  s.timeout = std::chrono::seconds(300);
  s.work_dir = dir.path();
  return s;
}

VtpmPrediction predict(const BootSettings &s, const Bytes &kernel, const Bytes &initrd) {
  PlatformProfile profile = load_platform_profile("qemu-7.2-vtpm");
  OvmfVariant ovmf = load_ovmf_variant(profile.default_ovmf_variant);
  MeasureInputs in;
  in.kernel = NamedBytes{kernel, s.kernel};
  in.initrd = NamedBytes{initrd, s.initrd};
  in.cmdline = s.cmdline;
  in.cpus = s.cpus;
  in.memory = s.memory;
  return predict_vtpm(profile, ovmf, in);
}

std::string dump(const std::vector<EventCheck> &checks) {
  std::string s;
  for (const EventCheck &c : checks)
    s += std::string(check_status_name(c.status)) + " PCR" + std::to_string(c.pcr) + " " + c.what + " " + c.expected +
         " " + c.actual + " " + c.note + "\n";
  return s;
}

} // namespace

TEST_CASE("Serial text is cleaned of carriage returns and ANSI escape sequences", "[boot]") {
  CHECK(clean_serial_text("\x1b[2J\x1b[01;01HBdsDxe: loading\r\n\x1b[=3h\x1b(Bok\x1b]0;t\x07!\n") ==
        "BdsDxe: loading\nok!\n");
  CHECK(clean_serial_text("a\x1b") == "a");
  CHECK(clean_serial_text(std::string("x\0y\x7f\tz", 6)) == "xy\tz");
}

TEST_CASE("A real check-mode boot's serial log gives the dumps, the ready line and no failure", "[boot]") {
  BootCapture c = parse_serial_log(fixture("serial-check-ok.txt.gz"));
  INFO(failures_of(c));
  CHECK(c.failures.empty());
  CHECK(c.ready);
  CHECK(c.ready_line.rfind("demo-service running", 0) == 0);
  CHECK(c.root_mounted);
  std::string cmdline = fixture("vtpm-1g.cmdline");
  size_t at = cmdline.find("mrforge.roothash=");
  REQUIRE(at != std::string::npos);
  CHECK(c.root_hash == cmdline.substr(at + 17, 64));
  CHECK(c.check_done);
  CHECK(c.last_stage == "ready");
  CHECK(c.missing == std::vector<std::string>{"ccel"});
  REQUIRE(c.blobs.count("tpm-event-log"));
  REQUIRE(c.blobs.count("fw_cfg/etc/table-loader"));
  REQUIRE(c.blobs.count("fw_cfg/etc/acpi/rsdp"));
  REQUIRE(c.blobs.count("fw_cfg/etc/acpi/tables"));
  CHECK(c.blobs["fw_cfg/etc/table-loader"].size() == 4096);
  CHECK(c.blobs["fw_cfg/etc/acpi/rsdp"].rfind("RSD PTR ", 0) == 0);
  CHECK(c.blobs["fw_cfg/etc/acpi/tables"].size() == 131072);
  // The dumped TPM log parses and has the SHA-384 bank.
  // The dumped TPM log is the vtpm-1g.eventlog fixture (extracted from this console with sed and base64 -d).
  std::string log = c.blobs["tpm-event-log"];
  CHECK(Bytes(log.begin(), log.end()) == read(source_path("tests/data/boot/vtpm-1g.eventlog")));
  CHECK(c.serial.find('\r') == std::string::npos);
  CHECK(c.serial.find('\x1b') == std::string::npos);
}

TEST_CASE("A real boot of a rootfs with one flipped byte reports the verity failure and the panic", "[boot]") {
  BootCapture c = parse_serial_log(fixture("serial-verity-corrupt.txt.gz"));
  INFO(failures_of(c));
  CHECK_FALSE(c.ready);
  CHECK(c.root_mounted); // the superblock is intact; the corrupted block is read later
  REQUIRE_FALSE(c.failures.empty());
  CHECK(c.failures.front().rfind("verity failed: device-mapper: verity: 254:0: data block ", 0) == 0);
  CHECK(c.failures.front().find("is corrupted") != std::string::npos);
  CHECK(has_failure(c, "kernel panic: Kernel panic - not syncing"));
  // The same corruption message printed four times is reported once.
  size_t verity = 0;
  for (const std::string &f : c.failures) verity += f.rfind("verity failed", 0) == 0;
  CHECK(verity == 1);
}

TEST_CASE("A real boot with a wrong root hash reports the init's FATAL line", "[boot]") {
  BootCapture c = parse_serial_log(fixture("serial-wrong-roothash.txt.gz"));
  INFO(failures_of(c));
  CHECK_FALSE(c.ready);
  CHECK_FALSE(c.root_mounted);
  CHECK(has_failure(c, "init failed: mount erofs from /dev/mapper/root"));
  CHECK(has_failure(c, "verity failed: device-mapper: verity: 254:0: metadata block"));
  CHECK(c.last_stage == "init");
}

TEST_CASE("Malformed check dumps are reported, never half-decoded", "[boot]") {
  std::string ok = "MRFORGE-CHECK-BEGIN x\nQUJD\nMRFORGE-CHECK-END x\n";
  CHECK(parse_serial_log(ok).blobs.at("x") == "ABC");
  // A kernel message between the base64 lines is skipped.
  CHECK(parse_serial_log("MRFORGE-CHECK-BEGIN x\nQU\n[    5.1] random: crng init done\nJD\nMRFORGE-CHECK-END x\n")
            .blobs.at("x") == "ABC");
  BootCapture bad = parse_serial_log("MRFORGE-CHECK-BEGIN x\nQUJ\nMRFORGE-CHECK-END x\n");
  CHECK(bad.blobs.empty());
  CHECK(has_failure(bad, "check dump x: the base64 text does not decode"));
  BootCapture cut = parse_serial_log("MRFORGE-CHECK-BEGIN x\nQUJD\n");
  CHECK(has_failure(cut, "check dump x: no MRFORGE-CHECK-END line"));
  BootCapture other = parse_serial_log("MRFORGE-CHECK-BEGIN x\nQUJD\nMRFORGE-CHECK-END y\n");
  CHECK(has_failure(other, "check dump x ended with MRFORGE-CHECK-END y"));
  BootCapture fatal = parse_serial_log("MRFORGE-CHECK-BEGIN x\nQUJD\nMRFORGE-INIT: FATAL: boom\n");
  CHECK(has_failure(fatal, "no MRFORGE-CHECK-END"));
  CHECK(has_failure(fatal, "init failed: boom"));
  // Padding in the middle is refused.
  CHECK(has_failure(parse_serial_log("MRFORGE-CHECK-BEGIN x\nQQ==QUJD\nMRFORGE-CHECK-END x\n"), "does not decode"));
}

TEST_CASE("boot_image refuses missing inputs before starting anything", "[boot]") {
  TempDir dir("boot");
  BootSettings s;
  s.firmware = dir / "missing.fd";
  s.kernel = dir / "missing";
  s.work_dir = dir.path();
  CHECK_THROWS_AS(boot_image(s), InputError);
  s.firmware = debian_ovmf();
  s.kernel = debian_kernel_612();
  s.memory = (1ull << 30) + 4096;
  CHECK_THROWS_AS(boot_image(s), InputError);
  s.memory = 1ull << 30;
  s.qemu = dir / "no-such-qemu";
  s.tpm = false;
  CHECK_THROWS_AS(boot_image(s), SystemError);
}

TEST_CASE("Real OVMF and the EFI stub measure what the engine predicts, at 1 GiB and at 2 GiB", "[boot][qemu]") {
  TempDir dir("boot");
  std::string initrd_path = build_test_initrd(dir);
  Bytes kernel = read(debian_kernel_612());
  Bytes initrd = read(initrd_path);

  std::map<uint64_t, LiveBoot> boots;
  std::map<uint64_t, VtpmPrediction> predictions;
  for (uint64_t memory : {1ull << 30, 2ull << 30}) {
    TempDir work("boot-work");
    BootSettings s = test_settings(work, initrd_path, memory);
    std::vector<std::string> stages;
    s.progress = [&](const std::string &p) { stages.push_back(p); };
    BootCapture c = boot_image(s);
    INFO(failures_of(c) << c.serial.substr(c.serial.size() > 3000 ? c.serial.size() - 3000 : 0));
    REQUIRE(c.failures.empty());
    CHECK(c.ready);
    CHECK(c.ready_line == "test initrd");
    CHECK(c.check_done);
    CHECK(c.seconds > 0);
    CHECK(std::find(stages.begin(), stages.end(), "boot: EFI stub") != stages.end());
    CHECK(std::find(stages.begin(), stages.end(), "boot: ready") != stages.end());
    CHECK_FALSE(process_alive(c.qemu_pid));
    CHECK_FALSE(process_alive(c.swtpm_pid));
    REQUIRE(c.blobs.count("tpm-event-log"));
    const std::string &raw = c.blobs["tpm-event-log"];
    TcgLog log = parse_tcg_log(Bytes(raw.begin(), raw.end()), "tpm-event-log");
    VtpmPrediction p = predict(s, kernel, initrd);
    std::vector<EventCheck> checks = check_vtpm_log(log, p.events);
    INFO(dump(checks));
    CHECK(all_passed(checks));
    boots[memory] = LiveBoot{c, log};
    predictions[memory] = p;
  }
  // The 1 GiB prediction against the 2 GiB boot: only the kernel (its patched header places the
  // initrd below the top of low memory) differs.
  std::vector<EventCheck> cross = check_vtpm_log(boots[2ull << 30].log, predictions[1ull << 30].events);
  INFO(dump(cross));
  std::vector<EventCheck> bad;
  for (const EventCheck &c : cross)
    if (c.status == CheckStatus::fail) bad.push_back(c);
  REQUIRE(bad.size() == 1);
  CHECK(bad[0].pcr == 4);
  CHECK(bad[0].what == "kernel (PE Authenticode, SHA-384)");
}

TEST_CASE("A boot that outlives its timeout is reported and leaves no QEMU or swtpm behind", "[boot][qemu]") {
  TempDir dir("boot");
  std::string initrd_path = build_test_initrd(dir);
  TempDir work("boot-work");
  BootSettings s = test_settings(work, initrd_path, 1ull << 30);
  s.timeout = std::chrono::seconds(2);
  BootCapture c = boot_image(s);
  INFO(failures_of(c));
  CHECK_FALSE(c.ready);
  REQUIRE(c.failures.size() == 1);
  CHECK(c.failures[0].rfind("timed out after 2 s (last stage: ", 0) == 0);
  CHECK(c.seconds < 10);
  REQUIRE(c.qemu_pid > 0);
  REQUIRE(c.swtpm_pid > 0);
  CHECK_FALSE(process_alive(c.qemu_pid));
  CHECK_FALSE(process_alive(c.swtpm_pid));
  ShellResult pg = run_shell("pgrep -d, -P " + std::to_string(::getpid()));
  CHECK(pg.out.find(std::to_string(c.qemu_pid)) == std::string::npos);
  CHECK(pg.out.find(std::to_string(c.swtpm_pid)) == std::string::npos);
}

TEST_CASE("The bundled guest on trixie's OVMF 2025.02 logs exactly what the debian-trixie-2025.02 variant predicts",
          "[boot][qemu][network]") {
  const std::string trixie = trixie_ovmf(); // skips before anything is built when it is not unpacked
  const PublishedGuest &g = published_guest();
  TempDir work("boot-trixie");
  const std::string out = work / "out";
  std::filesystem::copy(g.out, out, std::filesystem::copy_options::recursive);
  REQUIRE(nlohmann::json::parse(read_text(out + "/metadata.json")).at("bios") == "OVMF.fd");
  std::filesystem::remove(out + "/OVMF.fd");
  std::filesystem::copy_file(trixie, out + "/OVMF.fd");

  // One boot (QEMU 7.2, TCG, swtpm): the fw_cfg ACPI blobs the guest dumps feed the "ACPI DATA"
  // events this OVMF measures into PCR1; everything else is predicted before the boot.
  ShellResult boot =
      run_mrforge_cli({"boot", out, "--memory", "2G", "--ovmf-variant", "debian-trixie-2025.02", "--json"});
  INFO(boot.out << boot.err);
  REQUIRE_FALSE(boot.out.empty());
  const nlohmann::json j = nlohmann::json::parse(boot.out);
  CHECK(boot.exit_code == 0);
  CHECK(j.at("ok").get<bool>());
  CHECK(j.at("ready").get<bool>());
  CHECK(j.at("root_mounted").get<bool>());
  CHECK(j.at("ovmf_variant") == "debian-trixie-2025.02");
  CHECK(j.at("failures").empty());

  // Every event of the log is compared: passes, and OVMF's own code in PCR0 (MRTD in a TD) as
  // the only records not predicted by design.
  size_t passed = 0, acpi = 0, own_code = 0;
  for (const nlohmann::json &c : j.at("checks")) {
    INFO(c.dump());
    const std::string status = c.at("status").get<std::string>();
    if (status == "skip") {
      CHECK(c.at("pcr") == 0);
      CHECK(c.at("note").get<std::string>().find("OVMF's own code") != std::string::npos);
      ++own_code;
      continue;
    }
    REQUIRE(status == "pass");
    CHECK(c.at("actual") == c.at("expected"));
    ++passed;
    if (c.at("what").get<std::string>().rfind("ACPI DATA: ", 0) == 0) {
      CHECK(c.at("pcr") == 1);
      ++acpi;
    }
  }
  CHECK(acpi == 4);
  CHECK(own_code >= 1);
  CHECK(passed >= 20);
}
