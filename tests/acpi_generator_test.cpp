// The native ACPI generator against real QEMU: every captured fixture in
// tests/data/acpi/qemu-7.2-q35/<shape>/ (blobs read by a real QEMU 7.2 guest from fw_cfg, see
// tests/acpi/recapture.sh; tests/acpi_capture_test.cpp re-captures a sample live) is generated
// from its shape.yaml alone and must come out byte for byte; bad shapes give errors naming the
// field.
#include "log_vectors.hpp"
#include "test_support.hpp"

#include <measure/acpi_decode.hpp>
#include <measure/acpi_generator.hpp>
#include <measure/errors.hpp>
#include <measure/hash.hpp>
#include <measure/profile_yaml.hpp>
#include <measure/vm_shape_file.hpp>

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include <filesystem>
#include <set>

using namespace mrforge;

namespace {

namespace fs = std::filesystem;

const std::string k_fixtures = std::string(MRFORGE_SOURCE_DIR) + "/tests/data/acpi/qemu-7.2-q35";

std::vector<std::string> fixture_dirs() {
  std::vector<std::string> dirs;
  for (const auto &e : fs::directory_iterator(k_fixtures))
    if (fs::exists(e.path() / "tables") && fs::exists(e.path() / "shape.yaml")) dirs.push_back(e.path().string());
  std::sort(dirs.begin(), dirs.end());
  return dirs;
}

// The first difference, named by the decoder, for a readable failure.
std::string explain(const AcpiBlobs &want, const AcpiBlobs &got) {
  std::vector<AcpiDifference> d = diff_acpi(want, got);
  if (d.empty()) return "identical";
  return d[0].blob + " " + d[0].where + " at offset " + std::to_string(d[0].offset) + ": captured " + d[0].a +
         ", generated " + d[0].b;
}

std::string input_error_of(const VmShape &s) {
  try {
    generate_acpi(s, load_acpi_profile(s.profile));
  } catch (const InputError &e) {
    return e.what();
  }
  return "no error";
}

} // namespace

TEST_CASE("generated ACPI blobs equal every QEMU 7.2 capture, byte for byte", "[acpi_generator]") {
  std::vector<std::string> dirs = fixture_dirs();
  // The acceptance asks for at least 15 live shapes.
  REQUIRE(dirs.size() >= 15);
  std::set<uint32_t> cpus;
  std::set<uint64_t> memories;
  for (const std::string &dir : dirs) {
    INFO("fixture " << dir);
    VmShape shape = load_vm_shape(dir + "/shape.yaml");
    cpus.insert(shape.cpus);
    memories.insert(shape.memory);
    AcpiBlobs captured = read_acpi_blobs(dir);
    GeneratedAcpi g = generate_acpi(shape, load_acpi_profile(shape.profile));
    INFO(explain(captured, g.blobs));
    CHECK((g.blobs.tables == captured.tables));
    CHECK((g.blobs.rsdp == captured.rsdp));
    CHECK((g.blobs.table_loader == captured.table_loader));
    // The table list the generator reports is the one the decoder finds in the captured bytes.
    DecodedAcpi decoded = decode_acpi(captured);
    REQUIRE(decoded.tables.size() == g.tables.size());
    for (size_t i = 0; i < g.tables.size(); ++i) {
      CHECK(decoded.tables[i].signature == g.tables[i].signature);
      CHECK(decoded.tables[i].offset == g.tables[i].offset);
      CHECK(decoded.tables[i].length == g.tables[i].length);
    }
  }
  // The spread the acceptance names.
  for (uint32_t n : {1u, 2u, 3u, 4u, 8u, 16u, 64u}) CHECK(cpus.count(n) == 1);
  for (uint64_t m : {1ull << 30, 2ull << 30, 2560ull << 20, 3ull << 30, 4ull << 30, 64ull << 30})
    CHECK(memories.count(m) == 1);
}

