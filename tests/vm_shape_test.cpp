// VM shapes from shape files, dstack vm_configs and command-line options.
#include "test_support.hpp"

#include <measure/acpi/acpi_generator.hpp>
#include <measure/documents/profile_yaml.hpp>
#include <measure/documents/vm_shape_file.hpp>
#include <measure/util/errors.hpp>
#include <measure/util/hash.hpp>
#include <measure/util/size_text.hpp>
#include <measure/util/strings.hpp>

// The shape options are part of the mrforge executable, not of a library the tests link, so the
// CLI-level tests compile them in here.
#include <cli/shape_options.hpp>

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include <cstdlib>
#include <fstream>
#include <sstream>

using namespace mrforge;

namespace {

bool same_shape(const VmShape &a, const VmShape &b) {
  return a.profile == b.profile && a.cpus == b.cpus && a.memory == b.memory && a.pic == b.pic && a.smm == b.smm &&
         a.hpet == b.hpet && a.pci_hotplug == b.pci_hotplug && a.pci_hole64_size == b.pci_hole64_size &&
         a.devices == b.devices && a.hugepages == b.hugepages && a.numa_nodes == b.numa_nodes;
}

std::vector<std::string> device_specs(const VmShape &s) {
  std::vector<std::string> out;
  for (const PciDevice &d : s.devices) out.push_back(pci_device_spec(d));
  return out;
}

// Expects parse_vm_shape to fail with a DocumentError at line:column whose message names `field`.
void expect_doc_error(const std::string &text, int line, int column, const std::string &field,
                      const std::string &words = "") {
  INFO(text);
  try {
    parse_vm_shape(text, "shape.yaml");
    FAIL("no error");
  } catch (const DocumentError &e) {
    INFO(e.what());
    CHECK(e.file() == "shape.yaml");
    CHECK(e.line() == line);
    CHECK(e.column() == column);
    CHECK(std::string(e.what()).find(field) != std::string::npos);
    CHECK(std::string(e.what()).find(words) != std::string::npos);
  }
}

const char *const k_header = "apiVersion: mrforge/v1\nkind: VmShape\n";

// Sizes computed by coreutils' numfmt (binary units), not by our parser.
uint64_t numfmt_iec(const std::string &text) {
  test::ShellResult r = test::run_shell("numfmt --from=iec " + test::shell_quote(text));
  REQUIRE(r.exit_code == 0);
  return std::stoull(r.out);
}

nlohmann::json vector_vm_config(const std::string &name) {
  nlohmann::json doc = nlohmann::json::parse(test::read_text(test::vector_path("dstack/" + name)));
  const nlohmann::json &v = doc.at("vm_config");
  return v.is_string() ? nlohmann::json::parse(v.get<std::string>()) : v;
}

// The devices dstack's verifier gives QEMU for a vm_config, in order, written out from
// dstack@312dc605 dstack-mr/src/acpi.rs create_tables() (read by hand, not by our code): hd1,
// num_verity_volumes disks, num_nics NICs, vhost-vsock, the 9p share (or hd2 for vvfat/vhd), hd0
// (root_verity is always true in verifier/src/verification.rs), then a root port per GPU and per
// NVSwitch.
std::vector<std::string> dstack_devices(const nlohmann::json &c) {
  std::vector<std::string> d{"virtio-blk"};
  for (unsigned i = 0; i < c.value("num_verity_volumes", 0u); ++i) d.push_back("virtio-blk");
  for (unsigned i = 0; i < c.value("num_nics", 1u); ++i) d.push_back("virtio-net");
  d.push_back("vhost-vsock");
  std::string share = c.value("host_share_mode", std::string());
  d.push_back(share == "vvfat" || share == "vhd" ? "virtio-blk" : "virtio-9p");
  d.push_back("virtio-blk");
  for (unsigned i = 0; i < c.value("num_gpus", 0u); ++i) d.push_back("pcie-root-port:gpu");
  for (unsigned i = 0; i < c.value("num_nvswitches", 0u); ++i) d.push_back("pcie-root-port:nvswitch");
  return d;
}

struct CliRun {
  cli::ShapeOptions options;
  CLI::App app{"test"};
  explicit CliRun(const std::string &profile_option = "--acpi-profile") {
    cli::add_shape_options(app, options, profile_option);
  }
  VmShape parse(std::vector<std::string> args) {
    std::vector<const char *> argv{"test"};
    for (const std::string &a : args) argv.push_back(a.c_str());
    app.parse(static_cast<int>(argv.size()), argv.data());
    return cli::shape_from_options(options);
  }
};

} // namespace

TEST_CASE("sizes parse in bytes, hex and binary units, as numfmt reads them", "[vm_shape]") {
  for (const char *t : {"2G", "2560M", "16T", "1K", "3G", "64G", "1P", "7E", "4096", "2147483648"})
    CHECK(parse_size(t, "--memory") == numfmt_iec(t));
  // Lower-case units mean the same (numfmt only reads upper case); 15E is beyond numfmt's range.
  CHECK(parse_size("2g", "x") == numfmt_iec("2G"));
  CHECK(parse_size("2560m", "x") == numfmt_iec("2560M"));
  CHECK(parse_size("15E", "x") == 15ull << 60);
  CHECK(parse_size("0x80000000", "x") == 2147483648ull);
  CHECK(parse_size("0xFFFFFFFFFFFFFFFF", "x") == ~0ull);
  CHECK(parse_size("18446744073709551615", "x") == ~0ull);
  CHECK(parse_size("0", "x") == 0);
  // The engine's --memory forms too (one size grammar everywhere: measure/util/size_text.hpp).
  CHECK(parse_size("2GiB", "x") == 2ull << 30);
  CHECK(parse_size("2GB", "x") == 2ull << 30);
  CHECK(parse_size("4096B", "x") == 4096);
}

TEST_CASE("malformed sizes are refused naming the input", "[vm_shape]") {
  for (const char *t : {"",
                        "-1",
                        "-2G",
                        "+2G",
                        "1.5G",
                        "2GBB",
                        "2iB",
                        "0x10G",
                        "2 G",
                        " 2G",
                        "2G ",
                        "G",
                        "0x",
                        "0xg",
                        "2Q",
                        "0x1_0",
                        "18446744073709551616",
                        "16E",
                        "0x10000000000000000",
                        "99999999999999999999999K"}) {
    INFO(t);
    try {
      parse_size(t, "--pci-hole64-size");
      FAIL("accepted");
    } catch (const InputError &e) {
      CHECK(e.input() == "--pci-hole64-size");
    }
  }
}

