// Composition against hardware: the engine, given the VM shape, the platform profile, Debian's
// OVMF.fd for its TDVF layout (the same TD_HOB/TempMem layout as dstack's OVMF) and only the
// component digests that need binaries we do not have (CFV, the three ACPI blobs, kernel
// Authenticode, cmdline, initrd, all read out of the very log that came with the quote), produces
// RTMR0, RTMR1 and RTMR2 equal to the quote's.
#include "log_vectors.hpp"
#include "test_support.hpp"

#include <measure/documents/profile_yaml.hpp>
#include <measure/engine/authenticode.hpp>
#include <measure/engine/engine.hpp>
#include <measure/engine/td_hob.hpp>
#include <measure/formats/firmware.hpp>
#include <measure/formats/pe.hpp>
#include <measure/formats/setup_header.hpp>
#include <measure/util/mapped_file.hpp>

#include <catch2/catch.hpp>

using namespace mrforge;
using namespace mrforge::test;

namespace {

constexpr unsigned k_rtmr0 = 0, k_rtmr1 = 1, k_rtmr2 = 2;

// The digests that need binaries we do not have, taken from the log by position and type.
std::map<DigestSlot, Sha384> binary_digests(const std::vector<VectorEvent> &events) {
  std::map<DigestSlot, Sha384> s;
  s[DigestSlot::cfv] = first_event(events, k_rtmr0, event_type::k_efi_platform_firmware_blob2).digest;
  auto acpi = events_of(events, k_rtmr0, event_type::k_platform_config_flags);
  REQUIRE(acpi.size() == 3);
  s[DigestSlot::acpi_loader] = acpi[0].digest;
  s[DigestSlot::acpi_rsdp] = acpi[1].digest;
  s[DigestSlot::acpi_tables] = acpi[2].digest;
  s[DigestSlot::kernel] = first_event(events, k_rtmr1, event_type::k_efi_boot_services_application).digest;
  auto tags = events_of(events, k_rtmr2, event_type::k_event_tag);
  REQUIRE(tags.size() == 2);
  s[DigestSlot::cmdline] = tags[0].digest;
  s[DigestSlot::initrd] = tags[1].digest;
  return s;
}

void check_composition(const char *vector, const char *profile_name, uint32_t cpus, uint64_t memory) {
  INFO(vector << " with " << profile_name);
  auto events = dstack_boot_events(vector);
  auto quote = dstack_quote_rtmrs(vector);
  MappedFile fw(debian_ovmf(), limits::k_firmware);
  PlatformProfile profile = load_platform_profile(profile_name);
  OvmfVariant ovmf = load_ovmf_variant(profile.default_ovmf_variant);

  MeasureInputs in;
  in.firmware = NamedBytes{fw.bytes(), "OVMF.fd"};
  in.cpus = cpus;
  in.memory = memory;
  in.supplied = binary_digests(events);
  Measurement m = measure(profile, ovmf, in);

  CHECK(to_hex(m.rtmr[0]) == to_hex(quote[0]));
  CHECK(to_hex(m.rtmr[1]) == to_hex(quote[1]));
  CHECK(to_hex(m.rtmr[2]) == to_hex(quote[2]));
  // The computed TD HOB event is the log's: the engine computed it, nothing supplied it.
  CHECK(m.events.at(0).source.find("computed") != std::string::npos);
  CHECK(to_hex(m.events.at(0).digest) == to_hex(events.at(0).digest));
  // Same number of boot events as the real log, in the same registers and types.
  REQUIRE(m.events.size() == events.size());
  for (size_t i = 0; i < events.size(); ++i) {
    INFO("event " << i << ": " << m.events[i].description);
    CHECK(static_cast<unsigned>(m.events[i].reg) == events[i].reg);
    CHECK(m.events[i].type == events[i].type);
    CHECK(to_hex(m.events[i].digest) == to_hex(events[i].digest));
  }
}

} // namespace

TEST_CASE("dstack lite on QEMU 8.2.2 (2 vCPU, 2 GiB): RTMR0-2 equal the quote", "[composition]") {
  check_composition("dstack/tdx-lite-getquote.json", "qemu-8.2-tdx", 2, 2ull << 30);
}

TEST_CASE("dstack on QEMU 9.2.1 (16 vCPU, 64 GiB): RTMR0-2 equal the quote", "[composition]") {
  check_composition("dstack/quote-report.json", "qemu-9.2-tdx", 16, 64ull << 30);
}

