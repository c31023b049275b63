#include <measure/util/size_text.hpp>

#include <cctype>
#include <charconv>
#include <limits>

namespace mrforge {

const char *const k_size_forms = "give bytes (2147483648), 0x hex bytes (0x80000000), or a whole number with "
                                 "K, M, G, T, P or E (binary units: 2G, 2560M, 2GiB)";

namespace {
constexpr uint64_t k_max = std::numeric_limits<uint64_t>::max();

int digit_value(char c, unsigned base) {
  int d = std::isdigit(static_cast<unsigned char>(c)) ? c - '0'
          : (base == 16 && c >= 'a' && c <= 'f')      ? c - 'a' + 10
          : (base == 16 && c >= 'A' && c <= 'F')      ? c - 'A' + 10
                                                      : -1;
  return d;
}

// The binary shift of a unit ("", "B", "K", "KB", "KiB", ... any case); -1 when it is not one.
int unit_shift(std::string unit) {
  for (char &c : unit) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  if (unit.empty() || unit == "B") return 0;
  static const char k_prefixes[] = "KMGTPE";
  for (int i = 0; k_prefixes[i]; ++i) {
    std::string p(1, k_prefixes[i]);
    if (unit == p || unit == p + "B" || unit == p + "IB") return 10 * (i + 1);
  }
  return -1;
}
} // namespace

SizeText parse_size_text(const std::string &t) {
  SizeText r;
  if (t.empty()) {
    r.error = std::string("empty size (") + k_size_forms + ")";
    return r;
  }
  if (t[0] == '-') {
    r.error = "'" + t + "' is not a size: sizes cannot be negative";
    return r;
  }
  bool hex = t.size() > 2 && t[0] == '0' && (t[1] == 'x' || t[1] == 'X');
  unsigned base = hex ? 16 : 10;
  size_t i = hex ? 2 : 0;
  size_t first_digit = i;
  uint64_t v = 0;
  for (; i < t.size(); ++i) {
    int d = digit_value(t[i], base);
    if (d < 0) break;
    if (v > (k_max - static_cast<uint64_t>(d)) / base) {
      r.error = "'" + t + "' is too large: it does not fit in 64 bits";
      return r;
    }
    v = v * base + static_cast<uint64_t>(d);
  }
  if (i == first_digit) {
    r.error = "'" + t + "' is not a size (" + k_size_forms + ")";
    return r;
  }
  int shift = hex ? (i == t.size() ? 0 : -1) : unit_shift(t.substr(i));
  if (shift < 0) {
    r.error = "'" + t + "' is not a size: unknown unit '" + t.substr(i) + "' (" + k_size_forms + ")";
    return r;
  }
  if (shift > 0 && v > (k_max >> shift)) {
    r.error = "'" + t + "' is too large: it does not fit in 64 bits";
    return r;
  }
  r.value = v << shift;
  return r;
}

std::optional<uint64_t> add_sizes(uint64_t a, uint64_t b) {
  if (b > k_max - a) return std::nullopt;
  return a + b;
}

std::optional<uint64_t> multiply_sizes(uint64_t a, uint64_t b) {
  if (a != 0 && b > k_max / a) return std::nullopt;
  return a * b;
}

std::optional<uint64_t> round_up_size(uint64_t v, uint64_t align) {
  if (align == 0) return std::nullopt;
  uint64_t rest = v % align;
  return rest == 0 ? std::optional<uint64_t>(v) : add_sizes(v, align - rest);
}

std::string format_memory_size(uint64_t bytes) {
  if (bytes && bytes % (1ull << 30) == 0) return std::to_string(bytes >> 30) + " GiB";
  if (bytes && bytes % (1ull << 20) == 0) return std::to_string(bytes >> 20) + " MiB";
  return std::to_string(bytes) + " bytes";
}

std::optional<uint64_t> parse_unsigned(std::string_view text, int base) {
  uint64_t value = 0;
  const char *end = text.data() + text.size();
  auto [ptr, ec] = std::from_chars(text.data(), end, value, base);
  if (text.empty() || ec != std::errc() || ptr != end) return std::nullopt;
  return value;
}

} // namespace mrforge
