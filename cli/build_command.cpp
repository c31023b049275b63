// mrforge build: build a recipe into an output directory, from the locked inputs in the store:
// OciImage -> OCI image layout plus a docker-archive; GuestImage -> firmware, kernel, initrd,
// verity-protected root file system, metadata and expected measurements.
#include "commands.hpp"
#include "input_options.hpp"
#include "output.hpp"

#include <builder/app/app_build.hpp>
#include <builder/build/guest_build.hpp>
#include <builder/build/oci_build.hpp>
#include <builder/recipe/inputs.hpp>
#include <builder/system/output_dir.hpp>
#include <measure/util/size_text.hpp>
#include <measure/util/terminal_text.hpp>

#include <cstdlib>
#include <iostream>
#include <memory>
#include <thread>

namespace mrforge::cli {

namespace {

struct BuildCommandOptions {
  InputOptions inputs;
  std::string out;
  int threads = 0;
  bool json = false;
  bool no_cache = false;
};

builder::BuildSettings build_settings(const BuildCommandOptions &o, int64_t epoch) {
  builder::BuildSettings settings;
  settings.out_dir = o.out;
  settings.source_date_epoch = epoch;
  settings.threads = o.threads > 0 ? o.threads : static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  settings.use_cache = !o.no_cache;
  settings.progress = progress_printer(o.inputs);
  return settings;
}

int run_guest_build(const builder::Recipe &recipe, const builder::BuildSettings &settings, PreparedInputs &in,
                    const BuildCommandOptions &o) {
  builder::GuestBuildResult result = builder::build_guest(recipe, in.current.lock, in.store, settings);
  if (o.json) {
    print_json(builder::guest_build_json(result));
    return k_exit_ok;
  }
  std::vector<std::vector<std::string>> rows;
  for (const auto &a : result.artifacts)
    rows.push_back({a.name, a.digest.sha256_hex, std::to_string(a.digest.size) + " bytes"});
  rows.push_back({"digest.txt", result.digest, ""});
  print_table(rows);
  std::cout << "\nroot hash " << result.verity.root_hash << "\ncmdline   " << result.cmdline << "\n";
  for (const auto &s : result.shapes) {
    std::cout << "\n"
              << s.profile << ", " << s.cpus << " vCPU, " << format_memory_size(s.memory) << ", OVMF variant "
              << s.ovmf_variant << ", ACPI " << s.acpi_source << "\n";
    std::vector<std::vector<std::string>> mr;
    mr.push_back({"MRTD", s.measurement.mrtd ? to_hex(*s.measurement.mrtd) : "-"});
    for (size_t i = 0; i < 3; ++i) mr.push_back({"RTMR" + std::to_string(i), to_hex(s.measurement.rtmr[i])});
    print_table(mr);
    for (const auto &[name, value] : s.measurement.inputs)
      if (name == "not_measured") std::cout << "warning: not measured in a TD: " << terminal_text(value) << "\n";
  }
  std::cout << "\noutput    " << result.out_dir << "\n";
  return k_exit_ok;
}

// A DstackApp: each service's OciImage recipe is locked and fetched as `build` does for one image
// (a service pinned from an OCI layout has nothing to lock or fetch), then all are built into one
// app output.
int run_app_build(const BuildCommandOptions &o) {
  builder::AppRecipe app = builder::load_app_recipe(o.inputs.recipe);
  builder::check_output_replaceable(o.out, builder::OutputKind::dstack_app);
  std::vector<PreparedInputs> prepared;
  prepared.reserve(app.services.size());
  std::vector<builder::AppServiceInputs> inputs;
  for (const builder::AppServiceSpec &svc : app.services) {
    if (svc.source == builder::AppServiceSource::oci_layout) {
      inputs.push_back({});
      continue;
    }
    prepared.push_back(prepare_inputs(svc.recipe, o.inputs));
    inputs.push_back({&prepared.back().current.lock, &prepared.back().store,
                      builder::resolve_source_date_epoch(svc.recipe, std::getenv("SOURCE_DATE_EPOCH"))});
  }
  builder::AppBuildResult result = builder::build_app(app, inputs, build_settings(o, 0));
  if (o.json) {
    Json j = Json::parse(builder::app_build_json(result).dump());
    j["out"] = result.out_dir;
    print_json(j);
    return k_exit_ok;
  }
  std::vector<std::vector<std::string>> rows;
  rows.push_back({"app", app.name});
  for (const auto &s : result.services) rows.push_back({"service " + s.name, s.image});
  rows.push_back({"compose hash", result.compose_hash});
  rows.push_back({"app id", result.app_id + (app.app_id.empty() ? "" : " (pinned by the recipe)")});
  rows.push_back({"output", result.out_dir});
  print_table(rows);
  return k_exit_ok;
}

int run_build(const BuildCommandOptions &o) {
  if (builder::is_app_recipe(o.inputs.recipe)) return run_app_build(o);
  builder::Recipe recipe = builder::load_recipe(o.inputs.recipe);
  int64_t epoch = builder::resolve_source_date_epoch(recipe, std::getenv("SOURCE_DATE_EPOCH"));
  // Before locking and fetching: an output we may not replace is refused at once.
  builder::check_output_replaceable(o.out,
                                    recipe.guest ? builder::OutputKind::guest_image : builder::OutputKind::oci_image);
  PreparedInputs in = prepare_inputs(recipe, o.inputs);
  builder::BuildSettings settings = build_settings(o, epoch);
  if (recipe.guest) return run_guest_build(recipe, settings, in, o);

  builder::OciBuildResult result = builder::build_oci(recipe, in.current.lock, in.store, settings);

  if (o.json) {
    Json j = Json::parse(builder::oci_build_json(result).dump());
    j["out"] = result.out_dir;
    j["docker_archive"] = result.image.docker_archive;
    print_json(j);
    return k_exit_ok;
  }
  std::vector<std::vector<std::string>> rows;
  rows.push_back({"image", result.ref_name});
  rows.push_back({"manifest", result.image.manifest_digest});
  rows.push_back({"config", result.image.config_digest});
  for (const auto &l : result.image.layers) {
    rows.push_back({"layer " + l.name, l.digest + " (" + std::to_string(l.size) + " bytes)"});
    rows.push_back({"  diff_id", l.diff_id});
  }
  rows.push_back({"oci layout", result.out_dir});
  rows.push_back({"docker-archive", result.image.docker_archive});
  print_table(rows);
  return k_exit_ok;
}

} // namespace

void add_build_command(CLI::App &app, Runner &run) {
  auto o = std::make_shared<BuildCommandOptions>();
  CLI::App *cmd = add_command(app, run, o, "build",
                              "Build a recipe reproducibly (OciImage: OCI layout + docker-archive; "
                              "GuestImage: bootable TDX guest + measurements; DstackApp: a dstack app)",
                              run_build);
  cmd->footer("Locks (unless --frozen) and fetches what is missing, then builds offline from the store. The output\n"
              "directory appears whole or not at all; an existing one is replaced only if it is empty or an earlier\n"
              "build of the same kind of recipe (its mrforge-build.json says so), never through a symlink.\n"
              "The timestamp is SOURCE_DATE_EPOCH if set, else the recipe's source_date_epoch.\n"
              "GuestImage output: OVMF.fd vmlinuz initrd.img rootfs.img metadata.json measurements.json\n"
              "sha256sum.txt digest.txt recipe.lock mrforge-build.json, and with boot: uki also uki.efi and disk.img\n"
              "(the UKI on a GPT disk with the verity root), with boot: shim-grub also shimx64.efi, grubx64.efi,\n"
              "grub.cfg and disk.img (shim, GRUB, grub.cfg, kernel and initrd on the ESP). Steps whose inputs are "
              "unchanged come from\n"
              "the step cache in the store (--no-cache runs them all).\n"
              "DstackApp output: app-compose.json (dstack's normalized form; its sha256 is the compose hash),\n"
              "docker-compose.yaml (the embedded compose file, images pinned REF@sha256:DIGEST), mrforge-app.json\n"
              "(compose_hash, app_id, each service's image, digest and recipe or layout), images/SERVICE/ (OCI\n"
              "layout and docker-archive of each service's OciImage recipe, each locked and fetched as for one\n"
              "image, or of the image a service pins by digest from a local OCI layout: {oci_layout: DIR, image:\n"
              "REF, digest: sha256:HEX}, every blob verified and copied).\n"
              "Examples: mrforge build examples/oci/hello.yaml -o out/hello\n"
              "          mrforge build recipes/debian-bookworm-tdx.yaml -o out/guest\n"
              "          mrforge build examples/dstack-app/app.yaml -o out/app\n"
              "Exit codes: 0 ok, 1 usage error, 2 bad input (recipe, lock, package content, an -o DIR that is not an\n"
              "earlier build of this kind), 3 internal error.");
  add_input_options(cmd, o->inputs, InputOptionSet::fetch);
  cmd->add_option("-o,--output", o->out,
                  "Output directory (replaced all at once; only an empty one or an earlier build of the same kind)")
      ->required();
  cmd->add_option("--threads", o->threads, "Compression threads (default: all cores); never changes the bytes")
      ->check(CLI::Range(1, 256));
  cmd->add_flag("--json", o->json,
                "Print JSON. OciImage: {manifest_digest, config_digest, layers: [...], ...}; GuestImage: {digest,\n"
                "cmdline, artifacts: [{role, name, sha256, size}], root_hash, steps: [{step, cached}], measurements}");
  cmd->add_flag("--no-cache", o->no_cache, "GuestImage: run every step even if the step cache has its result");
}

} // namespace mrforge::cli
