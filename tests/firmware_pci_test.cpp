// Root ports (and the devices behind them) on PCI Express expanders: OVMF's resource assignment
// (measure/acpi/firmware_pci.hpp) is proven byte for byte by the live captures
// tests/data/acpi/<profile>/*numa*rootport*, *testdev* (the fixture test in
// acpi_generator_test.cpp); here: how BARs are written and checked, what the tables depend on,
// the refusals, the profile block, the CLI's --gpu-bars and the capture's pci-testdev arguments.
#include "test_support.hpp"

#include <builder/vm/acpi_capture.hpp>
#include <measure/acpi/acpi_generator.hpp>
#include <measure/acpi/firmware_pci.hpp>
#include <measure/documents/profile_yaml.hpp>
#include <measure/documents/vm_shape_file.hpp>
#include <measure/util/errors.hpp>
#include <measure/util/file_io.hpp>
#include <measure/util/input_limits.hpp>

#include <catch2/catch.hpp>

#include <algorithm>

#include <string>
#include <vector>

using namespace mrforge;
using namespace mrforge::test;

namespace {

const std::string k_profiles = std::string(MRFORGE_SOURCE_DIR) + "/measure/profiles/acpi/";

PciDevice port_with(RootPortChild behind, std::vector<PciBar> bars = {}) {
  return {PciDeviceKind::pcie_root_port, behind, std::move(bars)};
}

// 2 vCPUs, 4 GiB in one node whose expander on bus 5 holds `ports`; a NIC on pcie.0.
VmShape expander_shape(std::vector<PciDevice> ports, const std::string &profile = "qemu-10.0-q35") {
  VmShape s;
  s.profile = profile;
  s.origin = "gpu.yaml";
  s.cpus = 2;
  s.memory = 4ull << 30;
  NumaNode n;
  n.cpus = 2;
  n.memory = 4ull << 30;
  n.pxb_bus = 5;
  n.pxb_devices = std::move(ports);
  s.numa_nodes = {n};
  s.devices = {{PciDeviceKind::virtio_net}};
  return s;
}

using Run = ShellResult;
Run run_mrforge(const std::vector<std::string> &args) { return run_mrforge_cli(args); }

// The shape fields the file carries (origin and notes aside).
bool same_shape(const VmShape &a, const VmShape &b) {
  return a.profile == b.profile && a.cpus == b.cpus && a.memory == b.memory && a.devices == b.devices &&
         a.numa_nodes == b.numa_nodes && a.hugepages == b.hugepages && a.pci_hotplug == b.pci_hotplug;
}

Bytes dsdt_of(const VmShape &s) { return generate_acpi(s, load_acpi_profile(s.profile)).blobs.tables; }

FirmwarePciFacts q35_facts() {
  const AcpiProfile p = load_acpi_profile("qemu-10.0-q35");
  REQUIRE(p.firmware_pci);
  FirmwarePciFacts f;
  f.io_base = p.firmware_pci->io_base;
  f.io_limit = p.firmware_pci->io_limit;
  f.mmio32_base = p.firmware_pci->mmio32_base;
  f.mmio32_limit = p.firmware_pci->mmio32_limit;
  f.mmio64_base = 0xE000000000ull; // the dynamic window of 40 physical address bits
  f.mmio64_size = 0x2000000000ull;
  f.root_port_io_padding = p.firmware_pci->root_port_io_padding;
  f.root_port_mem_padding = p.firmware_pci->root_port_mem_padding;
  f.virtio_net_rom = p.firmware_pci->virtio_net_rom;
  return f;
}

} // namespace

