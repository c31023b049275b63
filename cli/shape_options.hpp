// The VM-shape options shared by `acpi generate`, `acpi capture` and `measure`: a shape from a
// file (--shape), from a dstack vm_config (--dstack-vm-config) or from options, options overriding
// what a file says.
#pragma once

#include <measure/acpi/vm_shape.hpp>

#include <CLI/CLI.hpp>

#include <optional>
#include <ostream>
#include <string>
#include <vector>

namespace mrforge::cli {

struct ShapeOptions {
  std::string shape_file;                          // --shape FILE (YAML or JSON)
  std::string dstack_vm_config;                    // --dstack-vm-config FILE
  std::string profile;                             // --acpi-profile NAME|FILE
  std::optional<uint32_t> cpus;                    // --cpus N
  std::string memory;                              // --memory SIZE
  std::optional<bool> pic, smm, hpet, pci_hotplug; // --pic on|off, --smm, --hpet, --pci-hotplug
  std::string pci_hole64_size;                     // --pci-hole64-size SIZE
  std::vector<std::string> devices;                // --device KIND (repeatable, in order; "pcie-root-port:gpu")
  bool hugepages = false;                          // --hugepages
  std::string gpu_bars, nvswitch_bars;             // --gpu-bars / --nvswitch-bars LIST
  bool any_given() const;                          // whether any shape option was given at all
};

// `profile_option` lets `measure` keep --profile for its platform profile; acpi commands use
// "--profile" for the ACPI profile.
// With `size_options` false, --cpus and --memory are left to the caller (measure has its own, and
// copies them into ShapeOptions before calling shape_from_options).
void add_shape_options(CLI::App &cmd, ShapeOptions &o, const std::string &profile_option = "--acpi-profile",
                       bool size_options = true);

// Builds the shape: the file or vm_config first (at most one of them), then each option given
// overrides (--device replaces the file's whole device list; --hugepages can only turn it on);
// without a file, --cpus and --memory are required (InputError naming the missing option: "give
// --cpus and --memory, or --shape FILE"). When neither a file nor the profile option names a
// profile, VmShape::profile stays empty and the calling command picks its default. Throws
// InputError / DocumentError / SystemError with the source named.
VmShape shape_from_options(const ShapeOptions &o);

// The defaults a vm_config left to dstack (VmShape::notes; also in VmShape::origin), one
// "mrforge: note: ..." line each.
void print_shape_notes(const VmShape &shape, std::ostream &out);

} // namespace mrforge::cli
