// The parts of a disk boot, checked against tools other than mrforge: the GPT disk image with its
// ESP (reproducible; sgdisk verifies and reads it, mtools reads the files back), the GPT event
// data OVMF hashes (the header as on disk, the used entries; damage refused), and the UKI
// assembler (sections objdump finds where and as the build put them; a signed stub refused).
#include "test_support.hpp"

#include <builder/boot/disk_image.hpp>
#include <builder/boot/uki_image.hpp>
#include <measure/formats/gpt.hpp>
#include <measure/formats/pe.hpp>
#include <measure/util/errors.hpp>

#include <catch2/catch.hpp>

#include <algorithm>
#include <filesystem>
#include <sstream>

using namespace mrforge;
using namespace mrforge::builder;
using namespace mrforge::test;
namespace fs = std::filesystem;

namespace {

std::string pattern(size_t n, unsigned seed) {
  std::string s(n, '\0');
  for (size_t i = 0; i < n; ++i) s[i] = static_cast<char>((i * 131 + seed * 7 + (i >> 9)) & 0xff);
  return s;
}

Bytes bytes_of(const std::string &s) { return Bytes(s.begin(), s.end()); }

std::string upper(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return static_cast<char>(std::toupper(c)); });
  return s;
}

} // namespace

TEST_CASE("A disk image is reproducible, sgdisk verifies its GPT, mtools reads its ESP, and its GPT event is the "
          "table on disk",
          "[disk]") {
  TempDir dir("disk");
  write_text(dir / "boot.efi", pattern(300000, 1));
  write_text(dir / "grub.cfg", "set timeout=0\n");
  write_text(dir / "root.img", pattern(3 << 20, 2));
  DiskImageSettings s;
  s.seed = "test/1";
  s.source_date_epoch = 1700000000;
  s.esp_files = {{"EFI/debian/grub.cfg", dir / "grub.cfg"}, {"EFI/BOOT/BOOTX64.EFI", dir / "boot.efi"}};
  s.root_image = dir / "root.img";
  s.scratch_dir = dir.path();
  DiskImageResult r = write_disk_image(s, dir / "a.img");
  sh("sleep 1");
  write_disk_image(s, dir / "b.img");
  CHECK(sha256sum_of(dir / "a.img") == sha256sum_of(dir / "b.img"));
  CHECK(r.esp_offset == (1u << 20));
  CHECK(r.esp_size == (64u << 20));
  CHECK(r.root_offset == r.esp_offset + r.esp_size);
  CHECK(r.root_size == (3u << 20));
  CHECK(fs::file_size(dir / "a.img") == r.disk_size);
  CHECK(r.tools.rfind("sgdisk ", 0) == 0);

  CHECK_THAT(sh("sgdisk -v " + shell_quote(dir / "a.img")), Catch::Contains("No problems found"));
  const std::string p2 = sh("sgdisk -i 2 " + shell_quote(dir / "a.img"));
  CHECK_THAT(p2, Catch::Contains("Partition unique GUID: " + upper(r.root_guid)));
  CHECK_THAT(p2, Catch::Contains("First sector: " + std::to_string(r.root_offset / 512)));
  CHECK_THAT(sh("sgdisk -p " + shell_quote(dir / "a.img")),
             Catch::Contains("Disk identifier (GUID): " + upper(r.disk_guid)));
  const std::string esp = shell_quote(dir / "a.img") + "@@" + std::to_string(r.esp_offset);
  sh("mcopy -n -i " + esp + " ::/EFI/BOOT/BOOTX64.EFI " + shell_quote(dir / "back.efi"));
  CHECK(read_text(dir / "back.efi") == read_text(dir / "boot.efi"));
  CHECK(sh("mtype -i " + esp + " ::/EFI/debian/grub.cfg") == "set timeout=0\n");
  CHECK_THAT(sh("minfo -i " + esp), Catch::Contains("serial number: " + upper(r.esp_volume_id)));
  const std::string disk = read_text(dir / "a.img");
  CHECK(disk.substr(r.root_offset, 3 << 20) == read_text(dir / "root.img"));

  // UEFI_GPT_DATA: the header as on disk, the count, the two used entries of the table.
  Bytes image = bytes_of(disk);
  GptTable gpt = read_gpt(image, "a.img");
  CHECK(gpt.partitions == 2);
  REQUIRE(gpt.event_data.size() == 92 + 8 + 2 * 128);
  CHECK(std::string(gpt.event_data.begin(), gpt.event_data.begin() + 92) == disk.substr(512, 92));
  CHECK(std::string(gpt.event_data.begin() + 100, gpt.event_data.end()) == disk.substr(1024, 256));
  // A damaged entry (or header) is refused, as OVMF refuses to measure it.
  Bytes damaged = image;
  damaged[1024 + 40] ^= 1;
  CHECK_THAT(error_message([&] { read_gpt(damaged, "d.img"); }), Catch::Contains("entry array CRC32 does not match"));
  damaged = image;
  damaged[512 + 40] ^= 1;
  CHECK_THAT(error_message([&] { read_gpt(damaged, "d.img"); }), Catch::Contains("header CRC32 does not match"));
  CHECK_THAT(error_message([&] { read_gpt(Bytes(4096, 0), "zero.img"); }), Catch::Contains("no GPT"));
  // Cut short: before the header, and inside the entry array.
  CHECK_THAT(error_message([&] { read_gpt(Bytes(image.begin(), image.begin() + 600), "cut.img"); }),
             Catch::Contains("cut.img"));
  CHECK_THAT(error_message([&] { read_gpt(Bytes(image.begin(), image.begin() + 2048), "cut.img"); }),
             Catch::Contains("the GPT entry array lies outside the image"));

  // Bad ESP paths are refused before anything is written.
  for (const char *bad : {"../x", "EFI//x", "EFI/BOOT/", "EFI/BO OT/x", ""}) {
    INFO(bad);
    DiskImageSettings b = s;
    b.esp_files = {{bad, dir / "grub.cfg"}};
    CHECK_THROWS_AS(write_disk_image(b, dir / "bad.img"), InputError);
  }
  CHECK_FALSE(fs::exists(dir / "bad.img"));
}

