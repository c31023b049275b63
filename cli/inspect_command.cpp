#include "commands.hpp"
namespace mrforge::cli { void add_inspect_command(CLI::App &, Runner &) {} }
