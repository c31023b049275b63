// Verification: real dstack quotes and logs pass against the engine's prediction (built as in
// composition_test: the VM shape, the profile, Debian's OVMF.fd for the TDVF layout, and the
// component digests we have no binaries for taken from the log as "published digests"); one
// changed input makes it fail, naming the first divergent event and the assumption that
// explains it; mutated real logs name the registers that no longer replay and the event position.
#include "log_vectors.hpp"
#include "test_support.hpp"

#include <measure/documents/profile_yaml.hpp>
#include <measure/engine/engine.hpp>
#include <measure/engine/mrtd.hpp>
#include <measure/formats/firmware.hpp>
#include <measure/formats/quote.hpp>
#include <measure/formats/tcg_log.hpp>
#include <measure/util/errors.hpp>
#include <measure/util/mapped_file.hpp>
#include <measure/verify/verify.hpp>

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include <algorithm>

using namespace mrforge;
using namespace mrforge::test;

namespace {

constexpr const char *k_lite = "dstack/tdx-lite-getquote.json";
constexpr const char *k_report = "dstack/quote-report.json";

nlohmann::json load_json(const std::string &rel) {
  Bytes b = read(vector_path(rel));
  return nlohmann::json::parse(b.begin(), b.end());
}

// The whole dstack log (RTMR0-3: the quote's RTMR3 needs the runtime events too).
EventLog dstack_log(const std::string &rel) {
  nlohmann::json log = nlohmann::json::parse(load_json(rel).at("event_log").get<std::string>());
  EventLog out;
  out.source = rel;
  out.format = "dstack-json";
  for (const auto &e : log) {
    LoggedEvent l;
    l.index = out.events.size();
    l.reg = static_cast<Register>(e.at("imr").get<unsigned>());
    l.type = e.at("event_type").get<uint32_t>();
    l.name = e.value("event", std::string());
    l.data = from_hex(e.value("event_payload", std::string()), rel);
    std::string digest = e.value("digest", std::string());
    // dstack lite logs leave the runtime (RTMR3) digests out: they follow from name and payload.
    l.digest = digest.empty() ? dstack_runtime_event_digest(l.type, l.name, l.data) : sha384_from_hex(digest, rel);
    l.origin = "dstack-json";
    out.events.push_back(std::move(l));
  }
  return out;
}

TdQuote dstack_quote(const std::string &rel) {
  Bytes q = from_hex(load_json(rel).at("quote").get<std::string>(), rel);
  return parse_td_quote(q, rel);
}

// The digests that need binaries we do not have (CFV, ACPI blobs, kernel, cmdline, initrd):
// published digests, read out of the log by register and type (dstack_boot_events, as in
// composition_test).
std::map<DigestSlot, Sha384> published_digests(const std::string &rel) {
  auto events = dstack_boot_events(rel);
  std::map<DigestSlot, Sha384> s;
  s[DigestSlot::cfv] = first_event(events, 0, event_type::k_efi_platform_firmware_blob2).digest;
  auto acpi = events_of(events, 0, event_type::k_platform_config_flags);
  REQUIRE(acpi.size() == 3);
  s[DigestSlot::acpi_loader] = acpi[0].digest;
  s[DigestSlot::acpi_rsdp] = acpi[1].digest;
  s[DigestSlot::acpi_tables] = acpi[2].digest;
  s[DigestSlot::kernel] = first_event(events, 1, event_type::k_efi_boot_services_application).digest;
  auto tags = events_of(events, 2, event_type::k_event_tag);
  REQUIRE(tags.size() == 2);
  s[DigestSlot::cmdline] = tags[0].digest;
  s[DigestSlot::initrd] = tags[1].digest;
  return s;
}

Alternatives shipped() {
  Alternatives a;
  for (const std::string &n : shipped_platform_profiles()) a.profiles.push_back(load_platform_profile(n));
  for (const std::string &n : shipped_ovmf_variants()) a.ovmf_variants.push_back(load_ovmf_variant(n));
  return a;
}

MeasureInputs dstack_inputs(const MappedFile &fw, const std::string &rel, uint32_t cpus, uint64_t memory) {
  MeasureInputs in;
  in.firmware = NamedBytes{fw.bytes(), "OVMF.fd"};
  in.cpus = cpus;
  in.memory = memory;
  in.supplied = published_digests(rel);
  return in;
}

bool has_explanation(const VerifyReport &r, const std::string &assumption, const std::string &reproduces) {
  return std::any_of(r.explanations.begin(), r.explanations.end(), [&](const Explanation &e) {
    return e.assumption.find(assumption) != std::string::npos &&
           e.what_it_reproduces.find(reproduces) != std::string::npos;
  });
}

std::string dump(const VerifyReport &r) {
  std::string s;
  for (const Divergence &d : r.divergences) s += "divergence: " + d.message + "\n";
  for (const Explanation &e : r.explanations)
    s += "explanation: " + e.assumption + " -> " + e.what_it_reproduces + "\n";
  for (const std::string &n : r.notes) s += "note: " + n + "\n";
  return s;
}

const Divergence *divergence_in(const VerifyReport &r, Register reg) {
  for (const Divergence &d : r.divergences)
    if (d.reg == reg) return &d;
  return nullptr;
}

// A TD simulated from the engine: its log is the expected event list and its quote carries the
// folded registers and the computed MRTD. Used where the real TD's binaries (kernel, cmdline)
// must be known to change one of them.
struct SimulatedTd {
  EventLog log;
  TdQuote quote;
};

SimulatedTd simulate(const Measurement &m) {
  SimulatedTd td;
  td.log.source = "simulated";
  for (const Event &e : m.events) {
    LoggedEvent l;
    l.index = td.log.events.size();
    l.reg = e.reg;
    l.type = e.type;
    l.digest = e.digest;
    td.log.events.push_back(std::move(l));
  }
  td.quote.rtmr = m.rtmr;
  if (m.mrtd) td.quote.mrtd = *m.mrtd;
  return td;
}

// Index in log.events of the `pos`-th event of `reg`.
size_t log_index(const EventLog &log, Register reg, size_t pos) {
  for (size_t i = 0; i < log.events.size(); ++i)
    if (log.events[i].reg == reg && pos-- == 0) return i;
  FAIL("no such event");
  return 0;
}

std::vector<Register> mismatched(const std::vector<RegisterCheck> &checks) {
  std::vector<Register> out;
  for (const RegisterCheck &c : checks)
    if (!c.match) out.push_back(c.reg);
  return out;
}

} // namespace