TEST_CASE("The ESP grows past its 64 MiB minimum with its content, deterministically", "[disk]") {
  // shim-grub's ESP holds the kernel and initrd besides the loaders; a big initrd must still fit.
  TempDir dir("disk-grow");
  const std::string big = pattern(70u << 20, 3);
  write_text(dir / "initrd.img", big);
  write_text(dir / "grub.cfg", "boot\n");
  DiskImageSettings s;
  s.seed = "test/grow";
  s.source_date_epoch = 1700000000;
  s.esp_files = {{"initrd.img", dir / "initrd.img"},
                 {"EFI/debian/grub.cfg", dir / "grub.cfg"},
                 {"EFI/BOOT/grubx64.efi", dir / "grub.cfg"}};
  s.scratch_dir = dir.path();
  DiskImageResult r = write_disk_image(s, dir / "a.img");
  // 70 MiB of content, plus a sixteenth and 4 MiB for the FAT and directories, in whole MiB.
  CHECK(r.esp_size == (79u << 20));
  CHECK(r.root_size == 0);
  write_disk_image(s, dir / "b.img");
  CHECK(sha256sum_of(dir / "a.img") == sha256sum_of(dir / "b.img"));
  CHECK_THAT(sh("sgdisk -v " + shell_quote(dir / "a.img")), Catch::Contains("No problems found"));
  const std::string esp = shell_quote(dir / "a.img") + "@@" + std::to_string(r.esp_offset);
  sh("mcopy -n -i " + esp + " ::/initrd.img " + shell_quote(dir / "back.img"));
  CHECK(read_text(dir / "back.img") == big);
  CHECK(sh("mtype -i " + esp + " ::/EFI/BOOT/grubx64.efi") == "boot\n");
  CHECK(sh("mtype -i " + esp + " ::/EFI/debian/grub.cfg") == "boot\n");
}

