// Measurements are data: an ordered list of events, each with the register it extends, its TCG
// event type, a description, its SHA-384 digest and the input it came from. Printing, JSON,
// diffing and verifying all read this list; registers are folded from it at the end.
#pragma once

#include <measure/util/hash.hpp>

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace mrforge {

enum class Register { rtmr0 = 0, rtmr1 = 1, rtmr2 = 2, rtmr3 = 3 };
const char *register_name(Register r); // "rtmr0".."rtmr3"

// TCG event types used by OVMF, shim, grub, td-shim and the Linux EFI stub (TCG PC Client
// Platform Firmware Profile 1.05, section 10.4.1; the Linux EFI stub uses EV_EVENT_TAG).
namespace event_type {
constexpr uint32_t k_separator = 0x00000004;
constexpr uint32_t k_action = 0x00000005;
constexpr uint32_t k_event_tag = 0x00000006;
constexpr uint32_t k_platform_config_flags = 0x0000000A;
constexpr uint32_t k_ipl = 0x0000000D;
constexpr uint32_t k_efi_variable_driver_config = 0x80000001;
constexpr uint32_t k_efi_variable_boot = 0x80000002;
constexpr uint32_t k_efi_boot_services_application = 0x80000003;
constexpr uint32_t k_efi_boot_services_driver = 0x80000004;
constexpr uint32_t k_efi_runtime_services_driver = 0x80000005;
constexpr uint32_t k_efi_gpt_event = 0x80000006;
constexpr uint32_t k_efi_action = 0x80000007;
constexpr uint32_t k_efi_platform_firmware_blob = 0x80000008;
constexpr uint32_t k_efi_handoff_tables = 0x80000009;
constexpr uint32_t k_efi_platform_firmware_blob2 = 0x8000000A;
constexpr uint32_t k_efi_handoff_tables2 = 0x8000000B;
constexpr uint32_t k_efi_variable_boot2 = 0x8000000C;
constexpr uint32_t k_efi_variable_authority = 0x800000E0;
} // namespace event_type

// Tagged event ids (TCG_PCClientTaggedEvent.taggedEventID) of the Linux EFI stub
// (include/linux/efi.h, drivers/firmware/efi/libstub): the digest covers the command line or the
// initrd, the data is a description.
namespace event_tag {
constexpr uint32_t k_linux_load_options = 0x8F3B22ED;
constexpr uint32_t k_linux_initrd = 0x8F3B22EC;
} // namespace event_tag

struct Event {
  Register reg = Register::rtmr0;
  uint32_t type = 0;
  std::string description; // what was measured, e.g. "TD HOB (2 GiB)"
  Sha384 digest{};
  std::string source; // the input it came from, e.g. "computed from --memory and OVMF.fd TDVF sections"
  // The PCR the measuring code extends when a TPM is there, for the steps whose events go to
  // different PCRs (shim's and GRUB's); unset where the step fixes the PCR (vtpm_check.hpp).
  std::optional<uint32_t> tpm_pcr;
};

using RtmrValues = std::array<Sha384, 4>;

// Folds the events into RTMR0-3, each starting at 48 zero bytes: rtmr = SHA384(rtmr || digest).
RtmrValues fold_events(const std::vector<Event> &events);

} // namespace mrforge
