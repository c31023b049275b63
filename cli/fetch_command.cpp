// Placeholder: filled in by the module owner.
#include "commands.hpp"

namespace mrforge::cli {
void add_fetch_command(CLI::App &, Runner &) {}
} // namespace mrforge::cli
