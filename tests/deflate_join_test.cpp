// Joining independently compressed raw deflate streams: libdeflate's output at several levels
// (stored, fixed and dynamic Huffman blocks), unfinished and concatenated, inflates with zlib to
// the concatenated inputs; malformed streams are errors naming the bit.
#include <builder/archive/deflate_join.hpp>

#include <measure/util/errors.hpp>

#include <catch2/catch.hpp>

#include <libdeflate.h>
#include <zlib.h>

#include <cstdint>
#include <string>
#include <vector>

using namespace mrforge;
using namespace mrforge::builder;

namespace {

std::vector<uint8_t> libdeflate_raw(const std::string &data, int level) {
  libdeflate_compressor *c = libdeflate_alloc_compressor(level);
  REQUIRE(c != nullptr);
  std::vector<uint8_t> out(libdeflate_deflate_compress_bound(c, data.size()));
  size_t n = libdeflate_deflate_compress(c, data.data(), data.size(), out.data(), out.size());
  libdeflate_free_compressor(c);
  REQUIRE(n > 0);
  out.resize(n);
  return out;
}

// Inflates a raw deflate stream with zlib; checks that it ends exactly at the end of the input.
std::string zlib_inflate_raw(const std::vector<uint8_t> &stream) {
  z_stream z{};
  REQUIRE(inflateInit2(&z, -15) == Z_OK);
  std::string out;
  std::vector<unsigned char> buffer(1 << 16);
  z.next_in = const_cast<Bytef *>(stream.data());
  z.avail_in = static_cast<uInt>(stream.size());
  int r = Z_OK;
  while (r != Z_STREAM_END) {
    z.next_out = buffer.data();
    z.avail_out = static_cast<uInt>(buffer.size());
    r = inflate(&z, Z_NO_FLUSH);
    REQUIRE((r == Z_OK || r == Z_STREAM_END));
    out.append(reinterpret_cast<const char *>(buffer.data()), buffer.size() - z.avail_out);
  }
  CHECK(z.avail_in == 0);
  inflateEnd(&z);
  return out;
}

std::string pseudo_random(size_t size, uint32_t seed) {
  std::string out;
  while (out.size() < size) {
    seed = seed * 1664525 + 1013904223;
    out += static_cast<char>(seed >> 24);
  }
  return out;
}

std::string text(size_t size) {
  std::string out;
  for (int i = 0; out.size() < size; ++i) out += "line " + std::to_string(i * 7919 % 1000) + " of some text\n";
  out.resize(size);
  return out;
}

} // namespace

TEST_CASE("unfinished libdeflate streams joined inflate to the joined inputs", "[deflate_join]") {
  // Empty and one-byte inputs give fixed-Huffman blocks, text dynamic ones, random bytes at level 0
  // stored blocks; 300 KB of text spans several blocks.
  const std::vector<std::string> pieces = {
      "", "a", text(1000), pseudo_random(70000, 1), text(300000) + pseudo_random(5000, 2), std::string(100000, '\0'),
      "z"};
  for (int level : {0, 1, 6, 9, 12}) {
    CAPTURE(level);
    std::vector<uint8_t> joined;
    std::string expected;
    for (size_t i = 0; i < pieces.size(); ++i) {
      CAPTURE(i);
      std::vector<uint8_t> stream = libdeflate_raw(pieces[i], level);
      const size_t size = stream.size();
      const DeflateStreamEnd end = find_deflate_stream_end(stream.data(), size);
      CHECK((end.end_bit + 7) / 8 == size);
      CHECK(end.final_block_bit < end.end_bit);
      CHECK(((stream[end.final_block_bit / 8] >> (end.final_block_bit % 8)) & 1) == 1); // BFINAL
      size_t n = size;
      if (i + 1 < pieces.size()) {
        n = unfinish_deflate_stream(stream, size);
        CHECK(n > size);
        CHECK(n <= size + 5);
        // Ends as zlib's sync flush does.
        CHECK(std::vector<uint8_t>(stream.begin() + static_cast<std::ptrdiff_t>(n) - 4,
                                   stream.begin() + static_cast<std::ptrdiff_t>(n)) ==
              std::vector<uint8_t>{0x00, 0x00, 0xff, 0xff});
      }
      joined.insert(joined.end(), stream.begin(), stream.begin() + static_cast<std::ptrdiff_t>(n));
      expected += pieces[i];
    }
    CHECK(zlib_inflate_raw(joined) == expected);
  }
}

TEST_CASE("malformed deflate streams are errors naming the bit", "[deflate_join]") {
  std::vector<uint8_t> good = libdeflate_raw(text(50000), 6);
  SECTION("truncated") {
    for (size_t keep : {size_t{0}, size_t{1}, good.size() / 2, good.size() - 1}) {
      CAPTURE(keep);
      CHECK_THROWS_AS(find_deflate_stream_end(good.data(), keep), Error);
    }
  }
  SECTION("bytes after the final block") {
    std::vector<uint8_t> longer = good;
    longer.push_back(0);
    CHECK_THROWS_WITH(find_deflate_stream_end(longer.data(), longer.size()),
                      Catch::Contains("bytes after the final block"));
  }
  SECTION("reserved block type") {
    const uint8_t reserved[] = {0x07, 0x00}; // BFINAL 1, BTYPE 11
    CHECK_THROWS_WITH(find_deflate_stream_end(reserved, sizeof reserved),
                      Catch::Contains("block type 3 (reserved) at bit 0"));
  }
  SECTION("stored block whose NLEN is wrong") {
    const uint8_t stored[] = {0x01, 0x01, 0x00, 0xff, 0xff, 'x'}; // LEN 1, NLEN 0xffff
    CHECK_THROWS_WITH(find_deflate_stream_end(stored, sizeof stored), Catch::Contains("length check fails"));
  }
  SECTION("a stream with no final block") {
    std::vector<uint8_t> unfinished = good;
    size_t n = unfinish_deflate_stream(unfinished, unfinished.size());
    CHECK_THROWS_WITH(find_deflate_stream_end(unfinished.data(), n), Catch::Contains("ends inside a block"));
  }
  SECTION("random bytes never crash the walk") {
    for (uint32_t seed = 1; seed <= 200; ++seed) {
      std::string noise = pseudo_random(1 + seed * 13 % 4000, seed);
      try {
        find_deflate_stream_end(reinterpret_cast<const uint8_t *>(noise.data()), noise.size());
      } catch (const Error &) {
      }
    }
  }
}