TEST_CASE("dstack lite (QEMU 8.2, 2 vCPU, 2 GiB) verifies against the engine's prediction", "[verify]") {
  MappedFile fw(debian_ovmf(), limits::k_firmware);
  PlatformProfile profile = load_platform_profile("qemu-8.2-tdx");
  OvmfVariant ovmf = load_ovmf_variant(profile.default_ovmf_variant);
  // Debian's OVMF.fd gives the TDVF layout only: dstack's OVMF binary (and so its MRTD) is not
  // available, so the MRTD is not expected here.
  VerifyReport r = verify(profile, ovmf, dstack_inputs(fw, k_lite, 2, 2ull << 30), dstack_log(k_lite),
                          dstack_quote(k_lite), shipped(), MrtdPolicy::ignore);
  INFO(dump(r));
  CHECK(r.log_consistent);
  CHECK(r.log_vs_quote.size() == 4);
  CHECK_FALSE(r.mrtd_match.has_value());
  for (const auto &m : r.rtmr_match) CHECK(m == std::optional<bool>(true));
  CHECK(r.divergences.empty());
  CHECK(r.explanations.empty());
  CHECK(r.ok());
}

TEST_CASE("dstack on QEMU 9.2 (16 vCPU, 64 GiB) verifies against the engine's prediction", "[verify]") {
  MappedFile fw(debian_ovmf(), limits::k_firmware);
  PlatformProfile profile = load_platform_profile("qemu-9.2-tdx");
  OvmfVariant ovmf = load_ovmf_variant(profile.default_ovmf_variant);
  VerifyReport r = verify(profile, ovmf, dstack_inputs(fw, k_report, 16, 64ull << 30), dstack_log(k_report),
                          dstack_quote(k_report), shipped(), MrtdPolicy::ignore);
  INFO(dump(r));
  CHECK(r.log_consistent);
  for (const auto &m : r.rtmr_match) CHECK(m == std::optional<bool>(true));
  CHECK(r.ok());
}