TEST_CASE("TD HOB digests for 2, 10 and 64 GiB equal the first RTMR0 event of real logs", "[composition][td_hob]") {
  MappedFile fw(debian_ovmf(), limits::k_firmware);
  FirmwareImage image = parse_firmware(fw.bytes(), "OVMF.fd");
  PlatformProfile profile = load_platform_profile("qemu-9.2-tdx");
  struct Case {
    uint64_t memory;
    std::vector<VectorEvent> events;
  } cases[] = {
      {2ull << 30, dstack_boot_events("dstack/tdx-lite-getquote.json")},
      {2ull << 30, ccel_events("trustee/eventlog/CCEL_data_ovmf")},
      {10ull << 30, ccel_events("trustee/eventlog/CCEL_data_grub")},
      {64ull << 30, dstack_boot_events("dstack/quote-report.json")},
  };
  for (const auto &c : cases) {
    INFO(c.memory);
    const VectorEvent &first = c.events.at(0);
    REQUIRE(first.reg == k_rtmr0);
    REQUIRE(first.type == event_type::k_efi_handoff_tables2);
    CHECK(to_hex(td_hob_digest(image.sections, c.memory, profile.memory_layout)) == to_hex(first.digest));
  }
}

TEST_CASE("A missing input names the option that supplies it", "[composition]") {
  PlatformProfile profile = load_platform_profile("qemu-9.2-tdx");
  OvmfVariant ovmf = load_ovmf_variant(profile.default_ovmf_variant);
  MeasureInputs in;
  in.memory = 2ull << 30;
  CHECK_THROWS_WITH(measure(profile, ovmf, in), Catch::Contains("--firmware"));
  MappedFile fw(debian_ovmf(), limits::k_firmware);
  in.firmware = NamedBytes{fw.bytes(), "OVMF.fd"};
  CHECK_THROWS_WITH(measure(profile, ovmf, in), Catch::Contains("--acpi-tables"));
}

namespace {

Measurement measure_debian(const std::string &profile_name, uint64_t memory, const Bytes &initrd, const MappedFile &fw,
                           const MappedFile &kernel) {
  PlatformProfile profile = load_platform_profile(profile_name);
  OvmfVariant ovmf = load_ovmf_variant(profile.default_ovmf_variant);
  return measure(profile, ovmf, test::debian_measure_inputs(fw.bytes(), kernel.bytes(), initrd, memory));
}

std::string kernel_event(const Measurement &m) {
  for (const Event &e : m.events)
    if (e.type == event_type::k_efi_boot_services_application) return to_hex(e.digest);
  FAIL("no kernel event");
  return {};
}

} // namespace

TEST_CASE("The kernel event depends on memory and initrd size only where the profile patches the header",
          "[composition]") {
  MappedFile fw(debian_ovmf(), limits::k_firmware), kernel(debian_kernel_612(), limits::k_kernel);
  Bytes small(4096, 1), large(1 << 20, 1);
  // QEMU <= 10.1: the patched setup header carries the initrd address (from RAM) and size.
  std::string a = kernel_event(measure_debian("qemu-9.2-tdx", 2ull << 30, small, fw, kernel));
  CHECK(a != kernel_event(measure_debian("qemu-9.2-tdx", 2560ull << 20, small, fw, kernel)));
  CHECK(a != kernel_event(measure_debian("qemu-9.2-tdx", 2ull << 30, large, fw, kernel)));
  // Above the q35 split, low memory is capped at 2 GiB: 4 GiB and 8 GiB patch the same header.
  CHECK(kernel_event(measure_debian("qemu-9.2-tdx", 4ull << 30, small, fw, kernel)) ==
        kernel_event(measure_debian("qemu-9.2-tdx", 8ull << 30, small, fw, kernel)));
  // QEMU 8.2 patches the same way as 9.2; only the MRTD page order differs.
  Measurement m82 = measure_debian("qemu-8.2-tdx", 2ull << 30, small, fw, kernel);
  Measurement m92 = measure_debian("qemu-9.2-tdx", 2ull << 30, small, fw, kernel);
  CHECK(kernel_event(m82) == a);
  CHECK(to_hex(m82.rtmr[1]) == to_hex(m92.rtmr[1]));
  CHECK(to_hex(*m82.mrtd) != to_hex(*m92.mrtd));
  // QEMU >= 10.2: the kernel is served as it is; its event is the file's own Authenticode.
  std::string unpatched = kernel_event(measure_debian("qemu-10.2-tdx", 2ull << 30, small, fw, kernel));
  CHECK(unpatched == kernel_event(measure_debian("qemu-10.2-tdx", 64ull << 30, large, fw, kernel)));
  CHECK(unpatched != a);
  PeImage pe = parse_pe(kernel.bytes(), "vmlinuz");
  CHECK(unpatched == to_hex(authenticode(kernel.bytes(), pe, HashAlgorithm::sha384)));
}