TEST_CASE("the BARs of the device behind a root port are written TYPE=SIZE and checked", "[firmware_pci][vm_shape]") {
  const PciDevice gpu = parse_pci_device_spec("pcie-root-port:gpu(mem32=16M,pref64=128G,pref64=32M)", "d");
  CHECK(gpu.behind == RootPortChild::gpu);
  CHECK(gpu.bars == std::vector<PciBar>{{PciBarType::mem32, 16ull << 20},
                                        {PciBarType::pref64, 128ull << 30},
                                        {PciBarType::pref64, 32ull << 20}});
  CHECK(pci_device_spec(gpu) == "pcie-root-port:gpu(mem32=16M,pref64=128G,pref64=32M)");
  CHECK(parse_pci_device_spec(pci_device_spec(gpu), "d") == gpu);
  // A testdev without BARs is pci-testdev's defaults; with them they must be pci-testdev's.
  CHECK(device_behind_bars(parse_pci_device_spec("pcie-root-port:testdev", "d")) == testdev_bars(0));
  CHECK(device_behind_bars(parse_pci_device_spec("pcie-root-port:testdev(mem32=4K,io=256,pref64=1G)", "d")) ==
        testdev_bars(1ull << 30));
  auto refused = [](const std::string &spec, const std::string &why) {
    INFO(spec);
    CHECK_THROWS_WITH(parse_pci_device_spec(spec, "--device " + spec), Catch::Contains(why));
  };
  refused("pcie-root-port:gpu(mem32=24M)", "power of two");
  refused("pcie-root-port:gpu(vram=16M)", "TYPE=SIZE");
  refused("pcie-root-port:gpu(mem32=16M", "closing ')'");
  refused("pcie-root-port:gpu(mem32=4G)", "a mem32 BAR takes");
  refused("pcie-root-port:gpu(io=1M)", "an io BAR takes");
  refused("pcie-root-port:gpu(pref64=1G,pref64=1G,pref64=1G,mem32=1M)", "7 BAR registers");
  refused("pcie-root-port:gpu(rom=1M,rom=1M)", "more than one rom");
  refused("pcie-root-port(mem32=16M)", "behind a pcie-root-port");
  refused("pcie-root-port:testdev(pref64=1G)", "mem32=4K,io=256");
  CHECK_THROWS_AS(parse_pci_device_spec("virtio-blk(mem32=16M)", "d"), InputError);

  // Shape files: the mapping form, written back canonically, and errors with their line.
  const std::string header = "apiVersion: mrforge/v1\nkind: VmShape\ncpus: 2\nmemory: 4G\n";
  VmShape s = parse_vm_shape(header + "numa_nodes:\n"
                                      "  - cpus: 2\n"
                                      "    memory: 4G\n"
                                      "    pxb_bus: 5\n"
                                      "    pxb_devices:\n"
                                      "      - {kind: pcie-root-port, behind: gpu, bars: [mem32=16M, pref64=64G]}\n"
                                      "      - pcie-root-port:testdev(mem32=4K,io=256,pref64=32M)\n",
                             "s.yaml");
  REQUIRE(s.numa_nodes.size() == 1);
  CHECK(s.numa_nodes[0].pxb_devices[0].bars ==
        std::vector<PciBar>{{PciBarType::mem32, 16ull << 20}, {PciBarType::pref64, 64ull << 30}});
  CHECK(same_shape(parse_vm_shape(vm_shape_to_yaml(s), "back.yaml"), s));
  CHECK_THROWS_WITH(
      parse_vm_shape(header + "devices:\n  - {kind: pcie-root-port, behind: gpu, bars: [mem32=3M]}\n", "bad.yaml"),
      Catch::Contains("bad.yaml:6:") && Catch::Contains("devices[0].bars") && Catch::Contains("power of two"));
}

TEST_CASE("an expander's windows follow the BARs behind its root ports and OVMF's padding", "[firmware_pci]") {
  const FirmwarePciFacts f = q35_facts();
  NumaLayout layout;
  NumaNode n;
  n.cpus = 1;
  n.memory = 1ull << 30;
  n.pxb_bus = 5;
  n.pxb_devices = {port_with(RootPortChild::none), port_with(RootPortChild::none)};
  layout.nodes = {n};
  const std::vector<ExpanderResources> empty = assign_expander_resources(layout, f, "t", false);
  REQUIRE(empty.size() == 1);
  CHECK(empty[0].bus == 5);
  CHECK(empty[0].max_bus == 7); // one bus per root port
  // Padding, not the (absent) devices, sizes the windows: one 4 KiB I/O window each, 2 MiB of
  // 32-bit memory each plus the ports' own MSI-X BARs, and 64-bit prefetchable padding of the
  // aperture / 256 each, all contiguous after what pcie.0 took.
  REQUIRE(empty[0].io.size() == 1);
  CHECK(empty[0].io[0].limit - empty[0].io[0].base + 1 == 2 * 0x1000);
  REQUIRE(empty[0].mem32.size() == 1);
  CHECK(empty[0].mem32[0].limit - empty[0].mem32[0].base + 1 == 2 * f.root_port_mem_padding + 2 * 0x1000);
  REQUIRE(empty[0].mem64.size() == 1);
  CHECK(empty[0].mem64[0].limit - empty[0].mem64[0].base + 1 == 2 * (f.mmio64_size >> 8));

  // A device larger than the padding makes its window its own size, aligned to it.
  layout.nodes[0].pxb_devices[0] = port_with(RootPortChild::testdev, testdev_bars(8ull << 30));
  const std::vector<ExpanderResources> big = assign_expander_resources(layout, f, "t", false);
  REQUIRE(big[0].mem64.size() == 1);
  CHECK(big[0].mem64[0].limit - big[0].mem64[0].base + 1 == (8ull << 30) + (f.mmio64_size >> 8));
  CHECK(big[0].mem64[0].base % (8ull << 30) == 0);

  // An expander without devices is not a root bridge to OVMF: nothing assigned.
  layout.nodes[0].pxb_devices.clear();
  CHECK(assign_expander_resources(layout, f, "t", false).empty());
}

