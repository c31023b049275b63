#include <builder/debian/version.hpp>

#include <measure/util/errors.hpp>

#include <cstdint>
#include <limits>

namespace mrforge::builder::debian {

namespace {

bool is_digit(char c) { return c >= '0' && c <= '9'; }
bool is_alpha(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }
bool is_alnum(char c) { return is_digit(c) || is_alpha(c); }

// dpkg's order(): digits 0 (they end a non-digit run), letters their ASCII value, '~' -1 (before
// the end of the string), other characters after all letters.
int order(int c) {
  if (is_digit(static_cast<char>(c))) return 0;
  if (is_alpha(static_cast<char>(c))) return c;
  if (c == '~') return -1;
  if (c) return c + 256;
  return 0;
}

} // namespace

int compare_version_part(std::string_view a, std::string_view b) {
  size_t i = 0, j = 0;
  auto at = [](std::string_view s, size_t k) -> int { return k < s.size() ? static_cast<unsigned char>(s[k]) : 0; };
  auto digit_at = [&](std::string_view s, size_t k) { return k < s.size() && is_digit(s[k]); };
  while (i < a.size() || j < b.size()) {
    int first_diff = 0;
    while ((i < a.size() && !is_digit(a[i])) || (j < b.size() && !is_digit(b[j]))) {
      int ac = order(at(a, i));
      int bc = order(at(b, j));
      if (ac != bc) return ac - bc;
      ++i;
      ++j;
    }
    while (i < a.size() && a[i] == '0') ++i;
    while (j < b.size() && b[j] == '0') ++j;
    while (digit_at(a, i) && digit_at(b, j)) {
      if (!first_diff) first_diff = at(a, i) - at(b, j);
      ++i;
      ++j;
    }
    if (digit_at(a, i)) return 1;
    if (digit_at(b, j)) return -1;
    if (first_diff) return first_diff;
  }
  return 0;
}

std::string Version::to_string() const {
  std::string out;
  if (epoch != 0) out = std::to_string(epoch) + ":";
  out += upstream;
  if (!revision.empty()) out += "-" + revision;
  return out;
}

Version parse_version(std::string_view text, const std::string &what) {
  auto fail = [&](const std::string &message) -> InputError {
    return InputError(what, "version \"" + std::string(text) + "\": " + message);
  };
  std::string_view s = text;
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  if (s.empty()) throw fail("version string is empty");
  for (char c : s)
    if (c == ' ' || c == '\t' || c == '\n' || c == '\r') throw fail("version string has embedded spaces");

  Version v;
  if (size_t colon = s.find(':'); colon != std::string_view::npos) {
    std::string_view epoch = s.substr(0, colon);
    if (epoch.empty()) throw fail("epoch in version is empty");
    uint64_t value = 0;
    for (char c : epoch) {
      if (!is_digit(c)) throw fail("epoch in version is not a number");
      value = value * 10 + static_cast<uint64_t>(c - '0');
      if (value > static_cast<uint64_t>(std::numeric_limits<int32_t>::max())) throw fail("epoch in version is too big");
    }
    v.epoch = static_cast<uint32_t>(value);
    s.remove_prefix(colon + 1);
    if (s.empty()) throw fail("nothing after colon in version number");
  }
  if (size_t dash = s.rfind('-'); dash != std::string_view::npos) {
    v.revision = std::string(s.substr(dash + 1));
    if (v.revision.empty()) throw fail("revision number is empty");
    s = s.substr(0, dash);
  }
  if (s.empty()) throw fail("version number is empty");
  v.upstream = std::string(s);
  for (char c : v.upstream)
    if (!is_alnum(c) && c != '.' && c != '+' && c != '~' && c != '-' && c != ':')
      throw fail(std::string("invalid character '") + c + "' in version number");
  for (char c : v.revision)
    if (!is_alnum(c) && c != '.' && c != '+' && c != '~')
      throw fail(std::string("invalid character '") + c + "' in revision number");
  return v;
}

int compare_versions(const Version &a, const Version &b) {
  if (a.epoch != b.epoch) return a.epoch < b.epoch ? -1 : 1;
  if (int r = compare_version_part(a.upstream, b.upstream)) return r;
  return compare_version_part(a.revision, b.revision);
}

int compare_versions(std::string_view a, std::string_view b) {
  return compare_versions(parse_version(a, std::string(a)), parse_version(b, std::string(b)));
}

} // namespace mrforge::builder::debian
