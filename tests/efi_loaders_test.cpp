// shim's and GRUB's images as the measure side reads them (SBAT versions, shim's vendor certificate
// table under a long section name), on a hand-built image (tests/fuzz/make_shim_seed.py, also a
// fuzz seed): its fields, shim's events with their PCRs, and clean refusals of every truncation.
#include "test_support.hpp"

#include <measure/engine/shim_grub_events.hpp>
#include <measure/formats/efi_loaders.hpp>
#include <measure/util/errors.hpp>

#include <catch2/catch.hpp>

#include <string>

using namespace mrforge;

namespace {

Bytes shim_seed() { return test::read(test::source_path("tests/fuzz/corpus/pe/shim_sections.bin")); }

} // namespace

TEST_CASE("read_shim finds the SBAT version and the vendor certificate table under its long section name",
          "[shim-grub]") {
  const Bytes image = shim_seed();
  const ShimImage shim = read_shim(image, "shim.efi");
  CHECK(shim.vendor == "Debian");
  CHECK(shim.version == "16.1");
  REQUIRE(shim.sbat.size() == 3);
  CHECK(shim.sbat[1].component == "shim");
  CHECK(shim.sbat[2].url == "https://tracker.debian.org/pkg/shim");
  CHECK(std::string(shim.vendor_cert.begin(), shim.vendor_cert.end()) == std::string("\x30\x82\x00\x04"
                                                                                     "CERT",
                                                                                     8));
  CHECK(std::string(shim.vendor_dbx.begin(), shim.vendor_dbx.end()) == "DBX!");
  CHECK(shim_measures_in_td(shim));

  const std::vector<Event> events = shim_events(shim, "shim.efi");
  std::vector<uint32_t> pcrs;
  for (const Event &e : events) pcrs.push_back(e.tpm_pcr.value_or(99));
  CHECK(pcrs == std::vector<uint32_t>{14, 14, 7, 14});
  CHECK(events[2].reg == Register::rtmr0);
  CHECK(events[0].reg == Register::rtmr2);

  CHECK_THROWS_WITH(read_grub(image, "shim.efi"), Catch::Contains("not a GRUB EFI image"));
}

TEST_CASE("Every truncation of a shim image is a clean format error", "[shim-grub]") {
  const Bytes image = shim_seed();
  size_t failures = 0;
  for (size_t len = 0; len < image.size() && failures < 5; ++len) {
    try {
      read_shim(ByteView(image.data(), len), "shim.efi");
      ++failures;
      FAIL_CHECK("truncated at " << len << " bytes: accepted");
    } catch (const FormatError &e) {
      if (e.source() != "shim.efi" || e.offset() > len) {
        ++failures;
        FAIL_CHECK("truncated at " << len << ": " << e.what());
      }
    }
  }
  CHECK(failures == 0);
}