TEST_CASE("the tables change with each BAR behind an expander's root port", "[firmware_pci]") {
  const VmShape base = expander_shape({port_with(RootPortChild::testdev, testdev_bars(1ull << 30))});
  const Bytes t0 = dsdt_of(base);
  VmShape s = base;
  s.numa_nodes[0].pxb_devices[0] = port_with(RootPortChild::testdev, testdev_bars(4ull << 30));
  CHECK(dsdt_of(s) != t0);
  s = base;
  s.numa_nodes[0].pxb_devices.push_back(port_with(RootPortChild::none));
  CHECK(dsdt_of(s) != t0);
  s = base;
  s.devices.push_back({PciDeviceKind::pcie_root_port}); // pcie.0's windows push the expander's up
  CHECK(dsdt_of(s) != t0);
  // A GPU given by its BARs generates on a TDX family too (its firmware facts are inferred).
  VmShape tdx = expander_shape({port_with(RootPortChild::gpu, {{PciBarType::mem32, 16ull << 20},
                                                               {PciBarType::pref64, 128ull << 30},
                                                               {PciBarType::pref64, 32ull << 20}})},
                               "qemu-10.2-tdx");
  CHECK_NOTHROW(dsdt_of(tdx));
}

TEST_CASE("expander root ports without BARs to size them, or that do not fit, are refused naming the field",
          "[firmware_pci]") {
  VmShape s = expander_shape({port_with(RootPortChild::none), port_with(RootPortChild::gpu)});
  CHECK_THROWS_WITH(dsdt_of(s), Catch::Contains("gpu.yaml: numa_nodes[0].pxb_devices[1]") &&
                                    Catch::Contains("--gpu-bars") && Catch::Contains("lspci"));
  // pcie.0's NVSwitch port comes before the expander's windows: its BARs are needed too.
  s = expander_shape({port_with(RootPortChild::none)});
  s.devices.push_back(port_with(RootPortChild::nvswitch));
  CHECK_THROWS_WITH(dsdt_of(s), Catch::Contains("gpu.yaml: devices") && Catch::Contains("--nvswitch-bars"));
  // 64 GiB behind one port and an empty port beside it (64 GiB + 512 MiB, aligned to 64 GiB) do
  // not fit qemu64's 128 GiB window after pcie.0's BARs: OVMF would leave a device unassigned,
  // mrforge refuses.
  s = expander_shape({port_with(RootPortChild::testdev, testdev_bars(64ull << 30)), port_with(RootPortChild::none)});
  CHECK_THROWS_WITH(dsdt_of(s), Catch::Contains("the expander on bus 5") && Catch::Contains("64-bit memory") &&
                                    Catch::Contains("do not fit"));
  // A profile without firmware facts refuses root ports on expanders.
  std::string yaml = read_text_file(k_profiles + "qemu-10.0-q35.yaml", limits::k_yaml_document);
  const size_t from = yaml.find("firmware_pci:"), to = yaml.find("variations:");
  REQUIRE(from != std::string::npos);
  yaml.erase(from, to - from);
  const AcpiProfile bare = parse_acpi_profile(yaml, "bare.yaml");
  CHECK_THROWS_WITH(generate_acpi(expander_shape({port_with(RootPortChild::none)}), bare),
                    Catch::Contains("no firmware_pci facts"));
}

