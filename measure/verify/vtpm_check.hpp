// Checking the engine against real firmware on a machine without TDX: OVMF's Tcg2Dxe and the Linux
// EFI stub, booted under QEMU with a software TPM, measure the same kernel (as QEMU served it),
// command line, initrd, boot variables, separators and actions as in a TD, but into TPM PCRs.
// The engine's prediction for a `measured_into: tpm-pcrs` profile (qemu-7.2-vtpm) is assigned to
// PCRs here and aligned with the TCG log the guest read from securityfs (SHA-384 bank).
//
// Why the PCR of each step is code and not profile data: the PCR is fixed by the TCG PC Client
// Platform Firmware Profile (1.05, section 3.3.4, "PCR Usage") for each kind of event, and by the
// Linux EFI stub (PCR9, drivers/firmware/efi/libstub/efi-stub-helper.c) - not by the host or the
// firmware build. What varies per platform (which steps occur, in which order) is profile data.
// The one firmware-dependent register choice of the TDX path (the ReadyToBoot separator's RTMR,
// an OVMF variant field) does not exist on a TPM: Tcg2Dxe extends PCR0-6 one by one.
#pragma once

#include <measure/engine/engine.hpp>
#include <measure/engine/profile.hpp>
#include <measure/formats/tcg_log.hpp>

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace mrforge {

// The PCRs the events of a step extend on a TPM, in log order:
//   secure_boot_variables, separator_firmware: 7 (Secure Boot policy)
//   kernel, boot_application, calling_efi_application: 4 (boot manager code and the "Calling EFI
//     Application" action)
//   gpt: 5 (the boot disk's partition table)
//   uki_sections: 11 (systemd-stub, src/fundamental/tpm-pcr.h TPM_PCR_INDEX_KERNEL_IMAGE)
//   grub_application: 4 (shim measures the image it loads as boot manager code)
//   shim_measurements, grub_measurements: each event names its own PCR (Event::tpm_pcr): shim's
//     MOK lists 14, its SbatLevel 7 (shim's include/tpm.h); GRUB's commands 8, its files 9
//     (grub-core/commands/tpm.c GRUB_STRING_PCR, GRUB_BINARY_PCR)
//   boot_variables, acpi_tables: 1 (platform configuration; RTMR0 in a TD)
//   separator_boot: 0, 1, 2, 3, 4, 5, 6 (one separator each at ReadyToBoot)
//   cmdline, initrd: 9 (Linux EFI stub)
//   exit_boot_services_*: 5
// Empty for td_hob, cfv and ovmf_extra_events, which have no TPM counterpart (TD-only, or given
// by RTMR only), and for the steps whose events name their PCR.
std::vector<uint32_t> tpm_pcrs_of(EventStep step);

// One predicted PCR extend.
struct PcrEvent {
  uint32_t pcr = 0;
  EventStep step = EventStep::kernel;
  Event event; // the engine's event (its `reg` is the TD register and is not used here)
};

struct VtpmPrediction {
  Measurement measurement;      // the engine's output: events in log order, inputs
  std::vector<PcrEvent> events; // one per PCR extend, in log order
};

// Runs the engine for a profile with `measured_into: tpm-pcrs` and assigns each event its PCR.
// Throws InputError if the profile measures into RTMRs, or lists a step with no TPM counterpart
// that yields events; otherwise what measure() throws.
VtpmPrediction predict_vtpm(const PlatformProfile &profile, const OvmfVariant &ovmf, const MeasureInputs &in);

enum class CheckStatus {
  pass,          // the log has the predicted event, same PCR, type, digest and place
  fail,          // a predicted event is missing, differs or is out of place; or an unpredicted event
  not_predicted, // a log event the prediction does not cover by design (OVMF's own code in PCR0)
};
const char *check_status_name(CheckStatus s); // "pass", "FAIL", "skip"

struct EventCheck {
  std::string what; // the predicted event's description, or the log event's type
  uint32_t pcr = 0;
  CheckStatus status = CheckStatus::fail;
  std::string expected;            // SHA-384 hex, or "" when nothing was predicted
  std::string actual;              // SHA-384 hex from the log, or "" when the log has no such event
  std::string note;                // why it failed, or where it came from
  std::optional<size_t> log_index; // index into TcgLog::events
  bool pass() const { return status != CheckStatus::fail; }
};

// Aligns the prediction with a parsed TPM log, PCR by PCR (the order of extends matters only
// within a PCR): the longest common subsequence of (type, digest) pairs is a pass; between those
// anchors, a predicted and a logged event of the same type pair up as a digest mismatch; a
// predicted event left over is missing (noting where its digest appears instead, if it does), a
// logged event left over is unexpected. PCR0's EV_S_CRTM_VERSION and EV_EFI_PLATFORM_FIRMWARE_BLOB
// records (the firmware's own code) are `not_predicted`; EV_NO_ACTION records are not extended
// and are skipped. Checks come back in log order (a missing event after its predecessor).
// Throws FormatError{log.source} if the log has no SHA-384 bank.
std::vector<EventCheck> check_vtpm_log(const TcgLog &log, const std::vector<PcrEvent> &predicted);

// True when no check failed and at least one passed.
bool all_passed(const std::vector<EventCheck> &checks);

} // namespace mrforge
