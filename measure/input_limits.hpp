// Every limit mrforge puts on what it reads from outside, in one place: the nesting and size of
// parsed JSON and YAML. Exceeding one is bad input (exit 2) with a message naming the input and the
// limit; nothing is read beyond it.
#pragma once

#include <cstdint>

namespace mrforge {

namespace limits {

// ---- parsed documents ---------------------------------------------------------------------------

// Arrays and objects nested deeper than this are refused by parse_json_text (at the offset of the
// opening bracket): every walk over a parsed JSON value recurses at most this deep. Real documents
// nest at most 7 levels (in-toto statements, the event logs of ../shared/vectors).
constexpr int k_max_json_depth = 128;
// The same for YAML (recipes and profiles nest at most 5 levels), and the number of nodes (scalars,
// sequences, mappings) one YAML document may have: yaml-cpp spends a few hundred bytes per node.
// Anchors and aliases are refused outright (an alias bomb expands a small file into gigabytes).
constexpr int k_max_yaml_depth = 64;
constexpr uint64_t k_max_yaml_nodes = 100000;

} // namespace limits

} // namespace mrforge
