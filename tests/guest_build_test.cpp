// The guest image build end to end, with the real recipe (recipes/debian-bookworm-tdx.yaml), real
// Debian packages and the real tools: reproducibility under different conditions, the step
// cache, a boot under QEMU with a software TPM whose measurements must match the engine's, a
// corrupted root file system that verity must refuse, and `mrforge measure` on the output.
//
// Packages come from deb.debian.org ([network]); the 107 MB kernel package is taken from apt's
// cache (/var/cache/apt/archives, where .ci/run's apt-get leaves linux-image-6.12) when it is
// there. If the committed lock or kernel pin can no longer be fetched (Debian drops superseded
// versions), the test locks and pins afresh with a WARN: it is about the builds, not about the
// mirror's history.
#include "support/guest_fixture.hpp"
#include "test_support.hpp"

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include <filesystem>
#include <fstream>
#include <map>
#include <unistd.h>

using namespace mrforge::test;
namespace fs = std::filesystem;

namespace {

nlohmann::json parse_json(const std::string &text) { return nlohmann::json::parse(text); }

std::map<std::string, bool> cached_steps(const nlohmann::json &j) {
  std::map<std::string, bool> out;
  for (const auto &s : j.at("steps")) out[s.at("step").get<std::string>()] = s.at("cached").get<bool>();
  return out;
}

std::string sha256_of(const std::string &path) { return run_shell("sha256sum " + shell_quote(path)).out.substr(0, 64); }

} // namespace

TEST_CASE("The guest image is byte-identical when built under different conditions, cached by step, and refused "
          "when its init cannot start",
          "[guest][network]") {
  REQUIRE(geteuid() == 0); // the root file system has owners (uid 1000)
  TempDir work("guest-repro");
  std::string recipe_a = copy_guest_recipe(work / "a", false, "2001-02-03 04:05:06");
  std::string recipe_b = copy_guest_recipe(work / "b/nested", true, "2024-12-24 18:00:00");
  fs::create_directories(work / "cwd");
  std::string debs = fetch_or_relock(recipe_a, work / "store-a");
  fetch_as(recipe_a, recipe_b, work / "store-b", debs); // b gets exactly a's lock and pin

  nlohmann::json a =
      build_guest_json(recipe_a, work / "store-a", work / "out-a",
                       "cd " + shell_quote(work / "cwd") + " && umask 022 && TZ=UTC LC_ALL=C", {"--threads", "1"});
  nlohmann::json b = build_guest_json(recipe_b, work / "store-b", work / "out-b",
                                      "cd / && umask 077 && TZ=Pacific/Chatham LC_ALL=C.UTF-8", {"--threads", "2"});
  for (const auto &[step, hit] : cached_steps(a)) CHECK_FALSE(hit); // fresh store: every step ran
  auto da = file_digests(work / "out-a"), db = file_digests(work / "out-b");
  CHECK(da.size() == 13); // the artifacts, metadata, measurements, dstack's measurement file, sums, lock, record, SBOMs
  CHECK(da == db);
  CHECK(a.at("digest") == b.at("digest"));
  CHECK(read_text(work / "out-a/digest.txt") == sha256_of(work / "out-a/sha256sum.txt") + "\n");
  CHECK(run_shell("cd " + shell_quote(work / "out-a") + " && sha256sum -c --quiet sha256sum.txt").exit_code == 0);

  // The verity tree covers the file system: veritysetup (independent of mrforge) accepts it
  // with the root hash from the command line.
  nlohmann::json record = parse_json(read_text(work / "out-a/mrforge-build.json"));
  // The record names the initramfs's compressor (its bytes depend on it); gzip reads the initrd.
  const std::string compressor = record.at("initramfs_compressor");
  CHECK(compressor.rfind("gzip level ", 0) == 0);
  CHECK(compressor.find(" (libdeflate ") != std::string::npos);
  CHECK(run_shell("gzip -t " + shell_quote(work / "out-a/initrd.img")).exit_code == 0);
  const auto &v = record.at("verity");
  std::string cmdline = parse_json(read_text(work / "out-a/metadata.json")).at("cmdline");
  CHECK(cmdline.find("mrforge.roothash=" + v.at("root_hash").get<std::string>()) != std::string::npos);
  std::string verify = "veritysetup verify " + shell_quote(work / "out-a/rootfs.img") + " " +
                       shell_quote(work / "out-a/rootfs.img") + " " + v.at("root_hash").get<std::string>() +
                       " --hash-offset=" + std::to_string(v.at("data_size").get<uint64_t>());
  ShellResult vr = run_shell(verify);
  INFO(vr.err);
  CHECK(vr.exit_code == 0);

  // Warm store, nothing changed: every step comes from the cache, same bytes.
  nlohmann::json warm = build_guest_json(recipe_a, work / "store-a", work / "out-warm");
  for (const auto &[step, hit] : cached_steps(warm)) CHECK(hit);
  CHECK(file_digests(work / "out-warm") == da);

  // One rootfs file changed: only the rootfs step runs again; firmware, kernel and initrd are the
  // same files, the root hash (and so the command line and RTMR2) changes.
  write_text(work / "a/recipes/debian-bookworm-tdx/index.html", "hello from a changed guest\n");
  REQUIRE(run_mrforge_cli({"lock", recipe_a}).exit_code == 0); // the file's digest is in the lock
  nlohmann::json changed = build_guest_json(recipe_a, work / "store-a", work / "out-changed");
  auto steps = cached_steps(changed);
  CHECK(steps.at("firmware"));
  CHECK(steps.at("kernel"));
  CHECK(steps.at("initramfs"));
  CHECK_FALSE(steps.at("rootfs"));
  auto dc = file_digests(work / "out-changed");
  CHECK(dc.at("initrd.img") == da.at("initrd.img"));
  CHECK(dc.at("vmlinuz") == da.at("vmlinuz"));
  CHECK(dc.at("OVMF.fd") == da.at("OVMF.fd"));
  CHECK(dc.at("rootfs.img") != da.at("rootfs.img"));
  CHECK(changed.at("cmdline") != a.at("cmdline"));
  CHECK(changed.at("measurements")[0].at("rtmr2") != a.at("measurements")[0].at("rtmr2"));
  CHECK(changed.at("measurements")[0].at("rtmr1") == a.at("measurements")[0].at("rtmr1"));

  // An init the guest could not start: the host's /bin/true is dynamically linked (PT_INTERP
  // /lib64/ld-linux-x86-64.so.2), which the guest's busybox-static root lacks. The rootfs step
  // refuses it, naming both, and writes no output.
  REQUIRE(run_shell("readelf -l /bin/true | grep -q '/lib64/ld-linux-x86-64.so.2'").exit_code == 0);
  write_text(work / "a/recipes/debian-bookworm-tdx/init", read_text("/bin/true"));
  REQUIRE(run_mrforge_cli({"lock", recipe_a}).exit_code == 0);
  ShellResult bad = run_mrforge_cli(
      {"build", "--frozen", "--offline", "--store", work / "store-a", recipe_a, "-o", work / "out-bad-init"});
  INFO(bad.err);
  CHECK(bad.exit_code == 2);
  CHECK(bad.err.find("the init /sbin/init needs the interpreter /lib64/ld-linux-x86-64.so.2, which is not a file in "
                     "the image") != std::string::npos);
  CHECK_FALSE(fs::exists(work / "out-bad-init"));
}

