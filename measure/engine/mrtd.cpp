// MRTD from TDVF sections.
//
// The TDX module keeps one running SHA-384 over 128-byte blocks while the host builds the TD and
// finalizes it into MRTD (Intel TDX Module Base Architecture spec, TDH.MEM.PAGE.ADD and
// TDH.MR.EXTEND "Measurement"; the same stream is reproduced by dstack-mr src/tdvf.rs):
//   - TDH.MEM.PAGE.ADD, for every 4 KiB page of every section without PAGE.AUG:
//     bytes 0..11 "MEM.PAGE.ADD", bytes 16..23 the page's GPA (u64le), the rest zero;
//   - TDH.MR.EXTEND, for every page of a section with MR.EXTEND, 16 times per page for its 256-byte
//     chunks: bytes 0..8 "MR.EXTEND", bytes 16..23 the chunk's GPA, the rest zero, then the 256
//     content bytes of the chunk (two more blocks).
// firmware.cpp accepts MR.EXTEND only where raw data fills the section, so the content is always
// the file bytes at data_offset + offset within the section.
#include <measure/engine/mrtd.hpp>

#include <measure/util/errors.hpp>
#include <measure/util/reader.hpp>

#include <array>
#include <cstring>

namespace mrforge {

namespace {

constexpr size_t k_block_size = 128;        // TDX module: SHA-384 block of the MRTD stream
constexpr size_t k_extend_chunk_size = 256; // TDH.MR.EXTEND measures 256 bytes per call
constexpr size_t k_chunks_per_page = k_tdx_page_size / k_extend_chunk_size;

using Block = std::array<uint8_t, k_block_size>;

Block header_block(const char *tag, uint64_t gpa) {
  Block b{};
  std::memcpy(b.data(), tag, std::strlen(tag));
  for (size_t i = 0; i < 8; ++i) b[16 + i] = static_cast<uint8_t>(gpa >> (8 * i));
  return b;
}

// `image` must come from parsing `fw`; offsets are still checked when read.
void check_same_size(ByteView fw, const FirmwareImage &image) {
  if (fw.size() != image.size)
    throw Error("internal: a " + hex_u64(fw.size()) + "-byte firmware given with the metadata of a " +
                hex_u64(image.size) + "-byte one");
}

class MrtdStream {
public:
  MrtdStream(ByteView fw, const FirmwareImage &image) : m_file(fw, "firmware") { check_same_size(fw, image); }

  void page_add(const TdvfSection &s, uint64_t page) {
    if (s.page_aug()) return;
    Block b = header_block("MEM.PAGE.ADD", s.gpa + page * k_tdx_page_size);
    m_hasher.update(b.data(), b.size());
  }

  void extend(const TdvfSection &s, uint64_t page) {
    if (!s.mr_extend()) return;
    const uint64_t offset = page * k_tdx_page_size;
    ByteView content = m_file.view(size_t{s.data_offset} + offset, k_tdx_page_size, "TDVF section page");
    for (size_t i = 0; i < k_chunks_per_page; ++i) {
      Block b = header_block("MR.EXTEND", s.gpa + offset + i * k_extend_chunk_size);
      m_hasher.update(b.data(), b.size());
      m_hasher.update(content.unchecked_sub(i * k_extend_chunk_size, k_extend_chunk_size));
    }
  }

  Sha384 finish() { return to_sha384(m_hasher.finish()); }

private:
  Reader m_file;
  Hasher m_hasher{HashAlgorithm::sha384};
};

} // namespace

const char *page_order_name(PageOrder order) {
  switch (order) {
  case PageOrder::single_pass: return "single-pass";
  case PageOrder::two_pass: return "two-pass";
  }
  return "unknown";
}

Sha384 compute_mrtd(ByteView fw, const FirmwareImage &image, PageOrder order) {
  MrtdStream stream(fw, image);
  for (const TdvfSection &s : image.sections) {
    const uint64_t pages = s.mem_size / k_tdx_page_size;
    if (order == PageOrder::single_pass) {
      for (uint64_t p = 0; p < pages; ++p) {
        stream.page_add(s, p);
        stream.extend(s, p);
      }
    } else {
      for (uint64_t p = 0; p < pages; ++p) stream.page_add(s, p);
      for (uint64_t p = 0; p < pages; ++p) stream.extend(s, p);
    }
  }
  return stream.finish();
}

Sha384 cfv_digest(ByteView fw, const FirmwareImage &image) {
  check_same_size(fw, image);
  for (const TdvfSection &s : image.sections) {
    if (s.type != TdvfSectionType::cfv) continue;
    Reader file(fw, "firmware");
    return sha384(file.view(s.data_offset, s.raw_size, "CFV section"));
  }
  throw InputError("firmware", "its TDVF metadata has no CFV section, so there is no CFV digest for RTMR0 (a "
                               "profile whose events include cfv needs an OVMF with one)");
}

} // namespace mrforge
