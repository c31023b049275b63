// VM shapes from text: mrforge's shape file (YAML or JSON, strict; the format is in
// vm_shape_file.hpp) and dstack's `vm_config` JSON, plus the size, CPU-count and device-spec
// syntax that the shape options share.
//
// dstack facts below cite Dstack-TEE/dstack at commit 312dc605 ("dstack@312dc605"):
//   dstack-types/src/lib.rs      struct VmConfig (the JSON: field names, serde defaults)
//   dstack-mr/src/machine.rs     struct Machine (builder defaults), versioned_options()
//   dstack-mr/src/acpi.rs        create_tables(): the QEMU command line whose tables it measures
//   verifier/src/verification.rs and dstack-mr/src/tdx.rs: how a VmConfig becomes a Machine
//   vmm/src/app/qemu.rs          the command line the host really runs
#include <measure/documents/json_text.hpp>
#include <measure/documents/vm_shape_file.hpp>
#include <measure/documents/yaml_field.hpp>
#include <measure/util/errors.hpp>
#include <measure/util/file_io.hpp>
#include <measure/util/mapped_file.hpp>
#include <measure/util/size_text.hpp>
#include <measure/util/strings.hpp>

#include <yaml-cpp/yaml.h>

#include <cctype>
#include <iterator>
#include <limits>
#include <set>
#include <vector>

