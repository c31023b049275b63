// The options that describe what a TD should measure (firmware, kernel, initrd, command line, VM
// shape, profile, ACPI blobs, supplied digests), shared by `measure` and `verify`, and their
// conversion into the engine's inputs.
#pragma once

#include <CLI/CLI.hpp>

#include "shape_options.hpp"

#include <measure/engine.hpp>
#include <measure/mapped_file.hpp>

#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace mrforge::cli {

struct MeasureOptions {
  std::string image_dir;
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
// required unless --dstack-vm-config or --shape supplies them; otherwise they are checked when
// used (verify).
void add_measure_options(CLI::App *cmd, MeasureOptions &o, bool required);
// True if any engine input was given (verify then computes expected values).
bool any_measure_option(const MeasureOptions &o);

// Everything the engine needs, with the files kept mapped for as long as this lives.
struct LoadedMeasureInputs {
  PlatformProfile profile;
  OvmfVariant ovmf;
  MeasureInputs in;
  std::vector<std::unique_ptr<MappedFile>> files;
};

// Resolves IMAGE_DIR, loads profile and OVMF variant, maps the files, parses sizes and digests.
// Throws InputError naming the option at fault.
std::unique_ptr<LoadedMeasureInputs> load_measure_inputs(const MeasureOptions &o);

} // namespace mrforge::cli
