#include "input_options.hpp"
#include "output.hpp"

#include <iostream>

namespace mrforge::cli {

void add_input_options(CLI::App *cmd, InputOptions &o, InputOptionSet set) {
  cmd->add_option("RECIPE", o.recipe, "Recipe file (YAML, apiVersion mrforge/v1); its lock is RECIPE.lock")
      ->required()
      ->check(CLI::ExistingFile);
  cmd->add_flag("-q,--quiet", o.quiet, "No progress lines on stderr");
  if (set == InputOptionSet::lock) return;
  cmd->add_option("--store", o.store,
                  "Content-addressed input store (default $MRFORGE_STORE, $XDG_CACHE_HOME/mrforge/store or "
                  "~/.cache/mrforge/store)");
  cmd->add_flag("--frozen", o.frozen,
                "Fail (naming each entry) if the recipe and its lock disagree, instead of re-locking");
  cmd->add_flag("--offline", o.offline, "Never use the network: everything must be in the store (or --debs)");
  cmd->add_option("--mirror", o.mirrors,
                  "Also fetch pinned packages from this mirror (tried first; repeatable), e.g. a "
                  "snapshot.debian.org/archive/debian/DATE URL");
  cmd->add_option("--debs", o.debs_dir, "A directory of .deb files to take pinned packages from (checked by sha256)")
      ->check(CLI::ExistingDirectory);
  add_snapshot_options(cmd, o.snapshot);
}

void add_snapshot_options(CLI::App *cmd, std::string &snapshot) {
  cmd->add_option("--snapshot", snapshot,
                  "Debian's snapshot service, asked at the time the lock recorded when a mirror no longer serves a "
                  "locked file")
      ->capture_default_str();
  cmd->add_flag_callback(
      "--no-snapshot", [&snapshot]() { snapshot.clear(); }, "Never ask Debian's snapshot service");
}

builder::Progress progress_printer(const InputOptions &o) {
  if (o.quiet) return {};
  return [](const std::string &line) { print_line("mrforge: " + line, std::cerr); };
}

std::string store_root(const InputOptions &o) { return o.store.empty() ? builder::Store::default_root() : o.store; }

builder::CurrentLock current_lock_for(const builder::Recipe &recipe, const InputOptions &o) {
  builder::Fetcher fetcher;
  builder::Progress progress = progress_printer(o);
  builder::LockMode mode = o.frozen || o.offline ? builder::LockMode::frozen : builder::LockMode::update;
  builder::CurrentLock current = builder::current_lock(recipe, mode, fetcher, {}, progress);
  if (current.written && progress)
    progress("lock " + builder::lock_path_for(recipe.path) + " updated (" + std::to_string(current.changes.size()) +
             " changes)");
  return current;
}

PreparedInputs prepare_inputs(const builder::Recipe &recipe, const InputOptions &o) {
  builder::Fetcher fetcher;
  builder::Progress progress = progress_printer(o);
  builder::CurrentLock current = current_lock_for(recipe, o);
  builder::Store store(store_root(o));
  builder::FetchOptions options;
  options.mirrors = o.mirrors;
  options.debs_dir = o.debs_dir;
  options.offline = o.offline;
  options.snapshot_service = o.snapshot;
  options.repository_metadata = o.repository_metadata;
  builder::FetchReport report = builder::fetch_inputs(current.lock, recipe, store, fetcher, options, progress);
  return PreparedInputs{std::move(current), std::move(store), report};
}

} // namespace mrforge::cli
