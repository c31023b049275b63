#include "test_support.hpp"

#include <measure/formats/setup_header.hpp>
#include <measure/util/errors.hpp>

#include <catch2/catch.hpp>

#include <random>
#include <set>
#include <string>

using namespace mrforge;

namespace {

constexpr uint64_t k_mib = 1024 * 1024;

uint16_t le16(const Bytes &b, size_t pos) { return static_cast<uint16_t>(b.at(pos) | b.at(pos + 1) << 8); }
uint32_t le32(const Bytes &b, size_t pos) {
  return uint32_t{b.at(pos)} | uint32_t{b.at(pos + 1)} << 8 | uint32_t{b.at(pos + 2)} << 16 |
         uint32_t{b.at(pos + 3)} << 24;
}
void put16(Bytes &b, size_t pos, uint16_t v) {
  b.at(pos) = static_cast<uint8_t>(v);
  b.at(pos + 1) = static_cast<uint8_t>(v >> 8);
}
void put32(Bytes &b, size_t pos, uint32_t v) {
  for (size_t i = 0; i < 4; ++i) b.at(pos + i) = static_cast<uint8_t>(v >> (8 * i));
}

// Bytes that may differ between a kernel and its patched copy: vid_mode, type_of_loader,
// loadflags, ramdisk_image, ramdisk_size, heap_end_ptr, cmd_line_ptr (and 0x20..0x23 for the old
// command-line protocol).
std::set<size_t> patchable() {
  std::set<size_t> s;
  for (size_t p : {0x1FAu, 0x1FBu, 0x210u, 0x211u, 0x224u, 0x225u, 0x20u, 0x21u, 0x22u, 0x23u}) s.insert(p);
  for (size_t p = 0x218; p < 0x220; ++p) s.insert(p);
  for (size_t p = 0x228; p < 0x22C; ++p) s.insert(p);
  return s;
}

void check_only_patchable_bytes_differ(const Bytes &a, const Bytes &b) {
  REQUIRE(a.size() == b.size());
  const std::set<size_t> allowed = patchable();
  size_t stray = 0;
  for (size_t i = 0; i < a.size(); ++i)
    if (a[i] != b[i] && allowed.count(i) == 0) ++stray;
  CHECK(stray == 0);
}

// A synthetic bzImage header: setup_sects 1 (1 KiB setup area) + 1 KiB "kernel", "HdrS",
// the given protocol, LOADED_HIGH, initrd_addr_max 0x7FFFFFFF, boot_flag 0xAA55, a version string.
Bytes synthetic_bzimage(uint16_t protocol, uint16_t xloadflags = 0) {
  Bytes b(2048, 0);
  b[0x1F1] = 1;
  put16(b, 0x1FA, 0xFFFF);
  put16(b, 0x1FE, 0xAA55);
  b[0x202] = 'H';
  b[0x203] = 'd';
  b[0x204] = 'r';
  b[0x205] = 'S';
  put16(b, 0x206, protocol);
  put16(b, 0x20E, 0x100); // version string at 0x300
  const std::string version = "1.2.3-test";
  for (size_t i = 0; i < version.size(); ++i) b[0x300 + i] = static_cast<uint8_t>(version[i]);
  b[0x211] = 0x01;
  put32(b, 0x22C, 0x7FFFFFFF);
  put16(b, 0x236, xloadflags);
  return b;
}

QemuPatchInput input(uint64_t memory, std::optional<uint64_t> initrd, std::string cmdline = "console=ttyS0") {
  QemuPatchInput in;
  in.memory_bytes = memory;
  in.initrd_size = initrd;
  in.cmdline = std::move(cmdline);
  return in;
}

} // namespace

