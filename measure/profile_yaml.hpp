// Loading platform profiles and OVMF variants from YAML (yaml-cpp), strictly: unknown keys, wrong
// types and missing fields are DocumentErrors naming file, line, column and the field.
// Shipped files live in measure/profiles/platform/ and measure/profiles/ovmf/.
#pragma once

#include <measure/acpi_profile.hpp>
#include <measure/profile.hpp>

#include <string>
#include <vector>

namespace mrforge {

// A name ("qemu-9.2-tdx") resolves to the shipped file; anything containing '/' or ending in
// ".yaml" is a path. Throws InputError for an unknown name (listing the known ones),
// SystemError for an unreadable file, DocumentError for a malformed one.
PlatformProfile load_platform_profile(const std::string &name_or_path);
OvmfVariant load_ovmf_variant(const std::string &name_or_path);

// From text (for tests and embedded use); `file` names it in errors.
PlatformProfile parse_platform_profile(const std::string &yaml, const std::string &file);
OvmfVariant parse_ovmf_variant(const std::string &yaml, const std::string &file);

// ACPI profiles (measure/profiles/acpi/NAME.yaml): QEMU versions' ACPI table facts for the
// native generator.
AcpiProfile load_acpi_profile(const std::string &name_or_path);
AcpiProfile parse_acpi_profile(const std::string &yaml, const std::string &file);
std::vector<std::string> shipped_acpi_profiles();

// Names of the shipped profiles / variants, in version order.
std::vector<std::string> shipped_platform_profiles();
std::vector<std::string> shipped_ovmf_variants();
std::string shipped_profile_dir();

} // namespace mrforge
