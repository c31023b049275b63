// What mrforge reads of a shim-grub image's grub.cfg (only text GRUB parses to itself, so that the
// predicted "grub_cmd:" events are the commands GRUB runs), and TDX's mapping of the PCRs shim and
// GRUB extend to RTMRs.
#include <measure/engine/shim_grub_events.hpp>
#include <measure/formats/grub_config.hpp>
#include <measure/util/errors.hpp>

#include <catch2/catch.hpp>

#include <string>

using namespace mrforge;

namespace {

GrubConfig read(const std::string &text) { return read_grub_config(ByteView::of(text), "grub.cfg"); }

std::string refusal(const std::string &text) {
  try {
    read(text);
  } catch (const FormatError &e) {
    return e.what();
  }
  return "accepted";
}

} // namespace

TEST_CASE("grub.cfg: the kernel, its arguments and the initrd of mrforge's configuration", "[shim-grub]") {
  GrubConfig c =
      read("linuxefi /vmlinuz console=ttyS0 panic=-1 mrforge.rootdev=/dev/vda2\ninitrdefi /initrd.img\nboot\n");
  CHECK(c.commands == std::vector<std::string>{"linuxefi /vmlinuz console=ttyS0 panic=-1 mrforge.rootdev=/dev/vda2",
                                               "initrdefi /initrd.img", "boot"});
  CHECK(c.kernel_command == "linuxefi");
  CHECK(c.kernel_path == "/vmlinuz");
  CHECK(c.kernel_args == "console=ttyS0 panic=-1 mrforge.rootdev=/dev/vda2");
  CHECK(c.initrd_command == "initrdefi");
  CHECK(c.initrd_path == "/initrd.img");

  GrubConfig bare = read("linux /boot/vmlinuz\nboot\n");
  CHECK(bare.kernel_command == "linux");
  CHECK(bare.kernel_args.empty());
  CHECK(bare.initrd_command.empty());
}

TEST_CASE("grub.cfg: text GRUB might parse differently from how it reads is refused with its line", "[shim-grub]") {
  const std::string tail = "initrdefi /initrd.img\nboot\n";
  CHECK_THAT(refusal("linuxefi /vmlinuz root=\"a b\"\n" + tail),
             Catch::Contains("line 1 has '\"'") && Catch::Contains("not modelled"));
  CHECK_THAT(refusal("linuxefi /vmlinuz $prefix\n" + tail), Catch::Contains("line 1 has '$'"));
  CHECK_THAT(refusal("linuxefi  /vmlinuz\n" + tail), Catch::Contains("line 1 has a space where a word should be"));
  CHECK_THAT(refusal("linuxefi /vmlinuz \n" + tail), Catch::Contains("line 1 ends with a space"));
  CHECK_THAT(refusal("# a comment\n" + tail), Catch::Contains("line 1 has '#'"));
  CHECK_THAT(refusal("linuxefi /vmlinuz\n\n" + tail), Catch::Contains("line 2 is empty"));
  CHECK_THAT(refusal("linuxefi /vmlinuz\tquiet\n" + tail), Catch::Contains("a control or non-ASCII byte"));
  CHECK_THAT(refusal("set timeout=0\nlinuxefi /vmlinuz\n" + tail), Catch::Contains("command 'set' is not modelled"));
  CHECK_THAT(refusal("linuxefi /vmlinuz\ninitrdefi /a /b\nboot\n"),
             Catch::Contains("with one file is modelled, not 2"));
  CHECK_THAT(refusal("linuxefi /vmlinuz\nlinux /vmlinuz\nboot\n"), Catch::Contains("line 2: a second kernel command"));
  CHECK_THAT(refusal("linuxefi /vmlinuz\ninitrdefi /initrd.img\n"), Catch::Contains("no `boot` command at the end"));
  CHECK_THAT(refusal("linuxefi /vmlinuz\nboot\nboot\n"), Catch::Contains("line 3 comes after `boot`"));
  CHECK_THAT(refusal("linuxefi /vmlinuz\nboot"), Catch::Contains("line 2 has no line feed"));
  CHECK_THAT(refusal("initrdefi /initrd.img\nboot\n"), Catch::Contains("no linuxefi or linux command"));
  CHECK_THAT(refusal(""), Catch::Contains("no linuxefi or linux command"));
}

TEST_CASE("TDX maps PCR1,7 to RTMR0, PCR2-6 to RTMR1 and PCR8-15 to RTMR2", "[shim-grub]") {
  for (uint32_t pcr : {1u, 7u}) CHECK(rtmr_of_pcr(pcr) == Register::rtmr0);
  for (uint32_t pcr = 2; pcr <= 6; ++pcr) CHECK(rtmr_of_pcr(pcr) == Register::rtmr1);
  for (uint32_t pcr = 8; pcr <= 15; ++pcr) CHECK(rtmr_of_pcr(pcr) == Register::rtmr2);
  CHECK_THROWS_AS(rtmr_of_pcr(0), InputError);
  CHECK_THROWS_AS(rtmr_of_pcr(16), InputError);
}
