// mrforge: reproducible TDX guest images and their measurements. This front end only parses
// arguments, calls the libraries and maps errors to exit codes.
#include "commands.hpp"
#include "output.hpp"

#include <measure/util/errors.hpp>
#include <measure/util/version.hpp>

#include <iostream>

namespace {

constexpr const char *k_exit_codes_help =
    "Exit codes: 0 ok, 1 usage error, 2 bad input (a file, profile or value is wrong or missing),\n"
    "3 a host tool (QEMU, swtpm) failed, or an internal error; 4 verification failed (the TD does not match;\n"
    "for `lock --check`: the lock is out of date).\n"
    "Profiles: the shipped ones are compiled in; MRFORGE_PROFILE_PATH=DIR[:DIR...] adds folders with platform/,\n"
    "ovmf/ and acpi/ subfolders of NAME.yaml files (a name found twice is refused: give the file's path).";

} // namespace

int main(int argc, char **argv) {
  using namespace mrforge;
  using namespace mrforge::cli;
  // Nothing printed from here on reaches the terminal raw (output.hpp).
  TerminalGuard terminal;
  CLI::App app{"mrforge: reproducible Intel TDX guest images and their measurements (MRTD, RTMR0-2)"};
  app.footer(k_exit_codes_help);
  app.require_subcommand(1);
  app.set_version_flag("--version", k_tool_name);
  Runner run;
  add_measure_command(app, run);
  add_inspect_command(app, run);
  add_profiles_command(app, run);
  add_eventlog_command(app, run);
  add_quote_command(app, run);
  add_verify_command(app, run);
  add_lock_command(app, run);
  add_fetch_command(app, run);
  add_build_command(app, run);
  add_archive_command(app, run);
  add_boot_command(app, run);
  add_keygen_command(app, run);
  add_sign_command(app, run);
  add_verify_signature_command(app, run);
  add_reference_values_command(app, run);
  add_diff_command(app, run);
  add_rebuild_command(app, run);
  add_acpi_command(app, run);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError &e) {
    int code = app.exit(e);
    return code == 0 ? k_exit_ok : k_exit_usage;
  }
  // The one place exceptions become exit codes (k_exit_codes_help, README "Exit codes").
  try {
    return run();
  } catch (const HostError &e) { // before SystemError, which it refines
    std::cerr << "mrforge: error: " << message_text(e.what()) << "\n";
    return k_exit_internal;
  } catch (const FormatError &e) {
    std::cerr << "mrforge: error: " << message_text(e.what()) << "\n";
  } catch (const InputError &e) {
    std::cerr << "mrforge: error: " << message_text(e.what()) << "\n";
  } catch (const DocumentError &e) {
    std::cerr << "mrforge: error: " << message_text(e.what()) << "\n";
  } catch (const SystemError &e) {
    std::cerr << "mrforge: error: " << message_text(e.what()) << "\n";
  } catch (const Error &e) {
    std::cerr << "mrforge: internal error: " << message_text(e.what()) << "\n";
    return k_exit_internal;
  } catch (const std::exception &e) {
    std::cerr << "mrforge: internal error: " << message_text(e.what()) << "\n";
    return k_exit_internal;
  }
  return k_exit_bad_input;
}
