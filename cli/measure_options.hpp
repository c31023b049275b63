// The options that describe what a TD should measure (firmware, kernel, initrd, command line, VM
// shape, profile, ACPI blobs, supplied digests, or an IMAGE_DIR), shared by `measure` and
// `verify`, and their conversion into one measure request.
#pragma once

#include <CLI/CLI.hpp>

#include "shape_options.hpp"

#include <measure/documents/request_assembly.hpp>

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace mrforge::cli {

struct MeasureOptions {
  std::string image_dir;
  std::optional<size_t> image_shape; // --image-shape N: which of IMAGE_DIR's measurements.json shapes
  std::string firmware, kernel, initrd;
  std::optional<std::string> cmdline;
  uint32_t cpus = 0;
  std::string memory;
  std::string profile;
  std::string ovmf_variant;
  std::string acpi_tables;
  ShapeOptions shape; // the VM shape for generating QEMU's ACPI tables (its --cpus/--memory are ours)
  std::vector<std::string> digests;
  std::string initrd_size;
};

// Registers the options on `cmd`. With `required` (measure), --cpus, --memory and --profile are
// required unless an IMAGE_DIR, --dstack-vm-config or --shape supplies them, or `other_job` says
// the command has another job and no measure option was given (measure --app alone computes only
// RTMR3); otherwise they are checked when used (verify).
void add_measure_options(CLI::App *cmd, MeasureOptions &o, bool required, std::function<bool()> other_job = {});
// True if any engine input was given (verify then computes expected values).
bool any_measure_option(const MeasureOptions &o);

// The request and what the user should know about how it was made ("VM shape: measurements.json
// shapes[0] (...)", the OVMF variant's basis).
struct LoadedRequest {
  std::unique_ptr<AssembledRequest> assembled;
  std::vector<std::string> notes;
  const MeasureRequest &request() const { return assembled->request; }
};

// An IMAGE_DIR gives the files and command line (metadata.json) and, when it has a
// measurements.json, the VM shape (profile, OVMF variant, CPUs, memory, ACPI source); options
// override single fields. Throws InputError naming the option at fault.
LoadedRequest load_measure_request(const MeasureOptions &o);

} // namespace mrforge::cli
