// Authenticode image digest ("Windows Authenticode Portable Executable Signature Format",
// "Calculating the PE Image Hash"), as edk2 implements it for measured boot:
// SecurityPkg/Tcg/Tcg2Dxe/MeasureBootPeCoff.c and SecurityPkg/Tcg/TdTcg2Dxe (TDX RTMR1),
// steps 3..16 of MeasurePeImageAndExtend:
//   - hash [0, CheckSum), skip the 4-byte CheckSum;
//   - with a certificate-table directory entry (NumberOfRvaAndSizes > 4): hash up to the entry,
//     skip its 8 bytes, hash on to SizeOfHeaders; without one: hash on to SizeOfHeaders;
//   - SUM_OF_BYTES_HASHED = SizeOfHeaders;
//   - hash each section with SizeOfRawData != 0 in ascending PointerToRawData order (edk2's
//     insertion sort is stable; so is ours), adding SizeOfRawData to SUM_OF_BYTES_HASHED;
//   - if FileSize > SUM_OF_BYTES_HASHED: hash [SUM_OF_BYTES_HASHED, FileSize - CertSize).
// Note the last step starts at SUM_OF_BYTES_HASHED, not at the end of the last section: an
// image with a gap after its headers (systemd UKIs) gets part of its section data hashed twice.
// edk2 does that, and so do the reference tools (flashbots/measured-boot's uki.efi vector).
//
// Padding: the Authenticode spec lets signing tools (sbsign, pesign) zero-pad the file to a
// multiple of 8 before appending the certificate table; that padding is then part of the file
// and hashed as file bytes. edk2's measurement adds no padding of its own (no such step in
// MeasurePeImageAndExtend or HashPeImage), so neither do we. Linux bzImages are 16-byte aligned
// (arch/x86/boot/tools/build.c) and signed ones 8-byte aligned, so the difference never shows for
// kernels; tools that always pad to 8 (dstack-mr) differ from firmware for odd-sized images.
#include <measure/engine/authenticode.hpp>
#include <measure/util/mapped_read.hpp>

#include <algorithm>
#include <stdexcept>
#include <vector>

namespace mrforge {

namespace {
constexpr uint64_t k_checksum_size = 4;
constexpr uint64_t k_data_directory_size = 8;
} // namespace

Bytes authenticode(ByteView image, const PeImage &pe, HashAlgorithm alg) { return authenticode({}, image, pe, alg); }

Bytes authenticode(ByteView head, ByteView image, const PeImage &pe, HashAlgorithm alg) {
  if (image.size() != pe.file_size || head.size() > image.size())
    throw std::invalid_argument("authenticode: the image is not the one its PeImage was parsed from");
  Hasher h(alg);
  // All ranges below were validated by parse_pe: checksum_offset + 4 <= cert entry <= entry + 8
  // <= SizeOfHeaders <= file size; section raw data and the certificate table inside the file.
  // The part of a range below head.size() comes from the head, the rest from the image.
  auto hash_range = [&](uint64_t begin, uint64_t end) {
    if (begin < head.size()) {
      const uint64_t split = std::min<uint64_t>(end, head.size());
      h.update(head.unchecked_sub(static_cast<size_t>(begin), static_cast<size_t>(split - begin)));
      begin = split;
    }
    if (begin < end)
      update_from_file(h, image.unchecked_sub(static_cast<size_t>(begin), static_cast<size_t>(end - begin)));
  };
  const uint64_t after_checksum = pe.checksum_offset + k_checksum_size;
  hash_range(0, pe.checksum_offset);
  if (pe.cert_dir_entry_offset) {
    hash_range(after_checksum, *pe.cert_dir_entry_offset);
    hash_range(*pe.cert_dir_entry_offset + k_data_directory_size, pe.size_of_headers);
  } else {
    hash_range(after_checksum, pe.size_of_headers);
  }

  std::vector<const PeSection *> order;
  order.reserve(pe.sections.size());
  for (const PeSection &s : pe.sections)
    if (s.raw_size != 0) order.push_back(&s);
  std::stable_sort(order.begin(), order.end(),
                   [](const PeSection *a, const PeSection *b) { return a->raw_offset < b->raw_offset; });
  uint64_t sum_of_bytes_hashed = pe.size_of_headers;
  for (const PeSection *s : order) {
    hash_range(s->raw_offset, uint64_t{s->raw_offset} + s->raw_size);
    sum_of_bytes_hashed += s->raw_size;
  }

  // parse_pe rejected file_size - sum < cert size whenever file_size > sum.
  if (pe.file_size > sum_of_bytes_hashed && pe.file_size - sum_of_bytes_hashed > pe.cert_table_size)
    hash_range(sum_of_bytes_hashed, pe.file_size - pe.cert_table_size);
  return h.finish();
}

std::optional<CertificateTable> certificate_table(const PeImage &pe) {
  if (pe.cert_table_size == 0) return std::nullopt;
  return CertificateTable{pe.cert_table_offset, pe.cert_table_size};
}

bool has_signature(const PeImage &pe) { return pe.cert_table_size != 0; }

} // namespace mrforge
