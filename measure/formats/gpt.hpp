// The GUID Partition Table of a disk image, as OVMF measures it before it boots from the disk
// (EV_EFI_GPT_EVENT, PCR5; TDX RTMR1). edk2's DxeTpm2MeasureBootLib (Tcg2MeasureGptTable) reads
// the primary GPT header at LBA 1, checks it (PartitionValidGptTable: signature, header CRC32,
// entry-array CRC32), and hashes UEFI_GPT_DATA: the header (HeaderSize bytes), a UINT64 count of
// the entries whose PartitionTypeGUID is not zero, then those entries (SizeOfPartitionEntry bytes
// each) in table order.
#pragma once

#include <measure/util/bytes.hpp>

#include <cstdint>
#include <string>

namespace mrforge {

constexpr uint64_t k_gpt_sector_size = 512; // what QEMU's virtio-blk reports by default

struct GptTable {
  uint64_t partitions = 0; // non-empty entries
  Bytes event_data;        // UEFI_GPT_DATA, the bytes OVMF hashes and logs
  // The number (1-based table index, as GRUB's "gptN" and Linux's partition numbers count) of the
  // first EFI system partition (type C12A7328-F81F-11D2-BA4B-00A0C93EC93B); 0 when there is none.
  uint32_t esp_number = 0;
};

// Reads the primary GPT of a disk image with 512-byte sectors. Throws FormatError{source, offset}
// for a missing or damaged GPT (bad signature, header size, CRC32, or an entry array outside the
// image or over 1 MiB).
GptTable read_gpt(ByteView disk, const std::string &source);

} // namespace mrforge
