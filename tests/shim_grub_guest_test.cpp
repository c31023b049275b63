// The bundled shim + GRUB guest, recipes/debian-bookworm-shim-grub.yaml: the bundled guest booted
// from a GPT disk whose ESP holds Debian's signed shim and GRUB, a grub.cfg, the kernel and the
// initrd. Built twice under different conditions it gives the same bytes; sgdisk and mtools find
// in disk.img exactly the files the build names; it boots under QEMU + OVMF + swtpm with every
// event shim and GRUB log as predicted; and with one byte of grub.cfg changed inside disk.img the
// boot check names exactly the events that cover it.
//
// Packages come from deb.debian.org ([network]), the kernel package from apt's cache when there.
#include "support/guest_fixture.hpp"
#include "test_support.hpp"

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include <filesystem>
#include <fstream>
#include <set>
#include <tuple>
#include <unistd.h>
#include <vector>

using namespace mrforge::test;
namespace fs = std::filesystem;

TEST_CASE("The shim-grub guest is byte-identical under different conditions, holds what it names, boots with every "
          "event predicted, and a changed grub.cfg byte is named",
          "[guest][network]") {
  REQUIRE(geteuid() == 0); // the root file system has owners (uid 1000)
  TempDir work("shim-grub-guest");
  const std::string name = "debian-bookworm-shim-grub";
  const std::string recipe_a = copy_guest_recipe(work / "a", false, "2001-02-03 04:05:06", name);
  const std::string recipe_b = copy_guest_recipe(work / "b/nested", true, "2024-12-24 18:00:00", name);
  fs::create_directories(work / "cwd");
  fetch_as(recipe_a, recipe_b, work / "store-b", fetch_or_relock(recipe_a, work / "store-a"));

  nlohmann::json a =
      build_guest_json(recipe_a, work / "store-a", work / "out-a",
                       "cd " + shell_quote(work / "cwd") + " && umask 022 && TZ=UTC LC_ALL=C", {"--threads", "1"});
  nlohmann::json b =
      build_guest_json(recipe_b, work / "store-b", work / "out-b",
                       "sleep 1 && cd / && umask 077 && TZ=Pacific/Chatham LC_ALL=C.UTF-8", {"--threads", "2"});
  for (const auto &s : a.at("steps")) CHECK_FALSE(s.at("cached").get<bool>()); // fresh store: every step ran
  CHECK(a.at("steps").back().at("step") == "shim-grub-disk");
  const auto da = file_digests(work / "out-a");
  CHECK(da == file_digests(work / "out-b"));
  CHECK(a.at("digest") == b.at("digest"));
  for (const char *f : {"disk.img", "shimx64.efi", "grubx64.efi", "grub.cfg"}) CHECK(da.count(f) == 1);
  CHECK(da.count("measurement.tdx.cbor") == 0); // dstack's file describes a direct boot
  CHECK(run_shell("cd " + shell_quote(work / "out-a") + " && sha256sum -c --quiet sha256sum.txt").exit_code == 0);

  // What the disk holds, read by tools other than mrforge; shim and GRUB are Debian's files.
  const std::string out = work / "out-a";
  const nlohmann::json meta = nlohmann::json::parse(read_text(out + "/metadata.json"));
  CHECK(meta.at("boot") == "shim-grub");
  const std::string cmdline = meta.at("cmdline");
  CHECK(cmdline.find(" mrforge.rootdev=/dev/vda2") != std::string::npos);
  CHECK(read_text(out + "/grub.cfg") == "linuxefi /vmlinuz " + cmdline + "\ninitrdefi /initrd.img\nboot\n");
  const nlohmann::json lock = nlohmann::json::parse(read_text(recipe_a + ".lock"));
  for (const auto &[package, path, file] : std::vector<std::tuple<std::string, std::string, std::string>>{
           {"shim-signed", "./usr/lib/shim/shimx64.efi.signed", "shimx64.efi"},
           {"grub-efi-amd64-signed", "./usr/lib/grub/x86_64-efi-signed/grubx64.efi.signed", "grubx64.efi"}}) {
    std::string sha;
    for (const auto &p : lock.at("packages"))
      if (p.at("name") == package) sha = p.at("sha256");
    REQUIRE_FALSE(sha.empty());
    CHECK(sh("dpkg-deb --fsys-tarfile " + shell_quote(work / ("store-a/sha256/" + sha)) + " | tar -xOf - " + path +
             " | sha256sum | cut -c1-64") == da.at(file) + "\n");
  }
  const std::string gpt = sh("sgdisk -p " + shell_quote(out + "/disk.img"));
  INFO(gpt);
  CHECK(gpt.find("EF00  ESP") != std::string::npos);
  CHECK(gpt.find("8304  root") != std::string::npos);
  const uint64_t esp = first_sector(out + "/disk.img", 1) * 512, root = first_sector(out + "/disk.img", 2) * 512;
  const std::string image = shell_quote(out + "/disk.img@@" + std::to_string(esp));
  for (const auto &[in_esp, file] :
       std::vector<std::pair<std::string, std::string>>{{"EFI/BOOT/BOOTX64.EFI", "shimx64.efi"},
                                                        {"EFI/BOOT/grubx64.efi", "grubx64.efi"},
                                                        {"EFI/debian/grub.cfg", "grub.cfg"},
                                                        {"vmlinuz", "vmlinuz"},
                                                        {"initrd.img", "initrd.img"}}) {
    sh("mcopy -n -i " + image + " ::/" + in_esp + " " + shell_quote(work / "copied"));
    CHECK(sha256sum_of(work / "copied") == da.at(file));
  }
  // shim would run its fallback (and reset) instead of GRUB with fbx64.efi beside it.
  CHECK(run_shell("mdir -i " + image + " ::/EFI/BOOT/fbx64.efi").exit_code != 0);
  CHECK(bytes_at(out + "/disk.img", root, fs::file_size(out + "/rootfs.img")) == read_text(out + "/rootfs.img"));

  // The TD prediction: shim measures (CC protocol), GRUB 2.06 cannot; and the same result from
  // the image directory.
  const nlohmann::json m = nlohmann::json::parse(read_text(out + "/measurements.json"));
  std::set<std::string> predicted;
  for (const auto &e : m.at("shapes").at(0).at("events")) predicted.insert(e.at("description").get<std::string>());
  CHECK(predicted.count("GPT of the boot disk (2 partitions)") == 1);
  CHECK(predicted.count("shim (PE Authenticode, SHA-384)") == 1);
  CHECK(predicted.count("GRUB (PE Authenticode, SHA-384)") == 1);
  CHECK(predicted.count("shim MokListTrusted") == 1);
  CHECK(predicted.count("GRUB command: boot") == 0);
  CHECK_THAT(m.at("shapes").at(0).at("inputs").at("not_measured").get<std::string>(),
             Catch::Contains("the kernel, its command line and the initrd"));
  ShellResult measured = run_mrforge_cli({"measure", out, "--json"});
  INFO(measured.err);
  REQUIRE(measured.exit_code == 0);
  const nlohmann::json mj = nlohmann::json::parse(measured.out);
  for (const char *r : {"rtmr0", "rtmr1", "rtmr2"}) CHECK(mj.at(r) == m.at("shapes").at(0).at(r));
  // GRUB reads the kernel from the disk: a supplied kernel digest would be used by no event.
  ShellResult supplied = run_mrforge_cli({"measure", out, "--digest", "kernel=" + std::string(96, '0')});
  CHECK(supplied.exit_code == 2);
  CHECK_THAT(supplied.err, Catch::Contains("--digest kernel") && Catch::Contains("would not be used"));

  // Booted: every firmware, shim and GRUB event as predicted.
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
  INFO(bj.at("checks").dump(1));
  CHECK(passed.count("shim (PE Authenticode, SHA-384) PCR4") == 1);
  CHECK(passed.count("shim SbatLevel (UEFI variable, 605dab50-e046-4300-abb6-3dd810dd8b23) PCR7") == 1);
  CHECK(passed.count("shim MokListTrusted PCR14") == 1);
  CHECK(passed.count("GRUB (PE Authenticode, SHA-384) PCR4") == 1);
  CHECK(passed.count("GRUB file (hd0,gpt1)/EFI/debian/grub.cfg (contents) PCR9") == 1);
  CHECK(passed.count("GRUB command: linuxefi /vmlinuz " + cmdline + " PCR8") == 1);
  CHECK(passed.count("GRUB file /vmlinuz (contents) PCR9") == 1);
  CHECK(passed.count("GRUB command: boot PCR8") == 1);

  // One byte of grub.cfg changed inside disk.img (panic=-1 -> panic=-2): the events covering it,
  // and only those, differ.
  const std::string tampered = work / "tampered";
  copy_with_cmdline_byte_changed(out, tampered, cmdline);
  ShellResult bad = run_mrforge_cli({"boot", tampered, "--json"});
  INFO(bad.out << bad.err);
  CHECK(bad.exit_code == 4);
  const nlohmann::json badj = nlohmann::json::parse(bad.out);
  CHECK(badj.at("ok") == false);
  CHECK(failed_events(badj) == std::set<std::string>{"GRUB file (hd0,gpt1)/EFI/debian/grub.cfg (contents)",
                                                     "GRUB command: linuxefi /vmlinuz " + cmdline,
                                                     "GRUB kernel command line: /vmlinuz " + cmdline});
}
