#include <builder/archive/deflate_join.hpp>

#include <measure/util/errors.hpp>

#include <algorithm>
#include <array>
#include <cstring>
#include <memory>
#include <string>

namespace mrforge::builder {

namespace {

constexpr int k_max_code_bits = 15;
constexpr int k_end_of_block = 256;
constexpr int k_max_length_symbol = 285;
constexpr int k_max_distance_symbol = 29;
constexpr int k_max_litlen_codes = 286;  // HLIT + 257 (RFC 1951 3.2.7)
constexpr int k_max_distance_codes = 30; // HDIST + 1
constexpr int k_fixed_litlen_codes = 288;
constexpr int k_fixed_distance_codes = 30;

// Extra bits after length symbols 257-285 and after distance symbols 0-29 (RFC 1951 3.2.5).
constexpr uint8_t k_length_extra_bits[29] = {0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2,
                                             2, 3, 3, 3, 3, 4, 4, 4, 4, 5, 5, 5, 5, 0};
constexpr uint8_t k_distance_extra_bits[30] = {0, 0, 0, 0, 1, 1, 2, 2,  3,  3,  4,  4,  5,  5,  6,
                                               6, 7, 7, 8, 8, 9, 9, 10, 10, 11, 11, 12, 12, 13, 13};
// The order in which a dynamic block header gives the code length code's lengths (RFC 1951 3.2.7).
constexpr uint8_t k_code_length_order[19] = {16, 17, 18, 0, 8, 7, 9, 6, 10, 5, 11, 4, 12, 3, 13, 2, 14, 1, 15};

[[noreturn]] void fail(uint64_t bit, const std::string &what) {
  throw Error("deflate stream: " + what + " at bit " + std::to_string(bit) + " (byte " + std::to_string(bit / 8) + ")");
}

// Reads a deflate stream's bits, least significant bit of each byte first, through a 64-bit buffer
// refilled a word at a time (as libdeflate's decompressor does): after refill() at least 56 bits
// are buffered, bits past the end of the stream reading as zero.
class BitReader {
public:
  BitReader(const uint8_t *data, size_t size) : m_begin(data), m_next(data), m_end(data + size) {}

  uint64_t size_bits() const { return uint64_t{static_cast<size_t>(m_end - m_begin)} * 8; }
  uint64_t position() const {
    return (uint64_t{static_cast<size_t>(m_next - m_begin)} + m_overrun) * 8 - static_cast<uint64_t>(m_count);
  }

  void refill() {
    if (m_end - m_next >= 8) {
      uint64_t word = 0;
      std::memcpy(&word, m_next, sizeof word);
#if __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
      word = __builtin_bswap64(word); // the stream is little-endian
#endif
      m_buffer |= word << m_count;
      m_next += (63 - m_count) >> 3;
      m_count |= 56;
      return;
    }
    while (m_count <= 56) {
      uint64_t byte = 0;
      if (m_next < m_end) {
        byte = *m_next++;
      } else if (++m_overrun > 8) {
        // More than a buffer's worth of zeros appended: the walk has used bits past the end.
        fail(size_bits(), "the stream ends inside a block");
      }
      m_buffer |= byte << m_count;
      m_count += 8;
    }
  }

  // The next n buffered bits (n <= the buffered count, at least 56 after refill()).
  uint32_t peek(int n) const { return static_cast<uint32_t>(m_buffer & ((uint64_t{1} << n) - 1)); }
  void consume(int n) {
    m_buffer >>= n;
    m_count -= n;
  }
  uint32_t read(int n) {
    refill();
    uint32_t value = peek(n);
    consume(n);
    return value;
  }

  // Continues at bit `bit` (a stored block's end); an error past the end of the stream.
  void seek(uint64_t bit) {
    if (bit > size_bits()) fail(position(), "the stream ends inside a stored block");
    m_next = m_begin + bit / 8;
    m_buffer = 0;
    m_count = 0;
    m_overrun = 0;
    refill();
    consume(static_cast<int>(bit % 8));
  }