TEST_CASE("a profile's firmware_pci block is checked where it is written", "[firmware_pci][profile]") {
  const std::string yaml = read_text_file(k_profiles + "qemu-10.2-tdx.yaml", limits::k_yaml_document);
  const AcpiProfile p = parse_acpi_profile(yaml, "tdx.yaml");
  REQUIRE(p.firmware_pci);
  CHECK(p.firmware_pci->mmio32_uc32);
  CHECK(p.firmware_pci->root_port_io_padding == 0);
  auto edited = [&](const std::string &from, const std::string &to) {
    std::string y = yaml;
    const size_t at = y.find(from);
    REQUIRE(at != std::string::npos);
    y.replace(at, from.size(), to);
    return y;
  };
  CHECK_THROWS_WITH(
      parse_acpi_profile(edited("root_port_mem_padding: 0x200000", "root_port_mem_padding: 0x300000"), "t.yaml"),
      Catch::Contains("root_port_mem_padding") && Catch::Contains("power of two"));
  CHECK_THROWS_WITH(parse_acpi_profile(edited("  mmio64_size: 0x80000000000\n", ""), "t.yaml"),
                    Catch::Contains("mmio64_size goes with pci64_aperture_base"));
  CHECK_THROWS_WITH(parse_acpi_profile(edited("mmio32_limit: 0xDFFFFFFF", "mmio32_limit: 0x1DFFFFFFF"), "t.yaml"),
                    Catch::Contains("mmio32_limit"));
  CHECK_THROWS_WITH(parse_acpi_profile(edited("io_base: 0x6000", "io_base: 0x6000\n  io_width: 16"), "t.yaml"),
                    Catch::Contains("io_width"));
}

TEST_CASE("a dstack vm_config's GPUs get their BARs from --gpu-bars", "[firmware_pci][cli]") {
  TempDir dir("gpu-bars");
  const std::string config = dir.path() + "/vm_config.json";
  write_file_atomically(config, R"({"cpu_count": 2, "memory_size": 4294967296, "qemu_version": "10.2.0",)"
                                R"( "hugepages": true, "num_gpus": 2, "hotplug_off": true})");
  Run without = run_mrforge({"acpi", "generate", "--dstack-vm-config", config, "-o", dir.path() + "/a"});
  CHECK(without.exit_code == 2);
  CHECK_THAT(without.err, Catch::Contains("hugepages") && Catch::Contains("--gpu-bars"));
  Run with = run_mrforge({"acpi", "generate", "--dstack-vm-config", config, "--gpu-bars",
                          "mem32=16M,pref64=128G,pref64=32M", "-o", dir.path() + "/b"});
  INFO(with.err);
  CHECK(with.exit_code == 0);
  Run other = run_mrforge({"acpi", "generate", "--dstack-vm-config", config, "--gpu-bars",
                           "mem32=16M,pref64=64G,pref64=32M", "-o", dir.path() + "/c"});
  CHECK(other.exit_code == 0);
  CHECK(read_text(dir.path() + "/b/tables") != read_text(dir.path() + "/c/tables"));
  Run bad = run_mrforge(
      {"acpi", "generate", "--dstack-vm-config", config, "--gpu-bars", "mem32=15M", "-o", dir.path() + "/d"});
  CHECK(bad.exit_code == 2);
  CHECK_THAT(bad.err, Catch::Contains("--gpu-bars") && Catch::Contains("power of two"));
  Run none = run_mrforge({"acpi", "generate", "--dstack-vm-config", config, "--gpu-bars", "mem32=16M",
                          "--nvswitch-bars", "mem32=32M", "-o", dir.path() + "/e"});
  CHECK(none.exit_code == 2);
  CHECK_THAT(none.err, Catch::Contains("--nvswitch-bars") && Catch::Contains("no pcie-root-port:nvswitch"));
}

TEST_CASE("acpi capture puts a pci-testdev with its membar behind the root port", "[firmware_pci][acpi_capture]") {
  TempDir dir("testdev");
  VmShape s =
      expander_shape({port_with(RootPortChild::testdev, testdev_bars(1ull << 30)), port_with(RootPortChild::testdev)});
  s.devices.push_back(port_with(RootPortChild::testdev, testdev_bars(4ull << 30)));
  const std::vector<std::string> args = builder::qemu_shape_args(s, dir.path());
  auto after = [&](const std::string &arg) {
    for (size_t i = 0; i + 1 < args.size(); ++i)
      if (args[i] == arg) return args[i + 1];
    return std::string();
  };
  CHECK(after("pcie-root-port,id=rp1,bus=pcie.node0,chassis=1,addr=0") == "-device");
  CHECK(std::count(args.begin(), args.end(), "pci-testdev,bus=rp1,membar=1073741824") == 1);
  CHECK(std::count(args.begin(), args.end(), "pci-testdev,bus=rp2") == 1);
  CHECK(std::count(args.begin(), args.end(), "pci-testdev,bus=rp3,membar=4294967296") == 1);
  // A GPU cannot be started here, whatever its BARs.
  s.numa_nodes[0].pxb_devices[1] = port_with(RootPortChild::gpu, {{PciBarType::mem32, 16ull << 20}});
  CHECK_THROWS_WITH(builder::qemu_shape_args(s, dir.path()), Catch::Contains("gpu") && Catch::Contains("testdev"));
}