TEST_CASE("Debian's 6.12 kernel has a modern setup header that allows an initrd above 4 GiB", "[setup_header]") {
  const Bytes k = test::read(test::debian_kernel_612());
  const SetupHeader h = parse_setup_header(k, "vmlinuz");
  CHECK(h.protocol >= 0x20c);
  CHECK((h.xloadflags & 0x2) != 0); // XLF_CAN_BE_LOADED_ABOVE_4G, bit 1
  CHECK(h.can_be_loaded_above_4g());
  CHECK((h.loadflags & 0x01) != 0);
  CHECK(h.boot_flag == 0xAA55);
  CHECK(h.setup_size == (uint32_t{h.setup_sects} + 1) * 512);
  CHECK(h.initrd_addr_max == 0x7FFFFFFF); // ignored by QEMU because of XLF_CAN_BE_LOADED_ABOVE_4G
  CHECK(h.relocatable_kernel == 1);
  CHECK(h.kernel_alignment == 0x200000);
  CHECK(h.cmdline_size == 0x7FF);
  CHECK(h.pref_address == 0x1000000);
  CHECK(h.init_size > 0);
  CHECK(h.handover_offset > 0);
  CHECK(h.type_of_loader == 0);
  CHECK(h.kernel_version.rfind("6.12", 0) == 0);
}

TEST_CASE("QEMU's patch of Debian's kernel with an initrd follows the doc's rules at 2 GiB, 2560 MiB and 4 GiB",
          "[setup_header]") {
  const Bytes k = test::read(test::debian_kernel_612());
  const SetupHeader h = parse_setup_header(k, "vmlinuz");
  const uint64_t initrd = 0x1234567;
  // By hand, from the doc's rules (acpi_data_size 0x28000, q35 split at 0xB0000000):
  //   initrd_max starts at 0xFFFFFFFF (protocol >= 0x20c and XLF_CAN_BE_LOADED_ABOVE_4G).
  //   2 GiB:    lowmem 0x80000000; min(0xFFFFFFFF, 0x80000000 - 0x28000 - 1) = 0x7FFD7FFF;
  //             ramdisk_image = (0x7FFD7FFF - 0x1234567) & ~0xFFF = 0x7EDA3A98 & ~0xFFF = 0x7EDA3000.
  //   2560 MiB: lowmem 0xA0000000; initrd_max 0x9FFD7FFF; ramdisk_image 0x9EDA3A98 & ~0xFFF = 0x9EDA3000.
  //   4 GiB:    >= 0xB0000000, lowmem 0x80000000: as 2 GiB.
  struct Case {
    uint64_t memory;
    uint32_t initrd_max, ramdisk_image;
  };
  for (const Case &c : {Case{2048 * k_mib, 0x7FFD7FFF, 0x7EDA3000}, Case{2560 * k_mib, 0x9FFD7FFF, 0x9EDA3000},
                        Case{4096 * k_mib, 0x7FFD7FFF, 0x7EDA3000}}) {
    INFO("memory " << (c.memory >> 20) << " MiB");
    const QemuSetupPatch p = qemu_setup_patch(h, input(c.memory, initrd));
    CHECK(p.initrd_max == c.initrd_max);
    const Bytes patched = qemu_patched_kernel(k, h, input(c.memory, initrd));
    CHECK(patched[0x210] == 0xB0);                  // type_of_loader
    CHECK(patched[0x211] == (k[0x211] | 0x80));     // loadflags |= CAN_USE_HEAP
    CHECK(le16(patched, 0x224) == 0xFE00);          // heap_end_ptr = 0x20000 - 0x10000 - 0x200
    CHECK(le32(patched, 0x228) == 0x20000);         // cmd_line_ptr
    CHECK(le32(patched, 0x218) == c.ramdisk_image); // ramdisk_image
    CHECK(le32(patched, 0x21C) == initrd);          // ramdisk_size
    CHECK(le16(patched, 0x1FA) == le16(k, 0x1FA));  // no vga=: vid_mode untouched
    check_only_patchable_bytes_differ(k, patched);
  }
}

