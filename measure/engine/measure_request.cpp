#include <measure/acpi/acpi_generator.hpp>
#include <measure/engine/measure_request.hpp>
#include <measure/util/hash.hpp>

namespace mrforge {

const char *acpi_input_kind_name(AcpiInputKind k) {
  switch (k) {
  case AcpiInputKind::none: return "none";
  case AcpiInputKind::blobs: return "tables";
  case AcpiInputKind::digests: return "digests";
  case AcpiInputKind::generated: return "generated";
  }
  return "?";
}

MeasureInputs measure_inputs(const MeasureRequest &r) {
  MeasureInputs in;
  in.firmware = r.firmware;
  in.kernel = r.kernel;
  in.initrd = r.initrd;
  in.disk_boot = r.disk_boot;
  in.initrd_size = r.initrd_size;
  in.cmdline = r.cmdline;
  in.cpus = r.cpus;
  in.memory = r.memory;
  in.supplied = r.supplied;
  in.supplied_origin = r.supplied_origin;
  switch (r.acpi.kind) {
  case AcpiInputKind::none: break;
  case AcpiInputKind::blobs:
    in.acpi = acpi_digests(r.acpi.blobs.table_loader, "etc/table-loader", r.acpi.blobs.rsdp, "etc/acpi/rsdp",
                           r.acpi.blobs.tables, "etc/acpi/tables");
    break;
  case AcpiInputKind::digests: in.acpi = r.acpi.digests; break;
  case AcpiInputKind::generated: {
    GeneratedAcpi g = generate_acpi(r.acpi.shape, r.acpi.profile);
    in.acpi = AcpiDigests{sha384(g.blobs.table_loader), sha384(g.blobs.rsdp), sha384(g.blobs.tables)};
    break;
  }
  }
  in.acpi_origin = r.acpi.origin;
  return in;
}

Measurement measure(const MeasureRequest &r) {
  Measurement m = measure(r.profile, r.ovmf.variant, measure_inputs(r));
  auto insert_after = [&](const char *key, const std::string &name, const std::string &value) {
    auto it = m.inputs.begin();
    while (it != m.inputs.end() && it->first != key) ++it;
    m.inputs.insert(it == m.inputs.end() ? it : it + 1, {name, value});
  };
  insert_after("ovmf_variant", "ovmf_variant_basis", r.ovmf.describe());
  insert_after("profile", "profile_origin", r.profile_origin);
  if (!r.shape_origin.empty()) insert_after("memory", "shape_origin", r.shape_origin);
  if (r.acpi.kind != AcpiInputKind::none) insert_after("memory", "acpi_source", acpi_input_kind_name(r.acpi.kind));
  return m;
}

} // namespace mrforge