  // Checked at the end of each block: the block did not use bits past the end.
  void check_inside(uint64_t header_bit) const {
    if (position() > size_bits()) fail(header_bit, "the stream ends inside the block");
  }

private:
  const uint8_t *m_begin;
  const uint8_t *m_next;
  const uint8_t *m_end;
  uint64_t m_buffer = 0;
  int m_count = 0;        // bits in m_buffer
  uint64_t m_overrun = 0; // zero bytes appended past the end
};

uint32_t reverse_bits(uint32_t code, int length) {
  uint32_t reversed = 0;
  for (int i = 0; i < length; ++i, code >>= 1) reversed = (reversed << 1) | (code & 1);
  return reversed;
}

// How a skip-table entry (HuffmanTable::skip_entry) continues the walk. An entry is
// bits << 3 | kind, where bits is what to consume: the code's length plus, for a length or
// distance symbol, its extra bits (they are skipped unread), or for a run of literals the sum of
// their codes' lengths.
enum SkipKind : uint16_t {
  k_skip_slow = 0,     // no code short enough for the table starts here: decode_slowly()
  k_skip_literals = 1, // one or more literals
  k_skip_length = 2,   // a length symbol: a distance code follows
  k_skip_end = 3,      // the end-of-block symbol
  k_skip_invalid = 4,  // a length or distance symbol the format does not define (286-287, 30-31)
  k_skip_distance = 5, // a distance symbol
};

// Which alphabet a code is for: the skip table is built for the literal/length and distance codes.
enum class Alphabet { code_lengths, litlen, distance };

// A canonical Huffman code. Codes of up to m_bits bits (11 for literal/length codes, 10 for
// distance codes, 7 for the code length code, whose codes are never longer; measured: larger
// tables cost more to build than they save) decode with one lookup in a table indexed by the next
// m_bits input bits; the rare longer codes decode bit by bit from the counts per length, as zlib's
// puff.c does. The code length code's table holds
// symbol << 4 | code length (0 where a longer code or no code starts). The literal/length and
// distance tables hold skip entries instead (see SkipKind): the walk needs only how many bits each
// symbol takes, so extra bits are folded into the code, and consecutive literals are packed into
// one lookup. The tables are rebuilt for every block (libdeflate writes dozens per 2 MiB), so they
// are kept small and filled in one pass.
class HuffmanTable {
public:
  static constexpr int k_max_fast_bits = 11;

  // lengths[i] is the code length of symbol i (0: the symbol has no code). `header_bit` names
  // the block in errors.
  void build(const uint8_t *lengths, int count, uint64_t header_bit, Alphabet alphabet) {
    m_bits = alphabet == Alphabet::litlen ? 11 : alphabet == Alphabet::distance ? 10 : 7;
    m_length_count.fill(0);
    for (int symbol = 0; symbol < count; ++symbol) ++m_length_count[lengths[symbol]];
    m_length_count[0] = 0;
    int left = 1; // Kraft: codes left at each length; negative means oversubscribed
    for (int length = 1; length <= k_max_code_bits; ++length) {
      left = 2 * left - m_length_count[static_cast<size_t>(length)];
      if (left < 0) fail(header_bit, "a Huffman code with more codes than its lengths allow");
    }
    // Symbols sorted by code length, then by value: the order of their canonical codes.
    std::array<uint16_t, k_max_code_bits + 2> offset{};
    for (int length = 1; length <= k_max_code_bits; ++length)
      offset[static_cast<size_t>(length) + 1] =
          static_cast<uint16_t>(offset[static_cast<size_t>(length)] + m_length_count[static_cast<size_t>(length)]);
    for (int symbol = 0; symbol < count; ++symbol)
      if (lengths[symbol] != 0) m_sorted_symbols[offset[lengths[symbol]]++] = static_cast<uint16_t>(symbol);

    const uint32_t size = uint32_t{1} << m_bits;
    std::fill(m_table.begin(), m_table.begin() + size, uint16_t{0}); // 0: decode slowly
    uint32_t code = 0;
    size_t index = 0;
    for (int length = 1; length <= m_bits; ++length) {
      for (uint16_t n = 0; n < m_length_count[static_cast<size_t>(length)]; ++n, ++code, ++index) {
        const uint16_t entry = table_entry(alphabet, m_sorted_symbols[index], static_cast<unsigned>(length));
        for (uint32_t i = reverse_bits(code, length); i < size; i += uint32_t{1} << length) m_table[i] = entry;
      }
      code <<= 1;
    }
    if (alphabet == Alphabet::litlen) pack_literals();
  }