TEST_CASE("A wrong memory size names the TD HOB event and diagnosis finds the real size", "[verify]") {
  MappedFile fw(debian_ovmf(), limits::k_firmware);
  PlatformProfile profile = load_platform_profile("qemu-8.2-tdx");
  OvmfVariant ovmf = load_ovmf_variant(profile.default_ovmf_variant);
  VerifyReport r = verify(profile, ovmf, dstack_inputs(fw, k_lite, 2, 4ull << 30), dstack_log(k_lite),
                          dstack_quote(k_lite), shipped(), MrtdPolicy::ignore);
  INFO(dump(r));
  CHECK_FALSE(r.ok());
  CHECK(r.log_consistent);
  CHECK(r.rtmr_match[0] == std::optional<bool>(false));
  CHECK(r.rtmr_match[1] == std::optional<bool>(true));
  REQUIRE(r.divergences.size() == 1);
  const Divergence &d = r.divergences[0];
  CHECK(d.reg == Register::rtmr0);
  CHECK(d.position == 0);
  REQUIRE(d.expected.has_value());
  REQUIRE(d.actual.has_value());
  CHECK(d.expected->type == event_type::k_efi_handoff_tables2);
  CHECK_THAT(d.message, Catch::StartsWith("RTMR0 event 0 (EV_EFI_HANDOFF_TABLES2, TD HOB") &&
                            Catch::Contains("fed by: computed: TD HOB for 4 GiB"));
  CHECK(has_explanation(r, "memory 2 GiB instead of 4 GiB", "the quote's RTMR0"));
  REQUIRE(r.explanations.size() == 1); // no other size, profile or variant builds that TD HOB
}

TEST_CASE("qemu-9.2-tdx instead of qemu-8.2-tdx: RTMRs agree, the MRTD page order differs", "[verify]") {
  MappedFile fw(debian_ovmf(), limits::k_firmware);
  PlatformProfile p92 = load_platform_profile("qemu-9.2-tdx");
  OvmfVariant ovmf = load_ovmf_variant(p92.default_ovmf_variant);
  MeasureInputs in = dstack_inputs(fw, k_lite, 2, 2ull << 30);
  // RTMR0-2 of the lite TD are the same under 9.2: both patch the kernel header alike.
  VerifyReport rtmrs = verify(p92, ovmf, in, dstack_log(k_lite), dstack_quote(k_lite), shipped(), MrtdPolicy::ignore);
  CHECK(rtmrs.ok());
  // The MRTD: a quote whose MRTD is Debian OVMF.fd's two-pass MRTD (a QEMU 8.2 host booting that
  // firmware), verified under qemu-9.2-tdx, which predicts the single-pass MRTD.
  FirmwareImage image = parse_firmware(fw.bytes(), "OVMF.fd");
  Sha384 two_pass = compute_mrtd(fw.bytes(), image, PageOrder::two_pass);
  Sha384 single_pass = compute_mrtd(fw.bytes(), image, PageOrder::single_pass);
  REQUIRE(two_pass != single_pass);
  TdQuote quote = dstack_quote(k_lite);
  quote.mrtd = two_pass;
  VerifyReport r = verify(p92, ovmf, in, dstack_log(k_lite), quote, shipped(), MrtdPolicy::compare);
  INFO(dump(r));
  CHECK_FALSE(r.ok());
  CHECK(r.mrtd_match == std::optional<bool>(false));
  for (const auto &m : r.rtmr_match) CHECK(m == std::optional<bool>(true));
  CHECK(r.divergences.empty());
  CHECK(has_explanation(r, "MRTD page order two-pass instead of single-pass", "the quote's MRTD"));
  CHECK(has_explanation(r, "profile qemu-8.2-tdx instead of qemu-9.2-tdx", "the quote's MRTD"));
  CHECK_FALSE(has_explanation(r, "qemu-10.2-tdx", ""));
  // The same quote verified under the right profile passes.
  PlatformProfile p82 = load_platform_profile("qemu-8.2-tdx");
  CHECK(verify(p82, ovmf, in, dstack_log(k_lite), quote, shipped(), MrtdPolicy::compare).ok());
}

