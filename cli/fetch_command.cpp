// mrforge fetch: put every input a recipe's lock pins into the content-addressed store, verified.
#include "commands.hpp"
#include "input_options.hpp"
#include "output.hpp"

#include <builder/recipe/inputs.hpp>

#include <iostream>
#include <memory>

namespace mrforge::cli {

namespace {

struct FetchCommandOptions {
  InputOptions inputs;
  bool json = false;
};

int run_fetch(const FetchCommandOptions &o) {
  builder::Recipe recipe = builder::load_recipe(o.inputs.recipe);
  PreparedInputs in = prepare_inputs(recipe, o.inputs);
  const builder::CurrentLock &current = in.current;
  const builder::Store &store = in.store;
  const builder::FetchReport &report = in.report;
  if (o.json) {
    Json j;
    j["store"] = store.root();
    j["packages"] = current.lock.packages.size();
    j["in_store"] = report.in_store;
    j["downloaded"] = report.downloaded;
    j["from_directory"] = report.from_directory;
    j["bytes_downloaded"] = report.bytes_downloaded;
    j["lock_updated"] = current.written;
    if (current.lock.kernel) {
      j["kernel"] = {{"package", current.lock.kernel->package},
                     {"version", current.lock.kernel->version},
                     {"path", report.kernel_deb},
                     {"how", report.kernel_fetch}};
    }
    print_json(j);
  } else {
    std::cout << current.lock.packages.size() << " packages in " << store.root() << ": " << report.in_store
              << " already there, " << report.downloaded << " downloaded (" << report.bytes_downloaded / 1024
              << " KiB), " << report.from_directory << " from "
              << (o.inputs.debs_dir.empty() ? "--debs" : o.inputs.debs_dir) << "\n";
    if (current.lock.kernel)
      std::cout << "kernel " << current.lock.kernel->package << " " << current.lock.kernel->version << ": "
                << report.kernel_fetch << " (" << report.kernel_deb << ")\n";
  }
  return k_exit_ok;
}

} // namespace

void add_fetch_command(CLI::App &app, Runner &run) {
  auto o = std::make_shared<FetchCommandOptions>();
  CLI::App *cmd = add_command(app, run, o, "fetch",
                              "Download a recipe's locked inputs into the store, verifying each sha256", run_fetch);
  cmd->footer("After fetch, `mrforge build` works offline. A package the repository no longer serves is an error\n"
              "that says how to supply it (--debs DIR, --mirror URL); nothing is ever substituted.\n"
              "Example: mrforge fetch --frozen examples/oci/hello.yaml\n"
              "Exit codes: 0 ok, 1 usage error, 2 bad input (stale lock with --frozen, missing or wrong package),\n"
              "3 internal error.");
  add_input_options(cmd, o->inputs, InputOptionSet::fetch);
  cmd->add_flag("--json", o->json, "Print JSON: {store, packages, in_store, downloaded, from_directory, kernel, ...}");
}

} // namespace mrforge::cli
