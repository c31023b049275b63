#include <measure/dstack/checksum_file.hpp>

#include <measure/util/errors.hpp>
#include <measure/util/terminal_text.hpp>

#include <algorithm>
#include <optional>
#include <vector>

namespace mrforge {

namespace {

bool is_space(char c) { return c == ' ' || c == '\t' || c == '\r'; }

} // namespace

Sha256 checksum_file_entry(ByteView checksum_file, const std::string &name, const std::string &source) {
  if (checksum_file.size() > k_max_checksum_file_size)
    throw FormatError(source, k_max_checksum_file_size,
                      "larger than a checksum file can be (" + std::to_string(k_max_checksum_file_size) + " bytes)");
  const std::string text(checksum_file.begin(), checksum_file.end());
  for (size_t i = 0; i < text.size(); ++i) {
    const auto c = static_cast<unsigned char>(text[i]);
    if (c < 0x20 && c != '\t' && c != '\r' && c != '\n')
      throw FormatError(source, i, "a control byte: not a checksum file");
  }
  std::optional<Sha256> found;
  size_t line_start = 0;
  while (line_start < text.size()) {
    size_t end = text.find('\n', line_start);
    if (end == std::string::npos) end = text.size();
    std::vector<std::string> tokens;
    for (size_t p = line_start; p < end;) {
      while (p < end && is_space(text[p])) ++p;
      size_t q = p;
      while (q < end && !is_space(text[q])) ++q;
      if (q > p) tokens.push_back(text.substr(p, q - p));
      p = q;
    }
    if (tokens.size() == 1) throw FormatError(source, line_start, "a line without a file name");
    if (tokens.size() >= 2 && tokens[1] == name) {
      if (found) throw FormatError(source, line_start, name + " is listed twice");
      if (tokens[0].size() != 64 || tokens[0].find_first_not_of("0123456789abcdefABCDEF") != std::string::npos)
        throw FormatError(source, line_start, "the digest of " + name + " is not 64 hex digits");
      Bytes d = from_hex(tokens[0], source);
      Sha256 s{};
      std::copy(d.begin(), d.end(), s.begin());
      found = s;
    }
    line_start = end + 1;
  }
  if (!found) throw FormatError(source, 0, "does not list " + name);
  return *found;
}

std::string checksum_line(const Sha256 &digest, const std::string &name) { return to_hex(digest) + "  " + name + "\n"; }

} // namespace mrforge
