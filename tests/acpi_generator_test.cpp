// The native ACPI generator against real QEMU: every captured fixture in
// tests/data/acpi/<profile>/<shape>/ (blobs read by a real QEMU 7.2 or 10.0 guest from fw_cfg,
// see tests/acpi/recapture.sh; tests/acpi_capture_test.cpp re-captures a sample live) is generated
// from its shape.yaml alone and must come out byte for byte; bad shapes give errors naming the
// field.
#include "log_vectors.hpp"
#include "test_support.hpp"

#include <measure/acpi/acpi_decode.hpp>
#include <measure/acpi/acpi_generator.hpp>
#include <measure/documents/profile_yaml.hpp>
#include <measure/documents/vm_shape_file.hpp>
#include <measure/util/errors.hpp>
#include <measure/util/hash.hpp>

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <filesystem>
#include <optional>
#include <set>

using namespace mrforge;

namespace {

namespace fs = std::filesystem;

const std::string k_fixtures = std::string(MRFORGE_SOURCE_DIR) + "/tests/data/acpi/qemu-7.2-q35";

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

TEST_CASE("generated ACPI blobs equal every live capture (QEMU 7.2 and 10.0, OVMF 2022.11 and 2025.02), byte for byte",
          "[acpi_generator]") {
  uint32_t most_cpus = 0;
  for (const test::AcpiFixtureSet &set : test::acpi_fixture_sets()) {
    INFO("profile " << set.profile);
    std::set<uint32_t> cpus;
    std::set<uint64_t> memories;
    for (const std::string &dir : set.dirs) {
      INFO("fixture " << dir);
      VmShape shape = load_vm_shape(dir + "/shape.yaml");
      // Each capture names the profile of the QEMU that made it: its folder's.
      CHECK(shape.profile == set.profile);
      cpus.insert(shape.cpus);
      most_cpus = std::max(most_cpus, shape.cpus);
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
    // At least 15 live shapes per QEMU with Debian bookworm's OVMF, with the spread the acceptance
    // names; a second firmware on the same QEMU (qemu-10.0-q35-ovmf-2025.02) needs what it changes.
    if (set.profile == "qemu-7.2-q35" || set.profile == "qemu-10.0-q35") {
      CHECK(set.dirs.size() >= 15);
      for (uint32_t n : {1u, 2u, 3u, 4u, 8u, 16u, 64u}) CHECK(cpus.count(n) == 1);
      for (uint64_t m : {1ull << 30, 2ull << 30, 2560ull << 20, 3ull << 30, 4ull << 30, 64ull << 30})
        CHECK(memories.count(m) == 1);
    } else {
      CHECK(set.dirs.size() >= 5);
    }
  }
  // Some capture has APIC IDs from 255 on: x2APIC MADT entries, the x2APIC NMI, ACPI0007 devices.
  CHECK(most_cpus > 255);
}

TEST_CASE("generation matches a capture and depends on each shape input", "[acpi_generator]") {
  AcpiProfile p = load_acpi_profile("qemu-7.2-q35");
  // The base: 1 vCPU, 2 GiB, QEMU's defaults, as a real QEMU 7.2 guest read it from fw_cfg.
  const VmShape base = load_vm_shape(k_fixtures + "/c1-m2g/shape.yaml");
  GeneratedAcpi a = generate_acpi(base, p);
  REQUIRE(a.blobs.tables == read_acpi_blobs(k_fixtures + "/c1-m2g").tables);
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
  // dstack's hugepages with a GPU: its root port moves onto an expander, whose windows OVMF sizes
  // from the GPU's BARs, which the shape must give (the NUMA refusals are in acpi_numa_test.cpp).
  s.devices = {{PciDeviceKind::pcie_root_port, RootPortChild::gpu}};
  s.hugepages = true;
  CHECK_THAT(input_error_of(s), Catch::Contains("shape.yaml: hugepages") && Catch::Contains("the gpu behind") &&
                                    Catch::Contains("--gpu-bars"));
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

namespace {

// The 64-bit windows (QWordMemory descriptors: tag 0x8A, length 0x2B, resource type 0) in the
// tables blob, as [min, max]: QEMU's PCI0._CRS has exactly one, the 64-bit PCI hole.
std::vector<std::pair<uint64_t, uint64_t>> qword_memory_windows(const Bytes &tables) {
  auto le64 = [&](size_t at) {
    uint64_t v = 0;
    for (size_t i = 0; i < 8; ++i) v |= uint64_t{tables[at + i]} << (8 * i);
    return v;
  };
  std::vector<std::pair<uint64_t, uint64_t>> out;
  for (size_t i = 0; i + 46 <= tables.size(); ++i)
    if (tables[i] == 0x8A && tables[i + 1] == 0x2B && tables[i + 2] == 0 && tables[i + 3] == 0)
      out.emplace_back(le64(i + 14), le64(i + 22));
  return out;
}

} // namespace

TEST_CASE("ACPI profiles carry QEMU's limits: memory, 64-bit hole and address space", "[acpi_generator]") {
  for (const char *name : {"qemu-7.2-q35", "qemu-8.2-tdx", "qemu-9.2-tdx"}) {
    INFO(name);
    AcpiProfile p = load_acpi_profile(name);
    CHECK(p.phys_bits == 52); // x86-64's widest (QEMU TARGET_PHYS_ADDR_SPACE_BITS)
    CHECK(p.max_memory == 64ull << 40);
    CHECK(p.max_pci_hole64_size > p.default_pci_hole64_size);
    CHECK(p.max_pci_hole64_size <= 1ull << p.phys_bits);
  }
}

TEST_CASE("memory beyond the profile's limit is refused, not generated", "[acpi_generator]") {
  VmShape s;
  s.profile = "qemu-7.2-q35";
  s.origin = "shape.yaml";
  s.memory = 1ull << 60; // 1 EiB: accepted with exit 0 before
  CHECK_THAT(input_error_of(s), Catch::Contains("shape.yaml") && Catch::Contains("is more than qemu-7.2-q35 accepts") &&
                                    Catch::Contains("max_memory"));
  s.memory = (64ull << 40) + (1ull << 20);
  CHECK_THAT(input_error_of(s), Catch::Contains("max_memory"));
  s.memory = 0xFFFFFFFFFFF00000ull; // the largest whole MiB
  CHECK_THAT(input_error_of(s), Catch::Contains("max_memory"));
  for (const char *name : {"qemu-7.2-q35", "qemu-9.2-tdx"}) {
    s.profile = name;
    s.memory = 64ull << 40;
    CHECK(input_error_of(s) == "no error");
  }
}

TEST_CASE("a 64-bit hole is generated whole or refused: never a vanished or overflowing window", "[acpi_generator]") {
  // A sweep of hole sizes near every power of two and near 2^64 over both kinds of window
  // placement (QEMU 7.2: above RAM or at OVMF's dynamic aperture; TDX: at the fixed aperture).
  std::vector<uint64_t> holes = {0, 1ull << 30, 0xFFFFFFFFC0000000ull, ~0ull - (1ull << 30) + 1};
  for (unsigned k = 31; k < 64; ++k) {
    holes.push_back(1ull << k);
    holes.push_back((1ull << k) + (1ull << 30));
  }
  struct Case {
    const char *profile;
    std::vector<PciDevice> devices;
  };
  const std::vector<Case> cases = {
      {"qemu-7.2-q35", {}},
      {"qemu-7.2-q35", {PciDevice{PciDeviceKind::virtio_net, RootPortChild::none}}},
      {"qemu-9.2-tdx", {PciDevice{PciDeviceKind::virtio_blk, RootPortChild::none}}},
  };
  for (const Case &c : cases) {
    AcpiProfile profile = load_acpi_profile(c.profile);
    for (uint64_t hole : holes) {
      INFO(c.profile << " with " << c.devices.size() << " devices, hole " << hole);
      VmShape s;
      s.profile = c.profile;
      s.devices = c.devices;
      s.pic = !profile.confidential;
      s.smm = !profile.confidential;
      s.pci_hole64_size = hole;
      std::optional<GeneratedAcpi> g;
      try {
        g = generate_acpi(s, profile);
      } catch (const InputError &e) {
        std::string what = e.what();
        INFO(what);
        CHECK(
            (what.find("max_pci_hole64_size") != std::string::npos || what.find("address space") != std::string::npos));
        CHECK(hole > (1ull << 40)); // small holes always fit
        continue;
      }
      CHECK(hole <= profile.max_pci_hole64_size);
      auto windows = qword_memory_windows(g->blobs.tables);
      if (hole == 0) {
        CHECK(windows.empty()); // no 64-bit hole, no window
        continue;
      }
      REQUIRE(windows.size() == 1);
      const auto [min, max] = windows[0];
      CHECK(max >= min);
      CHECK(max - min + 1 >= hole); // the whole hole (rounded up to 1 GiB above RAM)
      CHECK(max - min + 1 - hole < 1ull << 30);
      CHECK(max < 1ull << profile.phys_bits); // addressable
    }
  }
  // The example, and the sizes real hosts use.
  VmShape s;
  s.profile = "qemu-9.2-tdx";
  s.pic = s.smm = false;
  s.pci_hole64_size = 0xFFFFFFFFC0000000ull;
  CHECK_THAT(input_error_of(s), Catch::Contains("max_pci_hole64_size"));
  for (uint64_t ok : {16ull << 40, 1ull << 50}) { // 16 TiB (quote-report.json), 1 PiB (acpi-notes.md)
    s.pci_hole64_size = ok;
    CHECK(input_error_of(s) == "no error");
  }
  // At the limit exactly: the TDX window ends at 2^52.
  s.pci_hole64_size = load_acpi_profile("qemu-9.2-tdx").max_pci_hole64_size;
  GeneratedAcpi at_limit = generate_acpi(s, load_acpi_profile("qemu-9.2-tdx"));
  CHECK(qword_memory_windows(at_limit.blobs.tables) ==
        std::vector<std::pair<uint64_t, uint64_t>>{{0x380000000000ull, (1ull << 52) - 1}});
  s.pci_hole64_size = *s.pci_hole64_size + (1ull << 30);
  CHECK_THAT(input_error_of(s), Catch::Contains("max_pci_hole64_size"));
}

TEST_CASE("every ACPI profile generates its max_cpus and refuses one more with exit 2, naming the limit",
          "[acpi_generator][cli]") {
  test::TempDir dir("acpi-max-cpus");
  const std::vector<std::string> names = shipped_acpi_profiles();
  REQUIRE(names.size() >= 4);
  for (const std::string &name : names) {
    INFO(name);
    const AcpiProfile p = load_acpi_profile(name);
    VmShape s;
    s.profile = name;
    s.cpus = p.max_cpus;
    s.memory = 2ull << 30;
    GeneratedAcpi g = generate_acpi(s, p);
    // The MADT: header and local APIC address/flags (44 bytes), one entry per CPU (8 bytes below
    // APIC ID 255, 16 from there on: x2APIC), the IO APIC (12), the interrupt overrides (10 each:
    // IRQ0 and the PCI IRQs 5, 9, 10, 11, or all 16 with TDX edge IRQs), and the NMI entry (an
    // x2APIC one of 12 bytes once an APIC ID is above 254, else 6).
    const uint32_t xapic = std::min<uint32_t>(p.max_cpus, 255);
    const uint32_t overrides = p.has(AcpiVariation::tdx_edge_irqs) ? 16 : 5;
    const uint32_t madt =
        44 + xapic * 8 + (p.max_cpus - xapic) * 16 + 12 + overrides * 10 + (p.max_cpus > 255 ? 12 : 6);
    auto apic = std::find_if(g.tables.begin(), g.tables.end(), [](const auto &t) { return t.signature == "APIC"; });
    REQUIRE(apic != g.tables.end());
    CHECK(apic->length == madt);
    // One more, from a shape file and from --cpus: exit 2 naming the limit, nothing written. The
    // shape format itself takes at most 4096 CPUs (k_max_shape_cpus, the most any q35 machine
    // type takes), so for a 4096-CPU profile the shape reader names that limit; --cpus beyond
    // 4096 is a usage error (exit 1) before any profile is read.
    const std::string over = std::to_string(p.max_cpus + 1);
    const std::string message = p.max_cpus < k_max_shape_cpus
                                    ? over + " CPUs is more than " + name + " allows (" + std::to_string(p.max_cpus) +
                                          ", the q35 machine's limit in QEMU " + p.qemu_version + ")"
                                    : "cpus: expected a CPU count from 1 to 4096, got '" + over + "'";
    test::write_text(dir / "shape.yaml",
                     "apiVersion: mrforge/v1\nkind: VmShape\nprofile: " + name + "\ncpus: " + over + "\nmemory: 2G\n");
    for (const char *command : {"generate", "capture"}) {
      INFO(command);
      std::vector<std::vector<std::string>> shapes = {{"--shape", dir / "shape.yaml"}};
      if (p.max_cpus < k_max_shape_cpus) shapes.push_back({"--profile", name, "--cpus", over, "--memory", "2G"});
      for (const auto &shape : shapes) {
        INFO(shape[0]);
        std::vector<std::string> args = {"acpi", command};
        args.insert(args.end(), shape.begin(), shape.end());
        args.insert(args.end(), {"-o", dir / "out"});
        test::ShellResult r = test::run_mrforge_cli(args);
        CHECK(r.exit_code == 2);
        CHECK_THAT(r.err, Catch::Contains(message));
        CHECK_FALSE(fs::exists(dir / "out"));
      }
    }
  }
}

TEST_CASE("acpi generate and capture refuse shapes beyond the limits with exit 2 and write nothing",
          "[acpi_generator][cli]") {
  test::TempDir dir("acpi-limits");
  const std::vector<std::vector<std::string>> shapes = {
      {"--cpus", "1", "--memory", "1E"},
      {"--cpus", "1", "--memory", "2G", "--pci-hole64-size", "0xFFFFFFFFC0000000"},
      {"--cpus", "1", "--memory", "2G", "--pci-hole64-size", "8E", "--device", "virtio-net"},
  };
  for (const auto &shape : shapes) {
    for (const char *command : {"generate", "capture"}) {
      std::vector<std::string> args = {"acpi", command};
      args.insert(args.end(), shape.begin(), shape.end());
      args.insert(args.end(), {"-o", dir / "out"});
      INFO(command << " " << shape[3] << (shape.size() > 4 ? " " + shape[5] : ""));
      test::ShellResult r = test::run_mrforge_cli(args);
      INFO(r.err);
      CHECK(r.exit_code == 2);
      CHECK(r.err.find("mrforge: error: the VM shape: ") == 0);
      CHECK((r.err.find("max_memory") != std::string::npos || r.err.find("max_pci_hole64_size") != std::string::npos ||
             r.err.find("address space") != std::string::npos));
      CHECK_FALSE(fs::exists(dir / "out"));
    }
  }
}
