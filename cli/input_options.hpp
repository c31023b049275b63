// Options shared by the commands that work from a recipe (lock, fetch, build): the recipe, the
// store, mirrors and local .deb directories, --frozen/--offline, progress on stderr.
#pragma once

#include <builder/recipe/inputs.hpp>

#include <CLI/CLI.hpp>

#include <string>
#include <vector>

namespace mrforge::cli {

struct InputOptions {
  std::string recipe;
  std::string store; // empty: the default store
  std::vector<std::string> mirrors;
  std::string debs_dir;
  bool frozen = false;
  bool offline = false;
  bool quiet = false;
  std::string snapshot = builder::debian::k_snapshot_service; // empty: --no-snapshot
  bool repository_metadata = false; // set by `fetch`: the InRelease and indexes go to the store too
};

enum class InputOptionSet { lock, fetch };

void add_input_options(CLI::App *cmd, InputOptions &o, InputOptionSet set);
// --snapshot URL and --no-snapshot (which empties it).
void add_snapshot_options(CLI::App *cmd, std::string &snapshot);
// Progress lines on stderr ("mrforge: ..."), silent with --quiet.
builder::Progress progress_printer(const InputOptions &o);
std::string store_root(const InputOptions &o);

// The lock to work from: re-locked unless --frozen or --offline (the update is reported on stderr).
builder::CurrentLock current_lock_for(const builder::Recipe &recipe, const InputOptions &o);

// What fetch and build share: the current lock (re-locked unless --frozen or --offline; the
// update is reported on stderr) and every locked input fetched into the store.
struct PreparedInputs {
  builder::CurrentLock current;
  builder::Store store;
  builder::FetchReport report;
};
PreparedInputs prepare_inputs(const builder::Recipe &recipe, const InputOptions &o);

} // namespace mrforge::cli
