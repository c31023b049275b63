// NUMA nodes and PCI Express expanders in VM shapes: the layouts QEMU (with OVMF) cannot start are
// refused with an InputError naming the field; what the generator builds for the others is proven
// byte for byte by the live captures in tests/data/acpi/<profile>/*numa*, *hugepages* (the
// fixture test in acpi_generator_test.cpp); here: the refusals, what the tables depend on, the
// shape file round trip and the capture's QEMU arguments.
#include "test_support.hpp"

#include <builder/vm/acpi_capture.hpp>
#include <measure/acpi/acpi_generator.hpp>
#include <measure/documents/profile_yaml.hpp>
#include <measure/documents/recorded_shapes.hpp>
#include <measure/documents/vm_shape_file.hpp>
#include <measure/util/errors.hpp>
#include <measure/util/file_io.hpp>
#include <measure/util/hash.hpp>
#include <measure/util/input_limits.hpp>

#include <catch2/catch.hpp>

#include <functional>
#include <string>
#include <vector>

using namespace mrforge;
using namespace mrforge::test;

namespace {

const std::string k_profiles = std::string(MRFORGE_SOURCE_DIR) + "/measure/profiles/acpi/";

PciDevice root_port(RootPortChild behind = RootPortChild::none) { return {PciDeviceKind::pcie_root_port, behind}; }

NumaNode node(uint32_t cpus, uint64_t memory, std::optional<uint32_t> bus = std::nullopt, size_t ports = 0) {
  NumaNode n;
  n.cpus = cpus;
  n.memory = memory;
  n.pxb_bus = bus;
  n.pxb_devices.assign(ports, root_port());
  return n;
}

// 4 vCPUs, 4 GiB in two nodes with expanders on buses 5 and 7, a NIC and a root port on pcie.0.
VmShape two_nodes() {
  VmShape s;
  s.profile = "qemu-10.0-q35";
  s.origin = "shape file numa.yaml";
  s.cpus = 4;
  s.memory = 4ull << 30;
  s.numa_nodes = {node(2, 2ull << 30, 5), node(2, 2ull << 30, 7)};
  s.devices = {{PciDeviceKind::virtio_net, RootPortChild::none}, root_port()};
  return s;
}

GeneratedAcpi generate(const VmShape &s) { return generate_acpi(s, load_acpi_profile(s.profile)); }

// A shipped profile with `edit` applied to its YAML text (a profile variant for a peer's model).
AcpiProfile edited_profile(const std::string &name, const std::string &new_name,
                           const std::function<void(std::string &)> &edit) {
  std::string yaml = read_text_file(k_profiles + name + ".yaml", limits::k_yaml_document);
  const std::string name_line = "name: " + name + "\n";
  size_t at = yaml.find(name_line);
  REQUIRE(at != std::string::npos);
  yaml.replace(at, name_line.size(), "name: " + new_name + "\n");
  edit(yaml);
  return parse_acpi_profile(yaml, new_name + ".yaml");
}

void add_variation(std::string &yaml, const std::string &variation) {
  const std::string key = "variations: [";
  size_t at = yaml.find(key);
  REQUIRE(at != std::string::npos);
  yaml.insert(at + key.size(), variation + ", ");
}

// sha256 of etc/acpi/tables for a dstack vm_config under `p`.
std::string tables_sha256(const std::string &vm_config, const AcpiProfile &p) {
  VmShape s = parse_dstack_vm_config(vm_config, "golden vm_config");
  s.profile = p.name;
  return to_hex(sha256(generate_acpi(s, p).blobs.tables));
}

} // namespace