TEST_CASE("generation is deterministic and depends on each shape input", "[acpi_generator]") {
  AcpiProfile p = load_acpi_profile("qemu-7.2-q35");
  VmShape base;
  base.profile = p.name;
  base.cpus = 2;
  base.memory = 2ull << 30;
  GeneratedAcpi a = generate_acpi(base, p);
  CHECK(generate_acpi(base, p).blobs.tables == a.blobs.tables);
  CHECK(a.blobs.tables.size() == 0x20000);
  CHECK(a.blobs.table_loader.size() == 4096);
  CHECK(a.blobs.rsdp.size() == 20);
  auto differs = [&](VmShape s) { return generate_acpi(s, p).blobs.tables != a.blobs.tables; };
  VmShape s = base;
  s.cpus = 3;
  CHECK(differs(s));
  s = base;
  s.memory = 3ull << 30;
  CHECK(differs(s));
  s = base;
  s.smm = false;
  CHECK(differs(s));
  s = base;
  s.hpet = false;
  CHECK(differs(s));
  // QEMU 7.2 sets the MADT's PCAT_COMPAT whatever -machine pic= says (the capture with pic=off
  // agrees); from 8.0 it follows it.
  s = base;
  s.pic = false;
  CHECK_FALSE(differs(s));
  {
    AcpiProfile p92 = load_acpi_profile("qemu-9.2-tdx");
    VmShape on = base, off = base;
    on.profile = off.profile = p92.name;
    off.pic = false;
    CHECK(generate_acpi(on, p92).blobs.tables != generate_acpi(off, p92).blobs.tables);
  }
  s = base;
  s.pci_hotplug = false;
  CHECK(differs(s));
  s = base;
  s.devices.push_back({PciDeviceKind::virtio_net, RootPortChild::none});
  CHECK(differs(s));
  // The kind of device does not matter, only its slot (as with real QEMU).
  VmShape t = base;
  t.devices.push_back({PciDeviceKind::virtio_blk, RootPortChild::none});
  CHECK(generate_acpi(s, p).blobs.tables == generate_acpi(t, p).blobs.tables);
}

TEST_CASE("shapes the profile cannot generate are refused with the reason", "[acpi_generator]") {
  VmShape s;
  s.profile = "qemu-7.2-q35";
  s.origin = "shape.yaml";
  s.cpus = 289;
  CHECK_THAT(input_error_of(s), Catch::Contains("289 CPUs is more than qemu-7.2-q35 allows (288"));
  s.cpus = 0;
  CHECK_THAT(input_error_of(s), Catch::Contains("cpus must be at least 1"));
  s.cpus = 1;
  s.memory = (2ull << 30) + 4096;
  CHECK_THAT(input_error_of(s), Catch::Contains("multiple of 1 MiB"));
  s.memory = 2ull << 30;
  s.devices.assign(31, PciDevice{PciDeviceKind::virtio_blk, RootPortChild::none});
  CHECK_THAT(input_error_of(s), Catch::Contains("31 devices on the root bus"));
  s.devices.clear();
  s.hugepages = true;
  CHECK_THAT(input_error_of(s), Catch::Contains("hugepages"));
  CHECK_THAT(input_error_of(s), Catch::Contains("shape.yaml"));
  s.profile = "qemu-1.0-nonsense";
  CHECK_THROWS_AS(load_acpi_profile(s.profile), InputError);
}

namespace {

// The three "ACPI DATA" events (RTMR0, type 0xA) of a dstack vector's real event log.
std::vector<Sha384> logged_acpi_digests(const std::string &rel) {
  std::vector<Sha384> out;
  for (const auto &e : mrforge::test::events_of(mrforge::test::dstack_boot_events(rel), 0, 0xA))
    out.push_back(e.digest);
  return out;
}

} // namespace

TEST_CASE("generated blobs for real TDX hosts' VM shapes hash to the ACPI DATA digests of their logs",
          "[acpi_generator][vectors]") {
  // tdx-lite-getquote: QEMU 8.2.2, 2 vCPU, 2 GiB; quote-report: QEMU 9.2.1, 16 vCPU, 64 GiB, one GPU
  // behind a root port, hotplug off, 16 TiB 64-bit hole. The shapes come from the vm_config the
  // hosts published with the quotes.
  for (const char *rel : {"dstack/tdx-lite-getquote.json", "dstack/quote-report.json"}) {
    INFO(rel);
    VmShape shape = load_dstack_vm_config(mrforge::test::vector_path(rel));
    GeneratedAcpi g = generate_acpi(shape, load_acpi_profile(shape.profile));
    std::vector<Sha384> logged = logged_acpi_digests(rel);
    REQUIRE(logged.size() == 3);
    CHECK(to_hex(sha384(g.blobs.table_loader)) == to_hex(logged[0]));
    CHECK(to_hex(sha384(g.blobs.rsdp)) == to_hex(logged[1]));
    CHECK(to_hex(sha384(g.blobs.tables)) == to_hex(logged[2]));
  }
}