TEST_CASE("checked size arithmetic gives the exact result or nothing", "[vm_shape]") {
  const uint64_t max = ~uint64_t{0};
  CHECK(add_sizes(1, 2) == 3u);
  CHECK(add_sizes(max - 1, 1) == max);
  CHECK_FALSE(add_sizes(max, 1));
  CHECK_FALSE(add_sizes(0xFFFFFFFFC0000000ull, 1ull << 30)); // a 64-bit hole near 2^64, from 4 GiB
  CHECK(multiply_sizes(0, max) == 0u);
  CHECK(multiply_sizes(1ull << 32, (1ull << 32) - 1) == (1ull << 32) * ((1ull << 32) - 1));
  CHECK_FALSE(multiply_sizes(1ull << 32, 1ull << 32));
  CHECK(round_up_size(0, 1ull << 30) == 0u);
  CHECK(round_up_size((1ull << 30) + 1, 1ull << 30) == 2ull << 30);
  CHECK(round_up_size(max - (1ull << 30) + 2, 1ull << 30) == std::nullopt);
  CHECK(round_up_size(max, 1) == max);
  CHECK_FALSE(round_up_size(5, 0));
  // memory sizes near 2^64 that are not whole 8 KiB: refused without a wrapped suggestion.
  CHECK_THROWS_WITH(check_memory_size(max, "--memory"),
                    Catch::Contains("not a multiple of 8 KiB") && !Catch::Contains("so give"));
}

TEST_CASE("format_size writes the largest exact unit and reads back", "[vm_shape]") {
  CHECK(format_size(2ull << 30) == "2G");
  CHECK(format_size(2560ull << 20) == "2560M");
  CHECK(format_size(16ull << 40) == "16T");
  CHECK(format_size(8192) == "8K");
  CHECK(format_size(4097) == "4097");
  CHECK(format_size(0) == "0");
  for (uint64_t v : {1ull, 1023ull, 1024ull, 3ull << 29, (1ull << 63) + 1024, ~0ull, 15ull << 60, 0x380000000000ull})
    CHECK(parse_size(format_size(v), "x") == v);
}

TEST_CASE("memory must be non-zero and a multiple of 8 KiB as QEMU 7.2 keeps it", "[vm_shape]") {
  CHECK(parse_vm_memory("2560M", "--memory") == numfmt_iec("2560M"));
  CHECK(parse_vm_memory("8K", "--memory") == 8192);
  CHECK_THROWS_WITH(parse_vm_memory("0", "--memory"), Catch::Contains("--memory") && Catch::Contains("0"));
  // QEMU would round 12K up to 16K (hw/core/machine.c QEMU_ALIGN_UP(mem->size, 8192)).
  CHECK_THROWS_WITH(parse_vm_memory("12K", "--memory"), Catch::Contains("16K"));
  CHECK_THROWS_AS(parse_vm_memory("2147483649", "--memory"), InputError);
}

TEST_CASE("cpu counts are decimal 1..4096", "[vm_shape]") {
  CHECK(parse_cpu_count("1", "--cpus") == 1);
  CHECK(parse_cpu_count("4096", "--cpus") == 4096);
  for (const char *t : {"0", "4097", "-1", "0x10", "", "1.0", "4294967297"})
    CHECK_THROWS_AS(parse_cpu_count(t, "--cpus"), InputError);
}

TEST_CASE("device specs name a kind and what sits behind a root port", "[vm_shape]") {
  CHECK(parse_pci_device_spec("virtio-net", "d") == PciDevice{PciDeviceKind::virtio_net, RootPortChild::none});
  CHECK(parse_pci_device_spec("pcie-root-port:gpu", "d") ==
        PciDevice{PciDeviceKind::pcie_root_port, RootPortChild::gpu});
  CHECK(parse_pci_device_spec("pcie-root-port", "d") == PciDevice{PciDeviceKind::pcie_root_port, RootPortChild::none});
  CHECK_THROWS_WITH(parse_pci_device_spec("e1000", "--device"),
                    Catch::Contains("e1000") && Catch::Contains("virtio-blk"));
  CHECK_THROWS_AS(parse_pci_device_spec("virtio-net:gpu", "d"), InputError);
  CHECK_THROWS_AS(parse_pci_device_spec("pcie-root-port:nic", "d"), InputError);
  CHECK_THROWS_AS(parse_pci_device_spec("", "d"), InputError);
}

TEST_CASE("a shape file round-trips through its canonical YAML", "[vm_shape]") {
  std::string text = std::string(k_header) + "profile: qemu-9.2-tdx\n"
                                             "cpus: 16\n"
                                             "memory: 0x1000000000\n"
                                             "pic: false\n"
                                             "smm: false\n"
                                             "hpet: false\n"
                                             "pci_hotplug: false\n"
                                             "pci_hole64_size: 17592186044416\n"
                                             "hugepages: true\n"
                                             "devices:\n"
                                             "  - virtio-blk\n"
                                             "  - virtio-net\n"
                                             "  - {kind: vhost-vsock}\n"
                                             "  - virtio-9p\n"
                                             "  - pcie-root-port:nvswitch\n"
                                             "  - {kind: pcie-root-port, behind: gpu}\n"
                                             "  - {kind: pcie-root-port, behind: none}\n";
  VmShape s = parse_vm_shape(text, "a.yaml");
  CHECK(s.profile == "qemu-9.2-tdx");
  CHECK(s.cpus == 16);
  CHECK(s.memory == numfmt_iec("64G"));
  CHECK(!s.pic);
  CHECK(!s.smm);
  CHECK(!s.hpet);
  CHECK(!s.pci_hotplug);
  CHECK(s.pci_hole64_size == numfmt_iec("16T"));
  CHECK(s.hugepages);
  CHECK(device_specs(s) == std::vector<std::string>{"virtio-blk", "virtio-net", "vhost-vsock", "virtio-9p",
                                                    "pcie-root-port:nvswitch", "pcie-root-port:gpu", "pcie-root-port"});
  std::string yaml = vm_shape_to_yaml(s);
  CHECK(yaml.find("memory: 64G\n") != std::string::npos);
  CHECK(yaml.find("pci_hole64_size: 16T\n") != std::string::npos);
  VmShape back = parse_vm_shape(yaml, "b.yaml");
  CHECK(same_shape(s, back));
  CHECK(vm_shape_to_yaml(back) == yaml);

  // Defaults: only cpus and memory given; no profile, no hole, no devices.
  VmShape d = parse_vm_shape(std::string(k_header) + "cpus: 1\nmemory: 2G\n", "d.yaml");
  VmShape expect;
  expect.cpus = 1;
  expect.memory = 2ull << 30;
  CHECK(same_shape(d, expect));
  CHECK(d.profile.empty());
  CHECK(d.origin.find("d.yaml") != std::string::npos);
  CHECK(same_shape(parse_vm_shape(vm_shape_to_yaml(d), "e.yaml"), d));

  // A profile given as a path with characters YAML would misread is quoted.
  VmShape p = d;
  p.profile = "my profiles/x: #1.yaml";
  CHECK(parse_vm_shape(vm_shape_to_yaml(p), "p.yaml").profile == p.profile);
}

