// mrforge profiles: the shipped platform profiles and OVMF variants.
#include "commands.hpp"
#include "output.hpp"

#include <measure/profile_yaml.hpp>

#include <iostream>
#include <memory>

namespace mrforge::cli {

namespace {

void run_profiles(bool json) {
  Json j{{"directory", shipped_profile_dir()}, {"platform_profiles", Json::array()}, {"ovmf_variants", Json::array()}};
  std::vector<std::vector<std::string>> rows = {
      {"PLATFORM PROFILE", "MRTD ORDER", "KERNEL PATCH", "DEFAULT OVMF", "DESCRIPTION"}};
  for (const std::string &name : shipped_platform_profiles()) {
    PlatformProfile p = load_platform_profile(name);
    j["platform_profiles"].push_back(Json{{"name", p.name},
                                          {"file", p.file},
                                          {"mrtd_page_order", page_order_name(p.mrtd_page_order)},
                                          {"kernel_header_patch", kernel_header_patch_name(p.kernel_header_patch)},
                                          {"default_ovmf_variant", p.default_ovmf_variant},
                                          {"description", p.description}});
    rows.push_back({p.name, page_order_name(p.mrtd_page_order), kernel_header_patch_name(p.kernel_header_patch),
                    p.default_ovmf_variant, p.description});
  }
  std::vector<std::vector<std::string>> variants = {{"OVMF VARIANT", "BOOT SEPARATOR", "DESCRIPTION"}};
  for (const std::string &name : shipped_ovmf_variants()) {
    OvmfVariant v = load_ovmf_variant(name);
    j["ovmf_variants"].push_back(Json{{"name", v.name},
                                      {"file", v.file},
                                      {"separator_boot_register", register_name(v.separator_boot_register)},
                                      {"description", v.description}});
    variants.push_back({v.name, register_name(v.separator_boot_register), v.description});
  }
  if (json) {
    print_json(j);
    return;
  }
  print_table(rows);
  std::cout << "\n";
  print_table(variants);
}

} // namespace

void add_profiles_command(CLI::App &app, Runner &run) {
  auto json = std::make_shared<bool>(false);
  CLI::App *cmd = app.add_subcommand("profiles", "List the shipped platform profiles and OVMF variants");
  cmd->add_flag("--json", *json, "Print JSON");
  cmd->callback([json, &run] {
    run = [json] {
      run_profiles(*json);
      return k_exit_ok;
    };
  });
}

} // namespace mrforge::cli
