// mrforge build: build a recipe into an output directory (OciImage: OCI image layout plus a
// docker-archive), from the locked inputs in the store.
#include "commands.hpp"
#include "input_options.hpp"
#include "output.hpp"

#include <builder/inputs.hpp>
#include <builder/oci_build.hpp>

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
};

int run_build(const BuildCommandOptions &o) {
  builder::Recipe recipe = builder::load_recipe(o.inputs.recipe);
  int64_t epoch = builder::resolve_source_date_epoch(recipe, std::getenv("SOURCE_DATE_EPOCH"));
  PreparedInputs in = prepare_inputs(recipe, o.inputs);

  builder::OciBuildSettings settings;
  settings.out_dir = o.out;
  settings.source_date_epoch = epoch;
  settings.threads = o.threads > 0 ? o.threads : static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  settings.progress = progress_printer(o.inputs);
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
  CLI::App *cmd = app.add_subcommand("build", "Build a recipe reproducibly (OciImage: OCI layout + docker-archive)");
  cmd->footer("Locks (unless --frozen) and fetches what is missing, then builds offline from the store. The output\n"
              "directory appears whole or not at all; an existing one is replaced only if mrforge wrote it.\n"
              "The timestamp is SOURCE_DATE_EPOCH if set, else the recipe's source_date_epoch.\n"
              "Example: mrforge build examples/oci/hello.yaml -o out/hello\n"
              "Exit codes: 0 ok, 1 usage error, 2 bad input (recipe, lock, package content), 3 internal error.");
  add_input_options(cmd, o->inputs, InputOptionSet::fetch);
  cmd->add_option("-o,--output", o->out, "Output directory (OCI image layout; docker-archive.tar inside)")->required();
  cmd->add_option("--threads", o->threads, "Compression threads (default: all cores); never changes the bytes")
      ->check(CLI::Range(1, 256));
  cmd->add_flag("--json", o->json,
                "Print JSON: {manifest_digest, config_digest, layers: [{digest, diff_id, ...}], ...}");
  cmd->callback([o, &run] { run = [o] { return run_build(*o); }; });
}

} // namespace mrforge::cli