namespace mrforge {

namespace {

// A parse result: a value, or what is wrong with the text (without naming the input, so that a
// caller can attach either an option name or a file position).
template <class T> struct Parsed {
  T value{};
  std::string error;
  bool ok() const { return error.empty(); }
};

bool all_digits(const std::string &s, size_t from) {
  if (from >= s.size()) return false;
  for (size_t i = from; i < s.size(); ++i)
    if (!std::isdigit(static_cast<unsigned char>(s[i]))) return false;
  return true;
}

// Decimal digits only; fails on overflow.
Parsed<uint64_t> parse_decimal(const std::string &s) {
  Parsed<uint64_t> r;
  if (!all_digits(s, 0)) {
    r.error = "expected a decimal number, got '" + s + "'";
    return r;
  }
  uint64_t v = 0;
  for (char c : s) {
    auto d = static_cast<uint64_t>(c - '0');
    if (v > (std::numeric_limits<uint64_t>::max() - d) / 10) {
      r.error = "'" + s + "' does not fit in 64 bits";
      return r;
    }
    v = v * 10 + d;
  }
  r.value = v;
  return r;
}

std::string memory_problem(uint64_t bytes) {
  if (bytes == 0)
    return "memory size 0 is not allowed (QEMU would silently use its 128 MiB default; hw/core/machine.c)";
  if (bytes % k_memory_granule != 0) {
    std::optional<uint64_t> up = round_up_size(bytes, k_memory_granule);
    std::string message = "memory size " + std::to_string(bytes) +
                          " is not a multiple of 8 KiB; QEMU 7.2 rounds -m up to 8 KiB (hw/core/machine.c "
                          "machine_set_mem)";
    return up ? message + ", so give " + format_size(*up) + " if that is what runs" : message;
  }
  return {};
}

Parsed<uint32_t> parse_cpus_text(const std::string &t) {
  Parsed<uint32_t> r;
  Parsed<uint64_t> n = parse_decimal(t);
  if (!n.ok() || n.value < 1 || n.value > k_max_shape_cpus) {
    r.error = "expected a CPU count from 1 to " + std::to_string(k_max_shape_cpus) + ", got '" + t + "'";
    return r;
  }
  r.value = static_cast<uint32_t>(n.value);
  return r;
}

std::string known_kinds() {
  const PciDeviceKind kinds[] = {PciDeviceKind::virtio_blk, PciDeviceKind::virtio_net, PciDeviceKind::vhost_vsock,
                                 PciDeviceKind::virtio_9p, PciDeviceKind::pcie_root_port};
  std::string list = join(kinds, ", ", pci_device_kind_name);
  return list + "; a root port may name what is behind it: pcie-root-port:gpu, pcie-root-port:nvswitch, "
                "pcie-root-port:testdev, and that device's BARs: pcie-root-port:gpu(mem32=16M,pref64=64G)";
}

Parsed<PciDevice> device_from_parts(const std::string &kind, const std::optional<std::string> &behind) {
  Parsed<PciDevice> r;
  std::optional<PciDeviceKind> k = pci_device_kind_from_name(kind);
  if (!k) {
    r.error = "unknown device kind '" + kind + "' (known: " + known_kinds() + ")";
    return r;
  }
  r.value.kind = *k;
  if (behind) {
    if (*k != PciDeviceKind::pcie_root_port) {
      r.error = "only a pcie-root-port has something behind it, not " + kind;
      return r;
    }
    std::optional<RootPortChild> c = root_port_child_from_name(*behind);
    if (!c) {
      r.error = "unknown device behind a root port '" + *behind + "' (known: none, gpu, nvswitch, testdev)";
      return r;
    }
    r.value.behind = *c;
  }
  return r;
}

// "mem32=16M": one BAR of the device behind a root port.
Parsed<PciBar> parse_bar_text(const std::string &text) {
  Parsed<PciBar> r;
  size_t eq = text.find('=');
  std::optional<PciBarType> t = pci_bar_type_from_name(text.substr(0, eq));
  if (eq == std::string::npos || !t) {
    r.error =
        "expected a BAR as TYPE=SIZE (io, mem32, pref32, mem64, pref64 or rom; e.g. pref64=64G), got '" + text + "'";
    return r;
  }
  SizeText size = parse_size_text(text.substr(eq + 1));
  if (!size.ok()) {
    r.error = "BAR '" + text + "': " + size.error;
    return r;
  }
  r.value = {*t, size.value};
  return r;
}

// "pcie-root-port:gpu(mem32=16M,pref64=64G)": a device, what is behind it, that device's BARs.
Parsed<PciDevice> parse_device_text(const std::string &spec) {
  std::string head = spec;
  std::vector<std::string> bars;
  size_t open = spec.find('(');
  if (open != std::string::npos) {
    if (spec.back() != ')') {
      Parsed<PciDevice> r;
      r.error = "expected KIND:BEHIND(TYPE=SIZE,...) with a closing ')', got '" + spec + "'";
      return r;
    }
    head = spec.substr(0, open);
    std::string list = spec.substr(open + 1, spec.size() - open - 2);
    for (size_t at = 0; at <= list.size();) {
      size_t comma = list.find(',', at);
      if (comma == std::string::npos) comma = list.size();
      bars.push_back(list.substr(at, comma - at));
      at = comma + 1;
    }
  }
  size_t colon = head.find(':');
  Parsed<PciDevice> r = colon == std::string::npos ? device_from_parts(head, std::nullopt)
                                                   : device_from_parts(head.substr(0, colon), head.substr(colon + 1));
  if (!r.ok()) return r;
  for (const std::string &b : bars) {
    Parsed<PciBar> bar = parse_bar_text(b);
    if (!bar.ok()) {
      r.error = bar.error;
      return r;
    }
    r.value.bars.push_back(bar.value);
  }
  std::string problem = device_bars_problem(r.value);
  if (!problem.empty()) r.error = problem;
  return r;
}

std::string too_many_devices(size_t n) {
  return std::to_string(n) + " devices do not fit on the root bus (at most " + std::to_string(k_max_root_bus_devices) +
         ": slot 0 is the host bridge, slot 31 the ICH9 LPC)";
}

// ---- shape file fields ----

uint64_t field_size(const YamlField &f) {
  if (!f.node().IsScalar()) f.fail(std::string("expected a size: ") + k_size_forms);
  SizeText r = parse_size_text(f.node().Scalar());
  if (!r.ok()) f.fail(r.error);
  return r.value;
}

uint64_t field_memory(const YamlField &f) {
  uint64_t v = field_size(f);
  std::string problem = memory_problem(v);
  if (!problem.empty()) f.fail(problem);
  return v;
}

uint32_t field_cpus(const YamlField &f) {
  if (!f.node().IsScalar()) f.fail("expected a CPU count");
  Parsed<uint32_t> r = parse_cpus_text(f.node().Scalar());
  if (!r.ok()) f.fail(r.error);
  return r.value;
}

PciDevice field_device(const YamlField &f) {
  Parsed<PciDevice> r;
  if (f.node().IsScalar()) {
    r = parse_device_text(f.node().Scalar());
  } else if (f.node().IsMap()) {
    f.expect_map({"kind", "behind", "bars"});
    std::optional<YamlField> behind_field = f.optional("behind");
    std::optional<std::string> behind;
    if (behind_field) behind = behind_field->str();
    YamlField kind_field = f.required("kind");
    r = device_from_parts(kind_field.str(), behind);
    if (!r.ok()) {
      if (!pci_device_kind_from_name(kind_field.str()) || !behind_field) kind_field.fail(r.error);
      behind_field->fail(r.error);
    }
    if (std::optional<YamlField> bars = f.optional("bars")) {
      for (const YamlField &b : bars->list()) {
        Parsed<PciBar> bar = parse_bar_text(b.str());
        if (!bar.ok()) b.fail(bar.error);
        r.value.bars.push_back(bar.value);
      }
      std::string problem = device_bars_problem(r.value);
      if (!problem.empty()) bars->fail(problem);
    }
  } else {
    f.fail("expected a device kind (\"virtio-blk\") or a mapping {kind: pcie-root-port, behind: gpu}");
  }
  if (!r.ok()) f.fail(r.error);
  return r.value;
}

// One entry of numa_nodes: {cpus, memory, pxb_bus?, pxb_devices?}. What a single field can be
// wrong about is refused here (with its line); how the nodes fit the machine (sums, buses, slots)
// is checked by validate_acpi_shape.
NumaNode field_numa_node(const YamlField &f) {
  if (!f.node().IsMap()) f.fail("expected a mapping {cpus: N, memory: SIZE, pxb_bus: B, pxb_devices: [...]}");
  f.expect_map({"cpus", "memory", "pxb_bus", "pxb_devices"});
  NumaNode n;
  YamlField cpus = f.required("cpus");
  if (!cpus.node().IsScalar() || cpus.node().Scalar() != "0") n.cpus = field_cpus(cpus); // 0: a memory-only node
  n.memory = field_memory(f.required("memory"));
  if (auto b = f.optional("pxb_bus")) {
    uint64_t bus = b->u64();
    if (bus == 0 || bus > 255)
      b->fail("expected a PCI bus number 1-255 for the expander (bus 0 is the root bus pcie.0), got " +
              std::to_string(bus));
    n.pxb_bus = static_cast<uint32_t>(bus);
  }
  if (auto d = f.optional("pxb_devices")) {
    if (!n.pxb_bus) d->fail("devices on an expander need the node's pxb_bus");
    std::vector<YamlField> items = d->list();
    if (items.size() > k_max_pxb_devices)
      d->fail(std::to_string(items.size()) + " devices do not fit on one expander's bus (at most " +
              std::to_string(k_max_pxb_devices) + " slots)");
    for (const YamlField &item : items) {
      PciDevice dev = field_device(item);
      if (dev.kind != PciDeviceKind::pcie_root_port)
        item.fail(std::string("only pcie-root-port goes on an expander here, got ") + pci_device_kind_name(dev.kind));
      n.pxb_devices.push_back(dev);
    }
  }
  return n;
}

// ---- dstack vm_config (strict JSON, measure/documents/json_text.hpp) ----
// Like every JSON from outside, a vm_config is parsed by nlohmann's strict parser: one document,
// no comments, no YAML syntax, nothing after it. A key given twice in one object is refused (which
// copy counts is undefined in JSON; serde takes the last, yaml-cpp took the first). Only the
// fields below are kept while parsing: dstack's other fields and array items never are, so
// the memory a vm_config costs does not grow with what it carries besides them.

using Json = nlohmann::json;

// The vm_config fields (dstack@312dc605 dstack-types/src/lib.rs VmConfig) that shape the machine.
constexpr const char *k_vm_config_fields[] = {
    "cpu_count",       "memory_size",       "qemu_version",   "pic",      "hotplug_off", "qemu_single_pass_add_pages",
    "hugepages",       "num_gpus",          "num_nvswitches", "num_nics", "swtpm",       "pci_hole64_size",
    "host_share_mode", "num_verity_volumes"};
// A vm_config is flat; an attestation document holds it one level down. Deeper nesting is only
// in fields we skip, and this bounds what reading them costs.
constexpr size_t k_max_vm_config_depth = 64;

bool is_vm_config_field(const std::string &key) {
  for (const char *f : k_vm_config_fields)
    if (key == f) return true;
  return false;
}

// A key for a message: at most 64 bytes, printable ASCII, other bytes as '?'.
std::string shown_key(const std::string &key) {
  std::string s = key.substr(0, 64);
  for (char &c : s)
    if (static_cast<unsigned char>(c) < 0x20 || static_cast<unsigned char>(c) >= 0x7f) c = '?';
  return key.size() > 64 ? s + "..." : s;
}

// Parses a vm_config, or a document holding one in "vm_config", keeping only the fields above.
Json parse_vm_config_json(const std::string &text, const std::string &file) {
  std::vector<std::set<std::string>> keys; // [d]: the keys seen so far in the object whose keys are at depth d
  std::vector<char> containers;            // [d]: 'o' or 'a', the container started at depth d
  std::string top_key;                     // the key of the document's current top-level field
  auto keep = [&](int depth, Json::parse_event_t event, Json &parsed) -> bool {
    const auto d = static_cast<size_t>(depth);
    const bool in_array = d > 0 && d - 1 < containers.size() && containers[d - 1] == 'a';
    switch (event) {
    case Json::parse_event_t::object_start:
    case Json::parse_event_t::array_start:
      if (d >= k_max_vm_config_depth)
        throw InputError(file, "nested more than " + std::to_string(k_max_vm_config_depth) +
                                   " levels deep; a vm_config is a flat JSON object");
      if (containers.size() <= d) containers.resize(d + 1);
      containers[d] = event == Json::parse_event_t::object_start ? 'o' : 'a';
      if (event == Json::parse_event_t::object_start) {
        if (keys.size() <= d + 1) keys.resize(d + 2);
        keys[d + 1].clear();
      }
      return !in_array; // array items are never needed (the fields are numbers, strings, booleans)
    case Json::parse_event_t::key: {
      const std::string &key = parsed.get_ref<const std::string &>();
      if (keys.size() <= d) keys.resize(d + 1);
      if (!keys[d].insert(key).second)
        throw InputError(file, "the key \"" + shown_key(key) +
                                   "\" appears twice in one object; which one counts is undefined, so the "
                                   "vm_config is refused");
      if (d == 1) top_key = key;
      if (d == 1) return is_vm_config_field(key) || key == "vm_config";
      return d == 2 && top_key == "vm_config" && is_vm_config_field(key);
    }
    case Json::parse_event_t::value: return !in_array;
    case Json::parse_event_t::object_end:
    case Json::parse_event_t::array_end: return true;
    }
    return true;
  };
  Json root = parse_json_text(text, file, keep);
  if (!root.is_object())
    throw InputError(file, std::string("is a JSON ") + root.type_name() +
                               "; expected a JSON object (a dstack vm_config, or a document with a \"vm_config\" "
                               "field)");
  return root;
}

// One field of a vm_config: where it is (for messages) and its value (null when absent).
class ConfigField {
public:
  ConfigField(const Json &object, const std::string &file, const char *key)
      : m_where(file + ": " + key), m_present(object.contains(key)),
        m_value(m_present ? object.at(key) : Json(nullptr)) {}
  bool present() const { return m_present; }
  // Absent or null: dstack's Option<T> fields mean "not given" by both.
  bool given() const { return m_present && !m_value.is_null(); }
  const Json &value() const { return m_value; }
  [[noreturn]] void fail(const std::string &message) const { throw InputError(m_where, message); }