TEST_CASE("NUMA layouts QEMU cannot start are refused with an InputError naming the field", "[acpi_numa]") {
  const VmShape ok = two_nodes();
  REQUIRE_NOTHROW(generate(ok));
  auto refused = [](const VmShape &s, const std::string &field, const std::string &why) {
    INFO(field);
    CHECK_THROWS_AS(generate(s), InputError);
    CHECK_THAT(error_message([&] { generate(s); }), Catch::Contains("numa.yaml: " + field) && Catch::Contains(why));
  };
  VmShape s = ok;
  s.numa_nodes[0].cpus = 3; // QEMU would put an unassigned vCPU on node 0 silently
  refused(s, "numa_nodes", "the nodes hold 5 vCPUs, the machine has 4");
  s = ok;
  s.numa_nodes[1].memory = 1ull << 30;
  refused(s, "numa_nodes", "adds up to 3G, the machine has 4G");
  s = ok;
  s.numa_nodes[1].memory = 0;
  refused(s, "numa_nodes[1].memory", "positive multiple of 1 MiB");
  s = ok;
  s.numa_nodes[1].pxb_bus = 5;
  refused(s, "numa_nodes[1].pxb_bus", "Bus 5 is already in use");
  s = ok;
  s.numa_nodes[0].pxb_bus = 0;
  refused(s, "numa_nodes[0].pxb_bus", "bus 0 is the root bus");
  s = ok;
  s.numa_nodes[0].pxb_bus = 256;
  refused(s, "numa_nodes[0].pxb_bus", "1-255");
  s = ok;
  s.numa_nodes[0].pxb_devices.assign(33, root_port());
  refused(s, "numa_nodes[0].pxb_devices", "32 slots");
  s = ok;
  s.numa_nodes[0].pxb_devices = {{PciDeviceKind::virtio_blk, RootPortChild::none}};
  refused(s, "numa_nodes[0].pxb_devices[0]", "only pcie-root-ports");
  s = ok;
  s.numa_nodes[0].pxb_bus.reset();
  s.numa_nodes[0].pxb_devices = {root_port()};
  refused(s, "numa_nodes[0].pxb_devices", "need a pxb_bus");
  // OVMF numbers an expander's root ports from its bus + 1: 2 ports on bus 5 reach bus 7.
  s = ok;
  s.numa_nodes[0].pxb_devices = {root_port(), root_port()};
  refused(s, "numa_nodes[0].pxb_bus", "reach bus 7 of numa_nodes[1]'s expander");
  s = ok;
  s.numa_nodes[1].pxb_bus = 255;
  s.numa_nodes[1].pxb_devices = {root_port()};
  refused(s, "numa_nodes[1].pxb_bus", "past bus 255");
  // pcie.0's root ports take buses 1, 2, ...: five of them reach bus 5.
  s = ok;
  s.devices.assign(5, root_port());
  refused(s, "numa_nodes[0].pxb_bus", "collides with the root bus's 5 root ports");
  s = ok;
  s.cpus = 16;
  s.memory = 16ull << 30;
  s.numa_nodes.clear();
  for (uint32_t bus = 10; bus < 26; ++bus) s.numa_nodes.push_back(node(1, 1ull << 30, bus));
  refused(s, "numa_nodes", "16 expanders");
  s.numa_nodes.pop_back();
  s.numa_nodes.push_back(node(1, 1ull << 30)); // 15 expanders and a node without one: fine
  CHECK_NOTHROW(generate(s));
  s.devices.assign(16, {PciDeviceKind::virtio_blk, RootPortChild::none}); // slots 1-15, 0x1f: taken
  refused(s, "devices", "do not fit in root-bus slots 1-30");
  s = ok;
  s.cpus = 129;
  s.memory = 129ull << 30;
  s.numa_nodes.assign(129, node(1, 1ull << 30));
  refused(s, "numa_nodes", "at most 128 (MAX_NODES)");
  // Root ports on an expander get their windows from the firmware model (firmware_pci_test.cpp);
  // a GPU behind one needs its BARs.
  s = ok;
  s.numa_nodes[1].pxb_devices = {root_port()};
  CHECK_NOTHROW(generate(s));
  s.numa_nodes[1].pxb_devices = {root_port(RootPortChild::gpu)};
  refused(s, "numa_nodes[1].pxb_devices[0]", "--gpu-bars");
  // hugepages: the same checks on the layout it implies, named after it.
  s = ok;
  s.numa_nodes.clear();
  s.hugepages = true;
  s.devices = {{PciDeviceKind::virtio_net, RootPortChild::none}, root_port(RootPortChild::gpu)};
  refused(s, "hugepages", "the gpu behind a root port on an expander");
  s.devices.insert(s.devices.begin(), 5, root_port(RootPortChild::nvswitch));
  refused(s, "hugepages", "collides with the root bus's 5 root ports");
}

