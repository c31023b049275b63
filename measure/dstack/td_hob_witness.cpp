// TdHobWitnessV1 (td_hob_witness.hpp), read with bounds on every number and range.
#include <measure/dstack/td_hob_witness.hpp>

#include <measure/util/errors.hpp>

#include <algorithm>
#include <optional>

namespace mrforge {

namespace {

constexpr uint64_t k_page = 0x1000;
// x86-64 physical addresses have at most 52 bits (Intel SDM vol. 3A, 4.1.4): 2^40 pages.
constexpr uint64_t k_max_page = (uint64_t{1} << 52) / k_page;

class Leb128Reader {
public:
  Leb128Reader(ByteView in, const std::string &source) : m_in(in), m_source(source) {}

  uint64_t next(const char *what) {
    const size_t start = m_pos;
    uint64_t value = 0;
    for (unsigned shift = 0;; shift += 7) {
      if (m_pos == m_in.size()) throw FormatError(m_source, start, std::string(what) + ": cut off");
      const uint8_t b = m_in[m_pos++];
      if (shift == 63 && (b & 0x7e) != 0) throw FormatError(m_source, start, std::string(what) + ": beyond 64 bits");
      value |= uint64_t{b & 0x7fu} << shift;
      if ((b & 0x80) == 0) {
        // dstack writes the shortest form; another would read the same and write back otherwise.
        if (b == 0 && shift > 0) throw FormatError(m_source, start, std::string(what) + ": not the shortest encoding");
        return value;
      }
      if (shift == 63) throw FormatError(m_source, start, std::string(what) + ": beyond 64 bits");
    }
  }

  size_t pos() const { return m_pos; }
  size_t remaining() const { return m_in.size() - m_pos; }

private:
  ByteView m_in;
  const std::string &m_source;
  size_t m_pos = 0;
};

} // namespace

std::vector<TdvfSection> parse_td_hob_witness(ByteView witness, const std::string &source) {
  Leb128Reader r(witness, source);
  const uint64_t base = r.next("base page");
  const size_t delta_at = r.pos();
  const uint64_t td_hob_delta = r.next("TD HOB page");
  const size_t count_at = r.pos();
  const uint64_t count = r.next("range count");
  if (base > k_max_page) throw FormatError(source, 0, "base page " + std::to_string(base) + " is past 2^52");
  if (count == 0) throw FormatError(source, count_at, "no range");
  if (count > r.remaining() / 2)
    throw FormatError(source, count_at,
                      std::to_string(count) + " ranges in " + std::to_string(r.remaining()) + " bytes");
  std::vector<TdvfSection> out;
  uint64_t previous_end = 0;
  bool td_hob_found = false;
  for (uint64_t i = 0; i < count; ++i) {
    const size_t at = r.pos();
    const uint64_t start_delta = r.next("range start");
    const uint64_t pages = r.next("range page count");
    const std::string range = "range " + std::to_string(i);
    if (start_delta > k_max_page - base || pages > k_max_page - base - start_delta)
      throw FormatError(source, at, range + " reaches past 2^52");
    if (pages == 0) throw FormatError(source, at, range + " is empty");
    if (i == 0 && start_delta != 0) throw FormatError(source, at, range + " does not start at the base page");
    const uint64_t start = base + start_delta;
    if (i > 0 && start < previous_end)
      throw FormatError(source, at, range + " starts before the end of the previous one (unsorted or overlapping)");
    previous_end = start + pages;
    TdvfSection s;
    s.gpa = start * k_page;
    s.mem_size = pages * k_page;
    s.type = TdvfSectionType::temp_mem;
    if (start_delta == td_hob_delta) {
      s.type = TdvfSectionType::td_hob;
      td_hob_found = true;
    }
    out.push_back(s);
  }
  if (!td_hob_found) throw FormatError(source, delta_at, "no range starts at the TD HOB page");
  if (r.remaining() != 0)
    throw FormatError(source, r.pos(), std::to_string(r.remaining()) + " bytes after the last range");
  return out;
}

namespace {

void put_leb128(uint64_t v, Bytes &out) {
  do {
    uint8_t b = static_cast<uint8_t>(v & 0x7f);
    v >>= 7;
    if (v) b |= 0x80;
    out.push_back(b);
  } while (v);
}

} // namespace

Bytes td_hob_witness(const std::vector<TdvfSection> &sections, const std::string &source) {
  std::vector<std::pair<uint64_t, uint64_t>> ranges; // start page, pages
  std::optional<uint64_t> td_hob;
  for (const TdvfSection &s : sections) {
    if (s.type != TdvfSectionType::td_hob && s.type != TdvfSectionType::temp_mem) continue;
    if (s.gpa % k_page || s.mem_size % k_page || s.mem_size == 0)
      throw InputError(source, std::string(section_type_name(s.type)) + " section at " + std::to_string(s.gpa) +
                                   " is empty or not 4 KiB aligned");
    ranges.emplace_back(s.gpa / k_page, s.mem_size / k_page);
    if (s.type == TdvfSectionType::td_hob) {
      if (td_hob) throw InputError(source, "more than one TD_HOB section");
      td_hob = s.gpa / k_page;
    }
  }
  if (!td_hob) throw InputError(source, "no TD_HOB section: QEMU cannot build a TD HOB for this firmware");
  std::sort(ranges.begin(), ranges.end());
  for (size_t i = 1; i < ranges.size(); ++i)
    if (ranges[i].first < ranges[i - 1].first + ranges[i - 1].second)
      throw InputError(source, "TD_HOB and TempMem sections overlap");
  const uint64_t base = ranges.front().first;
  Bytes out;
  put_leb128(base, out);
  put_leb128(*td_hob - base, out);
  put_leb128(ranges.size(), out);
  for (const auto &[start, pages] : ranges) {
    put_leb128(start - base, out);
    put_leb128(pages, out);
  }
  return out;
}

} // namespace mrforge