TEST_CASE("Without an initrd QEMU leaves the ramdisk fields alone", "[setup_header]") {
  const Bytes k = test::read(test::debian_kernel_612());
  const SetupHeader h = parse_setup_header(k, "vmlinuz");
  const Bytes patched = qemu_patched_kernel(k, h, input(2048 * k_mib, std::nullopt));
  CHECK(le32(patched, 0x218) == le32(k, 0x218));
  CHECK(le32(patched, 0x21C) == le32(k, 0x21C));
  CHECK(patched[0x210] == 0xB0);
  CHECK(le32(patched, 0x228) == 0x20000);
  check_only_patchable_bytes_differ(k, patched);
  CHECK_FALSE(qemu_setup_patch(h, input(2048 * k_mib, std::nullopt)).ramdisk_image);
}

TEST_CASE("An initrd that does not fit below initrd_max is an input error, as QEMU refuses it", "[setup_header]") {
  const Bytes k = test::read(test::debian_kernel_612());
  const SetupHeader h = parse_setup_header(k, "vmlinuz");
  // 2 GiB: initrd_max 0x7FFD7FFF; QEMU errors when initrd_size >= initrd_max.
  CHECK_THROWS_AS(qemu_patched_kernel(k, h, input(2048 * k_mib, 0x7FFD7FFF)), InputError);
  CHECK_THROWS_WITH(qemu_setup_patch(h, input(2048 * k_mib, 0x80000000)), Catch::Contains("initrd is too large"));
  // One byte less fits: ramdisk_image = (0x7FFD7FFF - 0x7FFD7FFE) & ~0xFFF = 0.
  CHECK(*qemu_setup_patch(h, input(2048 * k_mib, 0x7FFD7FFE)).ramdisk_image == 0);
  // RAM that does not even hold QEMU's ACPI data.
  CHECK_THROWS_AS(qemu_setup_patch(h, input(0x28000, std::nullopt)), InputError);
}

TEST_CASE("vga= on the command line sets vid_mode the way QEMU parses it", "[setup_header]") {
  CHECK_FALSE(qemu_vga_mode("console=ttyS0 quiet"));
  CHECK(*qemu_vga_mode("vga=normal") == 0xFFFF);
  CHECK(*qemu_vga_mode("vga=ext") == 0xFFFE);
  CHECK(*qemu_vga_mode("vga=ask") == 0xFFFD);
  CHECK(*qemu_vga_mode("vga=normalish") == 0xFFFF); // QEMU compares prefixes (strncmp)
  CHECK(*qemu_vga_mode("console=ttyS0 vga=791 quiet") == 791);
  CHECK(*qemu_vga_mode("vga=0x317") == 0x317);
  CHECK(*qemu_vga_mode("vga=0317") == 0317); // strtoul base 0: leading 0 is octal
  CHECK(*qemu_vga_mode("vga=0") == 0);
  CHECK(*qemu_vga_mode("vga=0x12345") == 0x2345); // stw_le_p keeps the low 16 bits
  CHECK(*qemu_vga_mode("xvga=5") == 5);           // QEMU uses strstr: any "vga=" counts
  CHECK(*qemu_vga_mode("vga=7 vga=9") == 7);      // the first one wins
  for (const char *bad : {"vga=", "vga=foo", "vga=791x", "vga=08", "vga=0x", "vga=99999999999", "vga=1,2"}) {
    INFO(bad);
    CHECK_THROWS_AS(qemu_vga_mode(bad), InputError);
  }
  CHECK_THROWS_WITH(qemu_vga_mode("vga=-1"), Catch::Contains("negative"));

  const Bytes k = test::read(test::debian_kernel_612());
  const SetupHeader h = parse_setup_header(k, "vmlinuz");
  const Bytes ext = qemu_patched_kernel(k, h, input(2048 * k_mib, std::nullopt, "vga=ext"));
  CHECK(le16(ext, 0x1FA) == 0xFFFE);
  const Bytes mode = qemu_patched_kernel(k, h, input(2048 * k_mib, std::nullopt, "root=/dev/vda vga=0x31a"));
  CHECK(le16(mode, 0x1FA) == 0x31A);
  check_only_patchable_bytes_differ(k, mode);
  CHECK_THROWS_AS(qemu_patched_kernel(k, h, input(2048 * k_mib, std::nullopt, "vga=bogus")), InputError);
  CHECK_THROWS_AS(qemu_patched_kernel(k, h, input(2048 * k_mib, std::nullopt, std::string("a\0b", 3))), InputError);
}

