#include <measure/engine/profile.hpp>
#include <measure/util/strings.hpp>

#include <utility>

namespace mrforge {

namespace {
const std::pair<EventStep, const char *> k_step_names[] = {
    {EventStep::td_hob, "td_hob"},
    {EventStep::cfv, "cfv"},
    {EventStep::secure_boot_variables, "secure_boot_variables"},
    {EventStep::separator_firmware, "separator_firmware"},
    {EventStep::acpi_tables, "acpi_tables"},
    {EventStep::kernel, "kernel"},
    {EventStep::boot_variables, "boot_variables"},
    {EventStep::ovmf_extra_events, "ovmf_extra_events"},
    {EventStep::calling_efi_application, "calling_efi_application"},
    {EventStep::separator_boot, "separator_boot"},
    {EventStep::cmdline, "cmdline"},
    {EventStep::initrd, "initrd"},
    {EventStep::exit_boot_services_invocation, "exit_boot_services_invocation"},
    {EventStep::exit_boot_services_returned, "exit_boot_services_returned"},
    {EventStep::gpt, "gpt"},
    {EventStep::boot_application, "boot_application"},
    {EventStep::uki_sections, "uki_sections"},
    {EventStep::shim_measurements, "shim_measurements"},
    {EventStep::grub_application, "grub_application"},
    {EventStep::grub_measurements, "grub_measurements"},
};

const std::pair<AcpiBlob, const char *> k_acpi_blob_names[] = {
    {AcpiBlob::table_loader, "etc/table-loader"},
    {AcpiBlob::rsdp, "etc/acpi/rsdp"},
    {AcpiBlob::tables, "etc/acpi/tables"},
    {AcpiBlob::tpm_log, "etc/tpm/log"},
};
} // namespace

const char *event_step_name(EventStep s) {
  for (const auto &[step, name] : k_step_names)
    if (step == s) return name;
  return "?";
}

std::optional<EventStep> event_step_from_name(const std::string &name) {
  for (const auto &[step, n] : k_step_names)
    if (name == n) return step;
  return std::nullopt;
}

const char *kernel_header_patch_name(KernelHeaderPatch p) {
  return p == KernelHeaderPatch::none ? "none" : "qemu-x86-load-linux";
}

const char *acpi_source_name(AcpiSource) { return "fw_cfg-blobs"; }

const char *acpi_blob_name(AcpiBlob b) {
  for (const auto &[blob, name] : k_acpi_blob_names)
    if (blob == b) return name;
  return "?";
}

std::optional<AcpiBlob> acpi_blob_from_name(const std::string &name) {
  for (const auto &[blob, n] : k_acpi_blob_names)
    if (name == n) return blob;
  return std::nullopt;
}

std::string acpi_blob_names() {
  return join(k_acpi_blob_names, ", ", [](const auto &blob_name) { return blob_name.second; });
}

} // namespace mrforge
