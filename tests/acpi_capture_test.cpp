// `mrforge acpi capture`: the QEMU command line a VM shape turns into (exact argument lists), the
// shapes the local QEMU cannot start, the guest kernel's discovery, and live re-captures of a
// sample of the captured fixtures (tests/data/acpi/<profile>/ for QEMU 7.2 and 10.0, re-captured in
// full by tests/acpi/recapture.sh) through the CLI, byte for byte; --qemu/--qemu-data and the QEMU version
// check against the profile, with the system's QEMU 7.2 and bookworm-backports' QEMU 10.0 unpacked
// by .ci/install-qemu-10.0.sh (MRFORGE_QEMU10_PREFIX, default /opt/mrforge-qemu-10.0).
#include "test_support.hpp"

#include <builder/vm/acpi_capture.hpp>

#include <measure/documents/profile_yaml.hpp>
#include <measure/documents/vm_shape_file.hpp>
#include <measure/util/errors.hpp>

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include <cstdlib>
#include <cstring>
#include <filesystem>

using namespace mrforge;
using namespace mrforge::builder;
using namespace mrforge::test;

namespace {

namespace fs = std::filesystem;

using Args = std::vector<std::string>;
using Json = nlohmann::json;

VmShape shape_of(uint32_t cpus, uint64_t memory, std::vector<PciDeviceKind> kinds = {}) {
  VmShape s;
  s.profile = "qemu-7.2-q35";
  s.cpus = cpus;
  s.memory = memory;
  for (PciDeviceKind k : kinds) s.devices.push_back(PciDevice{k, RootPortChild::none});
  return s;
}

std::string error_of(const VmShape &shape, const std::string &scratch) {
  try {
    qemu_shape_args(shape, scratch);
  } catch (const InputError &e) {
    return e.what();
  }
  return "(no error)";
}

bool contains(const Bytes &hay, const char *needle) {
  size_t n = std::strlen(needle);
  return hay.size() >= n && std::search(hay.begin(), hay.end(), needle, needle + n) != hay.end();
}

std::string fixture_dir(const std::string &name) { return source_path("tests/data/acpi/qemu-7.2-q35/" + name); }

// Debian bookworm-backports' QEMU 10.0, unpacked privately by .ci/install-qemu-10.0.sh.
std::string qemu10_prefix() {
  const char *env = std::getenv("MRFORGE_QEMU10_PREFIX");
  return env && *env ? env : "/opt/mrforge-qemu-10.0";
}

// The prefix's QEMU binary; skips the test (naming the command that installs it) when it is missing.
std::string require_qemu10() {
  const std::string prefix = qemu10_prefix(), qemu = prefix + "/usr/bin/qemu-system-x86_64";
  if (!fs::is_regular_file(qemu) || !fs::is_directory(prefix + "/usr/share/qemu"))
    mrforge::test::skip_test("no QEMU 10.0 at " + prefix + " (MRFORGE_QEMU10_PREFIX); install it with " +
                             source_path(".ci/install-qemu-10.0.sh") + " " + prefix);
  return qemu;
}

// "X.Y.Z" from what `qemu --version` prints, read here with the shell, independently of mrforge.
std::string version_by_shell(const std::string &qemu, const std::string &data_dir) {
  ShellResult r = run_shell(shell_quote(qemu) + " -L " + shell_quote(data_dir) +
                            " --version | sed -n 's/^QEMU emulator version \\([0-9.]*\\).*/\\1/p'");
  REQUIRE(r.exit_code == 0);
  REQUIRE_FALSE(r.out.empty());
  return r.out.substr(0, r.out.find('\n'));
}

} // namespace

TEST_CASE("A default shape becomes q35 with SMM, HPET and PIC on, -smp and -m in MiB", "[acpi_capture]") {
  TempDir dir("acpi-capture");
  CHECK(qemu_shape_args(shape_of(1, 2ull << 30), dir.path()) ==
        Args{"-machine", "q35,smm=on,hpet=on,pic=on", "-smp", "1", "-m", "2048M"});
  CHECK(qemu_shape_args(shape_of(3, 2560ull << 20), dir.path()) ==
        Args{"-machine", "q35,smm=on,hpet=on,pic=on", "-smp", "3", "-m", "2560M"});
  CHECK(qemu_shape_args(shape_of(16, 64ull << 30), dir.path()) ==
        Args{"-machine", "q35,smm=on,hpet=on,pic=on", "-smp", "16", "-m", "65536M"});
  // No profile means the local QEMU.
  VmShape unnamed = shape_of(2, 1ull << 30);
  unnamed.profile.clear();
  CHECK(qemu_shape_args(unnamed, dir.path()) ==
        Args{"-machine", "q35,smm=on,hpet=on,pic=on", "-smp", "2", "-m", "1024M"});
}

