#include <builder/build/guest_measure.hpp>

#include <measure/dstack/image_measurement.hpp>

#include <measure/documents/recorded_shapes.hpp>
#include <measure/documents/request_assembly.hpp>
#include <measure/documents/vm_shape_file.hpp>
#include <measure/util/errors.hpp>
#include <measure/util/hash.hpp>

namespace mrforge::builder {

namespace {

// "guest.yaml:40:7: measure[0]": the recipe location as outputs record it (the file's name only:
// the outputs must not depend on where the recipe lies).
std::string recorded_location(const Location &l) {
  return file_label(l.file) + ":" + std::to_string(l.line) + ":" + std::to_string(l.column);
}

MeasureSpec spec_for(const MeasureShape &shape, const GuestFiles &files) {
  const std::string at = recorded_location(shape.where);
  MeasureSpec spec;
  spec.profile = Given{shape.profile, at + ": profile"};
  if (!shape.ovmf_variant.empty()) spec.ovmf_variant = Given{shape.ovmf_variant, at + ": ovmf_variant"};
  spec.firmware = Given{files.firmware, "OVMF.fd"};
  if (!files.disk.empty()) spec.disk = Given{files.disk, "disk.img"};
  if (!files.uki.empty()) {
    spec.uki = Given{files.uki, "uki.efi"};
  } else {
    spec.kernel = Given{files.kernel, "vmlinuz"};
    spec.initrd = Given{files.initrd, "initrd.img"};
  }
  if (!files.shim.empty()) {
    spec.shim = Given{files.shim, "shimx64.efi"};
    spec.grub = Given{files.grub, "grubx64.efi"};
    spec.grub_cfg = Given{files.grub_cfg, "grub.cfg"};
  }
  spec.cmdline = files.cmdline;
  if (shape.cpus) spec.cpus = Given{std::to_string(*shape.cpus), at + ": cpus"};
  if (shape.memory) spec.memory = Given{std::to_string(*shape.memory), at + ": memory"};
  spec.shape_where = at;
  spec.acpi.where = at + ": acpi";
  if (!shape.shape_file.empty()) {
    VmShape vm = load_vm_shape(shape.shape_file);
    vm.origin = at + ": shape " + file_label(shape.shape_file);
    spec.acpi.shape = vm;
    spec.shape_where = vm.origin;
  }
  if (shape.acpi.generate) {
    spec.acpi.kind = AcpiChoice::Kind::generate;
  } else if (!shape.acpi.tables_dir.empty()) {
    spec.acpi.kind = AcpiChoice::Kind::tables;
    spec.acpi.tables_dir = shape.acpi.tables_dir;
  } else {
    spec.acpi.kind = AcpiChoice::Kind::digests;
    auto digest = [&](const char *name) {
      return sha384_from_hex(shape.acpi.digests.at(name), at + ": acpi: " + name);
    };
    spec.acpi.digests = AcpiDigests{digest("acpi-loader"), digest("acpi-rsdp"), digest("acpi-tables")};
    spec.acpi.origin = shape.acpi.origin;
  }
  return spec;
}

} // namespace

ShapeMeasurement measure_guest_shape(const MeasureShape &shape, const GuestFiles &files) {
  ShapeMeasurement r;
  r.shape = shape;
  std::unique_ptr<AssembledRequest> a = assemble_measure_request(spec_for(shape, files));
  const MeasureRequest &req = a->request;
  r.profile = req.profile.name;
  r.cpus = req.cpus;
  r.memory = req.memory;
  r.ovmf_variant = req.ovmf.variant.name;
  r.ovmf_basis = req.ovmf.describe();
  r.acpi_source = req.acpi.origin;
  try {
    MeasureInputs in = measure_inputs(req);
    r.measurement = measure(req);
    r.record = recorded_shape_json(req, in, r.measurement);
    if (!req.disk_boot) r.dstack = tdx_measurement_for_image(req.profile, req.ovmf.variant, in);
  } catch (const InputError &e) {
    throw InputError(shape.where.describe() + ": measure", e.what());
  }
  return r;
}

Bytes dstack_measurement_file(const std::vector<ShapeMeasurement> &shapes) {
  if (shapes.empty()) throw InputError("measure", "no VM shape to write measurement.tdx.cbor for");
  if (!shapes.front().dstack) throw InputError("measure", "dstack's measurement.tdx.cbor describes a direct boot only");
  Bytes first = write_tdx_measurement_file(*shapes.front().dstack);
  for (size_t i = 1; i < shapes.size(); ++i)
    if (write_tdx_measurement_file(*shapes[i].dstack) != first)
      throw InputError(
          shapes[i].shape.where.describe() + ": measure",
          "dstack's measurement.tdx.cbor holds one kernel digest and OVMF variant, and this shape (profile " +
              shapes[i].profile + ", OVMF variant " + shapes[i].ovmf_variant + ") gives other values than " +
              shapes.front().shape.where.describe() + " (profile " + shapes.front().profile + ", OVMF variant " +
              shapes.front().ovmf_variant + ")");
  return first;
}

nlohmann::ordered_json measurements_json(const std::vector<ShapeMeasurement> &shapes) {
  nlohmann::ordered_json j;
  j["shapes"] = nlohmann::ordered_json::array();
  for (const ShapeMeasurement &s : shapes) j["shapes"].push_back(s.record);
  return j;
}

} // namespace mrforge::builder