TEST_CASE("a shape file may be JSON", "[vm_shape]") {
  std::string json = R"({"apiVersion": "mrforge/v1", "kind": "VmShape", "cpus": 2, "memory": "2560M",
    "smm": false, "devices": ["virtio-net", {"kind": "pcie-root-port", "behind": "gpu"}]})";
  VmShape s = parse_vm_shape(json, "s.json");
  CHECK(s.cpus == 2);
  CHECK(s.memory == numfmt_iec("2560M"));
  CHECK(!s.smm);
  CHECK(device_specs(s) == std::vector<std::string>{"virtio-net", "pcie-root-port:gpu"});
  test::TempDir dir("h3-shape");
  test::write_text(dir / "s.json", json);
  CHECK(same_shape(load_vm_shape(dir / "s.json"), s));
  CHECK_THROWS_AS(load_vm_shape(dir / "missing.json"), SystemError);
}

TEST_CASE("every shape-file error names the file, line, column and field", "[vm_shape]") {
  std::string h = k_header; // lines 1-2
  expect_doc_error(h + "cpus: 2\nmemory: 2G\ncolour: blue\n", 5, 1, "colour", "unknown key");
  expect_doc_error(h + "cpus: two\nmemory: 2G\n", 3, 7, "cpus", "CPU count");
  expect_doc_error(h + "cpus: 0\nmemory: 2G\n", 3, 7, "cpus");
  expect_doc_error(h + "cpus: 4097\nmemory: 2G\n", 3, 7, "cpus");
  expect_doc_error(h + "cpus: [1]\nmemory: 2G\n", 3, 7, "cpus");
  expect_doc_error(h + "memory: 2G\n", 1, 1, "cpus", "missing");
  expect_doc_error(h + "cpus: 2\n", 1, 1, "memory", "missing");
  expect_doc_error(h + "cpus: 2\nmemory: 2.5G\n", 4, 9, "memory", "not a size");
  expect_doc_error(h + "cpus: 2\nmemory: 0\n", 4, 9, "memory", "0");
  expect_doc_error(h + "cpus: 2\nmemory: 2049K\n", 4, 9, "memory", "8 KiB");
  expect_doc_error(h + "cpus: 2\nmemory: -2G\n", 4, 9, "memory", "negative");
  expect_doc_error(h + "cpus: 2\nmemory: 99999999999G\n", 4, 9, "memory", "64 bits");
  expect_doc_error(h + "cpus: 2\nmemory: 2G\npci_hole64_size: big\n", 5, 18, "pci_hole64_size");
  expect_doc_error(h + "cpus: 2\nmemory: 2G\nsmm: yes\n", 5, 6, "smm", "true or false");
  expect_doc_error(h + "cpus: 2\nmemory: 2G\npic: 1\n", 5, 6, "pic");
  expect_doc_error(h + "cpus: 2\nmemory: 2G\nhpet: on\n", 5, 7, "hpet");
  expect_doc_error(h + "cpus: 2\nmemory: 2G\npci_hotplug: []\n", 5, 14, "pci_hotplug");
  expect_doc_error(h + "cpus: 2\nmemory: 2G\nhugepages: 2\n", 5, 12, "hugepages");
  expect_doc_error(h + "cpus: 2\nmemory: 2G\nprofile: ''\n", 5, 10, "profile");
  expect_doc_error(h + "cpus: 2\nmemory: 2G\ndevices:\n  - virtio-blk\n  - e1000\n", 7, 5, "devices[1]", "e1000");
  expect_doc_error(h + "cpus: 2\nmemory: 2G\ndevices: virtio-blk\n", 5, 10, "devices", "list");
  expect_doc_error(h + "cpus: 2\nmemory: 2G\ndevices:\n  - {kind: virtio-net, behind: gpu}\n", 6, 32,
                   "devices[0].behind", "only a pcie-root-port");
  expect_doc_error(h + "cpus: 2\nmemory: 2G\ndevices:\n  - {kind: pcie-root-port, behind: nic}\n", 6, 36,
                   "devices[0].behind", "nic");
  expect_doc_error(h + "cpus: 2\nmemory: 2G\ndevices:\n  - {kind: pcie-root-port, slot: 3}\n", 6, 28, "devices[0].slot",
                   "unknown key");
  expect_doc_error(h + "cpus: 2\nmemory: 2G\ndevices:\n  - {behind: gpu}\n", 6, 5, "devices[0]", "kind");
  expect_doc_error(h + "cpus: 2\nmemory: 2G\ndevices:\n  - [virtio-blk]\n", 6, 5, "devices[0]");
  std::string many = h + "cpus: 2\nmemory: 2G\ndevices:\n";
  // The list's own cap: 30 root-bus slots + 32 GPU root ports hugepages may move onto an expander
  // (how many stay on the root bus is the generator's check: acpi_numa_test.cpp).
  for (int i = 0; i < 63; ++i) many += "  - virtio-net\n";
  expect_doc_error(many, 6, 3, "devices", "63 devices");
  expect_doc_error(h + "cpus: 2\ncpus: 3\nmemory: 2G\n", 4, 1, "cpus", "twice");
  expect_doc_error("apiVersion: mrforge/v1\nkind: Recipe\ncpus: 2\nmemory: 2G\n", 2, 7, "kind", "VmShape");
  expect_doc_error("apiVersion: mrforge/v2\nkind: VmShape\n", 1, 13, "apiVersion");
  expect_doc_error(h + "cpus: [2\n", 4, 1, "", "syntax");
  expect_doc_error("- 1\n", 1, 1, "", "mapping");
}