TEST_CASE("Machine switches, hotplug off and the 64-bit hole become -machine options and -global lines",
          "[acpi_capture]") {
  TempDir dir("acpi-capture");
  VmShape s = shape_of(9, 3ull << 30);
  s.smm = false;
  s.hpet = false;
  s.pic = false;
  CHECK(qemu_shape_args(s, dir.path()) == Args{"-machine", "q35,smm=off,hpet=off,pic=off", "-smp", "9", "-m", "3072M"});

  VmShape h = shape_of(2, 4ull << 30, {PciDeviceKind::virtio_net});
  h.pci_hotplug = false;
  h.pci_hole64_size = 16ull << 40; // 16 TiB
  CHECK(qemu_shape_args(h, dir.path()) == Args{"-machine", "q35,smm=on,hpet=on,pic=on", "-smp", "2", "-m", "4096M",
                                               "-global", "ICH9-LPC.acpi-pci-hotplug-with-bridge-support=off",
                                               "-global", "q35-pcihost.pci-hole64-size=17592186044416", "-netdev",
                                               "user,id=net0", "-device", "virtio-net-pci,netdev=net0"});
}

TEST_CASE("Root-bus devices keep their order, each with its placeholder backend", "[acpi_capture]") {
  TempDir dir("acpi-capture");
  const std::string s = dir / "scratch";
  VmShape shape = shape_of(2, 2ull << 30,
                           {PciDeviceKind::virtio_blk, PciDeviceKind::virtio_net, PciDeviceKind::virtio_9p,
                            PciDeviceKind::pcie_root_port, PciDeviceKind::virtio_blk, PciDeviceKind::virtio_net,
                            PciDeviceKind::pcie_root_port});
  Args expected = {"-machine", "q35,smm=on,hpet=on,pic=on",
                   "-smp",     "2",
                   "-m",       "2048M",
                   "-drive",   "file=" + s + "/disk0.raw,if=none,id=disk0,format=raw,readonly=on",
                   "-device",  "virtio-blk-pci,drive=disk0",
                   "-netdev",  "user,id=net0",
                   "-device",  "virtio-net-pci,netdev=net0",
                   "-fsdev",   "local,id=fs0,path=" + s + "/9p,security_model=none,readonly=on",
                   "-device",  "virtio-9p-pci,fsdev=fs0,mount_tag=share0",
                   "-device",  "pcie-root-port,id=rp1,chassis=1",
                   "-drive",   "file=" + s + "/disk1.raw,if=none,id=disk1,format=raw,readonly=on",
                   "-device",  "virtio-blk-pci,drive=disk1",
                   "-netdev",  "user,id=net1",
                   "-device",  "virtio-net-pci,netdev=net1",
                   "-device",  "pcie-root-port,id=rp2,chassis=2"};
  CHECK(qemu_shape_args(shape, s) == expected);
  CHECK(fs::file_size(s + "/disk0.raw") == 1u << 20);
  CHECK(fs::file_size(s + "/disk1.raw") == 1u << 20);
  CHECK(fs::is_directory(s + "/9p"));

  // A ',' in the scratch path is doubled, as QEMU's option syntax wants.
  const std::string comma = dir / "a,b";
  Args with_comma = qemu_shape_args(shape_of(1, 2ull << 30, {PciDeviceKind::virtio_blk}), comma);
  REQUIRE(with_comma.size() == 10);
  CHECK(with_comma[7] == "file=" + dir.path() + "/a,,b/disk0.raw,if=none,id=disk0,format=raw,readonly=on");
}

