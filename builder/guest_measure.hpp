// The expected measurements of a built guest image for each VM shape its recipe names: the
// measure engine run on the image's firmware, kernel, initrd and command line, with the shape's
// profile, OVMF variant, vCPUs, memory and ACPI source. Written as measurements.json.
#pragma once

#include <builder/recipe.hpp>

#include <measure/engine.hpp>

#include <nlohmann/json.hpp>

#include <string>
#include <vector>

namespace mrforge::builder {

struct GuestFiles {
  std::string firmware, kernel, initrd; // host paths
  std::string cmdline;
};

struct ShapeMeasurement {
  MeasureShape shape;
  std::string profile;      // the profile's name
  std::string ovmf_variant; // the variant's name
  std::string acpi_source;  // "digests (ORIGIN)" or "tables DIR"
  Measurement measurement;
};

// Throws InputError naming the shape's recipe location when a profile or ACPI input is wrong.
ShapeMeasurement measure_guest_shape(const MeasureShape &shape, const GuestFiles &files);

// {"shapes": [{"profile", "ovmf_variant", "cpus", "memory", "memory_bytes", "acpi", "mrtd",
// "rtmr0".."rtmr2", "events", "inputs"}]}: the measurement part is exactly `measure --json`'s.
nlohmann::ordered_json measurements_json(const std::vector<ShapeMeasurement> &shapes);

} // namespace mrforge::builder
