#include <builder/guest_measure.hpp>

#include <measure/acpi_digests.hpp>
#include <measure/errors.hpp>
#include <measure/mapped_file.hpp>
#include <measure/measurement_json.hpp>
#include <measure/profile_yaml.hpp>
#include <measure/reader.hpp>

#include <memory>

namespace mrforge::builder {

ShapeMeasurement measure_guest_shape(const MeasureShape &shape, const GuestFiles &files) {
  ShapeMeasurement r;
  r.shape = shape;
  std::string where = shape.where.describe() + ": measure";
  PlatformProfile profile = load_platform_profile(shape.profile);
  if (profile.measured_into != MeasurementTarget::tdx_rtmrs)
    throw InputError(where, "profile " + profile.name + " describes a vTPM boot (PCRs), not a TD; use a TDX profile");
  OvmfVariant ovmf = load_ovmf_variant(shape.ovmf_variant.empty() ? profile.default_ovmf_variant : shape.ovmf_variant);
  r.profile = profile.name;
  r.ovmf_variant = ovmf.name;

  MappedFile firmware(files.firmware, limits::k_firmware), kernel(files.kernel, limits::k_kernel),
      initrd(files.initrd, limits::k_initrd);
  MeasureInputs in;
  in.firmware = NamedBytes{firmware.bytes(), "OVMF.fd"};
  in.kernel = NamedBytes{kernel.bytes(), "vmlinuz"};
  in.initrd = NamedBytes{initrd.bytes(), "initrd"};
  in.cmdline = files.cmdline;
  in.cpus = shape.cpus;
  in.memory = shape.memory;
  if (!shape.acpi.tables_dir.empty()) {
    in.acpi = acpi_digests_from_dir(shape.acpi.tables_dir);
    in.acpi_origin = shape.acpi.tables_dir;
    r.acpi_source = "tables " + shape.acpi.tables_dir;
  } else if (!shape.acpi.digests.empty()) {
    for (const auto &[name, hex] : shape.acpi.digests) {
      std::optional<DigestSlot> slot = digest_slot_from_name(name);
      if (!slot) throw InputError(where, "unknown ACPI digest '" + name + "'");
      in.supplied[*slot] = sha384_from_hex(hex, where + ": acpi: " + name);
    }
    r.acpi_source = "digests" + (shape.acpi.origin.empty() ? std::string() : " (" + shape.acpi.origin + ")");
  } else {
    r.acpi_source = "none";
  }
  try {
    r.measurement = measure(profile, ovmf, in);
  } catch (const InputError &e) {
    throw InputError(where, e.what());
  }
  return r;
}

nlohmann::ordered_json measurements_json(const std::vector<ShapeMeasurement> &shapes) {
  nlohmann::ordered_json j;
  j["shapes"] = nlohmann::ordered_json::array();
  for (const ShapeMeasurement &s : shapes) {
    nlohmann::ordered_json e;
    e["profile"] = s.profile;
    e["ovmf_variant"] = s.ovmf_variant;
    e["cpus"] = s.shape.cpus;
    e["memory"] = format_memory_size(s.shape.memory);
    e["memory_bytes"] = s.shape.memory;
    e["acpi"] = s.acpi_source;
    const nlohmann::ordered_json m = measurement_json(s.measurement);
    for (auto it = m.begin(); it != m.end(); ++it) e[it.key()] = it.value();
    j["shapes"].push_back(e);
  }
  return j;
}

} // namespace mrforge::builder