TEST_CASE("The CPU model gets more physical address bits only when the 64-bit hole needs them", "[acpi_capture]") {
  CHECK(capture_cpu_model(shape_of(1, 2ull << 30)) == "qemu64");
  CHECK(capture_cpu_model(shape_of(16, 64ull << 30)) == "qemu64");
  VmShape s = shape_of(2, 4ull << 30);
  s.pci_hole64_size = 512ull << 30; // ends below the AMD HyperTransport hole at 0xFD00000000
  CHECK(capture_cpu_model(s) == "qemu64");
  // QEMU 7.2 with the default 40 bits says for this shape: "Address space limit 0xffffffffff <
  // 0x11007fffffff phys-bits too low (40)" (RAM above 4 GiB moved to 1 TiB, then 16 TiB of hole);
  // 0x11007fffffff needs 45 bits.
  s.pci_hole64_size = 16ull << 40;
  CHECK(capture_cpu_model(s) == "qemu64,phys-bits=45,pdpe1gb=on");
}

TEST_CASE("The CPU model gets x2APIC only when a vCPU's APIC ID is 255 or more", "[acpi_capture]") {
  CHECK(capture_cpu_model(shape_of(255, 2ull << 30)) == "qemu64");
  CHECK(capture_cpu_model(shape_of(256, 2ull << 30)) == "qemu64,x2apic=on");
  CHECK(capture_cpu_model(shape_of(288, 2ull << 30)) == "qemu64,x2apic=on");
  VmShape s = shape_of(288, 4ull << 30);
  s.pci_hole64_size = 16ull << 40;
  CHECK(capture_cpu_model(s) == "qemu64,phys-bits=45,pdpe1gb=on,x2apic=on");
}

TEST_CASE("Shapes the local QEMU cannot start are refused, naming the device or field", "[acpi_capture]") {
  TempDir dir("acpi-capture");
  VmShape gpu = shape_of(2, 2ull << 30, {PciDeviceKind::virtio_blk, PciDeviceKind::pcie_root_port});
  gpu.devices[1].behind = RootPortChild::gpu;
  CHECK_THAT(error_of(gpu, dir.path()), Catch::Contains("devices[1]") && Catch::Contains("gpu"));
  gpu.devices[1].behind = RootPortChild::nvswitch;
  CHECK_THAT(error_of(gpu, dir.path()), Catch::Contains("devices[1]") && Catch::Contains("nvswitch"));

  // hugepages starts a NUMA node (acpi_numa_test.cpp); its layout is checked like the generator's.
  VmShape huge = shape_of(2, 2ull << 30);
  huge.hugepages = true;
  CHECK(error_of(huge, dir.path()) == "(no error)");
  huge.devices.assign(5, PciDevice{PciDeviceKind::pcie_root_port, RootPortChild::none});
  huge.devices.push_back(PciDevice{PciDeviceKind::pcie_root_port, RootPortChild::gpu});
  CHECK_THAT(error_of(huge, dir.path()), Catch::Contains("hugepages") && Catch::Contains("collides"));

  CHECK_THAT(error_of(shape_of(0, 2ull << 30), dir.path()), Catch::Contains("at least 1 vCPU"));
  CHECK_THAT(error_of(shape_of(1, (2ull << 30) + 4096), dir.path()), Catch::Contains("whole MiB"));

  VmShape vsock = shape_of(2, 2ull << 30, {PciDeviceKind::vhost_vsock});
  if (fs::exists("/dev/vhost-vsock")) {
    CHECK(qemu_shape_args(vsock, dir.path()) == Args{"-machine", "q35,smm=on,hpet=on,pic=on", "-smp", "2", "-m",
                                                     "2048M", "-device", "vhost-vsock-pci,guest-cid=3"});
  } else {
    CHECK_THAT(error_of(vsock, dir.path()), Catch::Contains("devices[0]") && Catch::Contains("/dev/vhost-vsock"));
  }

  // More vCPUs than the profile's machine type takes, and more than 255 vCPUs under TCG with a QEMU
  // before 9.0: refused before anything starts (no QEMU runs: the --qemu given does not exist).
  AcpiCaptureSettings big;
  big.work_dir = dir.path();
  big.qemu = dir / "no-such-qemu";
  auto capture_error = [&](const VmShape &shape) -> std::string {
    big.shape = shape;
    try {
      capture_acpi(big);
    } catch (const InputError &e) {
      return e.what();
    }
    return "(no InputError)";
  };
  CHECK_THAT(capture_error(shape_of(289, 2ull << 30)),
             Catch::Contains("289 CPUs is more than qemu-7.2-q35 allows (288"));
  VmShape q10 = shape_of(4097, 2ull << 30);
  q10.profile = "qemu-10.0-q35";
  CHECK_THAT(capture_error(q10), Catch::Contains("4097 CPUs is more than qemu-10.0-q35 allows (4096"));
  CHECK_THAT(capture_error(shape_of(288, 2ull << 30)),
             Catch::Contains("QEMU 7.2 starts only with KVM's in-kernel irqchip") && Catch::Contains("--accel kvm"));
  // QEMU 10.0 takes them under TCG: the next check is the QEMU itself.
  q10.cpus = 288;
  CHECK_THAT(capture_error(q10), Catch::Contains("--qemu") && Catch::Contains("no-such-qemu"));
}