TEST_CASE("qemu-10.2-tdx for a TD that ran on QEMU 9.2: the kernel event differs, the header patch explains it",
          "[verify][slow]") {
  MappedFile fw(debian_ovmf(), limits::k_firmware), kernel(debian_kernel_612(), limits::k_kernel);
  Bytes initrd(4096, 1);
  MeasureInputs in = test::debian_measure_inputs(fw.bytes(), kernel.bytes(), initrd);
  PlatformProfile p92 = load_platform_profile("qemu-9.2-tdx"), p102 = load_platform_profile("qemu-10.2-tdx");
  OvmfVariant ovmf = load_ovmf_variant(p92.default_ovmf_variant);
  SimulatedTd td = simulate(measure(p92, ovmf, in));
  VerifyReport r = verify(p102, ovmf, in, td.log, td.quote, shipped());
  INFO(dump(r));
  CHECK_FALSE(r.ok());
  CHECK(r.log_consistent);
  CHECK(r.mrtd_match == std::optional<bool>(true)); // both single-pass
  CHECK(r.rtmr_match[1] == std::optional<bool>(false));
  REQUIRE(r.divergences.size() == 1);
  CHECK(r.divergences[0].reg == Register::rtmr1);
  CHECK(r.divergences[0].position == 0);
  CHECK_THAT(r.divergences[0].message,
             Catch::StartsWith("RTMR1 event 0 (EV_EFI_BOOT_SERVICES_APPLICATION, kernel (PE Authenticode") &&
                 Catch::Contains("fed by: computed: Authenticode of vmlinuz as served (profile: no header patch)"));
  CHECK(has_explanation(r, "profile qemu-9.2-tdx instead of qemu-10.2-tdx (kernel header patch on", "RTMR1"));
  // 8.2 patches the header too (RTMR1 reproduced) but its two-pass MRTD is not this TD's.
  CHECK(has_explanation(r, "profile qemu-8.2-tdx instead of qemu-10.2-tdx", "the quote's RTMR1"));
  CHECK_FALSE(has_explanation(r, "memory", ""));
}

TEST_CASE("One changed character of the command line names RTMR2 event 0 and nothing explains it", "[verify][slow]") {
  MappedFile fw(debian_ovmf(), limits::k_firmware), kernel(debian_kernel_612(), limits::k_kernel);
  Bytes initrd(4096, 1);
  MeasureInputs in = test::debian_measure_inputs(fw.bytes(), kernel.bytes(), initrd);
  PlatformProfile profile = load_platform_profile("qemu-9.2-tdx");
  OvmfVariant ovmf = load_ovmf_variant(profile.default_ovmf_variant);
  SimulatedTd td = simulate(measure(profile, ovmf, in));
  in.cmdline = "console=hvc1";
  VerifyReport r = verify(profile, ovmf, in, td.log, td.quote, shipped());
  INFO(dump(r));
  CHECK_FALSE(r.ok());
  CHECK(r.mrtd_match == std::optional<bool>(true));
  CHECK(r.rtmr_match[0] == std::optional<bool>(true));
  CHECK(r.rtmr_match[1] == std::optional<bool>(true));
  CHECK(r.rtmr_match[2] == std::optional<bool>(false));
  REQUIRE(r.divergences.size() == 1);
  CHECK(r.divergences[0].reg == Register::rtmr2);
  CHECK(r.divergences[0].position == 0);
  CHECK_THAT(r.divergences[0].message, Catch::StartsWith("RTMR2 event 0 (EV_EVENT_TAG, kernel command line") &&
                                           Catch::Contains("console=hvc1 initrd=initrd"));
  CHECK(r.explanations.empty());
  CHECK(std::any_of(r.notes.begin(), r.notes.end(),
                    [](const std::string &n) { return n.find("no neighbouring assumption") != std::string::npos; }));
}

