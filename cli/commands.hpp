// Subcommands of the mrforge front end. Each registers its options on the CLI11 app and returns
// the function that runs it (which throws mrforge errors; main() maps them to exit codes).
#pragma once

#include <CLI/CLI.hpp>

#include <functional>
#include <memory>
#include <string>
#include <type_traits>

namespace mrforge::cli {

// Returns the process exit code.
using Runner = std::function<int()>;

// Exit codes (documented in --help and the README). main() alone turns exceptions into 1, 2 and 3.
constexpr int k_exit_ok = 0;
constexpr int k_exit_usage = 1;     // bad command line
constexpr int k_exit_bad_input = 2; // an input file, profile or value is wrong or missing
constexpr int k_exit_internal = 3;  // a host tool failed (HostError), a bug or an environment failure
constexpr int k_exit_mismatch = 4;  // verify: the TD does not match; lock --check: the lock is out of date

// Registers the subcommand NAME of `parent` with the function that runs it: `options` (which the
// sub-app's options write into) is shared with the runner, and when CLI11 selects the subcommand,
// `run` becomes `fn(*options)`; a `fn` that returns nothing exits 0. Returns the sub-app.
template <class Options, class Fn>
CLI::App *add_command(CLI::App &parent, Runner &run, const std::shared_ptr<Options> &options, const std::string &name,
                      const std::string &summary, Fn fn) {
  CLI::App *app = parent.add_subcommand(name, summary);
  app->callback([options, fn, &run] {
    run = [options, fn] {
      if constexpr (std::is_void_v<decltype(fn(*options))>) {
        fn(*options);
        return k_exit_ok;
      } else {
        return fn(*options);
      }
    };
  });
  return app;
}

void add_measure_command(CLI::App &app, Runner &run);
void add_inspect_command(CLI::App &app, Runner &run);
void add_profiles_command(CLI::App &app, Runner &run);
void add_eventlog_command(CLI::App &app, Runner &run);
void add_quote_command(CLI::App &app, Runner &run);
void add_verify_command(CLI::App &app, Runner &run);
void add_lock_command(CLI::App &app, Runner &run);
void add_fetch_command(CLI::App &app, Runner &run);
void add_build_command(CLI::App &app, Runner &run);
void add_archive_command(CLI::App &app, Runner &run);
void add_boot_command(CLI::App &app, Runner &run);
void add_keygen_command(CLI::App &app, Runner &run);
void add_sign_command(CLI::App &app, Runner &run);
void add_verify_signature_command(CLI::App &app, Runner &run);
void add_reference_values_command(CLI::App &app, Runner &run);
void add_diff_command(CLI::App &app, Runner &run);
void add_rebuild_command(CLI::App &app, Runner &run);
void add_acpi_command(CLI::App &app, Runner &run);
// Subcommands of `mrforge acpi` (registered by add_acpi_command on its sub-app).
void add_acpi_capture_command(CLI::App &acpi, Runner &run);
void add_acpi_diff_command(CLI::App &acpi, Runner &run);

} // namespace mrforge::cli