TEST_CASE("The guest kernel is the newest vmlinuz whose qemu_fw_cfg module is installed", "[acpi_capture]") {
  TempDir dir("acpi-capture");
  const std::string boot = dir / "boot", mods = dir / "modules";
  fs::create_directories(boot);
  for (const char *k : {"vmlinuz-6.1.0-56-amd64", "vmlinuz-6.12.117+deb12-amd64", "vmlinuz-6.13.0-rc1-amd64",
                        "config-6.12.117+deb12-amd64"})
    write_text(boot + "/" + k, "kernel");
  CHECK_THROWS_AS(default_capture_kernel(boot, mods), InputError);

  fs::create_directories(mods + "/6.1.0-56-amd64/kernel/drivers/firmware");
  write_text(mods + "/6.1.0-56-amd64/kernel/drivers/firmware/qemu_fw_cfg.ko", "ko");
  CHECK(default_capture_kernel(boot, mods) == boot + "/vmlinuz-6.1.0-56-amd64");
  fs::create_directories(mods + "/6.12.117+deb12-amd64/kernel/drivers/firmware");
  write_text(mods + "/6.12.117+deb12-amd64/kernel/drivers/firmware/qemu_fw_cfg.ko.xz", "xz");
  // 6.12 is newer than 6.1 (numbers, not bytes); 6.13 has no module.
  CHECK(default_capture_kernel(boot, mods) == boot + "/vmlinuz-6.12.117+deb12-amd64");
  CHECK(find_fw_cfg_module(boot + "/vmlinuz-6.12.117+deb12-amd64", mods) ==
        mods + "/6.12.117+deb12-amd64/kernel/drivers/firmware/qemu_fw_cfg.ko.xz");
  CHECK(find_fw_cfg_module(boot + "/vmlinuz-6.13.0-rc1-amd64", mods).empty());
  CHECK(kernel_release_of("/boot/vmlinuz-6.12.117+deb12-amd64") == "6.12.117+deb12-amd64");
  CHECK(kernel_release_of("/boot/bzImage").empty());
}

TEST_CASE("The capture guest's /init is valid busybox sh and follows the dump protocol", "[acpi_capture]") {
  TempDir dir("acpi-capture");
  std::string init = capture_init_script();
  write_text(dir / "init", init);
  ShellResult r = run_shell("/bin/busybox sh -n " + shell_quote(dir / "init"));
  INFO(r.err);
  CHECK(r.exit_code == 0);
  CHECK_THAT(init, Catch::Contains("MRFORGE-CHECK-BEGIN fw_cfg/$n") && Catch::Contains("MRFORGE-CHECK-END fw_cfg/$n") &&
                       Catch::Contains("etc/table-loader etc/acpi/rsdp etc/acpi/tables") &&
                       Catch::Contains("MRFORGE-READY") && Catch::Contains("poweroff -f"));
}

