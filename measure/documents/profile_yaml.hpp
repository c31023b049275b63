// Loading platform profiles, OVMF variants and ACPI profiles from YAML (yaml-cpp), strictly:
// unknown keys, wrong types and missing fields are DocumentErrors naming file, line, column and
// the field.
//
// Where a name is looked up: the shipped profiles (measure/profiles/{platform,ovmf,acpi}/*.yaml),
// embedded in the binary at build time, and the folders listed in the environment variable
// MRFORGE_PROFILE_PATH (colon-separated; each holds platform/, ovmf/ and/or acpi/ subfolders of
// NAME.yaml files). A name found in more than one place is refused as ambiguous (a user's file is
// then used by giving its path); a file found by name must say `name: NAME`. Anything containing
// '/' or ending in ".yaml" is a path and is read as given.
//
// Outputs identify a loaded profile by its `source.identity()`: the shipped name, or a user file's
// name, plus the SHA-256 of its bytes; the path it was read from is kept for error messages only.
#pragma once

#include <measure/acpi/acpi_profile.hpp>
#include <measure/engine/profile.hpp>

#include <string>
#include <vector>

namespace mrforge {

// A name ("qemu-9.2-tdx") resolves as above; a path is read as given. Throws InputError for an
// unknown or ambiguous name (listing the known ones) or a bad MRFORGE_PROFILE_PATH, SystemError
// for an unreadable file, DocumentError for a malformed one.
PlatformProfile load_platform_profile(const std::string &name_or_path);
OvmfVariant load_ovmf_variant(const std::string &name_or_path);
AcpiProfile load_acpi_profile(const std::string &name_or_path);

// From text (for tests and embedded use); `file` names it in errors, and its file name and the
// text's SHA-256 make up `source` (a loader replaces it with the shipped name when embedded).
PlatformProfile parse_platform_profile(const std::string &yaml, const std::string &file);
OvmfVariant parse_ovmf_variant(const std::string &yaml, const std::string &file);
AcpiProfile parse_acpi_profile(const std::string &yaml, const std::string &file);

enum class ProfileKind { platform, ovmf, acpi };
const char *profile_kind_folder(ProfileKind kind); // "platform", "ovmf", "acpi"

// One file a name can resolve to: a shipped (embedded) profile or one in a MRFORGE_PROFILE_PATH folder.
struct ProfileFile {
  ProfileKind kind = ProfileKind::platform;
  std::string name;     // the file name without ".yaml"
  ProfileSource source; // name, SHA-256 and location ("embedded" or the file's path)
  std::string text;     // the file's bytes
};

// Every profile of `kind`: the shipped ones, then each MRFORGE_PROFILE_PATH folder's, each group
// in version order (qemu-8.2-tdx before qemu-10.2-tdx). Never empty. Throws InputError for a bad
// MRFORGE_PROFILE_PATH, SystemError for an unreadable file.
std::vector<ProfileFile> profile_files(ProfileKind kind);

// Parses one of those files: errors name it ("embedded:platform/NAME.yaml" or its path), its
// `name:` must be its file name, and `source` is the file's.
PlatformProfile parse_platform_profile(const ProfileFile &file);
OvmfVariant parse_ovmf_variant(const ProfileFile &file);
AcpiProfile parse_acpi_profile(const ProfileFile &file);

// The folders of MRFORGE_PROFILE_PATH, in order (empty when unset). Throws InputError for an
// entry that is not a folder holding platform/, ovmf/ or acpi/.
std::vector<std::string> profile_search_path();

// Names of the shipped (embedded) profiles / variants, in version order; never empty.
std::vector<std::string> shipped_platform_profiles();
std::vector<std::string> shipped_ovmf_variants();
std::vector<std::string> shipped_acpi_profiles();

// Every name a `--profile` / `--ovmf-variant` / `--acpi-profile` may give (shipped and from
// MRFORGE_PROFILE_PATH), in version order, each once.
std::vector<std::string> profile_names(ProfileKind kind);

} // namespace mrforge