TEST_CASE("The guest image boots under QEMU and the firmware measures what the engine predicts",
          "[guest][network][qemu]") {
  REQUIRE(geteuid() == 0);
  TempDir work("guest-boot");
  std::string recipe = copy_guest_recipe(work / "src", false, "2020-01-01 00:00:00");
  std::string store = work / "store";
  fetch_or_relock(recipe, store);
  build_guest_json(recipe, store, work / "out");

  // measurements.json agrees with `mrforge measure` on the output directory: alone (it takes the
  // VM shape from measurements.json and generates the ACPI tables again), and with every input given
  // as options (the recipe's shape file for the tables).
  nlohmann::json shapes = parse_json(read_text(work / "out/measurements.json")).at("shapes");
  REQUIRE(shapes.size() == 1);
  CHECK(shapes[0].at("acpi").at("source") == "generated");
  std::vector<std::string> explicit_args{"measure",
                                         work / "out",
                                         "--json",
                                         "--profile",
                                         shapes[0].at("profile"),
                                         "--cpus",
                                         std::to_string(shapes[0].at("cpus").get<int>()),
                                         "--memory",
                                         std::to_string(shapes[0].at("memory_bytes").get<uint64_t>()),
                                         "--ovmf-variant",
                                         shapes[0].at("ovmf_variant"),
                                         "--shape",
                                         work / "src/recipes/debian-bookworm-tdx/dstack-lite-vm.yaml"};
  for (const std::vector<std::string> &margs :
       {std::vector<std::string>{"measure", work / "out", "--json"}, explicit_args}) {
    ShellResult m = run_mrforge_cli(margs);
    INFO(m.err);
    REQUIRE(m.exit_code == 0);
    nlohmann::json measured = parse_json(m.out);
    for (const char *reg : {"mrtd", "rtmr0", "rtmr1", "rtmr2"}) CHECK(measured.at(reg) == shapes[0].at(reg));
    REQUIRE(measured.at("events").size() == shapes[0].at("events").size());
    for (size_t i = 0; i < measured.at("events").size(); ++i)
      for (const char *field : {"register", "type", "description", "digest"})
        CHECK(measured.at("events")[i].at(field) == shapes[0].at("events")[i].at(field));
  }

  // The case: measure IMAGE_DIR with the platform's options but no variant. The firmware is
  // Debian's (its fingerprint names debian-bookworm-2022.11), so the profile's default variant
  // (edk2-stable202411) is not silently taken, and a contradicting one is refused.
  {
    ShellResult m = run_mrforge_cli(
        {"measure", work / "out", "--json", "--profile", "qemu-8.2-tdx", "--cpus", "2", "--memory", "2G"});
    INFO(m.err);
    REQUIRE(m.exit_code == 0);
    nlohmann::json measured = parse_json(m.out);
    for (const char *reg : {"mrtd", "rtmr0", "rtmr1", "rtmr2"}) CHECK(measured.at(reg) == shapes[0].at(reg));
    CHECK(measured.at("inputs").at("ovmf_variant_basis").get<std::string>().find("Debian bookworm ovmf") !=
          std::string::npos);
    CHECK_THAT(m.err, Catch::Contains("note: VM shape: measurements.json shapes[0] (profile qemu-8.2-tdx, 2 vCPUs, "
                                      "2 GiB, ACPI generated)") &&
                          Catch::Contains("note: options override the recorded shape: --profile, --cpus, --memory"));
    ShellResult wrong = run_mrforge_cli({"measure", work / "out", "--ovmf-variant", "edk2-stable202411"});
    CHECK(wrong.exit_code == 2);
    CHECK_THAT(wrong.err, Catch::Contains("--ovmf-variant: OVMF variant edk2-stable202411 contradicts the firmware: "
                                          "OVMF.fd") &&
                              Catch::Contains("which OVMF variant debian-bookworm-2022.11 describes"));
  }
  // verify takes the expected values from the output directory (--expected DIR) or computes them
  // from it (IMAGE_DIR); against a real dstack TD (another image) both name what differs.
  {
    const std::string quote = vector_path("dstack/tdx-lite-getquote.json");
    ShellResult expected = run_mrforge_cli({"verify", "--quote", quote, "--expected", work / "out"});
    CHECK(expected.exit_code == 4);
    CHECK_THAT(expected.out, Catch::Contains("RESULT: MISMATCH: MRTD, RTMR0, RTMR1, RTMR2 differ from the expected "
                                             "values of measurements.json shapes[0]; the event log replays"));
    ShellResult image = run_mrforge_cli({"verify", "--quote", quote, work / "out"});
    CHECK(image.exit_code == 4);
    CHECK_THAT(image.out, Catch::Contains("note: VM shape: measurements.json shapes[0]") &&
                              Catch::Contains("differ from the engine's prediction (profile qemu-8.2-tdx, OVMF "
                                              "variant debian-bookworm-2022.11, 2 vCPU, 2 GiB)"));
    ShellResult empty = run_mrforge_cli({"verify", "--quote", quote, "--expected", work / "src"});
    CHECK(empty.exit_code == 2);
    CHECK_THAT(empty.err, Catch::Contains("is a directory without measurements.json"));
  }

  // Boots to its ready line with the verity root mounted and the service answering, and every
  // image-dependent event the firmware and the EFI stub logged matches the engine, at 2 GiB and
  // 3 GiB (QEMU patches the kernel header with the initrd address, which depends on memory).
  for (const char *memory : {"2G", "3G"}) {
    ShellResult boot = run_mrforge_cli({"boot", work / "out", "--memory", memory, "--json"});
    INFO(memory << "\n" << boot.out << boot.err);
    CHECK(boot.exit_code == 0);
    nlohmann::json j = parse_json(boot.out);
    CHECK(j.at("ready").get<bool>());
    CHECK(j.at("ready_line").get<std::string>().find("reply=hello from the mrforge example guest") !=
          std::string::npos);
    CHECK(j.at("ready_line").get<std::string>().find("uid=1000") != std::string::npos);
  }

  // A second initrd size (zstd instead of gzip): a different patched header, still predicted.
  std::string text = read_text(recipe);
  size_t at = text.find("compression: {algorithm: gzip, level: 9}");
  REQUIRE(at != std::string::npos);
  text.replace(at, std::string("compression: {algorithm: gzip, level: 9}").size(),
               "compression: {algorithm: zstd, level: 19}");
  write_text(recipe, text);
  build_guest_json(recipe, store, work / "out-zstd");
  CHECK(fs::file_size(work / "out-zstd/initrd.img") != fs::file_size(work / "out/initrd.img"));
  ShellResult zboot = run_mrforge_cli({"boot", work / "out-zstd", "--memory", "2G"});
  INFO(zboot.out << zboot.err);
  CHECK(zboot.exit_code == 0);

  // One byte of the root file system flipped: verity refuses it and the check says so.
  fs::copy(work / "out", work / "out-bad", fs::copy_options::recursive);
  {
    std::fstream f(work / "out-bad/rootfs.img", std::ios::in | std::ios::out | std::ios::binary);
    f.seekg(1024 + 16); // inside the erofs superblock's block
    char c = 0;
    f.read(&c, 1);
    c = static_cast<char>(c ^ 0x01);
    f.seekp(1024 + 16);
    f.write(&c, 1);
  }
  ShellResult bad = run_mrforge_cli({"boot", work / "out-bad", "--memory", "2G"});
  INFO(bad.out << bad.err);
  CHECK(bad.exit_code == 4);
  CHECK((bad.out + bad.err).find("verity") != std::string::npos);
}