TEST_CASE("Every captured fixture has a shape file the shape reader accepts and all three blobs", "[acpi_capture]") {
  for (const AcpiFixtureSet &set : acpi_fixture_sets()) {
    INFO("profile " << set.profile);
    for (const std::string &d : set.dirs) {
      INFO(d);
      VmShape shape = load_vm_shape(d + "/shape.yaml");
      CHECK(shape.profile == set.profile);
      Bytes loader = read(d + "/table-loader"), rsdp = read(d + "/rsdp"), tables = read(d + "/tables");
      CHECK(loader.size() == 4096); // 128-byte commands padded to 4 KiB
      CHECK(rsdp.size() == 20);     // ACPI 1.0 RSDP
      CHECK(tables.size() % 0x20000 == 0);
      CHECK(contains(rsdp, "RSD PTR "));
      CHECK(contains(tables, "DSDT"));
    }
    // The full sets of Debian bookworm's OVMF; the OVMF 2025.02 set covers what that firmware changes.
    const bool full = set.profile == "qemu-7.2-q35" || set.profile == "qemu-10.0-q35";
    CHECK(set.dirs.size() >= (full ? 15u : 5u));
  }
}

namespace {

// Re-captures a fixture with the CLI (EXTRA selects the QEMU) and checks it gives the same bytes.
void recapture_fixture(const std::string &fixture, const Args &extra) {
  TempDir dir("acpi-capture");
  ShellResult r = run_mrforge_cli(
      with({"acpi", "capture", "--shape", fixture + "/shape.yaml", "-o", dir / "out", "--json"}, extra));
  INFO(r.err);
  REQUIRE(r.exit_code == 0);
  for (const char *blob : {"table-loader", "rsdp", "tables", "shape.yaml"}) {
    INFO(blob);
    CHECK(read(dir / "out/" + blob) == read(fixture + "/" + blob));
  }
  // The digests printed are those sha384sum computes.
  for (const char *blob : {"table-loader", "rsdp", "tables"}) {
    ShellResult sum = run_shell("sha384sum " + shell_quote(dir / "out/" + blob) + " | cut -d' ' -f1");
    REQUIRE(sum.exit_code == 0);
    CHECK_THAT(r.out, Catch::Contains("\"sha384\": \"" + sum.out.substr(0, 96) + "\""));
  }
  // Sane blobs: the tables QEMU q35 builds, found independently by their signatures; HPET only
  // when the shape has it.
  Bytes tables = read(dir / "out/tables");
  for (const char *sig : {"FACS", "DSDT", "FACP", "APIC", "MCFG", "WAET", "RSDT"}) {
    INFO(sig);
    CHECK(contains(tables, sig));
  }
  VmShape shape = load_vm_shape(fixture + "/shape.yaml");
  CHECK(contains(tables, "HPET") == shape.hpet);
  Bytes rsdp = read(dir / "out/rsdp");
  CHECK(contains(rsdp, "RSD PTR "));
  CHECK(contains(rsdp, "BOCHS "));
  Bytes loader = read(dir / "out/table-loader");
  CHECK(contains(loader, "etc/acpi/rsdp"));
  CHECK(contains(loader, "etc/acpi/tables"));
  Json record = Json::parse(read_text(dir / "out/mrforge-build.json"));
  CHECK(record.at("profile") == shape.profile);
}

} // namespace

TEST_CASE("Re-capturing a sample of the fixtures with the CLI gives the same bytes", "[acpi_capture][qemu]") {
  for (const char *name : {"c1-m2g-nic1", "c9-m3g-smm-off-hpet-off-pic-off", "c2-m2g-rootport"}) DYNAMIC_SECTION(name) {
      recapture_fixture(fixture_dir(name), {});
    }
}

// The shape files name qemu-10.0-q35, so this QEMU passes the capture's version check.
TEST_CASE("Re-capturing a sample of the QEMU 10.0 fixtures with QEMU 10.0 gives the same bytes",
          "[acpi_capture][qemu]") {
  const std::string qemu = require_qemu10();
  const Args private_qemu = {"--qemu", qemu, "--qemu-data", qemu10_prefix() + "/usr/share/qemu"};
  for (const char *name : {"c2-m2g-rootport", "c9-m3g-smm-off-hpet-off-pic-off",
                           "c2-m4g-numa1-pxb5-testdev1g-testdev64m-rootport-nic1-disk1-testdev4g"}) {
    DYNAMIC_SECTION(name) {
      recapture_fixture(source_path("tests/data/acpi/qemu-10.0-q35/" + std::string(name)), private_qemu);
    }
  }
}