TEST_CASE("The UKI assembler appends sections where objdump finds them and refuses a signed stub", "[uki]") {
  std::string kernel;
  for (const auto &e : fs::directory_iterator("/boot"))
    if (e.path().filename().string().rfind("vmlinuz-", 0) == 0) kernel = e.path().string();
  REQUIRE_FALSE(kernel.empty()); // CI installs linux-image-6.12-amd64 (.ci/packages.txt)
  const std::string signed_text = read_text(kernel);
  const Bytes signed_kernel = bytes_of(signed_text);
  // Debian's kernel is signed: appending would break its signature.
  CHECK_THAT(error_message([&] {
               assemble_uki(signed_kernel, "vmlinuz", {{".cmdline", ByteView::of("x")}});
             }),
             Catch::Contains("the stub is signed"));

  // Debian's systemd-stub (systemd-boot-efi, .ci/packages.txt) takes the sections, after its own.
  const std::string stub_path = "/usr/lib/systemd/boot/efi/linuxx64.efi.stub";
  REQUIRE(fs::exists(stub_path));
  const Bytes stub = bytes_of(read_text(stub_path));
  PeImage pe = parse_pe(stub, "linuxx64.efi.stub");
  // The checksum routine gives what the stub's own linker wrote into its header.
  uint32_t stored = 0;
  for (size_t i = 0; i < 4; ++i) stored |= static_cast<uint32_t>(stub[pe.checksum_offset + i]) << (8 * i);
  CHECK(stored != 0);
  CHECK(pe_checksum(stub, pe.checksum_offset) == stored);
  TempDir dir("uki");
  const std::string cmdline = "console=ttyS0 root=/dev/vda2";
  const std::string osrel = pattern(5000, 3);
  Bytes uki =
      assemble_uki(stub, "linuxx64.efi.stub", {{".osrel", ByteView::of(osrel)}, {".cmdline", ByteView::of(cmdline)}});
  write_file(dir / "uki.efi", std::string(uki.begin(), uki.end()));
  PeImage out = parse_pe(uki, "uki.efi");
  CHECK(out.sections.size() == pe.sections.size() + 2);
  CHECK(out.size_of_image % 4096 == 0);
  std::map<std::string, std::pair<uint64_t, uint64_t>> found = objdump_sections(dir / "uki.efi");
  REQUIRE(found.count(".cmdline") == 1);
  REQUIRE(found.count(".osrel") == 1);
  const std::string text(uki.begin(), uki.end());
  CHECK(text.substr(found[".cmdline"].second, found[".cmdline"].first) == cmdline);
  CHECK(text.substr(found[".osrel"].second, found[".osrel"].first) == osrel);
  CHECK(found[".osrel"].second > pe.sections.back().raw_offset); // after the stub's own sections
  // The stub's sections are kept byte for byte; its COFF symbol table (after them) is not.
  const uint64_t stub_end = pe.sections.back().raw_offset + pe.sections.back().raw_size;
  CHECK(text.substr(pe.size_of_headers, stub_end - pe.size_of_headers) ==
        std::string(stub.begin() + pe.size_of_headers, stub.begin() + static_cast<long>(stub_end)));
  CHECK_THAT(sh("objdump -t " + shell_quote(dir / "uki.efi") + " 2>&1"), Catch::Contains("no symbols"));
  // Names are checked; a section already there is refused.
  CHECK_THROWS_AS(assemble_uki(stub, "s", {{"linux", ByteView::of("x")}}), InputError);
  CHECK_THAT(error_message([&] {
               assemble_uki(uki, "uki.efi", {{".cmdline", ByteView::of("x")}});
             }),
             Catch::Contains("already has a .cmdline section"));
}
