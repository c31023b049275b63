// What shim and GRUB measure when OVMF boots them from a disk's ESP (`boot: shim-grub`), as data
// the engine logs. Like systemd-stub's and the Linux EFI stub's rules, these are code with
// provenance, not profile data: they belong to the loaders' versions, which their .sbat sections
// name, not to the host. Only the versions observed are modelled (builder/boot/BOOT_NOTES.md:
// every digest recomputed from its inputs in both banks of a real boot); others are refused.
//
// shim (Debian's shim 16.1, after OVMF measured it):
//   PCR14 EV_IPL "MokList": shim's vendor certificate as one EFI_SIGNATURE_LIST (X.509, owner
//         SHIM_LOCK_GUID) - the MokListRT shim mirrors when no MOK is enrolled;
//   PCR14 EV_IPL "MokListX": its vendor dbx as built in (.vendor_cert);
//   PCR7  EV_EFI_VARIABLE_AUTHORITY SbatLevel: the UEFI_VARIABLE_DATA of the SBAT level shim
//         writes into a variable store that has none (fresh, volatile variables; Secure Boot off);
//   PCR14 EV_IPL "MokListTrusted": the byte 01;
//   PCR4  GRUB's Authenticode (shim loads it; grub_application_event).
// GRUB (Debian's signed 2.06 build, prefix /EFI/debian, its embedded memdisk grub.cfg from
// debian/build-efi-images): PCR8 EV_IPL of every command it runs, after expansion, whether it
// succeeds or not ("grub_cmd: " + text in the event data; the digest covers the text only); PCR9
// EV_IPL of every file it opens (the digest of the contents); PCR8 "kernel_cmdline: " + the
// kernel's path and arguments for `linux`/`linuxefi`.
// Neither the kernel's Authenticode nor the Linux EFI stub's LoadOptions and initrd events occur
// on this path (GRUB hands the kernel its command line and initrd through boot_params).
#pragma once

#include <measure/formats/efi_loaders.hpp>
#include <measure/formats/event.hpp>
#include <measure/formats/grub_config.hpp>
#include <measure/util/bytes.hpp>

#include <string>
#include <vector>

namespace mrforge {

// TDX's mapping of a PCR to the RTMR a TD's CC measurement protocol extends instead (UEFI 2.10
// 38.4.1, edk2 TdxHelperLib/CcMeasurement MapPcrToMrIndex): 1 and 7 -> RTMR0, 2-6 -> RTMR1, 8-15
// -> RTMR2. Throws InputError for PCR 0 (MRTD) and PCRs above 15.
Register rtmr_of_pcr(uint32_t pcr);

// shim's own events (MokList, MokListX, SbatLevel, MokListTrusted), each with its PCR and RTMR.
// Throws InputError for a shim version that is not modelled or one without a vendor certificate.
std::vector<Event> shim_events(const ShimImage &shim, const std::string &shim_name);

// Whether shim measures in a TD (through EFI_CC_MEASUREMENT_PROTOCOL), by the rules of its build.
// Throws InputError for a build that is not modelled.
bool shim_measures_in_td(const ShimImage &shim);

struct GrubBootFiles {
  std::string esp_device; // GRUB's name of the ESP it was loaded from: "(hd0,gpt1)"
  ByteView grub_cfg;
  std::string grub_cfg_name;
  ByteView kernel, initrd; // the files grub.cfg names
  std::string kernel_name, initrd_name;
};

// GRUB's events for the configuration: the embedded script's commands, the file and commands of
// grub.cfg, the kernel, its command line and the initrd. Throws InputError for a GRUB build that
// is not modelled or a grub.cfg naming an initrd when none is given.
std::vector<Event> grub_events(const GrubImage &grub, const GrubConfig &cfg, const GrubBootFiles &files);

// Whether GRUB measures in a TD, by the rules of its build: Debian's GRUB 2.06 measures through TCG2
// only (its image holds TCG2's protocol GUID, not EFI_CC_MEASUREMENT_PROTOCOL's), so in a TD none
// of its events exist. Throws InputError for a build that is not modelled.
bool grub_measures_in_td(const GrubImage &grub);

} // namespace mrforge