  uint64_t uint(uint64_t max) const {
    if (!m_value.is_number_unsigned())
      fail(std::string("expected a non-negative JSON integer, got ") +
           (m_value.is_number() ? "the number " + m_value.dump() : std::string("a JSON ") + m_value.type_name()));
    uint64_t v = m_value.get<uint64_t>();
    if (v > max) fail("value " + std::to_string(v) + " is larger than " + std::to_string(max));
    return v;
  }
  bool boolean() const {
    if (!m_value.is_boolean()) fail(std::string("expected true or false, got a JSON ") + m_value.type_name());
    return m_value.get<bool>();
  }
  std::string string() const {
    if (!m_value.is_string()) fail(std::string("expected a JSON string, got a JSON ") + m_value.type_name());
    return m_value.get<std::string>();
  }

private:
  std::string m_where;
  bool m_present;
  Json m_value;
};

// The supported dstack QEMU versions, for error messages.
constexpr const char *k_dstack_versions =
    "8.0.x-8.2.x (qemu-8.2-tdx), 9.0.x-9.1.x (qemu-9.1-tdx), 9.2.x, 10.0.x, 10.1.x, 10.2.x, 11.0.x, 11.1.x "
    "(qemu-X.Y-tdx)";

// QEMU release lines with TDX hosts and the ACPI (and platform) profile of each. dstack maps
// qemu_version by (major, minor) the same way (Dstack-TEE/dstack crates/qemu-acpi src/profile.rs
// QemuVersion::compatibility at 07168957b6ac: 8.x -> V8, 9.0-9.1 -> V9Pre92, 9.2, 10.x, 11.0,
// 11.1); dstack's V8 and V9Pre92 give the same tables (its goldens for 8.2.0 and 9.1.0 are one
// hash) and differ in the q35 CPU limit (1024 up to pc-q35-8.2, 4096 from 9.0), so they are two
// profiles here. The 8.0 and 8.1 lines had no upstream TDX: dstack generates their tables with
// its 8.x profile, and so does mrforge.
struct QemuLine {
  uint64_t major, minor;
  const char *profile;
};
constexpr QemuLine k_qemu_lines[] = {
    {8, 0, "qemu-8.2-tdx"},   {8, 1, "qemu-8.2-tdx"},   {8, 2, "qemu-8.2-tdx"},   {9, 0, "qemu-9.1-tdx"},
    {9, 1, "qemu-9.1-tdx"},   {9, 2, "qemu-9.2-tdx"},   {10, 0, "qemu-10.0-tdx"}, {10, 1, "qemu-10.1-tdx"},
    {10, 2, "qemu-10.2-tdx"}, {11, 0, "qemu-11.0-tdx"}, {11, 1, "qemu-11.1-tdx"},
};
constexpr const char *k_newest_profile = "qemu-11.1-tdx";

// dstack parses "major.minor.patch", exactly three numeric parts (machine.rs parse_version_tuple).
std::vector<uint64_t> dstack_version_parts(const std::string &qemu_version, const std::string &what) {
  std::vector<uint64_t> parts;
  size_t pos = 0;
  bool ok = true;
  while (ok) {
    size_t dot = qemu_version.find('.', pos);
    std::string part = qemu_version.substr(pos, dot == std::string::npos ? std::string::npos : dot - pos);
    Parsed<uint64_t> n = parse_decimal(part);
    ok = n.ok() && part.size() <= 9;
    parts.push_back(n.value);
    if (dot == std::string::npos) break;
    pos = dot + 1;
  }
  if (!ok || parts.size() != 3)
    throw InputError(what, "'" + shown_key(qemu_version) +
                               "' is not a QEMU version major.minor.patch (supported: " + k_dstack_versions + ")");
  return parts;
}

bool newer_than_newest_line(const std::vector<uint64_t> &parts) {
  const QemuLine &newest = k_qemu_lines[std::size(k_qemu_lines) - 1];
  return parts[0] > newest.major || (parts[0] == newest.major && parts[1] > newest.minor);
}

VmShape shape_from_vm_config(const Json &cfg, const std::string &file, const std::string &explicit_profile) {
  // Unknown fields are ignored, as dstack's serde struct does (it gains fields over time).
  VmShape s;
  s.origin = "dstack vm_config " + file;
  auto field = [&](const char *key) { return ConfigField(cfg, file, key); };

  // cpu_count, memory_size: serde default 0, which create_tables() refuses ("cpuCount must be
  // greater than 0"; dstack@312dc605 dstack-mr/src/acpi.rs). We require both.
  ConfigField cpu = field("cpu_count");
  if (!cpu.present()) cpu.fail("missing (the number of vCPUs)");
  uint64_t cpus = cpu.uint(k_max_shape_cpus);
  if (cpus == 0) cpu.fail("must be at least 1");
  s.cpus = static_cast<uint32_t>(cpus);
  ConfigField mem = field("memory_size");
  if (!mem.present()) mem.fail("missing (the guest memory in bytes)");
  s.memory = mem.uint(std::numeric_limits<uint64_t>::max());
  // dstack runs QEMU with `-m {memory_size / MiB}M` (acpi.rs create_tables; vmm/src/app/qemu.rs
  // also passes whole MiB), so a real vm_config always holds whole MiB; refuse anything else
  // rather than guess which rounding the host used.
  if (s.memory == 0) mem.fail("must be greater than 0");
  if (s.memory % (1ull << 20) != 0) mem.fail("dstack gives QEMU whole MiB; " + std::to_string(s.memory) + " is not");

  // qemu_version: Option<String>. Absent or null means 9.1.0 (machine.rs versioned_options:
  // `version.unwrap_or((9, 1, 0))`), a default worth saying. Versions need exactly three
  // numeric parts there.
  std::string version = "9.1.0";
  ConfigField ver = field("qemu_version");
  if (ver.given()) version = ver.string();
  s.profile = dstack_acpi_profile(version, file + ": qemu_version", explicit_profile);
  if (!explicit_profile.empty() && newer_than_newest_line(dstack_version_parts(version, file)))
    s.notes.push_back("qemu_version " + shown_key(version) + " is newer than the newest supported family (" +
                      k_newest_profile + "); the ACPI profile named explicitly, " + shown_key(explicit_profile) +
                      ", is used");
  if (!ver.given())
    s.notes.push_back(std::string("qemu_version ") + (ver.present() ? "is null" : "is absent") +
                      ": dstack's default 9.1.0 applies (ACPI profile " + s.profile + ")");
  // dstack_acpi_profile accepted it: three numeric parts.
  uint64_t major = parse_unsigned(std::string_view(version).substr(0, version.find('.'))).value_or(0);

  // pic: Option<bool>; default per QEMU version (machine.rs versioned_options): on for
  // 8.0.0 <= version < 9.0.0, off otherwise.
  ConfigField pic = field("pic");
  s.pic = pic.given() ? pic.boolean() : major == 8;
  if (!pic.given())
    s.notes.push_back(std::string("pic ") + (pic.present() ? "is null" : "is absent") + ": " + (s.pic ? "on" : "off") +
                      ", dstack's default for QEMU " + version);
  // qemu_single_pass_add_pages: Option<bool>, changes MRTD only; checked for its type.
  if (ConfigField f = field("qemu_single_pass_add_pages"); f.given()) f.boolean();

  // smm: Machine's builder default is false and the verifier never sets it (machine.rs
  // `#[builder(default = false)] smm`; verification.rs); acpi.rs passes smm=off. hpet=off always
  // (acpi.rs machine string "q35,...,hpet=off"; vmm/src/app/qemu.rs the same).
  s.smm = false;
  s.hpet = false;
  // hotplug_off: bool, serde default false; true adds
  // -global ICH9-LPC.acpi-pci-hotplug-with-bridge-support=off.
  if (ConfigField f = field("hotplug_off"); f.present()) s.pci_hotplug = !f.boolean();
  // pci_hole64_size: u64, serde default 0; 0 means "not set" (verification.rs passes
  // `if vm_config.pci_hole64_size > 0 { Some(..) } else { None }`), i.e. QEMU's default.
  if (ConfigField f = field("pci_hole64_size"); f.present()) {
    uint64_t v = f.uint(std::numeric_limits<uint64_t>::max());
    if (v != 0) s.pci_hole64_size = v;
  }
  // hugepages: bool, serde default false. With it dstack adds a NUMA node and memory backend,
  // and with GPUs a pxb-pcie (pcie.0 addr=0x10) that the GPU root ports sit behind (acpi.rs).
  // The GPU root ports are still listed below; the generator places them per `hugepages`.
  if (ConfigField f = field("hugepages"); f.present()) s.hugepages = f.boolean();

  auto count = [&](const char *key, uint32_t dflt, size_t max = k_max_root_bus_devices) -> uint32_t {
    ConfigField f = field(key);
    if (!f.present()) return dflt;
    return static_cast<uint32_t>(f.uint(max));
  };
  // num_nics: serde default 1 (lib.rs default_num_nics; Machine `#[builder(default = 1)]`).
  // num_verity_volumes, num_gpus, num_nvswitches: serde default 0.
  uint32_t nics = count("num_nics", 1);
  uint32_t volumes = count("num_verity_volumes", 0);
  uint32_t gpus = count("num_gpus", 0, k_max_pxb_devices); // hugepages: on the expander's 32 slots
  uint32_t nvswitches = count("num_nvswitches", 0);

  // swtpm adds a tpm-tis device (and a TPM2 table); dstack refuses to measure it (acpi.rs
  // create_tables: "swtpm measurement is not supported"), and so do we.
  if (ConfigField f = field("swtpm"); f.present() && f.boolean())
    f.fail("a swtpm (tpm-tis) machine is not supported (dstack does not measure it either)");

  // host_share_mode: String, serde default "". acpi.rs: "" or "9p" -> -virtfs (a virtio-9p
  // device); "vvfat" or "vhd" -> one more virtio-blk; anything else is an error.
  std::string share = "9p";
  ConfigField share_field = field("host_share_mode");
  if (share_field.present()) share = share_field.string();
  PciDeviceKind share_kind;
  if (share.empty() || share == "9p")
    share_kind = PciDeviceKind::virtio_9p;
  else if (share == "vvfat" || share == "vhd")
    share_kind = PciDeviceKind::virtio_blk;
  else
    share_field.fail("unknown host_share_mode '" + shown_key(share) + "' (dstack knows \"9p\", \"vvfat\", \"vhd\")");

  // Device order on pcie.0, from acpi.rs create_tables() (the machine dstack's verifier measures):
  //   hd1 virtio-blk-pci (boot/data disk); vol0.. virtio-blk-pci (verity volumes, "after hd1 and
  //   before networking"); net0.. virtio-net-pci; vhost-vsock-pci; -virtfs (virtio-9p) or hd2
  //   virtio-blk-pci; hd0 virtio-blk-pci when root_verity, else -cdrom (on the built-in ICH9 AHCI:
  //   no new PCI device); then per GPU a pcie-root-port (+ vfio-pci behind it) and per NVSwitch
  //   a pcie-root-port. root_verity is not a vm_config field: the verifier always sets it
  //   (verification.rs `.root_verity(true)`, tdx.rs likewise).
  // vmm/src/app/qemu.rs puts hd0 first (configure_rootfs before configure_data_disk); every
  // slot still holds one plain PCI function, so the tables are the same (acpi-notes.md: the kind
  // of device does not matter).
  // With hugepages the GPU root ports go onto the expander (up to 32, checked with the layout).
  size_t total = size_t{1} + volumes + nics + 1 + 1 + 1 + (s.hugepages ? 0 : gpus) + nvswitches;
  if (total > k_max_root_bus_devices)
    throw InputError(file, too_many_devices(total) + " (1 boot disk + " + std::to_string(volumes) + " volumes + " +
                               std::to_string(nics) + " NICs + vsock + share + root disk + " + std::to_string(gpus) +
                               " GPUs + " + std::to_string(nvswitches) + " NVSwitches)");
  auto add = [&](PciDeviceKind k, uint32_t n, RootPortChild behind = RootPortChild::none) {
    for (uint32_t i = 0; i < n; ++i) s.devices.push_back(PciDevice{k, behind});
  };
  add(PciDeviceKind::virtio_blk, 1);
  add(PciDeviceKind::virtio_blk, volumes);
  add(PciDeviceKind::virtio_net, nics);
  add(PciDeviceKind::vhost_vsock, 1);
  add(share_kind, 1);
  add(PciDeviceKind::virtio_blk, 1); // root_verity: always true for a vm_config
  add(PciDeviceKind::pcie_root_port, gpus, RootPortChild::gpu);
  add(PciDeviceKind::pcie_root_port, nvswitches, RootPortChild::nvswitch);
  return s;
}

} // namespace

// ---- public: sizes, counts, devices ----

uint64_t parse_size(const std::string &text, const std::string &what) {
  SizeText r = parse_size_text(text);
  if (!r.ok()) throw InputError(what, r.error);
  return r.value;
}

void check_memory_size(uint64_t bytes, const std::string &what) {
  std::string problem = memory_problem(bytes);
  if (!problem.empty()) throw InputError(what, problem);
}

uint64_t parse_vm_memory(const std::string &text, const std::string &what) {
  uint64_t v = parse_size(text, what);
  check_memory_size(v, what);
  return v;
}

uint32_t parse_cpu_count(const std::string &text, const std::string &what) {
  Parsed<uint32_t> r = parse_cpus_text(text);
  if (!r.ok()) throw InputError(what, r.error);
  return r.value;
}

std::vector<PciBar> parse_pci_bar_list(const std::string &text, const std::string &what) {
  std::vector<PciBar> bars;
  for (size_t at = 0; at <= text.size();) {
    size_t comma = text.find(',', at);
    if (comma == std::string::npos) comma = text.size();
    Parsed<PciBar> bar = parse_bar_text(text.substr(at, comma - at));
    if (!bar.ok()) throw InputError(what, bar.error);
    bars.push_back(bar.value);
    if (bars.size() > 16) throw InputError(what, "more than 16 BARs; a device has at most 6 and a ROM");
    at = comma + 1;
  }
  return bars;
}

PciDevice parse_pci_device_spec(const std::string &spec, const std::string &what) {
  Parsed<PciDevice> r = parse_device_text(spec);
  if (!r.ok()) throw InputError(what, r.error);
  return r.value;
}

std::string dstack_acpi_profile(const std::string &qemu_version, const std::string &what,
                                const std::string &explicit_profile) {
  const std::vector<uint64_t> parts = dstack_version_parts(qemu_version, what);
  for (const QemuLine &line : k_qemu_lines)
    if (parts[0] == line.major && parts[1] == line.minor) return line.profile;
  const std::string shown = "QEMU " + shown_key(qemu_version);
  if (parts[0] < 8)
    throw InputError(
        what, shown + " is not supported: dstack refuses QEMU before 8.0 too (supported: " + k_dstack_versions + ")");
  if (newer_than_newest_line(parts)) {
    const QemuLine &newest = k_qemu_lines[std::size(k_qemu_lines) - 1];
    // Fail closed: a newer QEMU may build other tables. dstack would use its newest profile.
    if (!explicit_profile.empty()) return explicit_profile;
    throw InputError(what, shown + " is newer than the newest supported family, " + k_newest_profile + " (QEMU " +
                               std::to_string(newest.major) + "." + std::to_string(newest.minor) +
                               "); its tables are not known to match. If you know they do, name the family with "
                               "--acpi-profile (measure, verify) or --profile (acpi generate)");
  }
  throw InputError(what, shown + " is not a QEMU release line (supported: " + k_dstack_versions + ")");
}

// ---- public: shape files ----

VmShape parse_vm_shape(const std::string &text, const std::string &file) {
  YamlField root = load_yaml_document(text, file, "VmShape");
  root.expect_map({"apiVersion", "kind", "profile", "cpus", "memory", "pic", "smm", "hpet", "pci_hotplug",
                   "pci_hole64_size", "hugepages", "numa_nodes", "devices"});
  VmShape s;
  s.origin = "shape file " + file;
  if (auto f = root.optional("profile")) {
    s.profile = f->str();
    if (s.profile.empty()) f->fail("empty profile name (leave the key out to let the command choose)");
  }
  s.cpus = field_cpus(root.required("cpus"));
  s.memory = field_memory(root.required("memory"));
  if (auto f = root.optional("pic")) s.pic = f->boolean();
  if (auto f = root.optional("smm")) s.smm = f->boolean();
  if (auto f = root.optional("hpet")) s.hpet = f->boolean();
  if (auto f = root.optional("pci_hotplug")) s.pci_hotplug = f->boolean();
  if (auto f = root.optional("pci_hole64_size")) s.pci_hole64_size = field_size(*f);
  if (auto f = root.optional("hugepages")) s.hugepages = f->boolean();
  if (auto f = root.optional("numa_nodes")) {
    std::vector<YamlField> items = f->list();
    if (items.empty()) f->fail("empty list (leave the key out for a machine without NUMA nodes)");
    if (items.size() > k_max_numa_nodes)
      f->fail(std::to_string(items.size()) + " NUMA nodes; QEMU allows at most " + std::to_string(k_max_numa_nodes) +
              " (MAX_NODES)");
    for (const YamlField &item : items) s.numa_nodes.push_back(field_numa_node(item));
  }
  if (auto f = root.optional("devices")) {
    std::vector<YamlField> items = f->list();
    if (items.size() > k_max_shape_devices)
      f->fail(std::to_string(items.size()) + " devices; a shape holds at most " + std::to_string(k_max_shape_devices) +
              " (30 on the root bus, 32 GPU root ports that hugepages moves onto an expander)");
    for (const YamlField &item : items) s.devices.push_back(field_device(item));
  }
  return s;
}

VmShape load_vm_shape(const std::string &path) {
  return parse_vm_shape(read_text_file(path, limits::k_vm_shape), path);
}

std::string vm_shape_to_yaml(const VmShape &shape) {
  std::string out = "apiVersion: mrforge/v1\nkind: VmShape\n";
  if (!shape.profile.empty()) {
    YAML::Emitter e; // quotes the name when YAML needs it
    e << shape.profile;
    out += std::string("profile: ") + e.c_str() + "\n";
  }
  auto b = [](bool v) { return v ? "true" : "false"; };
  out += "cpus: " + std::to_string(shape.cpus) + "\n";
  out += "memory: " + format_size(shape.memory) + "\n";
  out += std::string("pic: ") + b(shape.pic) + "\n";
  out += std::string("smm: ") + b(shape.smm) + "\n";
  out += std::string("hpet: ") + b(shape.hpet) + "\n";
  out += std::string("pci_hotplug: ") + b(shape.pci_hotplug) + "\n";
  if (shape.pci_hole64_size) out += "pci_hole64_size: " + format_size(*shape.pci_hole64_size) + "\n";
  out += std::string("hugepages: ") + b(shape.hugepages) + "\n";
  auto device_line = [](const PciDevice &d) {
    if (d.kind == PciDeviceKind::pcie_root_port && d.behind != RootPortChild::none) {
      std::string line = std::string("{kind: pcie-root-port, behind: ") + root_port_child_name(d.behind);
      if (!d.bars.empty()) {
        line += ", bars: [";
        for (size_t i = 0; i < d.bars.size(); ++i)
          line += std::string(i ? ", " : "") + pci_bar_type_name(d.bars[i].type) + "=" + format_size(d.bars[i].size);
        line += "]";
      }
      return line + "}";
    }
    return std::string(pci_device_kind_name(d.kind));
  };
  if (!shape.numa_nodes.empty()) {
    out += "numa_nodes:\n";
    for (const NumaNode &n : shape.numa_nodes) {
      out += "  - cpus: " + std::to_string(n.cpus) + "\n";
      out += "    memory: " + format_size(n.memory) + "\n";
      if (n.pxb_bus) out += "    pxb_bus: " + std::to_string(*n.pxb_bus) + "\n";
      if (!n.pxb_devices.empty()) {
        out += "    pxb_devices:\n";
        for (const PciDevice &d : n.pxb_devices) out += "      - " + device_line(d) + "\n";
      }
    }
  }
  if (shape.devices.empty()) {
    out += "devices: []\n";
  } else {
    out += "devices:\n";
    for (const PciDevice &d : shape.devices) out += "  - " + device_line(d) + "\n";
  }
  return out;
}

// ---- public: dstack vm_config ----

VmShape parse_dstack_vm_config(const std::string &json_text, const std::string &file,
                               const std::string &explicit_profile) {
  Json root = parse_vm_config_json(json_text, file);
  auto wrapped = root.find("vm_config");
  if (wrapped == root.end()) return shape_from_vm_config(root, file, explicit_profile);
  // An attestation document: its "vm_config" is an object or, as dstack's APIs serve it, a
  // string holding the JSON text (read as strictly, errors named after the field).
  if (wrapped->is_object()) return shape_from_vm_config(*wrapped, file, explicit_profile);
  if (wrapped->is_string()) {
    std::string inner_name = file + "#vm_config";
    return shape_from_vm_config(parse_vm_config_json(wrapped->get_ref<const std::string &>(), inner_name), inner_name,
                                explicit_profile);
  }
  throw InputError(file + ": vm_config",
                   std::string("expected a JSON object or a string holding one, got a JSON ") + wrapped->type_name());
}

VmShape load_dstack_vm_config(const std::string &path, const std::string &explicit_profile) {
  return parse_dstack_vm_config(read_text_file(path, limits::k_vm_config), path, explicit_profile);
}

std::vector<uint64_t> dstack_qemu_version(const std::string &qemu_version, const std::string &what) {
  return dstack_version_parts(qemu_version, what);
}

} // namespace mrforge