// The same QEMU with trixie's OVMF 2025.02 (the firmware generation of the TDX families): root
// ports on an expander get its windows (no I/O padding, the Uc32Base aperture, the 64-bit window
// moved below the AMD HyperTransport hole).
TEST_CASE("Re-capturing a QEMU 10.0 fixture with OVMF 2025.02 gives the same bytes", "[acpi_capture][qemu]") {
  const std::string qemu = require_qemu10();
  const std::string ovmf = test::trixie_ovmf();
  const Args args = {"--qemu", qemu, "--qemu-data", qemu10_prefix() + "/usr/share/qemu", "--firmware", ovmf};
  recapture_fixture(
      source_path("tests/data/acpi/qemu-10.0-q35-ovmf-2025.02/c2-m2g-numa1-pxb5-rootport2-nic1-rootport2"), args);
}

// Exit code 3 is the host's failure, not the input's: here QEMU itself refuses to start the VM. On
// this kind of host (no KVM, or a KVM without SMM) `--accel kvm` makes the real QEMU exit at once;
// where KVM can run the capture, there is no QEMU failure to observe and the test is skipped.
TEST_CASE("When QEMU cannot run the VM, acpi capture exits 3 with QEMU's words and writes nothing",
          "[acpi_capture][qemu][skippable]") {
  TempDir dir("acpi-capture-host-error");
  const std::string out = dir / "out";
  ShellResult r = run_mrforge_cli({"acpi", "capture", "--cpus", "1", "--memory", "1G", "--accel", "kvm", "-o", out});
  INFO(r.err);
  if (r.exit_code == 0) mrforge::test::skip_test("QEMU runs the capture with KVM on this host: no failure to observe");
  CHECK(r.exit_code == 3);
  CHECK_THAT(r.err, Catch::Contains("QEMU could not run the guest") && Catch::Contains("qemu-system-x86_64:"));
  CHECK_FALSE(fs::exists(out));
}

TEST_CASE("A capture profile must be the capturing QEMU's release and a plain q35 one", "[acpi_capture]") {
  const AcpiProfile q35 = load_acpi_profile("qemu-7.2-q35");
  CHECK_NOTHROW(check_capture_profile(q35, "7.2.22"));
  CHECK_NOTHROW(check_capture_profile(q35, "7.2.0"));
  std::string other = error_message([&] { check_capture_profile(q35, "10.0.2"); });
  CHECK_THAT(other, Catch::Contains("profile qemu-7.2-q35") && Catch::Contains("QEMU 10.0.2") &&
                        Catch::Contains("describes QEMU 7.2") && Catch::Contains("q35 profile of QEMU 10.0"));
  CHECK_THAT(error_message([&] { check_capture_profile(q35, "7.20.1"); }), Catch::Contains("QEMU 7.20.1"));
  CHECK_THAT(error_message([&] { check_capture_profile(load_acpi_profile("qemu-9.2-tdx"), "9.2.0"); }),
             Catch::Contains("profile qemu-9.2-tdx") && Catch::Contains("confidential"));
}

TEST_CASE("A --qemu that is not an executable file is refused naming --qemu, before anything runs", "[acpi_capture]") {
  TempDir dir("acpi-capture-qemu");
  write_text(dir / "not-executable", "#!/bin/sh\n");
  for (const std::string &qemu : {dir / "missing", dir / "not-executable", dir.path()}) {
    INFO(qemu);
    ShellResult r =
        run_mrforge_cli({"acpi", "capture", "--cpus", "1", "--memory", "1G", "--qemu", qemu, "-o", dir / "out"});
    CHECK(r.exit_code == 2);
    CHECK_THAT(r.err, Catch::Contains("--qemu") && Catch::Contains("is not an executable file"));
    CHECK_FALSE(fs::exists(dir / "out"));
  }
  ShellResult data = run_mrforge_cli(
      {"acpi", "capture", "--cpus", "1", "--memory", "1G", "--qemu-data", dir / "no-such-dir", "-o", dir / "out"});
  CHECK(data.exit_code == 2);
  CHECK_THAT(data.err, Catch::Contains("--qemu-data"));
}