TEST_CASE("a shape file cut at every length gives a shape or a DocumentError", "[vm_shape]") {
  std::string text = std::string(k_header) + "profile: qemu-7.2-q35\ncpus: 16\nmemory: 2560M\npic: false\n"
                                             "pci_hole64_size: 0x8000000000\ndevices:\n  - virtio-blk\n"
                                             "  - {kind: pcie-root-port, behind: gpu}\n";
  for (size_t n = 0; n <= text.size(); ++n) {
    INFO(n);
    try {
      parse_vm_shape(text.substr(0, n), "cut.yaml");
    } catch (const DocumentError &) {
    }
  }
}

TEST_CASE("the dstack vm_configs of the real vectors give dstack's machines", "[vm_shape]") {
  for (const char *name : {"tdx-lite-getquote.json", "quote-report.json"}) {
    INFO(name);
    nlohmann::json c = vector_vm_config(name);
    VmShape s = load_dstack_vm_config(test::vector_path(std::string("dstack/") + name));
    CHECK(s.cpus == c.at("cpu_count").get<uint32_t>());
    CHECK(s.memory == c.at("memory_size").get<uint64_t>());
    std::string version = c.at("qemu_version").get<std::string>();
    // 8.2.x -> qemu-8.2-tdx, 9.2.x -> qemu-9.2-tdx (acpi-notes.md).
    CHECK(s.profile == (version.rfind("8.2.", 0) == 0 ? "qemu-8.2-tdx" : "qemu-9.2-tdx"));
    // pic: the field if present, else on for QEMU 8.x (dstack-mr machine.rs versioned_options).
    CHECK(s.pic == c.value("pic", version.rfind("8.", 0) == 0));
    CHECK(!s.smm);
    CHECK(!s.hpet);
    CHECK(s.pci_hotplug == !c.value("hotplug_off", false));
    uint64_t hole = c.value("pci_hole64_size", uint64_t{0});
    CHECK(s.pci_hole64_size == (hole ? std::optional<uint64_t>(hole) : std::nullopt));
    CHECK(s.hugepages == c.value("hugepages", false));
    CHECK(device_specs(s) == dstack_devices(c));
  }
  // The two vectors in plain words (acpi-notes.md "Reference digests").
  VmShape lite = load_dstack_vm_config(test::vector_path("dstack/tdx-lite-getquote.json"));
  CHECK(lite.cpus == 2);
  CHECK(lite.memory == numfmt_iec("2G"));
  CHECK(lite.profile == "qemu-8.2-tdx");
  CHECK(lite.pic);
  CHECK(!lite.pci_hole64_size);
  CHECK(device_specs(lite) ==
        std::vector<std::string>{"virtio-blk", "virtio-net", "vhost-vsock", "virtio-9p", "virtio-blk"});
  VmShape gpu = load_dstack_vm_config(test::vector_path("dstack/quote-report.json"));
  CHECK(gpu.cpus == 16);
  CHECK(gpu.memory == numfmt_iec("64G"));
  CHECK(gpu.profile == "qemu-9.2-tdx");
  CHECK(!gpu.pic);
  CHECK(!gpu.pci_hotplug);
  CHECK(gpu.pci_hole64_size == numfmt_iec("16T"));
  CHECK(device_specs(gpu) == std::vector<std::string>{"virtio-blk", "virtio-net", "vhost-vsock", "virtio-9p",
                                                      "virtio-blk", "pcie-root-port:gpu"});
}

TEST_CASE("a vm_config is read bare, as an object field, or as a string field", "[vm_shape]") {
  nlohmann::json c = vector_vm_config("quote-report.json");
  VmShape from_string = load_dstack_vm_config(test::vector_path("dstack/quote-report.json"));
  VmShape bare = parse_dstack_vm_config(c.dump(), "bare.json");
  nlohmann::json wrapped = {{"quote", "00"}, {"vm_config", c}};
  VmShape object = parse_dstack_vm_config(wrapped.dump(2), "obj.json");
  CHECK(same_shape(bare, from_string));
  CHECK(same_shape(object, from_string));
  CHECK(bare.origin.find("bare.json") != std::string::npos);
  test::TempDir dir("h3-vmcfg");
  test::write_text(dir / "vm_config.json", c.dump());
  CHECK(same_shape(load_dstack_vm_config(dir / "vm_config.json"), from_string));
}

TEST_CASE("dstack's defaults and device options shape the machine", "[vm_shape]") {
  nlohmann::json base = {{"cpu_count", 4}, {"memory_size", 4294967296ull}};
  // No qemu_version: dstack assumes 9.1.0 (machine.rs), the 9.0-9.1 family, pic off.
  VmShape s = parse_dstack_vm_config(base.dump(), "c.json");
  CHECK(s.profile == "qemu-9.1-tdx");
  CHECK(!s.pic);
  CHECK(s.pci_hotplug);
  CHECK(!s.pci_hole64_size);
  CHECK(device_specs(s) == dstack_devices(base));
  nlohmann::json c = base;
  c["qemu_version"] = nullptr;
  c["pic"] = nullptr;
  CHECK(same_shape(parse_dstack_vm_config(c.dump(), "c.json"), s));
  // Every QEMU line dstack accepts, and the family it belongs to (dstack's profile.rs mapping).
  const std::pair<const char *, const char *> lines[] = {
      {"8.0.0", "qemu-8.2-tdx"},   {"8.1.5", "qemu-8.2-tdx"},   {"8.2.2", "qemu-8.2-tdx"},
      {"9.0.0", "qemu-9.1-tdx"},   {"9.1.3", "qemu-9.1-tdx"},   {"9.2.4", "qemu-9.2-tdx"},
      {"10.0.2", "qemu-10.0-tdx"}, {"10.1.0", "qemu-10.1-tdx"}, {"10.2.4", "qemu-10.2-tdx"},
      {"11.0.3", "qemu-11.0-tdx"}, {"11.1.0", "qemu-11.1-tdx"}, {"11.1.9", "qemu-11.1-tdx"},
  };
  for (const auto &[version, profile] : lines) {
    INFO(version);
    c["qemu_version"] = version;
    CHECK(parse_dstack_vm_config(c.dump(), "c.json").profile == profile);
    // Every family has both an ACPI profile and a platform profile of that name.
    CHECK_NOTHROW(load_acpi_profile(profile));
    CHECK_NOTHROW(load_platform_profile(profile));
  }
  c = base;
  c["num_nics"] = 0;
  c["num_verity_volumes"] = 2;
  c["num_gpus"] = 2;
  c["num_nvswitches"] = 3;
  c["host_share_mode"] = "vhd";
  c["hugepages"] = true;
  c["image"] = "dstack-0.6.0";         // a field of no ACPI meaning
  c["future_field"] = {{"nested", 1}}; // dstack adds fields: ignored
  c["qemu_single_pass_add_pages"] = true;
  VmShape d = parse_dstack_vm_config(c.dump(), "c.json");
  CHECK(device_specs(d) == dstack_devices(c));
  CHECK(device_specs(d) == std::vector<std::string>{"virtio-blk", "virtio-blk", "virtio-blk", "vhost-vsock",
                                                    "virtio-blk", "virtio-blk", "pcie-root-port:gpu",
                                                    "pcie-root-port:gpu", "pcie-root-port:nvswitch",
                                                    "pcie-root-port:nvswitch", "pcie-root-port:nvswitch"});
  CHECK(d.hugepages);
  c["host_share_mode"] = "";
  CHECK(parse_dstack_vm_config(c.dump(), "c.json").devices.at(4).kind == PciDeviceKind::virtio_9p);
}

