#include <measure/formats/gpt.hpp>
#include <measure/util/reader.hpp>

#include <zlib.h>

#include <cstring>

namespace mrforge {

namespace {

constexpr uint64_t k_gpt_signature = 0x5452415020494645ull; // "EFI PART"
constexpr uint32_t k_min_header_size = 92;                  // UEFI 2.10 5.3.2, table 5.5
constexpr uint64_t k_max_entry_array = 1ull << 20;
// C12A7328-F81F-11D2-BA4B-00A0C93EC93B, the EFI system partition type, as stored (mixed-endian).
constexpr uint8_t k_esp_type[16] = {0x28, 0x73, 0x2a, 0xc1, 0x1f, 0xf8, 0xd2, 0x11,
                                    0xba, 0x4b, 0x00, 0xa0, 0xc9, 0x3e, 0xc9, 0x3b};

uint32_t crc32_of(ByteView b) {
  uLong c = crc32(0L, Z_NULL, 0);
  // zlib takes uInt lengths: the header and the entry array are both at most 1 MiB here.
  return static_cast<uint32_t>(crc32(c, b.data(), static_cast<uInt>(b.size())));
}

} // namespace

GptTable read_gpt(ByteView disk, const std::string &source) {
  Reader r(disk, source);
  if (disk.size() < 2 * k_gpt_sector_size) r.fail("too small for a GPT (no LBA 1)");
  Reader h = r.sub(k_gpt_sector_size, k_gpt_sector_size, "GPT header (LBA 1)");
  if (h.peek_le<uint64_t>(0) != k_gpt_signature) h.fail_at(0, "no GPT: LBA 1 does not start with \"EFI PART\"");
  const uint32_t header_size = h.peek_le<uint32_t>(12);
  if (header_size < k_min_header_size || header_size > k_gpt_sector_size)
    h.fail_at(12, "GPT HeaderSize " + std::to_string(header_size) + " is not 92 to 512");
  const Bytes header = h.view(0, header_size, "GPT header").to_bytes(); // measured as stored
  Bytes zeroed = header; // the CRC32 covers the header with its own field zero
  std::memset(&zeroed[16], 0, 4);
  if (crc32_of(zeroed) != h.peek_le<uint32_t>(16))
    h.fail_at(16, "GPT header CRC32 does not match: the table is damaged");
  const uint64_t entries_lba = h.peek_le<uint64_t>(72);
  const uint32_t count = h.peek_le<uint32_t>(80);
  const uint32_t entry_size = h.peek_le<uint32_t>(84);
  const uint32_t entries_crc = h.peek_le<uint32_t>(88);
  if (entry_size < 128 || entry_size % 8 != 0)
    h.fail_at(84, "GPT SizeOfPartitionEntry must be 128 or more, a multiple of 8");
  const uint64_t array_size = checked_mul(h, 80, count, entry_size, "GPT entry array");
  if (array_size > k_max_entry_array) h.fail_at(80, "GPT entry array over 1 MiB");
  const uint64_t array_offset = checked_mul(h, 72, entries_lba, k_gpt_sector_size, "GPT entry array offset");
  if (array_offset > disk.size() || array_size > disk.size() - array_offset)
    h.fail_at(72, "the GPT entry array lies outside the image");
  ByteView array = r.view(static_cast<size_t>(array_offset), static_cast<size_t>(array_size), "GPT entry array");
  if (crc32_of(array) != entries_crc) h.fail_at(88, "GPT entry array CRC32 does not match: the table is damaged");

  GptTable t;
  Bytes entries;
  for (uint32_t i = 0; i < count; ++i) {
    ByteView e(array.data() + uint64_t(i) * entry_size, entry_size);
    bool empty = true;
    for (size_t k = 0; k < 16; ++k) empty = empty && e[k] == 0;
    if (empty) continue;
    ++t.partitions;
    if (t.esp_number == 0 && std::memcmp(e.data(), k_esp_type, 16) == 0) t.esp_number = i + 1;
    entries.insert(entries.end(), e.begin(), e.end());
  }
  t.event_data = header;
  for (size_t i = 0; i < 8; ++i) t.event_data.push_back(static_cast<uint8_t>(t.partitions >> (8 * i)));
  t.event_data.insert(t.event_data.end(), entries.begin(), entries.end());
  return t;
}

} // namespace mrforge
