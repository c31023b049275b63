// The grub.cfg of boot: shim-grub: the exact text, and the command lines refused because GRUB's
// script parser would not read them back as themselves (GRUB measures the text it parsed).
#include "test_support.hpp"

#include <builder/boot/grub_config.hpp>
#include <measure/util/errors.hpp>

#include <catch2/catch.hpp>

#include <string>

using namespace mrforge;
using namespace mrforge::builder;
using namespace mrforge::test;

TEST_CASE("grub.cfg boots the kernel and initrd through GRUB's EFI loader with the command line as given",
          "[grub_config]") {
  const std::string cmdline = "console=ttyS0 panic=-1 mrforge.roothash=0a1b mrforge.rootdev=/dev/vda2";
  CHECK(grub_config_text("/vmlinuz", "/initrd.img", cmdline) ==
        "linuxefi /vmlinuz console=ttyS0 panic=-1 mrforge.roothash=0a1b mrforge.rootdev=/dev/vda2\n"
        "initrdefi /initrd.img\n"
        "boot\n");
  CHECK(grub_config_text("/boot/vmlinuz-6.12", "/boot/initrd_1.img", "quiet") ==
        "linuxefi /boot/vmlinuz-6.12 quiet\ninitrdefi /boot/initrd_1.img\nboot\n");
  // Every allowed character, in one word and across words.
  const std::string all = "ABCXYZabcxyz0189 .,:=/+-_@% a";
  CHECK(grub_cmdline_problem(all).empty());
  CHECK(grub_config_text("/vmlinuz", "/initrd.img", all).find("linuxefi /vmlinuz " + all + "\n") == 0);
}

TEST_CASE("A command line GRUB would not read back as itself is refused, naming it and the character",
          "[grub_config]") {
  // Exactly letters, digits and .,:=/+-_@% pass inside a word; every other byte is refused.
  int accepted = 0;
  for (int b = 0; b < 256; ++b) {
    const char c = static_cast<char>(b);
    const std::string line = std::string("a") + c + "b";
    if (grub_cmdline_problem(line).empty()) {
      ++accepted;
      continue;
    }
    INFO(b);
    CHECK_THAT(grub_cmdline_problem(line), Catch::Contains("(offset 1) is special to GRUB's script parser"));
  }
  CHECK(accepted == 26 + 26 + 10 + 10 + 1); // the allowed characters, and the space between two words

  struct Case {
    std::string cmdline, expected;
  };
  const std::vector<Case> cases = {
      {"console=ttyS0 init=$x", "character '$' (offset 19)"},
      {"a=\"b c\"", "character '\"' (offset 2)"},
      {"a='b'", "character ''' (offset 2)"},
      {"a\\b", "character '\\' (offset 1)"},
      {"a;reboot", "character ';' (offset 1)"},
      {"a #comment", "character '#' (offset 2)"},
      {"a={b}", "character '{' (offset 2)"},
      {"root=/dev/vd*", "character '*' (offset 12)"},
      {"a|b", "character '|' (offset 1)"},
      {"a\tb", "character \\x09 (offset 1)"},
      {"a\nboot", "character \\x0a (offset 1)"},
      {"lang=\xc3\xa9", "character \\xc3 (offset 5)"},
      {"", "it is empty"},
      {" quiet", "starts with a space"},
      {"quiet ", "ends with a space"},
      {"quiet  splash", "two spaces at offset 5"},
  };
  for (const Case &c : cases) {
    INFO(c.cmdline);
    CHECK_THAT(grub_cmdline_problem(c.cmdline), Catch::Contains(c.expected));
    const std::string message = error_message([&] { grub_config_text("/vmlinuz", "/initrd.img", c.cmdline); });
    CHECK_THAT(message, Catch::StartsWith("kernel command line '"));
    CHECK_THAT(message, Catch::Contains(c.expected));
    CHECK_THROWS_AS(grub_config_text("/vmlinuz", "/initrd.img", c.cmdline), InputError);
  }
  CHECK_THAT(error_message([] { grub_config_text("/vmlinuz", "/initrd.img", "a;b"); }),
             Catch::StartsWith("kernel command line 'a;b': character ';'"));

  // The paths are plain absolute ESP paths.
  for (const char *bad : {"vmlinuz", "/", "", "/vm linuz", "/vm$linuz", "/vmlinuz;boot"}) {
    INFO(bad);
    CHECK_THAT(error_message([&] { grub_config_text(bad, "/initrd.img", "quiet"); }),
               Catch::Contains("expected an absolute ESP path"));
    CHECK_THAT(error_message([&] { grub_config_text("/vmlinuz", bad, "quiet"); }),
               Catch::Contains("expected an absolute ESP path"));
  }
}