TEST_CASE("bad dstack vm_configs name the field", "[vm_shape]") {
  nlohmann::json base = {{"cpu_count", 2}, {"memory_size", 2147483648ull}, {"qemu_version", "8.2.2"}};
  auto input_error = [&](nlohmann::json c, const std::string &field, const std::string &words) {
    INFO(c.dump());
    try {
      parse_dstack_vm_config(c.dump(), "vm.json");
      FAIL("accepted");
    } catch (const InputError &e) {
      INFO(e.what());
      CHECK(e.input() == (field.empty() ? std::string("vm.json") : "vm.json: " + field));
      CHECK(std::string(e.what()).find(words) != std::string::npos);
    }
  };
  auto with = [&](const char *key, nlohmann::json v) {
    nlohmann::json c = base;
    c[key] = v;
    return c;
  };
  input_error(with("cpu_count", "2"), "cpu_count", "integer, got a JSON string");
  input_error(with("cpu_count", 0), "cpu_count", "at least 1");
  input_error(with("cpu_count", -2), "cpu_count", "integer, got the number -2");
  input_error(with("cpu_count", 2.5), "cpu_count", "integer, got the number 2.5");
  input_error(with("cpu_count", 5000), "cpu_count", "larger");
  input_error(with("memory_size", 0), "memory_size", "greater than 0");
  input_error(with("memory_size", 2147483649ull), "memory_size", "MiB");
  input_error(with("memory_size", nullptr), "memory_size", "integer, got a JSON null");
  input_error(with("pic", "false"), "pic", "true or false");
  input_error(with("hugepages", 1), "hugepages", "true or false");
  input_error(with("hotplug_off", "yes"), "hotplug_off", "true or false");
  input_error(with("hotplug_off", nullptr), "hotplug_off", "true or false"); // not an Option in dstack
  input_error(with("pci_hole64_size", "16T"), "pci_hole64_size", "integer");
  input_error(with("num_nics", 31), "num_nics", "larger");
  input_error(with("num_gpus", nlohmann::json::array()), "num_gpus", "integer, got a JSON array");
  input_error(with("qemu_version", 8.2), "qemu_version", "string");
  input_error(with("host_share_mode", "nfs"), "host_share_mode", "nfs");
  input_error(with("host_share_mode", 9), "host_share_mode", "string");
  input_error(with("swtpm", true), "swtpm", "not supported");
  input_error(with("qemu_single_pass_add_pages", "no"), "qemu_single_pass_add_pages", "true or false");
  nlohmann::json c = base;
  c["num_nics"] = 20;
  c["num_gpus"] = 8;
  input_error(c, "", "do not fit");
  c = base;
  c.erase("cpu_count");
  input_error(c, "cpu_count", "missing");
  input_error(nlohmann::json::array({1}), "", "JSON object");
  input_error({{"vm_config", 5}}, "vm_config", "JSON object or a string");

  // A vm_config inside a string: named after the field.
  nlohmann::json bad = base;
  bad["cpu_count"] = "two";
  nlohmann::json outer = {{"vm_config", bad.dump()}};
  try {
    parse_dstack_vm_config(outer.dump(), "doc.json");
    FAIL("accepted");
  } catch (const InputError &e) {
    CHECK(e.input() == "doc.json#vm_config: cpu_count");
  }
  outer = {{"vm_config", "{\"cpu_count\": 2,"}};
  try {
    parse_dstack_vm_config(outer.dump(), "doc.json");
    FAIL("accepted");
  } catch (const FormatError &e) {
    CHECK(e.source() == "doc.json#vm_config");
    CHECK(e.offset() == 16); // the end of the string's text: truncated
  }
  CHECK_THROWS_AS(parse_dstack_vm_config("{\"cpu_count\": ", "v.json"), FormatError);

  // Unsupported QEMU versions: an InputError listing the supported ones.
  for (const char *v : {"7.2.0", "9.3.0", "10.3.0", "9.2", "9.2.1.1", "nine", "9.x.1", ""}) {
    INFO(v);
    CHECK_THROWS_WITH(parse_dstack_vm_config(with("qemu_version", v).dump(), "vm.json"),
                      Catch::Contains("qemu_version") && Catch::Contains("9.2.x") && Catch::Contains("11.1.x"));
    CHECK_THROWS_AS(parse_dstack_vm_config(with("qemu_version", v).dump(), "vm.json"), InputError);
  }
  // Newer than the newest family: refused naming it (fail closed; dstack would clamp to it),
  // unless the caller names a profile, which is then used and said.
  for (const char *v : {"11.2.0", "12.0.0"}) {
    INFO(v);
    CHECK_THROWS_WITH(parse_dstack_vm_config(with("qemu_version", v).dump(), "vm.json"),
                      Catch::Contains("vm.json: qemu_version") && Catch::Contains("newer than the newest") &&
                          Catch::Contains("qemu-11.1-tdx") && Catch::Contains("--acpi-profile"));
    VmShape named = parse_dstack_vm_config(with("qemu_version", v).dump(), "vm.json", "qemu-11.1-tdx");
    CHECK(named.profile == "qemu-11.1-tdx");
    CHECK_THAT(join(named.notes, "\n"), Catch::Contains("the ACPI profile named explicitly, qemu-11.1-tdx"));
  }
  // A named profile does not make an unknown line or an old version acceptable.
  CHECK_THROWS_AS(parse_dstack_vm_config(with("qemu_version", "7.2.0").dump(), "vm.json", "qemu-8.2-tdx"), InputError);
  // A version of megabytes is not echoed whole.
  try {
    parse_dstack_vm_config(with("qemu_version", std::string(1 << 20, '9')).dump(), "vm.json");
    FAIL("accepted");
  } catch (const InputError &e) {
    CHECK(std::string(e.what()).size() < 400);
  }
}

