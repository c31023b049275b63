#include <measure/documents/measurement_json.hpp>
#include <measure/documents/recorded_shapes.hpp>
#include <measure/documents/vm_shape_file.hpp>
#include <measure/util/errors.hpp>
#include <measure/util/hash.hpp>
#include <measure/util/size_text.hpp>

namespace mrforge {

namespace {

using Json = nlohmann::json;

const Json &field(const Json &obj, const char *key, const std::string &where) {
  auto it = obj.find(key);
  if (it == obj.end()) throw InputError(where, std::string("missing field \"") + key + "\"");
  return *it;
}

std::string string_field(const Json &obj, const char *key, const std::string &where) {
  const Json &v = field(obj, key, where);
  if (!v.is_string()) throw InputError(where + "." + key, "expected a string");
  return v.get<std::string>();
}

uint64_t unsigned_field(const Json &obj, const char *key, const std::string &where) {
  const Json &v = field(obj, key, where);
  if (!v.is_number_unsigned()) throw InputError(where + "." + key, "expected an unsigned integer");
  return v.get<uint64_t>();
}

Sha384 digest_field(const Json &obj, const char *key, const std::string &where) {
  return sha384_from_hex(string_field(obj, key, where), where + "." + key);
}

} // namespace

std::string shape_label(const std::string &profile, uint64_t cpus, uint64_t memory_bytes) {
  return "profile " + profile + ", " + std::to_string(cpus) + " vCPU" + (cpus == 1 ? "" : "s") + ", " +
         format_memory_size(memory_bytes);
}

nlohmann::ordered_json vm_shape_json(const VmShape &s) {
  nlohmann::ordered_json j;
  j["apiVersion"] = "mrforge/v1"; // a complete VM shape file in JSON
  j["kind"] = "VmShape";
  j["profile"] = s.profile;
  j["cpus"] = s.cpus;
  j["memory"] = format_size(s.memory);
  j["pic"] = s.pic;
  j["smm"] = s.smm;
  j["hpet"] = s.hpet;
  j["pci_hotplug"] = s.pci_hotplug;
  if (s.pci_hole64_size) j["pci_hole64_size"] = format_size(*s.pci_hole64_size);
  j["hugepages"] = s.hugepages;
  auto device_json = [](const PciDevice &d) -> nlohmann::ordered_json {
    if (d.kind == PciDeviceKind::pcie_root_port && d.behind != RootPortChild::none) {
      nlohmann::ordered_json dev = {{"kind", pci_device_kind_name(d.kind)}, {"behind", root_port_child_name(d.behind)}};
      if (!d.bars.empty()) {
        dev["bars"] = nlohmann::ordered_json::array();
        for (const PciBar &b : d.bars)
          dev["bars"].push_back(std::string(pci_bar_type_name(b.type)) + "=" + format_size(b.size));
      }
      return dev;
    }
    return pci_device_kind_name(d.kind);
  };
  if (!s.numa_nodes.empty()) {
    j["numa_nodes"] = nlohmann::ordered_json::array();
    for (const NumaNode &n : s.numa_nodes) {
      nlohmann::ordered_json node;
      node["cpus"] = n.cpus;
      node["memory"] = format_size(n.memory);
      if (n.pxb_bus) node["pxb_bus"] = *n.pxb_bus;
      if (!n.pxb_devices.empty()) {
        node["pxb_devices"] = nlohmann::ordered_json::array();
        for (const PciDevice &d : n.pxb_devices) node["pxb_devices"].push_back(device_json(d));
      }
      j["numa_nodes"].push_back(node);
    }
  }
  j["devices"] = nlohmann::ordered_json::array();
  for (const PciDevice &d : s.devices) j["devices"].push_back(device_json(d));
  return j;
}

nlohmann::ordered_json recorded_shape_json(const MeasureRequest &r, const MeasureInputs &in, const Measurement &m) {
  nlohmann::ordered_json e;
  e["profile"] = r.profile.name;
  e["ovmf_variant"] = r.ovmf.variant.name;
  e["cpus"] = r.cpus;
  e["memory"] = format_memory_size(r.memory);
  e["memory_bytes"] = r.memory;
  nlohmann::ordered_json acpi;
  acpi["source"] = acpi_input_kind_name(r.acpi.kind);
  acpi["origin"] = r.acpi.origin;
  if (in.acpi) {
    acpi["acpi-loader"] = to_hex(in.acpi->table_loader);
    acpi["acpi-rsdp"] = to_hex(in.acpi->rsdp);
    acpi["acpi-tables"] = to_hex(in.acpi->tables);
  }
  if (r.acpi.kind == AcpiInputKind::generated) acpi["vm_shape"] = vm_shape_json(r.acpi.shape);
  e["acpi"] = acpi;
  const nlohmann::ordered_json mj = measurement_json(m);
  for (auto it = mj.begin(); it != mj.end(); ++it) e[it.key()] = it.value();
  return e;
}

std::vector<RecordedShape> read_recorded_shapes(const nlohmann::json &doc, const std::string &file) {
  if (!doc.is_object() || !doc.contains("shapes") || !doc["shapes"].is_array())
    throw InputError(file, "expected {\"shapes\": [...]}, a guest build's measurements.json");
  std::vector<RecordedShape> out;
  size_t i = 0;
  for (const Json &s : doc["shapes"]) {
    RecordedShape r;
    r.where = file_label(file) + " shapes[" + std::to_string(i++) + "]";
    const std::string where = file + ": shapes[" + std::to_string(i - 1) + "]";
    if (!s.is_object()) throw InputError(where, "expected an object");
    r.profile = string_field(s, "profile", where);
    r.ovmf_variant = string_field(s, "ovmf_variant", where);
    uint64_t cpus = unsigned_field(s, "cpus", where);
    if (cpus < 1 || cpus > k_max_shape_cpus) throw InputError(where + ".cpus", "expected 1 to 4096");
    r.cpus = static_cast<uint32_t>(cpus);
    r.memory = unsigned_field(s, "memory_bytes", where);
    const Json &acpi = field(s, "acpi", where);
    const std::string aw = where + ".acpi";
    if (!acpi.is_object()) throw InputError(aw, "expected an object {source, origin, acpi-loader, ...}");
    r.acpi_source = string_field(acpi, "source", aw);
    r.acpi_origin = string_field(acpi, "origin", aw);
    if (r.acpi_source != "generated" && r.acpi_source != "tables" && r.acpi_source != "digests")
      throw InputError(aw + ".source", "expected generated, tables or digests, got '" + r.acpi_source + "'");
    r.acpi_digests = AcpiDigests{digest_field(acpi, "acpi-loader", aw), digest_field(acpi, "acpi-rsdp", aw),
                                 digest_field(acpi, "acpi-tables", aw)};
    if (r.acpi_source == "generated") {
      const Json &shape = field(acpi, "vm_shape", aw);
      if (!shape.is_object()) throw InputError(aw + ".vm_shape", "expected an object");
      r.vm_shape = parse_vm_shape(shape.dump(), aw + ".vm_shape");
    }
    out.push_back(std::move(r));
  }
  if (out.empty()) throw InputError(file, "holds no VM shapes");
  return out;
}

size_t pick_recorded_shape(const std::vector<std::string> &labels, std::optional<size_t> index, const std::string &file,
                           const std::string &option) {
  if (labels.empty()) throw InputError(file, "holds no VM shapes: nothing to compare the quote with");
  if (index && *index >= labels.size())
    throw InputError(option, std::to_string(*index) + " is out of range: " + file + " holds " +
                                 std::to_string(labels.size()) + " VM shape(s), numbered from 0");
  if (!index && labels.size() > 1) {
    std::string list;
    for (size_t i = 0; i < labels.size(); ++i) list += "\n  " + option + " " + std::to_string(i) + ": " + labels[i];
    throw InputError(option, file + " holds " + std::to_string(labels.size()) + " VM shapes; pick one with " + option +
                                 " N:" + list);
  }
  return index.value_or(0);
}

MeasureSpec spec_from_recorded_shape(const RecordedShape &shape) {
  MeasureSpec spec;
  spec.profile = Given{shape.profile, shape.where + ".profile"};
  spec.ovmf_variant = Given{shape.ovmf_variant, shape.where + ".ovmf_variant"};
  spec.cpus = Given{std::to_string(shape.cpus), shape.where + ".cpus"};
  spec.memory = Given{std::to_string(shape.memory), shape.where + ".memory_bytes"};
  spec.shape_where = shape.where;
  spec.acpi.where = shape.where + ".acpi";
  if (shape.vm_shape) {
    spec.acpi.kind = AcpiChoice::Kind::generate;
    spec.acpi.shape = *shape.vm_shape;
    spec.acpi.shape->origin = shape.where;
  } else {
    spec.acpi.kind = AcpiChoice::Kind::digests;
    spec.acpi.digests = shape.acpi_digests;
    spec.acpi.origin = "from " + shape.where + ": " + shape.acpi_origin;
  }
  return spec;
}

} // namespace mrforge