TEST_CASE("QEMU's uneven NUMA splits and memory-only nodes generate (dstack's crate refuses them, QEMU does not)",
          "[acpi_numa]") {
  VmShape s = two_nodes();
  s.cpus = 3;
  s.numa_nodes[0].cpus = 1; // tests/data/acpi/qemu-10.0-q35/c3-m3g-numa2-pxb8-pxb5-rootport-nic1 is live proof
  CHECK_NOTHROW(generate(s));
  s.numa_nodes[0].cpus = 0;
  s.numa_nodes[1].cpus = 3;
  CHECK_NOTHROW(generate(s));
}

TEST_CASE("the tables follow each NUMA input: nodes, memory split, expander buses and slots", "[acpi_numa]") {
  const AcpiProfile p = load_acpi_profile("qemu-10.0-q35");
  const VmShape base = two_nodes();
  const Bytes tables = generate_acpi(base, p).blobs.tables;
  auto differs = [&](const VmShape &s) { return generate_acpi(s, p).blobs.tables != tables; };
  VmShape s = base;
  s.numa_nodes[0].memory = 1ull << 30;
  s.numa_nodes[1].memory = 3ull << 30;
  CHECK(differs(s));
  s = base;
  s.numa_nodes[0].cpus = 1;
  s.numa_nodes[1].cpus = 3;
  CHECK(differs(s));
  s = base;
  s.numa_nodes[1].pxb_bus = 9;
  CHECK(differs(s));
  s = base;
  s.numa_nodes[1].pxb_bus.reset();
  CHECK(differs(s));
  // hugepages alone says how the nodes' RAM is backed: an explicit layout ignores it.
  s = base;
  s.hugepages = true;
  CHECK_FALSE(differs(s));
  // hugepages without GPUs is one node with everything; the same as writing that node out.
  VmShape h = base;
  h.numa_nodes.clear();
  h.hugepages = true;
  VmShape explicit_node = base;
  explicit_node.numa_nodes = {node(4, 4ull << 30)};
  CHECK(generate_acpi(h, p).blobs.tables == generate_acpi(explicit_node, p).blobs.tables);
}