TEST_CASE("initrd_max comes from initrd_addr_max or 0x37FFFFFF on kernels without XLF_CAN_BE_LOADED_ABOVE_4G",
          "[setup_header]") {
  SECTION("protocol 2.12 with the flag clear: initrd_addr_max 0x7FFFFFFF, capped by RAM") {
    const Bytes b = synthetic_bzimage(0x20c, 0);
    const SetupHeader h = parse_setup_header(b, "bz");
    CHECK_FALSE(h.can_be_loaded_above_4g());
    // 4 GiB: min(0x7FFFFFFF, 0x80000000 - 0x28000 - 1) = 0x7FFD7FFF.
    CHECK(qemu_setup_patch(h, input(4096 * k_mib, 1)).initrd_max == 0x7FFD7FFF);
    // 1 GiB: 0x40000000 - 0x28000 - 1 = 0x3FFD7FFF.
    CHECK(qemu_setup_patch(h, input(1024 * k_mib, 1)).initrd_max == 0x3FFD7FFF);
  }
  SECTION("protocol 2.12 with the flag set (bit 1): 0xFFFFFFFF before the RAM cap") {
    const Bytes b = synthetic_bzimage(0x20c, 0x0002);
    CHECK(qemu_setup_patch(parse_setup_header(b, "bz"), input(2560 * k_mib, 1)).initrd_max == 0x9FFD7FFF);
  }
  SECTION("protocol 2.11 ignores xloadflags") {
    const Bytes b = synthetic_bzimage(0x20b, 0x0002);
    CHECK(qemu_setup_patch(parse_setup_header(b, "bz"), input(2560 * k_mib, 1)).initrd_max == 0x7FFFFFFF);
  }
  SECTION("protocol 2.02 has no initrd_addr_max: 0x37FFFFFF") {
    const Bytes b = synthetic_bzimage(0x202);
    const QemuSetupPatch p = qemu_setup_patch(parse_setup_header(b, "bz"), input(2048 * k_mib, 0x1000));
    CHECK(p.initrd_max == 0x37FFFFFF);
    CHECK(*p.ramdisk_image == ((0x37FFFFFFu - 0x1000u) & ~0xFFFu)); // 0x37FFE000
    CHECK(*p.cmd_line_ptr == 0x20000);
  }
}

TEST_CASE("Protocol 2.00 and 2.01 kernels get QEMU's old command-line protocol below 0x9A000", "[setup_header]") {
  // cmdline "abc": cmdline_size = (3 + 16) & ~15 = 16; cmdline_addr = 0x9A000 - 16 = 0x99FF0;
  // real_addr 0x90000: old offset 0x9FF0; heap_end_ptr (2.01+) = 0x9FF0 - 0x200 = 0x9DF0.
  const Bytes b201 = synthetic_bzimage(0x201);
  const SetupHeader h201 = parse_setup_header(b201, "bz");
  const Bytes p201 = qemu_patched_kernel(b201, h201, input(512 * k_mib, std::nullopt, "abc"));
  CHECK(le16(p201, 0x20) == 0xA33F);
  CHECK(le16(p201, 0x22) == 0x9FF0);
  CHECK(le16(p201, 0x224) == 0x9DF0);
  CHECK(p201[0x211] == 0x81);
  CHECK(le32(p201, 0x228) == 0); // not written before 2.02
  CHECK(p201[0x210] == 0xB0);

  const Bytes b200 = synthetic_bzimage(0x200);
  const Bytes p200 = qemu_patched_kernel(b200, parse_setup_header(b200, "bz"), input(512 * k_mib, std::nullopt, "abc"));
  CHECK(p200[0x211] == 0x01); // no heap before 2.01
  CHECK(le16(p200, 0x224) == 0);
  CHECK(le16(p200, 0x22) == 0x9FF0);
}

