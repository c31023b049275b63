// mrforge fetch: put every input a recipe's lock pins into the content-addressed store, verified.
#include "commands.hpp"
#include "input_options.hpp"
#include "output.hpp"

#include <builder/app/app_recipe.hpp>
#include <builder/recipe/inputs.hpp>

#include <iostream>
#include <memory>

namespace mrforge::cli {

namespace {

struct FetchCommandOptions {
  InputOptions inputs;
  bool json = false;
};

// Fetches one recipe's locked inputs and reports them (a line, or its JSON object in `json`).
void fetch_one(const builder::Recipe &recipe, const FetchCommandOptions &o, Json *json) {
  PreparedInputs in = prepare_inputs(recipe, o.inputs);
  const builder::CurrentLock &current = in.current;
  const builder::Store &store = in.store;
  const builder::FetchReport &report = in.report;
  if (json) {
    Json &j = *json;
    j["store"] = store.root();
    j["packages"] = current.lock.packages.size();
    j["in_store"] = report.in_store;
    j["downloaded"] = report.downloaded;
    j["from_directory"] = report.from_directory;
    j["from_snapshot"] = report.from_snapshot;
    j["sources"] = report.sources;
    j["bytes_downloaded"] = report.bytes_downloaded;
    j["lock_updated"] = current.written;
    if (current.lock.kernel) {
      j["kernel"] = {{"package", current.lock.kernel->package},
                     {"version", current.lock.kernel->version},
                     {"path", report.kernel_deb},
                     {"how", report.kernel_fetch}};
    }
    return;
  }
  std::cout << current.lock.packages.size() << " packages in " << store.root() << ": " << report.in_store
            << " already there, " << report.downloaded << " downloaded (" << report.bytes_downloaded / 1024 << " KiB), "
            << report.from_directory << " from " << (o.inputs.debs_dir.empty() ? "--debs" : o.inputs.debs_dir);
  if (report.from_snapshot != 0)
    std::cout << " (" << report.from_snapshot << " of the downloads from Debian's snapshot archive)";
  std::cout << "\n";
  for (const std::string &source : report.sources) print_line("signed index " + source);
  if (current.lock.kernel)
    std::cout << "kernel " << current.lock.kernel->package << " " << current.lock.kernel->version << ": "
              << report.kernel_fetch << " (" << report.kernel_deb << ")\n";
}

int run_fetch(const FetchCommandOptions &o) {
  if (!builder::is_app_recipe(o.inputs.recipe)) {
    Json j;
    fetch_one(builder::load_recipe(o.inputs.recipe), o, o.json ? &j : nullptr);
    if (o.json) print_json(j);
    return k_exit_ok;
  }
  // A DstackApp: each service's recipe, as `build` fetches them (pinned services are on disk).
  builder::AppRecipe app = builder::load_app_recipe(o.inputs.recipe);
  Json services = Json::array();
  for (const builder::AppServiceSpec &svc : app.services) {
    if (svc.source != builder::AppServiceSource::recipe) {
      if (o.json)
        services.push_back({{"service", svc.name}, {"oci_layout", svc.oci_layout}});
      else
        print_line("service " + svc.name + ": pinned, from the OCI layout " + svc.oci_layout + " (nothing to fetch)");
      continue;
    }
    if (!o.json) print_line("service " + svc.name + ": " + svc.recipe_path);
    Json j{{"service", svc.name}, {"recipe", svc.recipe_path}};
    fetch_one(svc.recipe, o, o.json ? &j : nullptr);
    if (o.json) services.push_back(std::move(j));
  }
  if (o.json) print_json({{"app", app.name}, {"services", services}});
  return k_exit_ok;
}

} // namespace

void add_fetch_command(CLI::App &app, Runner &run) {
  auto o = std::make_shared<FetchCommandOptions>();
  CLI::App *cmd = add_command(app, run, o, "fetch",
                              "Download a recipe's locked inputs into the store, verifying each sha256", run_fetch);
  cmd->footer("After fetch, `mrforge build` works offline. Besides the .debs (and a guest's kernel), fetch keeps each\n"
              "source's signed InRelease and package indexes, checked against the lock. A file the mirror no longer\n"
              "serves is looked for in Debian's snapshot archive at the time the lock recorded (--snapshot URL);\n"
              "failing that, the error says how to supply it (--debs DIR, --mirror URL); nothing is ever substituted.\n"
              "A DstackApp recipe fetches each service's OciImage recipe inputs.\n"
              "Example: mrforge fetch --frozen examples/oci/hello.yaml\n"
              "Exit codes: 0 ok, 1 usage error, 2 bad input (stale lock with --frozen, missing or wrong package),\n"
              "3 internal error.");
  add_input_options(cmd, o->inputs, InputOptionSet::fetch);
  o->inputs.repository_metadata = true; // fetch keeps the signed indexes too (for bundles and audits)
  cmd->add_flag("--json", o->json,
                "Print JSON: {store, packages, in_store, downloaded, from_directory, kernel, ...}; for an app {app, "
                "services: [{service, recipe, store, ...}]}");
}

} // namespace mrforge::cli
