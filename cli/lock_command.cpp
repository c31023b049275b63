// mrforge lock: resolve a recipe's packages against the repository's signed indexes and write
// RECIPE.lock (with the digests of the recipe's local files).
#include "commands.hpp"
#include "input_options.hpp"
#include "output.hpp"

#include <builder/app/app_recipe.hpp>
#include <builder/recipe/inputs.hpp>
#include <builder/system/output_dir.hpp>

#include <measure/util/mapped_file.hpp>
#include <measure/util/strings.hpp>

#include <filesystem>
#include <iostream>
#include <memory>

namespace mrforge::cli {

namespace {

struct LockCommandOptions {
  InputOptions inputs;
  bool json = false;
  bool check = false;
};

struct LockResult {
  std::string path;
  bool changed = false;
};

// Locks one OciImage or GuestImage recipe and reports it (a table, or its JSON object in `json`).
LockResult lock_one(const builder::Recipe &recipe, const LockCommandOptions &o, Json *json) {
  builder::Fetcher fetcher;
  builder::Lock lock = builder::lock_recipe(recipe, fetcher, {}, progress_printer(o.inputs));
  LockResult r;
  r.path = builder::lock_path_for(recipe.path);
  std::string text = builder::lock_to_json(lock);
  r.changed = true;
  std::error_code ec;
  if (std::filesystem::exists(r.path, ec)) {
    Bytes before = read_file(r.path, limits::k_json_document);
    r.changed = std::string(before.begin(), before.end()) != text;
  }
  if (!o.check && r.changed) write_file_atomically(r.path, text);
  uint64_t total = 0;
  for (const auto &p : lock.packages) total += p.size;
  if (json) {
    Json &j = *json;
    j["lock"] = r.path;
    j["changed"] = r.changed;
    j["packages"] = Json::array();
    for (const auto &p : lock.packages) {
      Json e{{"name", p.name},     {"version", p.version}, {"architecture", p.architecture},
             {"sha256", p.sha256}, {"size", p.size},       {"reason", p.reason},
             {"source", p.source}};
      if (!p.sets.empty()) e["sets"] = p.sets;
      j["packages"].push_back(e);
    }
    j["files"] = Json::array();
    for (const auto &f : lock.files) j["files"].push_back({{"path", f.path}, {"sha256", f.sha256}});
    if (lock.kernel)
      j["kernel"] = {{"package", lock.kernel->package},
                     {"version", lock.kernel->version},
                     {"sha256", lock.kernel->sha256},
                     {"size", lock.kernel->size},
                     {"pin", lock.kernel->pin}};
    return r;
  }
  bool sets = builder::lock_has_sets(lock);
  std::vector<std::vector<std::string>> rows = {{"PACKAGE", "VERSION", "ARCH", "SIZE", "SOURCE", "WHY"}};
  if (sets) rows[0].insert(rows[0].begin() + 5, "FOR");
  for (const auto &p : lock.packages) {
    std::vector<std::string> row{p.name, p.version, p.architecture, std::to_string(p.size), p.source, p.reason};
    if (sets) row.insert(row.begin() + 5, join(p.sets, ","));
    rows.push_back(row);
  }
  if (!lock.packages.empty()) print_table(rows);
  if (lock.kernel)
    std::cout << "kernel " << lock.kernel->package << " " << lock.kernel->version << " (" << lock.kernel->size
              << " bytes, pin " << lock.kernel->pin << ")\n";
  std::cout << lock.packages.size() << " packages (" << total / 1024 << " KiB), " << lock.files.size()
            << " local files: " << r.path
            << (o.check ? (r.changed ? " is out of date" : " is current") : (r.changed ? " written" : " unchanged"))
            << "\n";
  return r;
}

// A DstackApp: each service built from a recipe gets that recipe's lock; pinned services have none.
int lock_app(const LockCommandOptions &o) {
  builder::AppRecipe app = builder::load_app_recipe(o.inputs.recipe);
  bool changed = false;
  Json services = Json::array();
  for (const builder::AppServiceSpec &svc : app.services) {
    if (svc.source != builder::AppServiceSource::recipe) {
      if (o.json)
        services.push_back({{"service", svc.name}, {"oci_layout", svc.oci_layout}, {"digest", svc.pinned_digest}});
      else
        print_line("service " + svc.name + ": pinned " + svc.image_ref + "@" + svc.pinned_digest + " from " +
                   svc.oci_layout + " (no lock)");
      continue;
    }
    if (!o.json) print_line("service " + svc.name + ": " + svc.recipe_path);
    Json j{{"service", svc.name}, {"recipe", svc.recipe_path}};
    changed |= lock_one(svc.recipe, o, o.json ? &j : nullptr).changed;
    if (o.json) services.push_back(std::move(j));
  }
  if (o.json) print_json({{"app", app.name}, {"changed", changed}, {"services", services}});
  return o.check && changed ? k_exit_mismatch : k_exit_ok;
}

int run_lock(const LockCommandOptions &o) {
  if (builder::is_app_recipe(o.inputs.recipe)) return lock_app(o);
  builder::Recipe recipe = builder::load_recipe(o.inputs.recipe);
  Json j;
  LockResult r = lock_one(recipe, o, o.json ? &j : nullptr);
  if (o.json) print_json(j);
  return o.check && r.changed ? k_exit_mismatch : k_exit_ok;
}

} // namespace

void add_lock_command(CLI::App &app, Runner &run) {
  auto o = std::make_shared<LockCommandOptions>();
  CLI::App *cmd =
      add_command(app, run, o, "lock", "Resolve a recipe's packages and local files into RECIPE.lock", run_lock);
  cmd->footer("The repository's InRelease is checked with the recipe's keyring (gpgv) and every index by its\n"
              "sha256; the dependency closure (Depends, Pre-Depends) is pinned by version and sha256. The same\n"
              "indexes give the same lock bytes.\n"
              "A DstackApp recipe locks each service's OciImage recipe (pinned services need no lock).\n"
              "Example: mrforge lock examples/oci/hello.yaml\n"
              "         mrforge lock examples/dstack-app/app.yaml\n"
              "Exit codes: 0 ok, 1 usage error, 2 bad input (recipe, repository, signature), 3 internal error,\n"
              "4 with --check: the lock is out of date.");
  add_input_options(cmd, o->inputs, InputOptionSet::lock);
  cmd->add_flag("--check", o->check, "Do not write; exit 4 if the lock would change");
  cmd->add_flag("--json", o->json,
                "Print JSON: {lock, changed, packages, files}; for an app {app, changed, services: [{service, "
                "recipe, lock, ...}]}");
}

} // namespace mrforge::cli
