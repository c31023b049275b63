#pragma once
// The boot check of `mrforge boot`: predict what real OVMF and the Linux EFI stub measure into a
// vTPM for a built image (the measure engine, a vTPM profile), boot the image under QEMU with a
// software TPM in check mode (mrforge.check=1: its init dumps the TPM event log and the fw_cfg
// ACPI blobs), parse the dumped log and compare it with the prediction event by event. The
// "ACPI DATA" events of an OVMF variant that measures QEMU's ACPI blobs under a vTPM
// (vtpm_acpi_blobs) are predicted after the boot, from the blobs the guest dumped.

#include <builder/vm/qemu_boot.hpp>
#include <measure/verify/vtpm_check.hpp>

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

namespace mrforge::builder {

struct BootCheckSettings {
  std::string image_dir; // `mrforge build` output, with metadata.json
  uint32_t cpus = 1;
  std::string memory = "2G"; // as the user gave it: "2G", "3072M" (whole MiB)
  int timeout = 300;         // seconds for the whole boot
  std::string save_acpi;     // when set: write the dumped ACPI blobs there (an OutputDir)
  std::string serial_log;    // when set: write the cleaned serial output there
  std::string profile = "qemu-7.2-vtpm";
  std::string ovmf_variant; // empty: the profile's (or the firmware's evidence)
  std::function<void(const std::string &)> progress;
};

struct BootCheckResult {
  BootCapture capture;
  std::vector<EventCheck> checks;    // the guest's TPM log against the prediction
  std::vector<std::string> failures; // the boot's, then the check's
  bool ok = false;                   // ready, every event matches, no failure
  std::string profile;               // the platform profile's name
  std::string ovmf_variant;          // the OVMF variant's name
  std::string ovmf_basis;            // "BASIS: REASON", why that variant
  uint32_t cpus = 0;
  uint64_t memory = 0; // bytes
  std::string cmdline; // exactly what QEMU passed (with mrforge.check=1)
};

// Throws InputError (image directory, options), HostError (QEMU or swtpm cannot run), SystemError
// (an output cannot be written). A failed boot or a differing event is a result, not an error.
BootCheckResult run_boot_check(const BootCheckSettings &settings);

} // namespace mrforge::builder