TEST_CASE("dstack's hugepage goldens: reproduced with expander-ports-unassigned, 1 TiB only with an AMD CPU's layout",
          "[acpi_numa][peer]") {
  // Dstack-TEE/dstack dstack/crates/qemu-acpi/src/golden_tests.rs at
  // 0d42279408cf79159f67905edf620573729634f5, qemu_memory_layout_boundaries and
  // pxb_supports_qemus_full_gpu_range (values copied, never computed here): QEMU 11.1.0, hugepages,
  // one GPU (so an expander on bus 5 with its root port), hotplug on. dstack's model is QEMU's
  // tables before the firmware assigns the expander's root ports anything, which qemu-11.1-tdx
  // plus expander-ports-unassigned describes; a live OVMF boot differs (acpi_profile.cpp), and
  // the shipped profiles refuse such shapes.
  const AcpiProfile p = edited_profile("qemu-11.1-tdx", "qemu-11.1-tdx-unassigned",
                                       [](std::string &y) { add_variation(y, "expander-ports-unassigned"); });
  auto config = [](uint32_t cpus, uint64_t mib, uint32_t gpus) {
    return "{\"cpu_count\":" + std::to_string(cpus) + ",\"memory_size\":" + std::to_string(mib << 20) +
           ",\"qemu_version\":\"11.1.0\",\"pic\":false,\"num_nics\":1,\"num_verity_volumes\":0,\"hugepages\":true,"
           "\"num_gpus\":" +
           std::to_string(gpus) + ",\"num_nvswitches\":0,\"hotplug_off\":false}";
  };
  struct {
    uint64_t mib;
    const char *sha256;
  } memory[] = {{1, "8d7620126cfd2a2edabbc8c9f289ca2993f547d595eed61fd508d24f2b52e3ac"},
                {2049, "646e5cc620fd7819f8f4756c712619d2a72c29a175fc04b79867cee80e67cf82"},
                {2815, "ee35c5e548a3f527dd12b1dd6ee14e093fd6063056470b3ef6cb6c844e4186a4"},
                {2816, "3bf181108245994ceb7e983b1fa62009dcd56f7b49fd1e96ef15eb07d04aefc9"}};
  for (const auto &c : memory) {
    INFO(c.mib << " MiB");
    CHECK(tables_sha256(config(2, c.mib, 1), p) == c.sha256);
  }
  for (uint32_t gpus : {1u, 8u, 32u}) {
    INFO(gpus << " GPUs");
    CHECK(tables_sha256(config(1, 2048, gpus), p) ==
          "a8449287b161102ca136f892d13d6bc853d1abdc9ba7804e886f0a42784878c3");
  }
  // 1 TiB: dstack's golden has the SRAT's RAM above 4 GiB at 1 TiB, where QEMU puts it only for an
  // AMD CPU model (qemu64, as dstack's dumper runs; pc.c enforce_amd_1tb_hole). A TDX guest's
  // Intel CPU keeps it at 4 GiB, and so does the confidential profile.
  const char *tib_golden = "f22a114b0975b18200553442d6c9fab172fb930252c1a95926c594b2c25bca57";
  CHECK(tables_sha256(config(2, 1048576, 1), p) != tib_golden);
  const AcpiProfile amd = edited_profile("qemu-11.1-tdx", "qemu-11.1-amd-layout", [](std::string &y) {
    add_variation(y, "expander-ports-unassigned");
    const std::string key = "confidential: true";
    size_t at = y.find(key);
    REQUIRE(at != std::string::npos);
    y.replace(at, key.size(), "confidential: false");
  });
  CHECK(tables_sha256(config(2, 1048576, 1), amd) == tib_golden);
  // The shipped profile refuses the expander's root port (OVMF's assignment is not modelled).
  VmShape s = parse_dstack_vm_config(config(2, 2048, 1), "golden vm_config");
  CHECK_THROWS_AS(generate_acpi(s, load_acpi_profile(s.profile)), InputError);
  // 33 GPUs do not fit on the expander's bus.
  CHECK_THROWS_AS(tables_sha256(config(1, 2048, 33), p), InputError);
}

TEST_CASE("numa_nodes round-trip through the shape file and the recorded-shape JSON", "[acpi_numa][vm_shape]") {
  VmShape s = two_nodes();
  s.numa_nodes[0].pxb_devices = {{PciDeviceKind::pcie_root_port,
                                  RootPortChild::gpu,
                                  {{PciBarType::mem32, 16ull << 20}, {PciBarType::pref64, 128ull << 30}}},
                                 root_port()};
  s.numa_nodes.push_back(node(0, 1ull << 20));
  const std::string yaml = vm_shape_to_yaml(s);
  CHECK_THAT(yaml, Catch::Contains("numa_nodes:\n  - cpus: 2\n    memory: 2G\n    pxb_bus: 5\n    pxb_devices:\n"
                                   "      - {kind: pcie-root-port, behind: gpu, bars: [mem32=16M, pref64=128G]}\n"
                                   "      - pcie-root-port\n"));
  VmShape back = parse_vm_shape(yaml, "back.yaml");
  CHECK(back.numa_nodes == s.numa_nodes);
  CHECK(back.devices == s.devices);
  CHECK(vm_shape_to_yaml(back) == yaml);
  // measurements.json records a generated shape as JSON (recorded_shapes.cpp); it reads back too.
  VmShape from_json = parse_vm_shape(vm_shape_json(s).dump(), "measurements.json");
  CHECK(from_json.numa_nodes == s.numa_nodes);
  CHECK(vm_shape_to_yaml(from_json) == yaml);
}

