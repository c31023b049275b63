// Placeholder: filled in by the module owner.
#include "commands.hpp"

namespace mrforge::cli {
void add_archive_command(CLI::App &, Runner &) {}
} // namespace mrforge::cli