  // The code length code only. Needs at least 15 buffered bits.
  int decode(BitReader &in) const {
    const uint16_t entry = m_table[in.peek(m_bits)];
    if (entry != 0) {
      in.consume(entry & 15U);
      return entry >> 4;
    }
    return decode_slowly(in);
  }

  // The skip entry for the next buffered bits (literal/length and distance codes only).
  uint16_t skip_entry(const BitReader &in) const { return m_table[in.peek(m_bits)]; }

  int decode_slowly(BitReader &in) const {
    int code = 0;  // the bits read so far, first bit most significant
    int first = 0; // the first code of the current length
    int index = 0; // the index in m_sorted_symbols of that first code
    for (int length = 1; length <= k_max_code_bits; ++length) {
      code |= static_cast<int>(in.peek(1));
      in.consume(1);
      const int count = m_length_count[static_cast<size_t>(length)];
      if (code - first < count) return m_sorted_symbols[static_cast<size_t>(index + code - first)];
      index += count;
      first = (first + count) << 1;
      code <<= 1;
    }
    fail(in.position(), "bits that match no Huffman code");
  }

private:
  static uint16_t skip(unsigned bits, SkipKind kind) { return static_cast<uint16_t>(bits << 3 | kind); }

  static uint16_t table_entry(Alphabet alphabet, int symbol, unsigned length) {
    switch (alphabet) {
    case Alphabet::code_lengths: return static_cast<uint16_t>(symbol << 4 | static_cast<int>(length));
    case Alphabet::distance:
      return symbol <= k_max_distance_symbol ? skip(length + k_distance_extra_bits[symbol], k_skip_distance)
                                             : skip(length, k_skip_invalid);
    case Alphabet::litlen: break;
    }
    if (symbol < k_end_of_block) return skip(length, k_skip_literals);
    if (symbol == k_end_of_block) return skip(length, k_skip_end);
    if (symbol <= k_max_length_symbol) return skip(length + k_length_extra_bits[symbol - 257], k_skip_length);
    return skip(length, k_skip_invalid);
  }

  // Packs the literals that follow a literal within the same m_bits bits. The entry at i >> bits
  // describes the code starting after the first `bits` bits of i, provided that code fits in the
  // bits of i left (the high bits of i >> bits are zeros, not input). Going down from the highest
  // index, every entry read (at an index below i, or i itself before it is written) still holds
  // its single-code value.
  void pack_literals() {
    for (uint32_t i = uint32_t{1} << m_bits; i-- > 0;) {
      const uint16_t first = m_table[i];
      if ((first & 7U) != k_skip_literals) continue;
      unsigned bits = first >> 3U;
      while (true) {
        const uint16_t next = m_table[i >> bits];
        const unsigned next_bits = next >> 3U;
        if ((next & 7U) != k_skip_literals || bits + next_bits > static_cast<unsigned>(m_bits)) break;
        bits += next_bits;
      }
      m_table[i] = skip(bits, k_skip_literals);
    }
  }

