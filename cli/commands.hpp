// Subcommands of the mrforge front end. Each registers its options on the CLI11 app and returns
// the function that runs it (which throws mrforge errors; main() maps them to exit codes).
#pragma once

#include <CLI/CLI.hpp>

#include <functional>

namespace mrforge::cli {

// Returns the process exit code.
using Runner = std::function<int()>;

// Exit codes (documented in --help and the README). main() alone turns exceptions into 1, 2 and 3.
constexpr int k_exit_ok = 0;
constexpr int k_exit_usage = 1;     // bad command line
constexpr int k_exit_bad_input = 2; // an input file, profile or value is wrong or missing
constexpr int k_exit_internal = 3;  // a host tool failed (HostError), a bug or an environment failure
constexpr int k_exit_mismatch = 4;  // verify: the TD does not match; lock --check: the lock is out of date

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
