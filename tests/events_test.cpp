// The constant events (Secure Boot variables, separators, EFI actions, BootOrder, Boot0000) and the
// RTMR2 encodings, checked against the events of real TDX logs. Expected digests are read out of
// the log files, never copied into the test.
#include "log_vectors.hpp"
#include "test_support.hpp"

#include <measure/documents/profile_yaml.hpp>
#include <measure/engine/uefi_events.hpp>
#include <measure/formats/event.hpp>

#include <catch2/catch.hpp>

using namespace mrforge;
using namespace mrforge::test;

namespace {

constexpr unsigned k_rtmr0 = 0, k_rtmr1 = 1;

// Real OVMF direct-boot logs from TDX hardware with SecureBoot absent and the given variant.
struct LogCase {
  const char *file;
  bool json;
  const char *variant;
};
const LogCase k_logs[] = {
    {"dstack/quote-report.json", true, "edk2-stable202411"},
    {"dstack/tdx-lite-getquote.json", true, "edk2-stable202411"},
    {"trustee/eventlog/CCEL_data_ovmf", false, "pre-edk2-stable202411"},
};

std::vector<VectorEvent> load(const LogCase &c) { return c.json ? dstack_boot_events(c.file) : ccel_events(c.file); }

} // namespace

TEST_CASE("Secure Boot variable events equal the ones in real logs", "[events]") {
  for (const LogCase &c : k_logs) {
    INFO(c.file);
    auto events = load(c);
    OvmfVariant v = load_ovmf_variant(c.variant);
    auto logged = events_of(events, k_rtmr0, event_type::k_efi_variable_driver_config);
    REQUIRE(logged.size() == v.secure_boot_variables.size());
    for (size_t i = 0; i < logged.size(); ++i) {
      const UefiVariable &var = v.secure_boot_variables[i];
      INFO(var.name);
      Bytes data = uefi_variable_data(var.vendor, var.name, var.data);
      CHECK(to_hex(sha384(data)) == to_hex(logged[i].digest));
      if (!logged[i].data.empty())
        CHECK(to_hex(data) == to_hex(logged[i].data)); // the log carries the UEFI_VARIABLE_DATA
    }
  }
}

TEST_CASE("Separators and EFI action strings equal the ones in real logs", "[events]") {
  for (const LogCase &c : k_logs) {
    INFO(c.file);
    auto events = load(c);
    OvmfVariant v = load_ovmf_variant(c.variant);
    // RTMR0 carries one separator, plus the ReadyToBoot one for variants that put it there.
    auto sep0 = events_of(events, k_rtmr0, event_type::k_separator);
    auto sep1 = events_of(events, k_rtmr1, event_type::k_separator);
    CHECK(sep0.size() == (v.separator_boot_register == Register::rtmr0 ? 2u : 1u));
    CHECK(sep1.size() == (v.separator_boot_register == Register::rtmr1 ? 1u : 0u));
    for (const auto &s : sep0) CHECK(to_hex(s.digest) == to_hex(separator_digest()));
    for (const auto &s : sep1) CHECK(to_hex(s.digest) == to_hex(separator_digest()));

    auto actions = events_of(events, k_rtmr1, event_type::k_efi_action);
    REQUIRE(actions.size() == 3);
    const char *strings[] = {"Calling EFI Application from Boot Option", "Exit Boot Services Invocation",
                             "Exit Boot Services Returned with Success"};
    for (size_t i = 0; i < 3; ++i) CHECK(to_hex(actions[i].digest) == to_hex(action_digest(strings[i])));
  }
}

TEST_CASE("BootOrder and Boot0000 events equal the ones in real logs", "[events]") {
  for (const LogCase &c : k_logs) {
    INFO(c.file);
    auto events = load(c);
    OvmfVariant v = load_ovmf_variant(c.variant);
    auto boot = events_of(events, k_rtmr0, event_type::k_efi_variable_boot);
    REQUIRE(boot.size() == 1 + v.boot_options.size());
    CHECK(to_hex(boot[0].digest) == to_hex(sha384(v.boot_order)));
    const LoadOption &o = v.boot_options.at(0);
    Bytes option = efi_load_option(o.attributes, o.description, fv_file_device_path(o.fv, o.file));
    CHECK(option.size() == 62);
    CHECK(to_hex(boot[1].digest) == to_hex(sha384(option)));
    if (!boot[1].data.empty()) {
      // The logged event data is the UEFI_VARIABLE_DATA; only its data part is hashed.
      Bytes full = uefi_variable_data(v.global_variable_guid, o.variable, option);
      CHECK(to_hex(full) == to_hex(boot[1].data));
    }
  }
}

TEST_CASE("The Debian OVMF variant measures SecureBoot as one zero byte", "[events]") {
  OvmfVariant v = load_ovmf_variant("debian-bookworm-2022.11");
  REQUIRE(v.secure_boot_variables.at(0).name == "SecureBoot");
  Bytes data = uefi_variable_data(v.secure_boot_variables[0].vendor, "SecureBoot", v.secure_boot_variables[0].data);
  // ../shared/docs/tdx-measurement.md: SecureBoot = 00 gives cfa4e2c6...
  CHECK(to_hex(sha384(data)).substr(0, 8) == "cfa4e2c6");
}

TEST_CASE("The command line is measured byte by byte widened to 16 bits with initrd=initrd", "[events][rtmr2]") {
  Bytes b = linux_cmdline_load_options("console=ttyS0", true);
  std::string expect = "console=ttyS0 initrd=initrd";
  REQUIRE(b.size() == 2 * expect.size() + 2);
  for (size_t i = 0; i < expect.size(); ++i) {
    CHECK(b[2 * i] == static_cast<uint8_t>(expect[i]));
    CHECK(b[2 * i + 1] == 0);
  }
  CHECK(b[b.size() - 2] == 0);
  CHECK(b[b.size() - 1] == 0);
  // Without an initrd nothing is appended; an empty command line with an initrd is " initrd=initrd".
  CHECK(linux_cmdline_load_options("", false).size() == 2);
  CHECK(linux_cmdline_load_options("", true).size() == 2 * std::string(" initrd=initrd").size() + 2);
  // Non-ASCII: each UTF-8 byte becomes its own CHAR16 (what real OVMF did with "é").
  Bytes e = linux_cmdline_load_options("\xc3\xa9", false);
  REQUIRE(e.size() == 6);
  CHECK(e[0] == 0xc3);
  CHECK(e[1] == 0);
  CHECK(e[2] == 0xa9);
  CHECK(e[3] == 0);
}

TEST_CASE("Folding events extends each register from zero", "[events]") {
  Sha384 d = separator_digest();
  std::vector<Event> events = {{Register::rtmr1, event_type::k_separator, "s", d, "test", std::nullopt}};
  RtmrValues mr = fold_events(events);
  Bytes manual(96, 0);
  std::copy(d.begin(), d.end(), manual.begin() + 48);
  CHECK(to_hex(mr[1]) == to_hex(sha384(manual)));
  CHECK(to_hex(mr[0]) == std::string(96, '0'));
}