namespace {
// The offset and message of the FormatError that parsing `text` as a vm_config gives.
std::pair<uint64_t, std::string> vm_config_format_error(const std::string &text) {
  try {
    parse_dstack_vm_config(text, "vm.json");
  } catch (const FormatError &e) {
    CHECK(e.source() == "vm.json");
    return {e.offset(), e.what()};
  }
  FAIL("no FormatError for: " << text);
  return {0, ""};
}
} // namespace

TEST_CASE("a vm_config is strict JSON: no trailing bytes, YAML, comments or second documents", "[vm_shape]") {
  const std::string good = R"({"cpu_count": 2, "memory_size": 2147483648, "qemu_version": "8.2.2"})";
  REQUIRE_NOTHROW(parse_dstack_vm_config(good, "vm.json"));
  // Trailing garbage: the offset of the first byte after the document.
  auto [at, what] = vm_config_format_error(good + " xyz");
  CHECK(at == good.size() + 1);
  CHECK(what.find("not valid JSON") != std::string::npos);
  CHECK(vm_config_format_error(good + "}").first == good.size());
  // A second document, as JSON text or after a YAML document marker.
  CHECK(vm_config_format_error(good + good).first == good.size());
  CHECK(vm_config_format_error(good + "\n---\n" + good).first == good.size() + 2); // "--" is no number
  // YAML block syntax and flow syntax without quotes (yaml-cpp took both as the same mapping).
  CHECK(vm_config_format_error("cpu_count: 2\nmemory_size: 2147483648\nqemu_version: 8.2.2\n").first == 0);
  CHECK(vm_config_format_error("{cpu_count: 2, memory_size: 2147483648}").first == 1);
  CHECK(vm_config_format_error(R"({"cpu_count": 2, "memory_size": 0x80000000})").first == 33); // the 'x'
  // Comments, YAML's and JavaScript's.
  CHECK(vm_config_format_error("# dstack\n" + good).first == 0);
  CHECK(vm_config_format_error(good + " // dstack").first == good.size() + 1);
  CHECK(vm_config_format_error("{\"cpu_count\": 2, # two\n \"memory_size\": 2147483648}").first == 17);
  // Nothing at all.
  CHECK(vm_config_format_error("").first == 0);
  CHECK(vm_config_format_error("   ").first == 3);
}

TEST_CASE("a vm_config with a key given twice is refused, wherever the key is", "[vm_shape]") {
  auto duplicate = [](const std::string &text, const std::string &key, const std::string &file = "vm.json") {
    INFO(text);
    try {
      parse_dstack_vm_config(text, "vm.json");
      FAIL("accepted");
    } catch (const InputError &e) {
      CHECK(e.input() == file);
      CHECK(std::string(e.what()).find("the key \"" + key + "\" appears twice in one object") != std::string::npos);
    }
  };
  // yaml-cpp kept the first cpu_count, serde keeps the last: neither is right.
  duplicate(R"({"cpu_count": 2, "memory_size": 2147483648, "cpu_count": 64})", "cpu_count");
  duplicate(R"({"cpu_count": 2, "memory_size": 2147483648, "qemu_version": "9.2.1", "qemu_version": "8.2.2"})",
            "qemu_version");
  // In the object of a document's "vm_config", in its string form, and in fields we do not use.
  duplicate(R"({"quote": "00", "vm_config": {"cpu_count": 2, "cpu_count": 2, "memory_size": 2147483648}})",
            "cpu_count");
  duplicate(nlohmann::json{{"vm_config", R"({"cpu_count": 2, "memory_size": 2147483648, "memory_size": 1})"}}.dump(),
            "memory_size", "vm.json#vm_config");
  duplicate(R"({"cpu_count": 2, "memory_size": 2147483648, "extra": {"a": [{"b": 1, "b": 2}]}})", "b");
  duplicate(R"({"vm_config": {"cpu_count": 2, "memory_size": 2147483648}, "vm_config": "{}"})", "vm_config");
  // The same key in different objects is not a duplicate.
  CHECK_NOTHROW(parse_dstack_vm_config(
      R"({"cpu_count": 2, "memory_size": 2147483648, "a": {"cpu_count": 1}, "b": [{"x": 1}, {"x": 2}]})", "vm.json"));
}

TEST_CASE("a vm_config that leaves qemu_version or pic to dstack says which default applies", "[vm_shape]") {
  nlohmann::json c = {{"cpu_count", 2}, {"memory_size", 2147483648ull}};
  VmShape absent = parse_dstack_vm_config(c.dump(), "vm.json");
  CHECK(absent.profile == "qemu-9.1-tdx");
  REQUIRE(absent.notes.size() == 2);
  CHECK(absent.notes[0] == "qemu_version is absent: dstack's default 9.1.0 applies (ACPI profile qemu-9.1-tdx)");
  CHECK(absent.notes[1] == "pic is absent: off, dstack's default for QEMU 9.1.0");
  c["qemu_version"] = nullptr;
  c["pic"] = nullptr;
  VmShape null = parse_dstack_vm_config(c.dump(), "vm.json");
  CHECK(same_shape(null, absent));
  REQUIRE(null.notes.size() == 2);
  CHECK(null.notes[0] == "qemu_version is null: dstack's default 9.1.0 applies (ACPI profile qemu-9.1-tdx)");
  CHECK(null.notes[1] == "pic is null: off, dstack's default for QEMU 9.1.0");
  c["qemu_version"] = "8.2.2";
  VmShape pic_default = parse_dstack_vm_config(c.dump(), "vm.json");
  CHECK(pic_default.pic);
  CHECK(pic_default.notes == std::vector<std::string>{"pic is null: on, dstack's default for QEMU 8.2.2"});
  c["pic"] = false;
  CHECK(parse_dstack_vm_config(c.dump(), "vm.json").notes.empty());
  // The real vectors: quote-report.json gives both, tdx-lite-getquote.json leaves pic out.
  CHECK(load_dstack_vm_config(test::vector_path("dstack/quote-report.json")).notes.empty());
  CHECK(load_dstack_vm_config(test::vector_path("dstack/tdx-lite-getquote.json")).notes ==
        std::vector<std::string>{"pic is absent: on, dstack's default for QEMU 8.2.2"});

  // The shape options carry the notes in the shape's origin.
  test::TempDir dir("vmcfg-notes");
  c.erase("pic");
  c.erase("qemu_version");
  test::write_text(dir / "vm.json", c.dump());
  VmShape s = CliRun().parse({"--dstack-vm-config", dir / "vm.json"});
  CHECK(s.origin == std::string("--dstack-vm-config vm.json") +
                        " (qemu_version is absent: dstack's default 9.1.0 applies (ACPI profile qemu-9.1-tdx); pic is "
                        "absent: off, dstack's default for QEMU 9.1.0)");
  // And the CLI prints them.
  test::ShellResult r =
      test::run_mrforge_cli({"acpi", "generate", "--dstack-vm-config", dir / "vm.json", "-o", dir / "gen"});
  INFO(r.err);
  CHECK(r.exit_code == 0);
  CHECK(r.err.find("mrforge: note: qemu_version is absent: dstack's default 9.1.0 applies") != std::string::npos);
}

