// The bundled UKI guest, recipes/debian-bookworm-uki.yaml: the bundled guest booted from a GPT
// disk whose ESP holds a Unified Kernel Image. Built twice under different conditions it gives
// the same bytes; independent tools (sgdisk, mtools, objdump) find in disk.img and uki.efi exactly
// the parts the build names; it boots under QEMU + OVMF + swtpm with every measured event as
// predicted; and with one byte of the UKI's .cmdline changed inside disk.img the boot check names
// exactly the events that cover it.
//
// Packages come from deb.debian.org ([network]), the kernel package from apt's cache when there.
#include "support/guest_fixture.hpp"
#include "test_support.hpp"

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>
#include <unistd.h>

using namespace mrforge::test;
namespace fs = std::filesystem;

TEST_CASE("The UKI guest is byte-identical under different conditions, holds what it names, boots with every event "
          "predicted, and a changed .cmdline byte is named",
          "[guest][network]") {
  REQUIRE(geteuid() == 0); // the root file system has owners (uid 1000)
  TempDir work("uki-guest");
  const std::string recipe_a = copy_guest_recipe(work / "a", false, "2001-02-03 04:05:06", "debian-bookworm-uki");
  const std::string recipe_b = copy_guest_recipe(work / "b/nested", true, "2024-12-24 18:00:00", "debian-bookworm-uki");
  fs::create_directories(work / "cwd");
  fetch_as(recipe_a, recipe_b, work / "store-b", fetch_or_relock(recipe_a, work / "store-a"));

  nlohmann::json a =
      build_guest_json(recipe_a, work / "store-a", work / "out-a",
                       "cd " + shell_quote(work / "cwd") + " && umask 022 && TZ=UTC LC_ALL=C", {"--threads", "1"});
  nlohmann::json b =
      build_guest_json(recipe_b, work / "store-b", work / "out-b",
                       "sleep 1 && cd / && umask 077 && TZ=Pacific/Chatham LC_ALL=C.UTF-8", {"--threads", "2"});
  for (const auto &s : a.at("steps")) CHECK_FALSE(s.at("cached").get<bool>()); // fresh store: every step ran
  CHECK(a.at("steps").back().at("step") == "uki-disk");
  const auto da = file_digests(work / "out-a");
  CHECK(da == file_digests(work / "out-b"));
  CHECK(a.at("digest") == b.at("digest"));
  CHECK(da.count("disk.img") == 1);
  CHECK(da.count("uki.efi") == 1);
  CHECK(da.count("measurement.tdx.cbor") == 0); // dstack's file describes a direct boot
  CHECK(run_shell("cd " + shell_quote(work / "out-a") + " && sha256sum -c --quiet sha256sum.txt").exit_code == 0);

  // What the disk and the UKI hold, read by tools other than mrforge.
  const std::string out = work / "out-a";
  const nlohmann::json meta = nlohmann::json::parse(read_text(out + "/metadata.json"));
  CHECK(meta.at("boot") == "uki");
  const std::string cmdline = meta.at("cmdline");
  CHECK(cmdline.find(" mrforge.rootdev=/dev/vda2") != std::string::npos);
  std::map<std::string, std::pair<uint64_t, uint64_t>> sections = objdump_sections(out + "/uki.efi");
  REQUIRE(sections.count(".cmdline") == 1);
  REQUIRE(sections.count(".linux") == 1);
  REQUIRE(sections.count(".initrd") == 1);
  REQUIRE(sections.count(".osrel") == 1);
  CHECK(sections.count(".uname") == 0); // systemd-stub 252 does not know it
  auto section = [&](const char *name) {
    return bytes_at(out + "/uki.efi", sections[name].second, sections[name].first);
  };
  CHECK(section(".cmdline") == cmdline);
  CHECK(section(".linux") == read_text(out + "/vmlinuz"));
  CHECK(section(".initrd") == read_text(out + "/initrd.img"));
  CHECK(section(".osrel") == "ID=debian-bookworm-uki\nVERSION_ID=0.1.0\nPRETTY_NAME=\"debian-bookworm-uki 0.1.0\"\n");
  const std::string gpt = sh("sgdisk -p " + shell_quote(out + "/disk.img"));
  INFO(gpt);
  CHECK(gpt.find("EF00  ESP") != std::string::npos);
  CHECK(gpt.find("8304  root") != std::string::npos);
  const uint64_t esp = first_sector(out + "/disk.img", 1) * 512, root = first_sector(out + "/disk.img", 2) * 512;
  sh("mcopy -n -i " + shell_quote(out + "/disk.img@@" + std::to_string(esp)) + " ::/EFI/BOOT/BOOTX64.EFI " +
     shell_quote(work / "bootx64.efi"));
  CHECK(sha256sum_of(work / "bootx64.efi") == da.at("uki.efi"));
  CHECK(bytes_at(out + "/disk.img", root, fs::file_size(out + "/rootfs.img")) == read_text(out + "/rootfs.img"));

  // The TD prediction: the disk boot's events, and the same result from the image directory.
  const nlohmann::json m = nlohmann::json::parse(read_text(out + "/measurements.json"));
  std::set<std::string> predicted;
  for (const auto &e : m.at("shapes").at(0).at("events")) predicted.insert(e.at("description").get<std::string>());
  CHECK(predicted.count("GPT of the boot disk (2 partitions)") == 1);
  CHECK(predicted.count("UKI (PE Authenticode, SHA-384)") == 1);
  CHECK(predicted.count("UKI section .cmdline (name)") == 0); // systemd-stub 252 cannot measure in a TD
  ShellResult measured = run_mrforge_cli({"measure", out, "--json"});
  INFO(measured.err);
  REQUIRE(measured.exit_code == 0);
  const nlohmann::json mj = nlohmann::json::parse(measured.out);
  CHECK(mj.at("rtmr2") == m.at("shapes").at(0).at("rtmr2"));

  // Booted: every firmware and stub event as predicted.
  ShellResult boot = run_mrforge_cli({"boot", out, "--json"});
  INFO(boot.out << boot.err);
  CHECK(boot.exit_code == 0);
  const nlohmann::json bj = nlohmann::json::parse(boot.out);
  CHECK(bj.at("ok") == true);
  CHECK(bj.at("ready_line") == "service=httpd uid=1000 reply=hello from the mrforge example guest");
  CHECK(failed_events(bj).empty());
  std::set<std::string> passed;
  for (const auto &c : bj.at("checks"))
    if (c.at("status") == "pass") passed.insert(c.at("what").get<std::string>() + " PCR" + c.at("pcr").dump());
  CHECK(passed.count("GPT of the boot disk (2 partitions) PCR5") == 1);
  CHECK(passed.count("UKI (PE Authenticode, SHA-384) PCR4") == 1);
  CHECK(passed.count("UKI section .cmdline (contents, " + std::to_string(cmdline.size()) + " bytes) PCR11") == 1);
  CHECK(passed.count("kernel command line (LoadOptions) PCR9") == 1);

  // One byte of the UKI's .cmdline changed inside disk.img (panic=-1 -> panic=-2): the events
  // covering it, and only those, differ.
  const std::string tampered = work / "tampered";
  copy_with_cmdline_byte_changed(out, tampered, cmdline);
  ShellResult bad = run_mrforge_cli({"boot", tampered, "--json"});
  INFO(bad.out << bad.err);
  CHECK(bad.exit_code == 4);
  const nlohmann::json badj = nlohmann::json::parse(bad.out);
  CHECK(badj.at("ok") == false);
  CHECK(failed_events(badj) ==
        std::set<std::string>{"UKI (PE Authenticode, SHA-384)",
                              "UKI section .cmdline (contents, " + std::to_string(cmdline.size()) + " bytes)",
                              "kernel command line (LoadOptions)"});
}