TEST_CASE("OVMF variant pre-edk2-stable202411 for dstack lite: the separator moved, diagnosis finds the variant",
          "[verify]") {
  MappedFile fw(debian_ovmf(), limits::k_firmware);
  PlatformProfile profile = load_platform_profile("qemu-8.2-tdx");
  OvmfVariant pre = load_ovmf_variant("pre-edk2-stable202411");
  VerifyReport r = verify(profile, pre, dstack_inputs(fw, k_lite, 2, 2ull << 30), dstack_log(k_lite),
                          dstack_quote(k_lite), shipped(), MrtdPolicy::ignore);
  INFO(dump(r));
  CHECK_FALSE(r.ok());
  REQUIRE(r.divergences.size() == 2);
  // RTMR0: the prediction has a second separator at 13 that the log lacks.
  const Divergence *d0 = divergence_in(r, Register::rtmr0);
  REQUIRE(d0);
  CHECK(d0->position == 13);
  REQUIRE(d0->expected.has_value());
  CHECK(d0->expected->type == event_type::k_separator);
  CHECK_FALSE(d0->actual.has_value());
  CHECK_THAT(d0->message, Catch::Contains("the log has no RTMR0 event 13"));
  // RTMR1: the log has a separator at 2 that the prediction does not.
  const Divergence *d1 = divergence_in(r, Register::rtmr1);
  REQUIRE(d1);
  CHECK(d1->position == 2);
  CHECK_FALSE(d1->expected.has_value());
  REQUIRE(d1->actual.has_value());
  CHECK(d1->actual->type == event_type::k_separator);
  CHECK_THAT(d1->message, Catch::Contains("extra event EV_SEPARATOR"));
  CHECK(has_explanation(r, "OVMF variant edk2-stable202411 instead of pre-edk2-stable202411",
                        "the quote's RTMR0, the quote's RTMR1"));
  // Debian's variant also puts the boot separator in RTMR0 (and measures SecureBoot = 00).
  CHECK_FALSE(has_explanation(r, "debian-bookworm", ""));
}

TEST_CASE("Mutations of a real dstack log: the registers that no longer replay and the event position", "[verify]") {
  MappedFile fw(debian_ovmf(), limits::k_firmware);
  PlatformProfile profile = load_platform_profile("qemu-8.2-tdx");
  OvmfVariant ovmf = load_ovmf_variant(profile.default_ovmf_variant);
  Measurement expected = measure(profile, ovmf, dstack_inputs(fw, k_lite, 2, 2ull << 30));
  const EventLog original = dstack_log(k_lite);
  TdQuote quote = dstack_quote(k_lite);
  REQUIRE(mismatched(check_log_against_quote(original, quote)).empty());
  REQUIRE(align(expected, original).empty());

  SECTION("a flipped digest byte") {
    EventLog log = original;
    (*log.events[log_index(log, Register::rtmr1, 0)].digest)[7] ^= 0x01;
    CHECK(mismatched(check_log_against_quote(log, quote)) == std::vector<Register>{Register::rtmr1});
    auto d = align(expected, log);
    REQUIRE(d.size() == 1);
    CHECK(d[0].reg == Register::rtmr1);
    CHECK(d[0].position == 0);
    CHECK(d[0].expected.has_value());
    CHECK(d[0].actual.has_value());
    CHECK_THAT(d[0].message, Catch::StartsWith("RTMR1 event 0 (EV_EFI_BOOT_SERVICES_APPLICATION") &&
                                 Catch::Contains("fed by: supplied digest (--digest kernel)"));
  }
  SECTION("a dropped event") {
    EventLog log = original;
    log.events.erase(log.events.begin() + static_cast<std::ptrdiff_t>(log_index(log, Register::rtmr0, 3)));
    CHECK(mismatched(check_log_against_quote(log, quote)) == std::vector<Register>{Register::rtmr0});
    auto d = align(expected, log);
    REQUIRE(d.size() == 1);
    CHECK(d[0].reg == Register::rtmr0);
    CHECK(d[0].position == 3);
    CHECK(d[0].expected.has_value());
    CHECK_FALSE(d[0].actual.has_value());
    CHECK_THAT(d[0].message, Catch::Contains("missing from the log"));
  }
  SECTION("a duplicated event") {
    EventLog log = original;
    size_t i = log_index(log, Register::rtmr2, 0);
    log.events.insert(log.events.begin() + static_cast<std::ptrdiff_t>(i), log.events[i]);
    CHECK(mismatched(check_log_against_quote(log, quote)) == std::vector<Register>{Register::rtmr2});
    auto d = align(expected, log);
    REQUIRE(d.size() == 1);
    CHECK(d[0].reg == Register::rtmr2);
    CHECK(d[0].position == 1);
    CHECK_FALSE(d[0].expected.has_value());
    CHECK(d[0].actual.has_value());
    CHECK_THAT(d[0].message, Catch::Contains("extra event EV_EVENT_TAG"));
  }
  SECTION("an event moved to another register") {
    EventLog log = original;
    // "Calling EFI Application from Boot Option" (RTMR1 event 1) logged as RTMR0 in place.
    log.events[log_index(log, Register::rtmr1, 1)].reg = Register::rtmr0;
    CHECK(mismatched(check_log_against_quote(log, quote)) == std::vector<Register>{Register::rtmr0, Register::rtmr1});
    auto d = align(expected, log);
    REQUIRE(d.size() == 2);
    CHECK(d[0].reg == Register::rtmr0);
    CHECK(d[0].position == 13); // after Boot0000: an extra RTMR0 event
    CHECK_FALSE(d[0].expected.has_value());
    CHECK(d[1].reg == Register::rtmr1);
    CHECK(d[1].position == 1); // missing from RTMR1
    CHECK_FALSE(d[1].actual.has_value());
  }
}

