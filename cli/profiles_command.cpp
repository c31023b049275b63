// mrforge profiles: the platform profiles, OVMF variants and ACPI profiles a name can resolve to
// (the shipped ones, embedded in the binary, and those of MRFORGE_PROFILE_PATH), each with where it
// comes from and the sha256 by which outputs identify it.
#include "commands.hpp"
#include "output.hpp"

#include <measure/documents/profile_yaml.hpp>
#include <measure/util/strings.hpp>

#include <iostream>
#include <map>
#include <memory>

namespace mrforge::cli {

namespace {

Json source_json(const ProfileSource &s) { return Json{{"from", s.location}, {"sha256", s.sha256}}; }

// Names given by more than one file cannot be used by name: say so (the listing still shows both).
void note_ambiguous(const std::vector<ProfileFile> &files, const char *what) {
  std::map<std::string, std::vector<std::string>> places;
  for (const ProfileFile &f : files) places[f.name].push_back(f.source.location);
  for (const auto &[name, where] : places) {
    if (where.size() < 2) continue;
    std::cerr << "mrforge: note: " << what << " '" << name << "' is defined more than once (" << join(where, ", ")
              << "): it cannot be used by name; give the file's path\n";
  }
}

void run_profiles(bool json) {
  const std::vector<ProfileFile> platform_files = profile_files(ProfileKind::platform);
  const std::vector<ProfileFile> ovmf_files = profile_files(ProfileKind::ovmf);
  const std::vector<ProfileFile> acpi_files = profile_files(ProfileKind::acpi);
  Json j{{"search_path", profile_search_path()},
         {"platform_profiles", Json::array()},
         {"ovmf_variants", Json::array()},
         {"acpi_profiles", Json::array()}};

  std::vector<std::vector<std::string>> platforms = {
      {"PLATFORM PROFILE", "MRTD ORDER", "KERNEL PATCH", "DEFAULT OVMF", "FROM", "SHA256", "DESCRIPTION"}};
  for (const ProfileFile &f : platform_files) {
    PlatformProfile p = parse_platform_profile(f);
    Json e{{"name", p.name}};
    e.update(source_json(p.source));
    e.update(Json{{"mrtd_page_order", page_order_name(p.mrtd_page_order)},
                  {"kernel_header_patch", kernel_header_patch_name(p.kernel_header_patch)},
                  {"default_ovmf_variant", p.default_ovmf_variant},
                  {"description", p.description}});
    j["platform_profiles"].push_back(e);
    platforms.push_back({p.name, page_order_name(p.mrtd_page_order), kernel_header_patch_name(p.kernel_header_patch),
                         p.default_ovmf_variant, p.source.location, p.source.sha256, p.description});
  }

  std::vector<std::vector<std::string>> variants = {
      {"OVMF VARIANT", "BOOT SEPARATOR", "FROM", "SHA256", "DESCRIPTION"}};
  for (const ProfileFile &f : ovmf_files) {
    OvmfVariant v = parse_ovmf_variant(f);
    Json e{{"name", v.name}};
    e.update(source_json(v.source));
    e.update(
        Json{{"separator_boot_register", register_name(v.separator_boot_register)}, {"description", v.description}});
    j["ovmf_variants"].push_back(e);
    variants.push_back(
        {v.name, register_name(v.separator_boot_register), v.source.location, v.source.sha256, v.description});
  }

  std::vector<std::vector<std::string>> acpi = {{"ACPI PROFILE", "QEMU", "FROM", "SHA256", "DESCRIPTION"}};
  for (const ProfileFile &f : acpi_files) {
    AcpiProfile a = parse_acpi_profile(f);
    Json e{{"name", a.name}};
    e.update(source_json(a.source));
    e.update(Json{{"qemu_version", a.qemu_version}, {"description", a.description}});
    j["acpi_profiles"].push_back(e);
    acpi.push_back({a.name, a.qemu_version, a.source.location, a.source.sha256, a.description});
  }

  note_ambiguous(platform_files, "platform profile");
  note_ambiguous(ovmf_files, "OVMF variant");
  note_ambiguous(acpi_files, "ACPI profile");
  if (json) {
    print_json(j);
    return;
  }
  print_table(platforms);
  std::cout << "\n";
  print_table(variants);
  std::cout << "\n";
  print_table(acpi);
}

} // namespace

void add_profiles_command(CLI::App &app, Runner &run) {
  auto json = std::make_shared<bool>(false);
  CLI::App *cmd =
      add_command(app, run, json, "profiles",
                  "List the platform profiles, OVMF variants and ACPI profiles: shipped (embedded in mrforge) and "
                  "from MRFORGE_PROFILE_PATH, with their sha256",
                  run_profiles);
  cmd->add_flag("--json", *json, "Print JSON");
}

} // namespace mrforge::cli
