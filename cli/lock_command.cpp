// mrforge lock: resolve a recipe's packages against the repository's signed indexes and write
// RECIPE.lock (with the digests of the recipe's local files).
#include "commands.hpp"
#include "input_options.hpp"
#include "output.hpp"

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

int run_lock(const LockCommandOptions &o) {
  builder::Recipe recipe = builder::load_recipe(o.inputs.recipe);
  builder::Fetcher fetcher;
  builder::Lock lock = builder::lock_recipe(recipe, fetcher, {}, progress_printer(o.inputs));
  std::string path = builder::lock_path_for(recipe.path);
  std::string text = builder::lock_to_json(lock);
  bool changed = true;
  std::error_code ec;
  if (std::filesystem::exists(path, ec)) {
    Bytes before = read_file(path, limits::k_json_document);
    changed = std::string(before.begin(), before.end()) != text;
  }
  if (!o.check && changed) write_file_atomically(path, text);
  uint64_t total = 0;
  for (const auto &p : lock.packages) total += p.size;
  if (o.json) {
    Json j;
    j["lock"] = path;
    j["changed"] = changed;
    j["packages"] = Json::array();
    for (const auto &p : lock.packages) {
      Json e{{"name", p.name},     {"version", p.version}, {"architecture", p.architecture},
             {"sha256", p.sha256}, {"size", p.size},       {"reason", p.reason}};
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
    print_json(j);
  } else {
    bool sets = builder::lock_has_sets(lock);
    std::vector<std::vector<std::string>> rows = {{"PACKAGE", "VERSION", "ARCH", "SIZE", "WHY"}};
    if (sets) rows[0].insert(rows[0].begin() + 4, "FOR");
    for (const auto &p : lock.packages) {
      std::vector<std::string> row{p.name, p.version, p.architecture, std::to_string(p.size), p.reason};
      if (sets) {
        row.insert(row.begin() + 4, join(p.sets, ","));
      }
      rows.push_back(row);
    }
    if (!lock.packages.empty()) print_table(rows);
    if (lock.kernel)
      std::cout << "kernel " << lock.kernel->package << " " << lock.kernel->version << " (" << lock.kernel->size
                << " bytes, pin " << lock.kernel->pin << ")\n";
    std::cout << lock.packages.size() << " packages (" << total / 1024 << " KiB), " << lock.files.size()
              << " local files: " << path
              << (o.check ? (changed ? " is out of date" : " is current") : (changed ? " written" : " unchanged"))
              << "\n";
  }
  return o.check && changed ? k_exit_mismatch : k_exit_ok;
}

} // namespace

void add_lock_command(CLI::App &app, Runner &run) {
  auto o = std::make_shared<LockCommandOptions>();
  CLI::App *cmd =
      add_command(app, run, o, "lock", "Resolve a recipe's packages and local files into RECIPE.lock", run_lock);
  cmd->footer("The repository's InRelease is checked with the recipe's keyring (gpgv) and every index by its\n"
              "sha256; the dependency closure (Depends, Pre-Depends) is pinned by version and sha256. The same\n"
              "indexes give the same lock bytes.\n"
              "Example: mrforge lock examples/oci/hello.yaml\n"
              "Exit codes: 0 ok, 1 usage error, 2 bad input (recipe, repository, signature), 3 internal error,\n"
              "4 with --check: the lock is out of date.");
  add_input_options(cmd, o->inputs, InputOptionSet::lock);
  cmd->add_flag("--check", o->check, "Do not write; exit 4 if the lock would change");
  cmd->add_flag("--json", o->json, "Print JSON: {lock, changed, packages, files}");
}

} // namespace mrforge::cli