namespace {
// The growth of this process's peak resident memory while `f` runs, in bytes (Linux: writing 5
// to /proc/self/clear_refs resets the peak, VmHWM).
template <class F> uint64_t peak_memory_growth(F &&f) {
  auto status_kb = [](const char *field) -> uint64_t {
    std::istringstream in(test::read_text("/proc/self/status"));
    for (std::string line; std::getline(in, line);)
      if (line.rfind(field, 0) == 0) return std::stoull(line.substr(std::string(field).size()));
    FAIL("no " << field << " in /proc/self/status");
    return 0;
  };
  { std::ofstream("/proc/self/clear_refs") << "5"; }
  uint64_t before = status_kb("VmRSS:");
  f();
  uint64_t peak = status_kb("VmHWM:");
  return peak > before ? (peak - before) * 1024 : 0;
}
} // namespace

TEST_CASE("a vm_config's unused fields cost no memory, however large", "[vm_shape]") {
  // 4 MiB of arrays in fields dstack may add: yaml-cpp made a node of every item (gigabytes for a
  // few megabytes); the strict reader keeps nothing of them.
  std::string items;
  items.reserve(4u << 20);
  while (items.size() < (4u << 20)) items += "[0,{\"a\":1},\"x\"],";
  items += "0";
  const std::string text = R"({"cpu_count": 2, "memory_size": 2147483648, "qemu_version": "8.2.2", "blob": [)" + items +
                           R"(], "quote": {"nested": [)" + items + "]}}";
  const std::string doc = R"({"quote": "00", "event_log": [)" + items + R"(], "vm_config": )" + text + "}";
  VmShape bare, wrapped;
  uint64_t grown = peak_memory_growth([&] {
    bare = parse_dstack_vm_config(text, "vm.json");
    wrapped = parse_dstack_vm_config(doc, "doc.json");
  });
  INFO("peak grew by " << grown << " bytes for " << text.size() + doc.size() << " bytes of input");
  uint64_t bound = text.size() + doc.size(); // less than one more copy of the input
#if defined(__SANITIZE_ADDRESS__)
  // ASan keeps freed blocks resident in its quarantine (256 MB by default): the parser's
  // short-lived values count there. yaml-cpp's nodes took gigabytes for this input.
  bound += uint64_t{256} << 20;
#endif
  CHECK(grown < bound);
  CHECK(bare.cpus == 2);
  CHECK(same_shape(bare, wrapped));
  // Nesting beyond any vm_config's is refused (a stack of arrays in a skipped field): past the
  // vm_config's own limit, and far past every JSON document's (the shared reader's pre-scan).
  auto nested = [](size_t n) {
    return R"({"cpu_count": 2, "memory_size": 2147483648, "x": )" + std::string(n, '[') + std::string(n, ']') + "}";
  };
  CHECK_THROWS_WITH(parse_dstack_vm_config(nested(100), "vm.json"), Catch::Contains("nested more than 64 levels"));
  CHECK_THROWS_WITH(parse_dstack_vm_config(nested(100000), "vm.json"),
                    Catch::Contains("vm.json+0xb0: arrays and objects nested deeper than 128 levels"));
}

TEST_CASE("a vm_config cut at every length gives a clean error", "[vm_shape]") {
  std::string text = vector_vm_config("quote-report.json").dump();
  for (size_t n = 0; n < text.size(); ++n) {
    INFO(n);
    // A strict reader: every proper prefix of one JSON object is truncated JSON.
    try {
      parse_dstack_vm_config(text.substr(0, n), "cut.json");
      FAIL("a cut vm_config was accepted");
    } catch (const FormatError &e) {
      CHECK(e.offset() <= n);
    }
  }
  CHECK_NOTHROW(parse_dstack_vm_config(text, "whole.json"));
}

TEST_CASE("shape options build a shape from options alone", "[vm_shape]") {
  CliRun run;
  VmShape s = run.parse({"--cpus",        "4",          "--memory",      "2560M",    "--acpi-profile",
                         "qemu-7.2-q35",  "--smm",      "off",           "--hpet",   "off",
                         "--pic",         "on",         "--pci-hotplug", "off",      "--pci-hole64-size",
                         "0x10000000000", "--device",   "virtio-net",    "--device", "pcie-root-port:gpu",
                         "--device",      "virtio-blk", "--hugepages"});
  CHECK(s.cpus == 4);
  CHECK(s.memory == numfmt_iec("2560M"));
  CHECK(s.profile == "qemu-7.2-q35");
  CHECK(!s.smm);
  CHECK(!s.hpet);
  CHECK(s.pic);
  CHECK(!s.pci_hotplug);
  CHECK(s.pci_hole64_size == numfmt_iec("1T"));
  CHECK(s.hugepages);
  CHECK(device_specs(s) == std::vector<std::string>{"virtio-net", "pcie-root-port:gpu", "virtio-blk"});
  CHECK(s.origin == "options");
  CHECK(run.options.any_given());

  // Without any profile option the profile stays empty: the command chooses.
  CliRun plain;
  VmShape p = plain.parse({"--cpus", "1", "--memory", "2G"});
  CHECK(p.profile.empty());
  VmShape expect;
  expect.cpus = 1;
  expect.memory = 2ull << 30;
  CHECK(same_shape(p, expect));

  // The caller names the profile option (measure keeps --profile for its platform profile).
  CliRun acpi("--profile");
  CHECK(acpi.parse({"--profile", "qemu-9.2-tdx", "--cpus", "1", "--memory", "1G"}).profile == "qemu-9.2-tdx");

  CliRun none;
  none.parse({"--cpus", "1", "--memory", "1G"});
  cli::ShapeOptions empty;
  CHECK(!empty.any_given());
}