TEST_CASE("A synthetic header parses its fields and version string", "[setup_header]") {
  const Bytes b = synthetic_bzimage(0x20f, 0x0003);
  const SetupHeader h = parse_setup_header(b, "bz");
  CHECK(h.protocol == 0x20f);
  CHECK(h.setup_sects == 1);
  CHECK(h.setup_size == 1024);
  CHECK(h.kernel_version == "1.2.3-test");
  CHECK(h.xloadflags == 3);
  CHECK(h.vid_mode == 0xFFFF);
}

TEST_CASE("Kernels that are not bzImages are rejected with a clear format error", "[setup_header]") {
  auto expect = [](const Bytes &b, const std::string &text) {
    try {
      parse_setup_header(b, "kernel");
      FAIL("accepted; expected " << text);
    } catch (const FormatError &e) {
      INFO(e.what());
      CHECK(e.source() == "kernel");
      CHECK(std::string(e.what()).find(text) != std::string::npos);
    }
  };
  SECTION("an ELF vmlinux") {
    Bytes elf(4096, 0);
    elf[0] = 0x7F;
    elf[1] = 'E';
    elf[2] = 'L';
    elf[3] = 'F';
    expect(elf, "not a bzImage: no \"HdrS\"");
  }
  SECTION("a PE image without a setup header (the UKI)") {
    expect(test::read(test::vector_path("flashbots-measured-boot/uki.efi")), "not a bzImage");
  }
  SECTION("random bytes") {
    std::mt19937 rng(7);
    Bytes junk(4096);
    for (auto &x : junk) x = static_cast<uint8_t>(rng());
    expect(junk, "not a bzImage");
  }
  SECTION("boot protocol 1.x") {
    Bytes b = synthetic_bzimage(0x1ff);
    expect(b, "predates 2.00");
  }
  SECTION("LOADED_HIGH clear (zImage)") {
    Bytes b = synthetic_bzimage(0x20f);
    b[0x211] = 0;
    expect(b, "LOADED_HIGH is clear");
  }
  SECTION("a setup area larger than the file") {
    Bytes b = synthetic_bzimage(0x20f);
    b[0x1F1] = 200;
    expect(b, "setup_sects 200");
  }
  SECTION("a version string without NUL") {
    Bytes b = synthetic_bzimage(0x20f);
    for (size_t i = 0x300; i < 0x400; ++i) b[i] = 'x';
    expect(b, "no NUL");
  }
  SECTION("a version pointer outside the setup area") {
    Bytes b = synthetic_bzimage(0x20f);
    put16(b, 0x20E, 0x300); // 0x500 >= setup_size 0x400
    expect(b, "outside the setup area");
  }
}

TEST_CASE("Every truncation of the kernel's setup area gives a clean format error", "[setup_header]") {
  const Bytes k = test::read(test::debian_kernel_612());
  const SetupHeader h = parse_setup_header(k, "vmlinuz");
  size_t failures = 0;
  for (size_t len = 0; len < h.setup_size && failures < 5; ++len) {
    try {
      parse_setup_header(ByteView(k.data(), len), "vmlinuz");
      ++failures;
      FAIL_CHECK("accepted at " << len);
    } catch (const FormatError &e) {
      if (e.source() != "vmlinuz" || e.offset() > len) {
        ++failures;
        FAIL_CHECK(len << ": " << e.what());
      }
    }
  }
  CHECK(failures == 0);
  CHECK_NOTHROW(parse_setup_header(ByteView(k.data(), h.setup_size), "vmlinuz"));
}
