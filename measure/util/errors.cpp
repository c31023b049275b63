#include <measure/util/errors.hpp>

#include <cstdio>

namespace mrforge {

namespace {
std::string at(const std::string &source, uint64_t offset) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "+0x%llx", static_cast<unsigned long long>(offset));
  return source + buf;
}
} // namespace

FormatError::FormatError(std::string source, uint64_t offset, const std::string &message)
    : Error(at(source, offset) + ": " + message), m_source(std::move(source)), m_offset(offset), m_detail(message) {}

InputError::InputError(std::string input, const std::string &message)
    : Error(input + ": " + message), m_input(std::move(input)), m_detail(message) {}

DocumentError::DocumentError(std::string file, int line, int column, const std::string &message)
    : Error(file + ":" + std::to_string(line) + ":" + std::to_string(column) + ": " + message), m_file(std::move(file)),
      m_line(line), m_column(column) {}

SystemError::SystemError(std::string path, const std::string &message)
    : Error(path + ": " + message), m_path(std::move(path)) {}

} // namespace mrforge
