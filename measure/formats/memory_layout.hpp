// How the host splits guest RAM around the 32-bit PCI hole. A platform fact (QEMU q35:
// pc_q35_init() puts RAM below 4 GiB up to 0x80000000 when the guest has 0xB0000000 or more,
// else all of it), so its numbers come from the platform profile, not from code.
#pragma once

#include <cstdint>

namespace mrforge {

struct MemoryLayout {
  uint64_t split_threshold = 0; // RAM >= this: low RAM ends at low_top_when_split
  uint64_t low_top_when_split = 0;
  uint64_t high_base = 0; // where the rest of RAM starts (4 GiB)

  // Bytes of RAM below 4 GiB for a guest of `ram` bytes.
  uint64_t low_memory(uint64_t ram) const { return ram >= split_threshold ? low_top_when_split : ram; }
  // Bytes of RAM mapped at high_base.
  uint64_t high_memory(uint64_t ram) const { return ram - low_memory(ram); }
};

// QEMU q35 values (hw/i386/pc_q35.c, all versions we know of); profiles normally say so explicitly.
constexpr MemoryLayout k_q35_memory_layout{0xB0000000ull, 0x80000000ull, 0x100000000ull};

} // namespace mrforge
