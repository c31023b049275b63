#include "output.hpp"

#include <measure/reader.hpp>
#include <measure/tcg_log.hpp>

#include <algorithm>
#include <iostream>

namespace mrforge::cli {

void print_json(const Json &j) { std::cout << j.dump(2) << "\n"; }

std::string payload_text(ByteView payload) {
  for (uint8_t c : payload)
    if (c < 0x20 || c > 0x7E) return to_hex(payload);
  return "\"" + std::string(payload.begin(), payload.end()) + "\"";
}

void print_table(const std::vector<std::vector<std::string>> &rows) {
  std::vector<size_t> width;
  for (const auto &r : rows)
    for (size_t i = 0; i < r.size(); ++i) {
      if (width.size() <= i) width.push_back(0);
      width[i] = std::max(width[i], r[i].size());
    }
  for (const auto &r : rows) {
    std::string line;
    for (size_t i = 0; i < r.size(); ++i) {
      line += r[i];
      if (i + 1 < r.size()) line += std::string(width[i] - r[i].size() + 2, ' ');
    }
    std::cout << line << "\n";
  }
}

} // namespace mrforge::cli