  int m_bits = k_max_fast_bits;
  std::array<uint16_t, size_t{1} << k_max_fast_bits> m_table{};
  std::array<uint16_t, k_max_code_bits + 1> m_length_count{};
  std::array<uint16_t, 288> m_sorted_symbols{};
};

struct Tables {
  HuffmanTable litlen, distance, code_lengths;
};

// Reads a dynamic block's code definitions (after BFINAL and BTYPE) into tables.litlen/.distance.
void read_dynamic_codes(BitReader &in, Tables &tables, uint64_t header_bit) {
  const int litlen_count = static_cast<int>(in.read(5)) + 257;
  const int distance_count = static_cast<int>(in.read(5)) + 1;
  const int code_length_count = static_cast<int>(in.read(4)) + 4;
  if (litlen_count > k_max_litlen_codes || distance_count > k_max_distance_codes)
    fail(header_bit, "a dynamic block with too many codes");
  uint8_t code_length_lengths[19] = {};
  for (int i = 0; i < code_length_count; ++i)
    code_length_lengths[k_code_length_order[i]] = static_cast<uint8_t>(in.read(3));
  tables.code_lengths.build(code_length_lengths, 19, header_bit, Alphabet::code_lengths);

  uint8_t lengths[k_max_litlen_codes + k_max_distance_codes] = {};
  const int total = litlen_count + distance_count;
  for (int n = 0; n < total;) {
    in.refill();
    const int symbol = tables.code_lengths.decode(in);
    if (symbol < 16) {
      lengths[n++] = static_cast<uint8_t>(symbol);
      continue;
    }
    uint8_t value = 0;
    int repeat = 0;
    if (symbol == 16) {
      if (n == 0) fail(in.position(), "a repeated code length with no previous length");
      value = lengths[n - 1];
      repeat = 3 + static_cast<int>(in.read(2));
    } else if (symbol == 17) {
      repeat = 3 + static_cast<int>(in.read(3));
    } else {
      repeat = 11 + static_cast<int>(in.read(7));
    }
    if (n + repeat > total) fail(in.position(), "code lengths that overrun the code count");
    while (repeat-- > 0) lengths[n++] = value;
  }
  if (lengths[k_end_of_block] == 0) fail(header_bit, "a dynamic block without an end-of-block code");
  tables.litlen.build(lengths, litlen_count, header_bit, Alphabet::litlen);
  tables.distance.build(lengths + litlen_count, distance_count, header_bit, Alphabet::distance);
}

void build_fixed_codes(Tables &tables, uint64_t header_bit) {
  uint8_t lengths[k_fixed_litlen_codes];
  for (int i = 0; i < k_fixed_litlen_codes; ++i) lengths[i] = i < 144 ? 8 : i < 256 ? 9 : i < 280 ? 7 : 8;
  tables.litlen.build(lengths, k_fixed_litlen_codes, header_bit, Alphabet::litlen);
  uint8_t distance_lengths[k_fixed_distance_codes];
  std::memset(distance_lengths, 5, sizeof distance_lengths);
  tables.distance.build(distance_lengths, k_fixed_distance_codes, header_bit, Alphabet::distance);
}

// Skips a Huffman-coded block's symbols up to and including its end-of-block code, through the
// skip tables: one lookup per run of literals, one per length (with its extra bits) and one per
// distance (with its extra bits). Codes longer than the table take the slow path, symbol by
// symbol, as a plain decoder would.
void skip_symbols(BitReader &stream, const Tables &tables) {
  // A local copy, written back at the end: through the reference the compiler kept the reader's
  // state in memory, a store and a load on every step's critical path.
  BitReader in = stream;
  // One refill per step: a length/distance pair takes at most 15 + 5 + 15 + 13 = 48 bits, a run
  // of literals at most 11.
  while (true) {
    in.refill();
    const uint16_t entry = tables.litlen.skip_entry(in);
    switch (entry & 7U) {
    case k_skip_literals: in.consume(entry >> 3); continue;
    case k_skip_length: in.consume(entry >> 3); break;
    case k_skip_end:
      in.consume(entry >> 3);
      stream = in;
      return;
    case k_skip_invalid: in.consume(entry >> 3); fail(in.position(), "an invalid length symbol");
    default: { // k_skip_slow
      const int symbol = tables.litlen.decode_slowly(in);
      if (symbol < k_end_of_block) continue;
      if (symbol == k_end_of_block) {
        stream = in;
        return;
      }
      if (symbol > k_max_length_symbol) fail(in.position(), "an invalid length symbol");
      in.consume(k_length_extra_bits[symbol - 257]);
    }
    }
    const uint16_t distance = tables.distance.skip_entry(in);
    switch (distance & 7U) {
    case k_skip_distance: in.consume(distance >> 3); break;
    case k_skip_invalid: in.consume(distance >> 3); fail(in.position(), "an invalid distance symbol");
    default: { // k_skip_slow
      const int symbol = tables.distance.decode_slowly(in);
      if (symbol > k_max_distance_symbol) fail(in.position(), "an invalid distance symbol");
      in.consume(k_distance_extra_bits[symbol]);
    }
    }
  }
}

} // namespace

DeflateStreamEnd find_deflate_stream_end(const uint8_t *stream, size_t size) {
  BitReader in(stream, size);
  auto tables = std::make_unique<Tables>();
  DeflateStreamEnd end;
  bool final = false;
  while (!final) {
    const uint64_t header_bit = in.position();
    final = in.read(1) == 1;
    const uint32_t type = in.read(2);
    if (final) end.final_block_bit = header_bit;
    if (type == 0) {                                          // stored
      in.read(static_cast<int>((8 - in.position() % 8) % 8)); // to the byte boundary
      const uint32_t length = in.read(16);
      if ((length ^ 0xffffU) != in.read(16)) fail(header_bit, "a stored block whose length check fails");
      in.seek(in.position() + uint64_t{length} * 8);
    } else if (type == 1) {
      build_fixed_codes(*tables, header_bit);
      skip_symbols(in, *tables);
    } else if (type == 2) {
      read_dynamic_codes(in, *tables, header_bit);
      skip_symbols(in, *tables);
    } else {
      fail(header_bit, "block type 3 (reserved)");
    }
    in.check_inside(header_bit);
  }
  end.end_bit = in.position();
  if ((end.end_bit + 7) / 8 != size) fail(end.end_bit, "bytes after the final block");
  return end;
}

size_t unfinish_deflate_stream(std::vector<uint8_t> &stream, size_t size) {
  if (size > stream.size()) throw Error("deflate stream: length beyond its buffer");
  const DeflateStreamEnd end = find_deflate_stream_end(stream.data(), size);
  stream[static_cast<size_t>(end.final_block_bit / 8)] &= static_cast<uint8_t>(~(1U << (end.final_block_bit % 8)));
  // The empty stored block: three zero header bits at end_bit, zero bits up to the byte boundary,
  // then LEN 0x0000 and NLEN 0xffff.
  const auto header_end = static_cast<size_t>((end.end_bit + 3 + 7) / 8);
  const size_t new_size = header_end + 4;
  if (stream.size() < new_size) stream.resize(new_size);
  const auto last_byte = static_cast<size_t>(end.end_bit / 8);
  if (end.end_bit % 8 != 0) stream[last_byte] &= static_cast<uint8_t>((1U << (end.end_bit % 8)) - 1);
  for (size_t i = static_cast<size_t>((end.end_bit + 7) / 8); i < header_end; ++i) stream[i] = 0;
  stream[header_end] = 0x00;
  stream[header_end + 1] = 0x00;
  stream[header_end + 2] = 0xff;
  stream[header_end + 3] = 0xff;
  return new_size;
}

} // namespace mrforge::builder