TEST_CASE("QEMU's version is read from --version, with -L", "[acpi_capture][qemu]") {
  const std::string version = qemu_version("/usr/bin/qemu-system-x86_64", "/usr/share/qemu");
  CHECK(version == version_by_shell("/usr/bin/qemu-system-x86_64", "/usr/share/qemu"));
  CHECK(version.rfind("7.2.", 0) == 0); // the qemu-7.2-q35 fixtures' QEMU (Debian bookworm)
  // A program that runs but is no QEMU: the host's problem, not the input's.
  CHECK_THROWS_AS(qemu_version("/bin/true"), HostError);
}

TEST_CASE("acpi capture with --qemu and --qemu-data records the QEMU version and gives the fixture's bytes",
          "[acpi_capture][qemu]") {
  TempDir dir("acpi-capture-qemu");
  const std::string fixture = fixture_dir("c1-m2g"), out = dir / "out";
  ShellResult r =
      run_mrforge_cli({"acpi", "capture", "--shape", fixture + "/shape.yaml", "--qemu", "/usr/bin/qemu-system-x86_64",
                       "--qemu-data", "/usr/share/qemu", "-o", out, "--json"});
  INFO(r.err);
  REQUIRE(r.exit_code == 0);
  for (const char *blob : {"table-loader", "rsdp", "tables", "shape.yaml"}) {
    INFO(blob);
    CHECK(read(out + "/" + blob) == read(fixture + "/" + blob));
  }
  const std::string version = version_by_shell("/usr/bin/qemu-system-x86_64", "/usr/share/qemu");
  CHECK(Json::parse(r.out).at("qemu_version") == version);
  Json record = Json::parse(read_text(out + "/mrforge-build.json"));
  CHECK(record.at("output_kind") == "acpi-captured");
  CHECK(record.at("profile") == "qemu-7.2-q35");
  CHECK(record.at("qemu_version") == version);
}

TEST_CASE("QEMU 10.0 is refused for the default profile qemu-7.2-q35, naming its version", "[acpi_capture][qemu]") {
  const std::string qemu = require_qemu10();
  const std::string data = qemu10_prefix() + "/usr/share/qemu";
  const std::string version = version_by_shell(qemu, data);
  CHECK(version.rfind("10.0.", 0) == 0);
  TempDir dir("acpi-capture-qemu10");
  const std::string out = dir / "out";
  const Args capture = {"acpi",   "capture", "--shape",     fixture_dir("c1-m2g") + "/shape.yaml",
                        "--qemu", qemu,      "--qemu-data", data,
                        "-o",     out};
  for (const Args &profile : {Args{}, Args{"--profile", "qemu-7.2-q35"}}) {
    ShellResult r = run_mrforge_cli(with(capture, profile));
    CHECK(r.exit_code == 2);
    CHECK_THAT(r.err, Catch::Contains("profile qemu-7.2-q35") && Catch::Contains("QEMU " + version) &&
                          Catch::Contains("describes QEMU 7.2"));
    CHECK_FALSE(fs::exists(out));
  }
}

// Captures of more than 255 vCPUs run with -cpu qemu64,x2apic=on (QEMU 10.0 wants x2APIC for APIC
// IDs from 255 on); the tables must not depend on it, which a shape both models can start shows.
TEST_CASE("x2APIC in the CPU model leaves QEMU 10.0's blobs unchanged", "[acpi_capture][qemu]") {
  const std::string qemu = require_qemu10();
  const std::string fixture = source_path("tests/data/acpi/qemu-10.0-q35/c8-m4g");
  TempDir dir("acpi-capture-x2apic");
  AcpiCaptureSettings s;
  s.shape = load_vm_shape(fixture + "/shape.yaml");
  s.work_dir = dir.path();
  s.qemu = qemu;
  s.qemu_data_dir = qemu10_prefix() + "/usr/share/qemu";
  s.cpu = capture_cpu_model(s.shape) + ",x2apic=on";
  REQUIRE(s.cpu == "qemu64,x2apic=on");
  AcpiCapture c = capture_acpi(s);
  CHECK(c.blobs.table_loader == read(fixture + "/table-loader"));
  CHECK(c.blobs.rsdp == read(fixture + "/rsdp"));
  CHECK(c.blobs.tables == read(fixture + "/tables"));
}