TEST_CASE("RTMR2 covers the command line and the initrd, RTMR0 the memory size", "[composition]") {
  MappedFile fw(debian_ovmf(), limits::k_firmware), kernel(debian_kernel_612(), limits::k_kernel);
  Bytes initrd(4096, 1), other(4096, 2);
  Measurement a = measure_debian("qemu-9.2-tdx", 2ull << 30, initrd, fw, kernel);
  Measurement b = measure_debian("qemu-9.2-tdx", 2ull << 30, other, fw, kernel);
  Measurement c = measure_debian("qemu-9.2-tdx", 10ull << 30, initrd, fw, kernel);
  CHECK(to_hex(a.rtmr[2]) != to_hex(b.rtmr[2]));
  CHECK(to_hex(a.rtmr[0]) == to_hex(b.rtmr[0]));
  CHECK(to_hex(a.rtmr[0]) != to_hex(c.rtmr[0])); // the TD HOB
  CHECK(to_hex(a.rtmr[2]) == to_hex(c.rtmr[2]));
  CHECK(to_hex(*a.mrtd) == to_hex(*c.mrtd)); // MRTD depends on the firmware and page order only
}

TEST_CASE("Supplying the initrd digest and size gives the same measurement as the initrd file", "[composition]") {
  MappedFile fw(debian_ovmf(), limits::k_firmware), kernel(debian_kernel_612(), limits::k_kernel);
  Bytes initrd(12288, 7);
  Measurement from_file = measure_debian("qemu-9.2-tdx", 2ull << 30, initrd, fw, kernel);

  PlatformProfile profile = load_platform_profile("qemu-9.2-tdx");
  OvmfVariant ovmf = load_ovmf_variant(profile.default_ovmf_variant);
  MeasureInputs in;
  in.firmware = NamedBytes{fw.bytes(), "OVMF.fd"};
  in.kernel = NamedBytes{kernel.bytes(), "vmlinuz"};
  in.cmdline = "console=hvc0";
  in.cpus = 2;
  in.memory = 2ull << 30;
  Sha384 zero{};
  in.supplied = {{DigestSlot::acpi_loader, zero},
                 {DigestSlot::acpi_rsdp, zero},
                 {DigestSlot::acpi_tables, zero},
                 {DigestSlot::initrd, sha384(initrd)}};
  // The header patch needs the initrd's size: without it the engine says which option gives it.
  CHECK_THROWS_WITH(measure(profile, ovmf, in), Catch::Contains("--initrd-size"));
  in.initrd_size = initrd.size();
  Measurement from_digest = measure(profile, ovmf, in);
  for (size_t i = 0; i < 3; ++i) CHECK(to_hex(from_digest.rtmr[i]) == to_hex(from_file.rtmr[i]));
  CHECK(from_digest.events.at(17).source == "supplied digest (--digest initrd)");
}

TEST_CASE("The engine's kernel event is the Authenticode of QEMU's whole patched copy of the kernel", "[composition]") {
  MappedFile kernel(debian_kernel_612(), limits::k_kernel);
  Bytes initrd(12288, 7);
  PlatformProfile profile = load_platform_profile("qemu-9.2-tdx");
  MeasureInputs in = test::debian_measure_inputs({}, kernel.bytes(), initrd, 2ull << 30);
  QemuPatchInput patch;
  patch.memory_bytes = in.memory;
  patch.initrd_size = initrd.size();
  patch.cmdline = in.cmdline;
  patch.layout = profile.memory_layout;
  patch.acpi_data_size = profile.qemu_acpi_data_size;
  const Bytes whole =
      qemu_patched_kernel(kernel.bytes(), parse_setup_header(kernel.bytes(), "vmlinuz"), patch); // as QEMU serves it
  const Bytes expected = authenticode(whole, parse_pe(whole, "vmlinuz"), HashAlgorithm::sha384);
  CHECK(to_hex(kernel_event_digest(profile, in).first) == to_hex(expected));
}
