// mrforge fetch: put every input a recipe's lock pins into the content-addressed store, verified;
// or write those inputs to an input bundle (--export), or fill the store from one (--import).
#include "commands.hpp"
#include "input_options.hpp"
#include "output.hpp"

#include <builder/app/app_recipe.hpp>
#include <builder/bundle/input_bundle.hpp>
#include <builder/recipe/inputs.hpp>

#include <iostream>
#include <memory>

namespace mrforge::cli {

namespace {

struct FetchCommandOptions {
  InputOptions inputs;
  bool json = false;
  std::string export_path;
  std::string import_path;
};

// Fetches one recipe's locked inputs and reports them (a line, or its JSON object in `json`);
// returns the lock they were fetched for.
builder::Lock fetch_one(const builder::Recipe &recipe, const FetchCommandOptions &o, Json *json) {
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
    return std::move(in.current.lock);
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
  return std::move(in.current.lock);
}

// A recipe whose inputs are fetched: the recipe given, or one service of a DstackApp.
struct FetchTarget {
  std::string id;    // in a bundle: the service, or the recipe file's name
  std::string shown; // the recipe as the app names it, or the recipe file's name
  builder::Recipe recipe;
  std::string service; // empty for a plain recipe
};

// With --import: the bundle is verified against the locks as they are (never re-locked) and fills
// the store; the fetch that follows is offline and only confirms that everything is there.
Json import_bundle(const std::vector<FetchTarget> &targets, const FetchCommandOptions &o) {
  std::vector<builder::BundleRecipe> recipes;
  for (const FetchTarget &t : targets)
    recipes.push_back(builder::bundle_recipe(t.id, t.shown, t.recipe, current_lock_for(t.recipe, o.inputs).lock));
  builder::Store store(store_root(o.inputs));
  builder::BundleReport r = builder::import_bundle(builder::plan_bundle(std::move(recipes)), store, o.import_path,
                                                   progress_printer(o.inputs));
  if (!o.json)
    print_line("bundle " + o.import_path + ": " + std::to_string(r.entries) + " entries verified against the lock" +
               (targets.size() > 1 ? "s" : "") + ": " + std::to_string(r.stored) + " added to the store, " +
               std::to_string(r.already_in_store) + " already there, " + std::to_string(r.files_checked) +
               " local files as locked");
  return {{"path", r.path},
          {"entries", r.entries},
          {"bytes", r.bytes},
          {"stored", r.stored},
          {"already_in_store", r.already_in_store},
          {"files_checked", r.files_checked}};
}

Json export_bundle(const std::vector<FetchTarget> &targets, std::vector<builder::Lock> locks,
                   const FetchCommandOptions &o) {
  std::vector<builder::BundleRecipe> recipes;
  for (size_t i = 0; i < targets.size(); ++i)
    recipes.push_back(builder::bundle_recipe(targets[i].id, targets[i].shown, targets[i].recipe, std::move(locks[i])));
  builder::Store store(store_root(o.inputs));
  builder::BundleReport r = builder::export_bundle(builder::plan_bundle(std::move(recipes)), store, o.export_path,
                                                   progress_printer(o.inputs));
  if (!o.json)
    print_line("bundle " + r.path + ": " + std::to_string(r.entries) + " entries (" + std::to_string(r.bytes / 1024) +
               " KiB), sha256 " + r.sha256);
  return {{"path", r.path}, {"entries", r.entries}, {"bytes", r.bytes}, {"sha256", r.sha256}, {"size", r.archive_size}};
}

int run_fetch(FetchCommandOptions o) {
  if (!o.import_path.empty()) o.inputs.offline = true; // everything comes from the bundle
  std::vector<FetchTarget> targets;
  Json out = Json::object();
  Json services = Json::array();
  bool app = builder::is_app_recipe(o.inputs.recipe);
  if (!app) {
    std::string name = builder::recipe_file_id(o.inputs.recipe);
    targets.push_back({name, name, builder::load_recipe(o.inputs.recipe), ""});
  } else {
    // A DstackApp: each service's recipe, as `build` fetches them (pinned services are on disk).
    builder::AppRecipe a = builder::load_app_recipe(o.inputs.recipe);
    out["app"] = a.name;
    for (const builder::AppServiceSpec &svc : a.services) {
      if (svc.source == builder::AppServiceSource::recipe) {
        targets.push_back({svc.name, svc.recipe_path, svc.recipe, svc.name});
      } else if (o.json) {
        services.push_back({{"service", svc.name}, {"oci_layout", svc.oci_layout}});
      } else {
        print_line("service " + svc.name + ": pinned, from the OCI layout " + svc.oci_layout + " (nothing to fetch)");
      }
    }
  }
  if (!o.import_path.empty()) out["bundle"] = import_bundle(targets, o);
  std::vector<builder::Lock> locks;
  for (const FetchTarget &t : targets) {
    if (!app) {
      locks.push_back(fetch_one(t.recipe, o, o.json ? &out : nullptr));
      continue;
    }
    if (!o.json) print_line("service " + t.service + ": " + t.shown);
    Json j{{"service", t.service}, {"recipe", t.shown}};
    locks.push_back(fetch_one(t.recipe, o, o.json ? &j : nullptr));
    if (o.json) services.push_back(std::move(j));
  }
  if (app) out["services"] = services;
  if (!o.export_path.empty()) out["bundle"] = export_bundle(targets, std::move(locks), o);
  if (o.json) print_json(out);
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
              "Input bundles: --export FILE then writes every locked input (packages, kernel, signed InRelease and\n"
              "indexes, local files) and an index to one deterministic tar; --import FILE verifies each entry's\n"
              "sha256 against the lock as it is (never re-locked, never online) and fills the store, so that build\n"
              "works offline (rebuild takes the bundle with --bundle FILE).\n"
              "Example: mrforge fetch --frozen examples/oci/hello.yaml --export hello-inputs.tar\n"
              "Exit codes: 0 ok, 1 usage error, 2 bad input (stale lock with --frozen, missing or wrong package,\n"
              "a bundle that is damaged, altered or made from another lock), 3 internal error.");
  add_input_options(cmd, o->inputs, InputOptionSet::fetch);
  o->inputs.repository_metadata = true; // fetch keeps the signed indexes too (for bundles and audits)
  CLI::Option *exp = cmd->add_option("--export", o->export_path,
                                     "After fetching, write every locked input to this input bundle (a tar; "
                                     "replaced if it exists)")
                         ->type_name("FILE");
  cmd->add_option("--import", o->import_path,
                  "Fill the store from this input bundle, verified against the lock (implies --offline)")
      ->type_name("FILE")
      ->excludes(exp);
  cmd->add_flag("--json", o->json,
                "Print JSON: {store, packages, in_store, downloaded, from_directory, kernel, bundle, ...}; for an "
                "app {app, services: [{service, recipe, store, ...}], bundle}");
}

} // namespace mrforge::cli
