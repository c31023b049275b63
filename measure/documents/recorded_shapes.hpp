// A guest build's measurements.json: {"shapes": [...]}, one entry per VM shape the recipe
// measures. Each entry is `mrforge measure --json`'s object (mrtd, rtmr0-2, events, inputs) plus
// what decides it, so that `measure IMAGE_DIR`, `verify IMAGE_DIR` and `verify --expected DIR`
// can take the shape from the image instead of from defaults:
//   "profile": "qemu-8.2-tdx", "ovmf_variant": "debian-bookworm-2022.11",
//   "cpus": 2, "memory": "2 GiB", "memory_bytes": 2147483648,
//   "acpi": {"source": "generated" | "tables" | "digests", "origin": "...",
//            "acpi-loader": HEX, "acpi-rsdp": HEX, "acpi-tables": HEX,
//            "vm_shape": {VM shape file fields} (generated only)}
#pragma once

#include <measure/documents/request_assembly.hpp>
#include <measure/engine/measure_request.hpp>

#include <nlohmann/json.hpp>

#include <optional>
#include <string>
#include <vector>

namespace mrforge {

struct RecordedShape {
  std::string where; // "measurements.json shapes[0]"
  std::string profile;
  std::string ovmf_variant;
  uint32_t cpus = 0;
  uint64_t memory = 0;
  std::string acpi_source; // "generated", "tables", "digests"
  std::string acpi_origin;
  AcpiDigests acpi_digests;
  std::optional<VmShape> vm_shape; // generated only
};

// "profile qemu-8.2-tdx, 2 vCPUs, 2 GiB".
std::string shape_label(const std::string &profile, uint64_t cpus, uint64_t memory_bytes);

// One shape's entry: the request's choices, the ACPI digests it used (`in`) and the measurement.
nlohmann::ordered_json recorded_shape_json(const MeasureRequest &r, const MeasureInputs &in, const Measurement &m);
// The VM shape in the fields of a shape file (vm_shape_file.hpp).
nlohmann::ordered_json vm_shape_json(const VmShape &s);

// Reads the shapes of a measurements.json document (`file` names it: "out/measurements.json").
// Throws InputError naming the field ("measurements.json: shapes[0].acpi.source") when one is
// missing or mistyped.
std::vector<RecordedShape> read_recorded_shapes(const nlohmann::json &doc, const std::string &file);

// Picks shape `index` (or the only one when absent). Throws InputError naming `option` and
// listing the shapes when there are several and none was picked, or the index is out of range.
size_t pick_recorded_shape(const std::vector<std::string> &labels, std::optional<size_t> index, const std::string &file,
                           const std::string &option);

// The request spec a recorded shape gives: profile, variant, CPUs, memory and the ACPI source
// (its digests, or the VM shape to generate the tables again), each named by `shape.where`.
// A caller's own options then override single fields.
MeasureSpec spec_from_recorded_shape(const RecordedShape &shape);

} // namespace mrforge