TEST_CASE("dstack's reference shape gives the etc/acpi/tables digests dstack's own tests assert",
          "[acpi_generator][vectors]") {
  // dstack-mr's base machine (1 vCPU, 2 GiB, pic off, smm off, hpet off, no GPU, one NIC, no extra
  // volumes, hotplug on, root verity, default 64-bit hole): boot disk, NIC, vsock, 9p, root disk.
  // SHA-256 values from dstack's generator tests, quoted in ../shared/docs/acpi-notes.md.
  VmShape s;
  s.cpus = 1;
  s.memory = 2ull << 30;
  s.pic = s.smm = s.hpet = false;
  for (PciDeviceKind k : {PciDeviceKind::virtio_blk, PciDeviceKind::virtio_net, PciDeviceKind::vhost_vsock,
                          PciDeviceKind::virtio_9p, PciDeviceKind::virtio_blk})
    s.devices.push_back({k, RootPortChild::none});
  struct {
    const char *profile, *sha256;
  } cases[] = {{"qemu-8.2-tdx", "ff0c03c7f4026a95b0b2f2e08cef7d501a3a44b4df036c9f26de91828f0215f6"},
               {"qemu-9.2-tdx", "b183eba66c6e96556f28cefe60ca92620b82488fcefaf66167aad61e2b2e73d1"}};
  for (const auto &c : cases) {
    INFO(c.profile);
    s.profile = c.profile;
    CHECK(to_hex(sha256(generate_acpi(s, load_acpi_profile(s.profile)).blobs.tables)) == c.sha256);
  }
}

TEST_CASE("measure reproduces real TDs' RTMR0 from their vm_config and the CFV digest, ACPI generated",
          "[acpi_generator][vectors][cli]") {
  // No ACPI blobs or digests are given: measure generates them from the published vm_config. The
  // other registers' component digests come from the log (their binaries are not in the vectors).
  struct {
    const char *rel, *acpi_profile;
  } cases[] = {{"dstack/quote-report.json", "qemu-9.2-tdx"}, {"dstack/tdx-lite-getquote.json", "qemu-8.2-tdx"}};
  for (const auto &c : cases) {
    INFO(c.rel);
    const std::string vec = mrforge::test::vector_path(c.rel);
    std::vector<std::string> digests;
    for (const std::string &a : mrforge::test::published_digest_args(c.rel))
      if (a.rfind("acpi-", 0) != 0 && a != "--digest") digests.insert(digests.end(), {"--digest", a});
    std::vector<std::string> measure{
        "measure", "--dstack-vm-config", vec, "--firmware", mrforge::test::debian_ovmf(), "--cmdline", "", "--json"};
    measure.insert(measure.end(), digests.begin(), digests.end());
    mrforge::test::ShellResult m = mrforge::test::run_mrforge_cli(measure);
    INFO(m.err);
    REQUIRE(m.exit_code == 0);
    auto j = nlohmann::json::parse(m.out);
    CHECK(j["rtmr0"] == to_hex(mrforge::test::dstack_quote_rtmrs(c.rel).at(0)));
    CHECK(j["inputs"]["acpi_tables"].get<std::string>().find(std::string("generated by mrforge (ACPI profile ") +
                                                             c.acpi_profile) == 0);
    // And the whole quote verifies against expected values computed that way.
    std::vector<std::string> verify{
        "verify",    "--quote",   vec, "--dstack-vm-config", vec, "--firmware", mrforge::test::debian_ovmf(),
        "--no-mrtd", "--cmdline", ""};
    verify.insert(verify.end(), digests.begin(), digests.end());
    mrforge::test::ShellResult v = mrforge::test::run_mrforge_cli(verify);
    INFO(v.out << v.err);
    CHECK(v.exit_code == 0);
  }
}