TEST_CASE("Mutations of a real CCEL log with its quote (GCE COS 113)", "[verify]") {
  Bytes bytes = read(vector_path("go-tdx-guest/ccel_data.dat"));
  const EventLog original = event_log_from_ccel(parse_tcg_log(bytes, "ccel_data.dat"));
  Bytes qbytes = read(vector_path("go-tdx-guest/cos-113-tdx-quote.dat"));
  TdQuote quote = parse_td_quote(qbytes, "cos-113-tdx-quote.dat");
  REQUIRE(mismatched(check_log_against_quote(original, quote)).empty());
  // The expected side: the log's own RTMR0-2 events, as an expected file would list them.
  ExpectedValues expected;
  for (const LoggedEvent &e : original.events)
    if (e.reg && *e.reg != Register::rtmr3 && e.digest)
      expected.events.push_back(Event{*e.reg, e.type, "expected", *e.digest, "expected file", std::nullopt});
  VerifyReport same = verify(expected, original, quote);
  CHECK(same.ok());
  CHECK_FALSE(same.mrtd_match.has_value());

  SECTION("a flipped digest byte in RTMR2") {
    EventLog log = original;
    (*log.events[log_index(log, Register::rtmr2, 2)].digest)[0] ^= 0x80;
    VerifyReport r = verify(expected, log, quote);
    INFO(dump(r));
    CHECK_FALSE(r.log_consistent);
    CHECK(mismatched(r.log_vs_quote) == std::vector<Register>{Register::rtmr2});
    REQUIRE(r.divergences.size() == 1);
    CHECK(r.divergences[0].reg == Register::rtmr2);
    CHECK(r.divergences[0].position == 2);
    CHECK_FALSE(r.ok());
  }
  SECTION("a dropped RTMR0 event") {
    EventLog log = original;
    log.events.erase(log.events.begin() + static_cast<std::ptrdiff_t>(log_index(log, Register::rtmr0, 1)));
    VerifyReport r = verify(expected, log, quote);
    CHECK(mismatched(r.log_vs_quote) == std::vector<Register>{Register::rtmr0});
    REQUIRE(r.divergences.size() == 1);
    CHECK(r.divergences[0].position == 1);
    CHECK_FALSE(r.divergences[0].actual.has_value());
  }
}

TEST_CASE("Expected values only: stated RTMRs are compared, and a self-contradicting file is refused", "[verify]") {
  const EventLog log = dstack_log(k_lite);
  TdQuote quote = dstack_quote(k_lite);
  ExpectedValues values;
  values.rtmr = {quote.rtmr[0], quote.rtmr[1], quote.rtmr[2]};
  VerifyReport r = verify(values, log, quote);
  CHECK(r.ok());
  CHECK(r.divergences.empty());
  values.rtmr[2] = Sha384{};
  r = verify(values, log, quote);
  CHECK_FALSE(r.ok());
  CHECK(r.rtmr_match[2] == std::optional<bool>(false));
  CHECK(r.rtmr_match[0] == std::optional<bool>(true));
  values.events.push_back(
      Event{Register::rtmr2, event_type::k_event_tag, "x", Sha384{}, "expected file", std::nullopt});
  CHECK_THROWS_AS(verify(values, log, quote), InputError);
  // Nothing expected: nothing compared, not ok.
  CHECK_FALSE(verify(ExpectedValues{}, log, quote).ok());
}
