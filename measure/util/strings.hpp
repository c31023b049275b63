// Small string helpers shared by messages and text outputs.
#pragma once

#include <string>
#include <string_view>

namespace mrforge {

// The items, each turned into text by `text(item)`, with `separator` between each two (nothing
// before the first or after the last; an empty item still gets its separators).
template <typename Range, typename Text> std::string join(const Range &items, std::string_view separator, Text text) {
  std::string out;
  bool first = true;
  for (const auto &item : items) {
    if (!first) out += separator;
    first = false;
    out += text(item);
  }
  return out;
}

// The same for items that are text already (std::string, std::string_view, const char *).
template <typename Range> std::string join(const Range &items, std::string_view separator) {
  return join(items, separator, [](const auto &item) -> std::string_view { return item; });
}

} // namespace mrforge