TEST_CASE("shape options refuse what is missing or malformed", "[vm_shape]") {
  CHECK_THROWS_WITH(CliRun().parse({"--cpus", "4"}),
                    Catch::Contains("--memory") && Catch::Contains("give --cpus and --memory, or --shape FILE"));
  CHECK_THROWS_WITH(CliRun().parse({"--memory", "4G"}), Catch::Contains("--cpus"));
  CHECK_THROWS_WITH(CliRun().parse({}), Catch::Contains("give --cpus and --memory, or --shape FILE"));
  CHECK_THROWS_AS(CliRun().parse({"--cpus", "0", "--memory", "1G"}), CLI::ValidationError);
  CHECK_THROWS_AS(CliRun().parse({"--cpus", "4097", "--memory", "1G"}), CLI::ValidationError);
  CHECK_THROWS_AS(CliRun().parse({"--cpus", "-1", "--memory", "1G"}), CLI::ParseError);
  CHECK_THROWS_AS(CliRun().parse({"--cpus", "1", "--memory", "1G", "--smm", "maybe"}), CLI::ValidationError);
  CHECK_THROWS_WITH(CliRun().parse({"--cpus", "1", "--memory", "1.5G"}), Catch::Contains("--memory"));
  CHECK_THROWS_WITH(CliRun().parse({"--cpus", "1", "--memory", "0"}), Catch::Contains("--memory"));
  CHECK_THROWS_WITH(CliRun().parse({"--cpus", "1", "--memory", "1G", "--pci-hole64-size", "-1"}),
                    Catch::Contains("--pci-hole64-size"));
  CHECK_THROWS_WITH(CliRun().parse({"--cpus", "1", "--memory", "1G", "--device", "e1000"}),
                    Catch::Contains("--device e1000") && Catch::Contains("virtio-net"));
  test::TempDir dir("h3-opts");
  test::write_text(dir / "s.yaml", std::string(k_header) + "cpus: 2\nmemory: 2G\n");
  CHECK_THROWS_WITH(CliRun().parse({"--shape", dir / "s.yaml", "--dstack-vm-config", dir / "s.yaml"}),
                    Catch::Contains("not both"));
  CHECK_THROWS_AS(CliRun().parse({"--shape", dir / "absent.yaml"}), SystemError);
  test::write_text(dir / "bad.yaml", std::string(k_header) + "cpus: 2\nmemory: 2G\nnics: 3\n");
  CHECK_THROWS_WITH(CliRun().parse({"--shape", dir / "bad.yaml"}),
                    Catch::Contains("bad.yaml:5:1") && Catch::Contains("nics"));
}

TEST_CASE("options override a shape file or a vm_config", "[vm_shape]") {
  test::TempDir dir("h3-override");
  test::write_text(dir / "s.yaml", std::string(k_header) + "profile: qemu-7.2-q35\ncpus: 2\nmemory: 2G\n"
                                                           "devices: [virtio-net, virtio-blk]\n");
  VmShape s = CliRun().parse({"--shape", dir / "s.yaml"});
  CHECK(s.cpus == 2);
  // The origin is recorded in outputs: the file's name, never where it lies on this host.
  CHECK(s.origin == "--shape s.yaml");
  CHECK(device_specs(s) == std::vector<std::string>{"virtio-net", "virtio-blk"});
  VmShape o = CliRun().parse({"--shape", dir / "s.yaml", "--cpus", "8", "--device", "vhost-vsock", "--smm", "off"});
  CHECK(o.cpus == 8);
  CHECK(o.memory == 2ull << 30);
  CHECK(o.profile == "qemu-7.2-q35");
  CHECK(!o.smm);
  CHECK(device_specs(o) == std::vector<std::string>{"vhost-vsock"}); // --device replaces the list
  CHECK(o.origin.find("with --cpus --smm --device") != std::string::npos);

  std::string vector = test::vector_path("dstack/quote-report.json");
  VmShape d = CliRun().parse({"--dstack-vm-config", vector});
  CHECK(same_shape(d, load_dstack_vm_config(vector)));
  VmShape d2 = CliRun().parse({"--dstack-vm-config", vector, "--memory", "32G", "--acpi-profile", "mine.yaml"});
  CHECK(d2.memory == numfmt_iec("32G"));
  CHECK(d2.profile == "mine.yaml");
  CHECK(d2.devices == d.devices);
}

TEST_CASE("the shapes of the real vm_configs reproduce their logs' ACPI DATA digests", "[vm_shape]") {
  // End to end with the ACPI generator: the three RTMR0 "ACPI DATA" events (type 0xA) of each real
  // log are the SHA-384 of table-loader, rsdp and tables (acpi-notes.md "Reference digests").
  for (const char *name : {"tdx-lite-getquote.json", "quote-report.json"}) {
    INFO(name);
    std::string path = test::vector_path(std::string("dstack/") + name);
    nlohmann::json doc = nlohmann::json::parse(test::read_text(path));
    nlohmann::json log = doc.at("event_log").is_string() ? nlohmann::json::parse(doc.at("event_log").get<std::string>())
                                                         : doc.at("event_log");
    std::vector<std::string> expected;
    for (const nlohmann::json &e : log)
      if (e.at("imr") == 0 && e.at("event_type") == 10) expected.push_back(e.at("digest").get<std::string>());
    REQUIRE(expected.size() == 3);
    VmShape shape = load_dstack_vm_config(path);
    GeneratedAcpi g = generate_acpi(shape, load_acpi_profile(shape.profile));
    CHECK(to_hex(sha384(g.blobs.table_loader)) == expected[0]);
    CHECK(to_hex(sha384(g.blobs.rsdp)) == expected[1]);
    CHECK(to_hex(sha384(g.blobs.tables)) == expected[2]);
  }
}
