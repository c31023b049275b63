// Platform profiles and OVMF variants: the data that says how a given host (QEMU version, TDX
// stack) and a given firmware build turn inputs into events. Loaded from YAML files in
// measure/profiles/ (see profile_yaml.hpp); the engine only sees these plain structs.
#pragma once

#include <measure/engine/mrtd.hpp>
#include <measure/formats/event.hpp>
#include <measure/formats/guid.hpp>
#include <measure/formats/memory_layout.hpp>
#include <measure/util/hash.hpp>
#include <measure/util/profile_source.hpp>

#include <optional>
#include <string>
#include <vector>

namespace mrforge {

// One step of the boot's event sequence, in log order. Each step yields zero or more events;
// which register each lands in is fixed by the step (or, for separator_boot, by the OVMF variant).
enum class EventStep {
  td_hob,                        // RTMR0 EV_EFI_HANDOFF_TABLES2: TD HOB built by the host
  cfv,                           // RTMR0 EV_EFI_PLATFORM_FIRMWARE_BLOB2: configuration FV (VARS)
  secure_boot_variables,         // RTMR0 EV_EFI_VARIABLE_DRIVER_CONFIG: SecureBoot, PK, KEK, db, dbx
  separator_firmware,            // RTMR0 EV_SEPARATOR for PCR7 (end of Secure Boot policy)
  acpi_tables,                   // RTMR0 three EV_PLATFORM_CONFIG_FLAGS "ACPI DATA"
  kernel,                        // RTMR1 EV_EFI_BOOT_SERVICES_APPLICATION: kernel Authenticode
  boot_variables,                // RTMR0 EV_EFI_VARIABLE_BOOT: BootOrder, Boot0000
  ovmf_extra_events,             // the OVMF variant's additional events (edk2-stable202505 and later)
  calling_efi_application,       // RTMR1 EV_EFI_ACTION
  separator_boot,                // EV_SEPARATOR for PCRs 0-6 at ReadyToBoot: RTMR1 or RTMR0 (OVMF variant)
  cmdline,                       // RTMR2 EV_EVENT_TAG: LOADED_IMAGE::LoadOptions (Linux EFI stub)
  initrd,                        // RTMR2 EV_EVENT_TAG: Linux initrd (when one is passed)
  exit_boot_services_invocation, // RTMR1 EV_EFI_ACTION
  exit_boot_services_returned,   // RTMR1 EV_EFI_ACTION
  // Booting a disk (uki_events):
  gpt,              // RTMR1 (PCR5) EV_EFI_GPT_EVENT: the boot disk's GPT (DxeTpm2MeasureBootLib)
  boot_application, // RTMR1 (PCR4) EV_EFI_BOOT_SERVICES_APPLICATION: the UKI OVMF loads from the ESP
  uki_sections,     // RTMR2 (PCR11) EV_IPL: systemd-stub's section names and contents (when it measures)
  // Booting shim and GRUB from a disk (shim_grub_events); boot_application is then shim:
  shim_measurements, // shim's MokList, MokListX (PCR14 -> RTMR2), SbatLevel (PCR7 -> RTMR0), MokListTrusted
  grub_application,  // RTMR1 (PCR4) EV_EFI_BOOT_SERVICES_APPLICATION: GRUB, loaded and measured by shim
  grub_measurements, // RTMR2 (PCR8, PCR9) EV_IPL: GRUB's commands, files and kernel command line (when it measures)
};
const char *event_step_name(EventStep s);
std::optional<EventStep> event_step_from_name(const std::string &name);

enum class KernelHeaderPatch {
  none,               // the kernel is served as it is (QEMU >= 10.2 for confidential guests)
  qemu_x86_load_linux // QEMU's x86_load_linux() rewrites the setup header before serving it
};
const char *kernel_header_patch_name(KernelHeaderPatch p);

// What the firmware and the EFI stub extend on this platform: a TD's RTMRs (OvmfPkg/IntelTdx,
// TdTcg2Dxe) or a TPM's PCRs (OVMF's Tcg2Dxe with a vTPM such as swtpm). Same event data; the
// register assignment differs (measure/verify/vtpm_check.hpp maps the steps to PCRs).
enum class MeasurementTarget { tdx_rtmrs, tpm_pcrs };
const char *measurement_target_name(MeasurementTarget t); // "tdx-rtmrs", "tpm-pcrs"

enum class AcpiSource {
  fw_cfg_blobs // the three blobs (or their digests) must be supplied: --acpi-tables DIR or --digest
};
const char *acpi_source_name(AcpiSource s);

// A QEMU fw_cfg blob OVMF measures as "ACPI DATA" (EV_PLATFORM_CONFIG_FLAGS): QemuFwCfgAcpi.c
// (edk2-stable202302 and later) measures etc/table-loader, then each blob the loader allocates.
enum class AcpiBlob {
  table_loader, // etc/table-loader: QEMU's linker/loader script
  rsdp,         // etc/acpi/rsdp
  tables,       // etc/acpi/tables
  tpm_log,      // etc/tpm/log: the TPM event log area QEMU allocates when it has a TPM device
};
const char *acpi_blob_name(AcpiBlob b); // the fw_cfg name: "etc/table-loader", ...
std::optional<AcpiBlob> acpi_blob_from_name(const std::string &name);
std::string acpi_blob_names(); // "etc/table-loader, etc/acpi/rsdp, ..." for errors

// Largest etc/tpm/log a profile may give (QEMU's is 64 KiB, TPM_LOG_AREA_MINIMUM_SIZE): the engine
// hashes that many zero bytes.
constexpr uint64_t k_max_tpm_log_size = 16ull << 20;

// A host platform: QEMU version and TDX stack.
struct PlatformProfile {
  std::string name;
  ProfileSource source; // outputs name the profile by source.identity(), never by path
  std::string description;
  MeasurementTarget measured_into = MeasurementTarget::tdx_rtmrs;
  PageOrder mrtd_page_order = PageOrder::single_pass;
  KernelHeaderPatch kernel_header_patch = KernelHeaderPatch::none;
  // With qemu_x86_load_linux: bytes QEMU reserves below the top of low RAM for ACPI data, which
  // caps the initrd address (hw/i386/pc.c acpi_data_size; 0x28000 since pc-i440fx-2.1 / q35).
  uint64_t qemu_acpi_data_size = 0;
  MemoryLayout memory_layout{};
  AcpiSource acpi_source = AcpiSource::fw_cfg_blobs;
  // The ACPI profile (measure/profiles/acpi) that generates this host's blobs from a VM shape;
  // empty when there is none (then the blobs or their digests must be given).
  std::string acpi_generator;
  // With a TPM device (tpm-pcrs profiles): the size of QEMU's etc/tpm/log blob, which is all zero
  // bytes as QEMU serves it; 0 when the profile does not say (then it cannot be predicted).
  uint64_t qemu_tpm_log_size = 0; // at most k_max_tpm_log_size
  std::string default_ovmf_variant;
  std::vector<EventStep> events;           // QEMU's direct kernel boot (-kernel/-initrd/-append)
  std::vector<EventStep> uki_events;       // OVMF booting a UKI from a disk's ESP; empty: not described
  std::vector<EventStep> shim_grub_events; // OVMF booting shim, shim GRUB, from a disk's ESP; empty: not described
};

struct UefiVariable {
  std::string name;
  Guid vendor;
  Bytes data;
};

struct LoadOption {
  std::string variable; // "Boot0000"
  uint32_t attributes = 0;
  std::string description;
  Guid fv;   // firmware volume holding the application
  Guid file; // the application's file GUID
};

// The boot options OVMF's boot manager creates when it boots from a disk (no -kernel): `before`
// (UiApp), one auto-created option per virtio-blk disk in PCI order (description
// `disk_description`, then "... 2", "... 3"; device path PciRoot(0x0)/Pci(slot,0x0); optional data
// `disk_optional_data`, edk2's mBmAutoCreateBootOptionGuid), then `after` (the EFI shell).
// BootOrder lists them in that order (Boot0000, Boot0001, ...).
struct DiskBootOptions {
  std::vector<LoadOption> before;
  uint32_t disk_attributes = 1; // LOAD_OPTION_ACTIVE
  std::string disk_description;
  Bytes disk_optional_data;
  std::vector<LoadOption> after;
};

// An event the OVMF variant adds, given by its digest or by the bytes that are hashed.
struct ExtraEvent {
  Register reg = Register::rtmr0;
  uint32_t type = 0;
  std::string description;
  Sha384 digest{};
};

// A firmware file this variant is known to describe: the sha256 of the whole file and where that
// build comes from (package and version). The fingerprint by which mrforge recognises it.
struct KnownFirmwareBuild {
  Sha256 sha256{};
  std::string description; // "Debian bookworm ovmf 2022.11-6+deb12u2, /usr/share/ovmf/OVMF.fd"
};

// How dstack names this variant in measurement.tdx.cbor (`tdvf.ovmf`) and the CFV digest its
// verifier takes for it (dstack has no firmware file at hand there: the CFV is a constant of the
// variant, dstack-mr/src/tdvf.rs rtmr0_log_from_td_hob_hash_with_acpi_hashes).
struct DstackOvmfName {
  std::string name; // "pre202505"
  Sha384 cfv_digest{};
};

// A firmware build: what belongs to OVMF rather than to the host.
struct OvmfVariant {
  std::string name;
  ProfileSource source; // outputs name the variant by source.identity(), never by path
  std::string description;
  std::vector<UefiVariable> secure_boot_variables; // in measurement order
  Register separator_boot_register = Register::rtmr1;
  Guid global_variable_guid;                // vendor of BootOrder / Boot####
  Bytes boot_order;                         // BootOrder data
  std::vector<LoadOption> boot_options;     // Boot#### in BootOrder order
  std::optional<DiskBootOptions> disk_boot; // booting a disk; absent: not described for this build
  std::vector<ExtraEvent> extra_events;
  // Under a vTPM (a tpm-pcrs profile's acpi_tables step): the fw_cfg blobs this build measures into
  // PCR1 as "ACPI DATA", in log order; empty when it measures none (OVMF before edk2-stable202302).
  std::vector<AcpiBlob> vtpm_acpi_blobs;
  std::vector<KnownFirmwareBuild> known_builds; // fingerprints of the builds it describes (may be empty)
  std::optional<DstackOvmfName> dstack;         // the name dstack gives it, when dstack knows it
};

} // namespace mrforge