TEST_CASE("numa_nodes fields are checked where they are written", "[acpi_numa][vm_shape]") {
  const std::string head = "apiVersion: mrforge/v1\nkind: VmShape\ncpus: 2\nmemory: 2G\nnuma_nodes:\n";
  auto error_of = [&](const std::string &nodes) -> std::string {
    try {
      parse_vm_shape(head + nodes, "n.yaml");
    } catch (const DocumentError &e) {
      return e.what();
    }
    return "no error";
  };
  CHECK(error_of("  - {cpus: 2, memory: 2G, pxb_bus: 5}\n") == "no error");
  CHECK_THAT(error_of("  - {cpus: 2, memory: 2G, pxb_bus: 0}\n"),
             Catch::Contains("numa_nodes[0].pxb_bus") && Catch::Contains("bus 0 is the root bus"));
  CHECK_THAT(error_of("  - {cpus: 2, memory: 2G, pxb_bus: 256}\n"), Catch::Contains("numa_nodes[0].pxb_bus"));
  CHECK_THAT(error_of("  - {cpus: 2, memory: 2G, pxb_devices: [pcie-root-port]}\n"),
             Catch::Contains("numa_nodes[0].pxb_devices") && Catch::Contains("pxb_bus"));
  CHECK_THAT(error_of("  - {cpus: 2, memory: 2G, pxb_bus: 5, pxb_devices: [virtio-net]}\n"),
             Catch::Contains("numa_nodes[0].pxb_devices[0]") && Catch::Contains("only pcie-root-port"));
  CHECK_THAT(error_of("  - {cpus: 2, memory: 0, pxb_bus: 5}\n"), Catch::Contains("numa_nodes[0].memory"));
  CHECK_THAT(error_of("  - {cpus: 2, memory: 2G, bus: 5}\n"), Catch::Contains("bus"));
  CHECK_THAT(error_of("  []\n"), Catch::Contains("numa_nodes"));
}

TEST_CASE("acpi capture starts the NUMA nodes and expanders the shape names", "[acpi_numa][acpi_capture]") {
  TempDir dir("acpi-numa");
  VmShape s;
  s.profile = "qemu-10.0-q35";
  s.cpus = 3;
  s.memory = 3ull << 30;
  s.numa_nodes = {node(1, 1ull << 30, 8), node(2, 2ull << 30, 5, 1)};
  s.devices = {{PciDeviceKind::virtio_net, RootPortChild::none}};
  const std::vector<std::string> args = builder::qemu_shape_args(s, dir.path());
  const std::vector<std::string> want = {"-machine", "q35,smm=on,hpet=on,pic=on",
                                         "-smp",     "3",
                                         "-m",       "3072M",
                                         "-object",  "memory-backend-ram,id=mem0,size=1024M",
                                         "-object",  "memory-backend-ram,id=mem1,size=2048M",
                                         "-numa",    "node,nodeid=0,cpus=0,memdev=mem0",
                                         "-numa",    "node,nodeid=1,cpus=1-2,memdev=mem1",
                                         "-device",  "pxb-pcie,id=pcie.node0,bus=pcie.0,addr=10,numa_node=0,bus_nr=8",
                                         "-device",  "pxb-pcie,id=pcie.node1,bus=pcie.0,addr=11,numa_node=1,bus_nr=5",
                                         "-device",  "pcie-root-port,id=rp1,bus=pcie.node1,chassis=1,addr=0",
                                         "-netdev",  "user,id=net0",
                                         "-device",  "virtio-net-pci,netdev=net0,bus=pcie.0"};
  CHECK(args == want);
  // The capture refuses what the generator refuses (the same layout checks), naming the field.
  s.numa_nodes[1].pxb_bus = 8;
  CHECK_THROWS_WITH(builder::qemu_shape_args(s, dir.path()), Catch::Contains("numa_nodes[1].pxb_bus"));
  // hugepages: one node, and GPU root ports (which this host cannot pass through) are refused.
  VmShape h;
  h.profile = "qemu-10.0-q35";
  h.cpus = 2;
  h.memory = 4ull << 30;
  h.hugepages = true;
  const std::vector<std::string> hargs = builder::qemu_shape_args(h, dir.path());
  CHECK(std::vector<std::string>(hargs.begin() + 6, hargs.end()) ==
        std::vector<std::string>{"-object", "memory-backend-ram,id=mem0,size=4096M", "-numa",
                                 "node,nodeid=0,cpus=0-1,memdev=mem0"});
  h.devices = {root_port(RootPortChild::gpu)};
  CHECK_THROWS_WITH(builder::qemu_shape_args(h, dir.path()), Catch::Contains("devices[0]") && Catch::Contains("gpu"));
}
