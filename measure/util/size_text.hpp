// Sizes as people write them in options, recipes and shape files: bytes ("2147483648"), hex bytes
// ("0x80000000"), or a whole number with a binary unit K, M, G, T, P or E, in either case and
// optionally followed by "B" or "iB" ("2G", "2560M", "2GiB", "64g"); "B" alone means bytes.
// Only the syntax and the 64-bit range are checked here: each caller applies its own rules (the
// engine's 4 KiB pages and 64 TiB limit, QEMU's 8 KiB -m granularity).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace mrforge {

// The forms accepted, for messages: "give bytes (2147483648), 0x hex bytes (0x80000000), or ...".
extern const char *const k_size_forms;

struct SizeText {
  uint64_t value = 0;
  std::string error; // empty when the text is a size; else why not, quoting the text
  bool ok() const { return error.empty(); }
};

// Never throws: the caller attaches an option name or a file position to the error.
SizeText parse_size_text(const std::string &text);

// The whole of `text` as an unsigned number in `base` (std::from_chars: digits of that base only,
// no sign, space or prefix), or nullopt when it is empty, holds anything else, or exceeds 64 bits.
std::optional<uint64_t> parse_unsigned(std::string_view text, int base = 10);

// Checked arithmetic on sizes and addresses derived from input: the exact result, or nullopt when
// it does not fit in 64 bits. Callers say what overflowed (and range checks compare, never add:
// `size > limit - start`, not `start + size > limit`).
std::optional<uint64_t> add_sizes(uint64_t a, uint64_t b);
std::optional<uint64_t> multiply_sizes(uint64_t a, uint64_t b);
// `v` rounded up to a multiple of `align` (> 0).
std::optional<uint64_t> round_up_size(uint64_t v, uint64_t align);

// A memory size as people read it: "2 GiB", "2560 MiB", "4096 bytes".
std::string format_memory_size(uint64_t bytes);

} // namespace mrforge
