// Deterministic compression: parallel gzip and multi-threaded zstd give the same bytes for any
// thread count and any way the input is cut into writes, and real decompressors read them back.
#include "test_support.hpp"

#include <builder/archive/compress.hpp>
#include <builder/archive/parallel_gzip.hpp>

#include <measure/util/errors.hpp>

#include <catch2/catch.hpp>

#include <libdeflate.h>
#include <zlib.h>
#include <zstd.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <string>
#include <unistd.h>
#include <vector>

using namespace mrforge;
using namespace mrforge::builder;
using mrforge::test::TempDir;

namespace {

void write_file(const std::string &path, const std::string &data) {
  std::ofstream f(path, std::ios::binary);
  f.write(data.data(), static_cast<std::streamsize>(data.size()));
  REQUIRE(f.good());
}

std::string read_file(const std::string &path) {
  std::ifstream f(path, std::ios::binary);
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

bool have_tool(const std::string &name) {
  return std::system(("command -v " + name + " >/dev/null 2>&1").c_str()) == 0;
}

// Mixed, reproducible data: text lines, pseudo-random bytes, runs of zeros, repeated blocks.
std::string mixed_data(size_t size) {
  std::string out;
  out.reserve(size);
  uint64_t x = 0x9e3779b97f4a7c15ULL;
  auto next = [&x] {
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    return x;
  };
  while (out.size() < size) {
    switch (next() % 4) {
    case 0:
      for (int i = 0; i < 50; ++i)
        out += "line " + std::to_string(next() % 1000) + ": the quick brown fox jumps over the lazy dog\n";
      break;
    case 1:
      for (int i = 0; i < 4096; ++i) out += static_cast<char>(next() & 0xff);
      break;
    case 2: out.append(static_cast<size_t>(next() % 20000), '\0'); break;
    default:
      if (out.size() > 5000) out += out.substr(out.size() - 5000, 3000);
      break;
    }
  }
  out.resize(size);
  return out;
}

// Compresses `data`, handing it over in pieces of `chunk` bytes (0: in one write).
std::string compress(const Compression &c, const std::string &data, size_t chunk = 0) {
  MemorySink out;
  std::unique_ptr<ByteSink> sink = make_compressor(c, out);
  const auto *p = reinterpret_cast<const uint8_t *>(data.data());
  if (chunk == 0) {
    sink->write(p, data.size());
  } else {
    for (size_t pos = 0; pos < data.size(); pos += chunk) sink->write(p + pos, std::min(chunk, data.size() - pos));
  }
  sink->finish();
  return out.data();
}

std::string zlib_gunzip(const std::string &gz) {
  z_stream z{};
  REQUIRE(inflateInit2(&z, 16 + 15) == Z_OK);
  std::string out;
  std::vector<unsigned char> buffer(1 << 16);
  z.next_in = reinterpret_cast<Bytef *>(const_cast<char *>(gz.data()));
  z.avail_in = static_cast<uInt>(gz.size());
  int r = Z_OK;
  while (r != Z_STREAM_END) {
    z.next_out = buffer.data();
    z.avail_out = static_cast<uInt>(buffer.size());
    r = inflate(&z, Z_NO_FLUSH);
    REQUIRE((r == Z_OK || r == Z_STREAM_END));
    out.append(reinterpret_cast<const char *>(buffer.data()), buffer.size() - z.avail_out);
  }
  CHECK(z.avail_in == 0); // one member, nothing after the trailer
  inflateEnd(&z);
  return out;
}

std::string libzstd_decompress(const std::string &zst) {
  ZSTD_DCtx *d = ZSTD_createDCtx();
  REQUIRE(d != nullptr);
  std::string out;
  std::vector<char> buffer(ZSTD_DStreamOutSize());
  ZSTD_inBuffer in{zst.data(), zst.size(), 0};
  size_t r = 1;
  while (in.pos < in.size) {
    ZSTD_outBuffer o{buffer.data(), buffer.size(), 0};
    r = ZSTD_decompressStream(d, &o, &in);
    REQUIRE(!ZSTD_isError(r));
    out.append(buffer.data(), o.pos);
  }
  while (r != 0) { // flush what is left
    ZSTD_outBuffer o{buffer.data(), buffer.size(), 0};
    r = ZSTD_decompressStream(d, &o, &in);
    REQUIRE(!ZSTD_isError(r));
    if (o.pos == 0) break;
    out.append(buffer.data(), o.pos);
  }
  CHECK(r == 0);
  ZSTD_freeDCtx(d);
  return out;
}

// Runs `tool -dc` on the compressed bytes and returns what it printed.
std::string run_decompressor(const std::string &tool, const std::string &compressed) {
  TempDir dir;
  write_file(dir.path() + "/in", compressed);
  int rc = std::system((tool + " -dc '" + dir.path() + "/in' > '" + dir.path() + "/out'").c_str());
  REQUIRE(rc == 0);
  return read_file(dir.path() + "/out");
}

const std::vector<size_t> k_sizes = {0,
                                     1,
                                     k_gzip_block_size - 1,
                                     k_gzip_block_size,
                                     k_gzip_block_size + 1,
                                     2 * k_gzip_block_size,
                                     (size_t{5} << 20) + 12345};

} // namespace

TEST_CASE("gzip output decompresses to the input with zlib and with gzip -dc", "[compress]") {
  REQUIRE(have_tool("gzip"));
  for (size_t size : k_sizes) {
    CAPTURE(size);
    std::string data = mixed_data(size);
    std::string gz = compress({CompressionKind::gzip, 6, 2}, data);
    CHECK(zlib_gunzip(gz) == data);
    CHECK(run_decompressor("gzip", gz) == data);
  }
}

TEST_CASE("gzip output is byte-identical for 1, 2, 3 and 8 threads and any write pattern", "[compress]") {
  for (size_t size : k_sizes) {
    CAPTURE(size);
    std::string data = mixed_data(size);
    std::string reference = compress({CompressionKind::gzip, 6, 1}, data);
    for (int threads : {2, 3, 8}) {
      CAPTURE(threads);
      CHECK(compress({CompressionKind::gzip, 6, threads}, data) == reference);
    }
    if (size < (size_t{1} << 20)) CHECK(compress({CompressionKind::gzip, 6, 3}, data, 1) == reference);
    CHECK(compress({CompressionKind::gzip, 6, 3}, data, 512) == reference);
    CHECK(compress({CompressionKind::gzip, 6, 2}, data, 100000) == reference);
  }
}

TEST_CASE("gzip header has no time, no name, OS 255 and XFL by level", "[compress]") {
  std::string data = mixed_data(1000);
  for (int level : {1, 6, 9}) {
    CAPTURE(level);
    std::string gz = compress({CompressionKind::gzip, level, 1}, data);
    REQUIRE(gz.size() >= 18);
    const auto *h = reinterpret_cast<const uint8_t *>(gz.data());
    CHECK(h[0] == 0x1f);
    CHECK(h[1] == 0x8b);
    CHECK(h[2] == 8); // deflate
    CHECK(h[3] == 0); // FLG: no name, comment, extra field or header CRC
    CHECK(h[4] == 0); // MTIME: none
    CHECK(h[5] == 0);
    CHECK(h[6] == 0);
    CHECK(h[7] == 0);
    CHECK(h[8] == (level == 9 ? 2 : level == 1 ? 4 : 0));
    CHECK(h[9] == 255);
    // Trailer: CRC-32 and ISIZE of the input.
    uint32_t crc =
        static_cast<uint32_t>(crc32(0, reinterpret_cast<const Bytef *>(data.data()), static_cast<uInt>(data.size())));
    const auto *t = h + gz.size() - 8;
    CHECK((uint32_t{t[0]} | uint32_t{t[1]} << 8 | uint32_t{t[2]} << 16 | uint32_t{t[3]} << 24) == crc);
    CHECK((uint32_t{t[4]} | uint32_t{t[5]} << 8 | uint32_t{t[6]} << 16 | uint32_t{t[7]} << 24) == data.size());
    CHECK(zlib_gunzip(gz) == data);
  }
}

TEST_CASE("gzip blocks are compressed independently, and the output is no larger than gzip -6's", "[compress]") {
  REQUIRE(have_tool("gzip"));
  // 20 KiB of noise repeated over four blocks: within a block later copies are matches (about
  // 3 bytes per 258), but each block starts with an empty window, so it pays for the noise once:
  // four literal copies in all, not one.
  std::string noise;
  uint32_t x = 1;
  while (noise.size() < 20000) {
    x = x * 1664525 + 1013904223;
    noise += static_cast<char>(x >> 24);
  }
  std::string data;
  while (data.size() < 4 * k_gzip_block_size) data += noise;
  std::string gz = compress({CompressionKind::gzip, 6, 2}, data);
  CHECK(gz.size() > 4 * noise.size());
  CHECK(gz.size() < 4 * noise.size() + data.size() / 50);
  CHECK(zlib_gunzip(gz) == data);

  // Mixed data over several blocks: smaller than what gzip -n -6 makes of it.
  TempDir dir;
  std::string mixed = mixed_data((size_t{9} << 20) + 777);
  write_file(dir.path() + "/in", mixed);
  REQUIRE(std::system(("gzip -n -6 -c '" + dir.path() + "/in' > '" + dir.path() + "/in.gz'").c_str()) == 0);
  std::string ours = compress({CompressionKind::gzip, 6, 2}, mixed);
  CAPTURE(ours.size());
  CHECK(ours.size() <= read_file(dir.path() + "/in.gz").size());
  CHECK(run_decompressor("gzip", ours) == mixed);
}

TEST_CASE("zstd output decompresses with libzstd and zstd -dc and is identical for any thread count", "[compress]") {
  REQUIRE(have_tool("zstd")); // .ci/packages.txt lists zstd
  for (size_t size : k_sizes) {
    CAPTURE(size);
    std::string data = mixed_data(size);
    std::string reference = compress({CompressionKind::zstd, 3, 1}, data);
    CHECK(libzstd_decompress(reference) == data);
    CHECK(run_decompressor("zstd -q", reference) == data);
    for (int threads : {2, 3, 8}) {
      CAPTURE(threads);
      CHECK(compress({CompressionKind::zstd, 3, threads}, data) == reference);
    }
    CHECK(compress({CompressionKind::zstd, 3, 2}, data, 777) == reference);
    // No content size in the frame header; a checksum at the end.
    if (size > 0) {
      CHECK(ZSTD_getFrameContentSize(reference.data(), reference.size()) == ZSTD_CONTENTSIZE_UNKNOWN);
      // RFC 8878 3.1.1.1.1: Frame_Header_Descriptor after the 4-byte magic; bit 2 = checksum.
      REQUIRE(reference.size() > 4);
      CHECK((static_cast<uint8_t>(reference[4]) & 0x04) != 0);
    }
  }
}

TEST_CASE("zstd output spanning several libzstd jobs is identical for any thread count", "[compress]") {
  // Level 1: 512 KiB window, so libzstd cuts 9 MiB into several jobs (4 windows each).
  std::string data = mixed_data(size_t{9} << 20);
  std::string reference = compress({CompressionKind::zstd, 1, 1}, data);
  CHECK(compress({CompressionKind::zstd, 1, 2}, data) == reference);
  CHECK(compress({CompressionKind::zstd, 1, 3}, data, 4096) == reference);
  CHECK(libzstd_decompress(reference) == data);
}

TEST_CASE("none passes bytes through and finishes its output", "[compress]") {
  std::string data = mixed_data(300000);
  CHECK(compress({CompressionKind::none, 6, 1}, data, 1000) == data);
}

TEST_CASE("compression names, media suffixes and versions", "[compress]") {
  CHECK(parse_compression("gzip", "--compression") == CompressionKind::gzip);
  CHECK(parse_compression("zstd", "--compression") == CompressionKind::zstd);
  CHECK(parse_compression("none", "--compression") == CompressionKind::none);
  CHECK_THROWS_AS(parse_compression("xz", "--compression"), InputError);
  CHECK_THROWS_WITH(parse_compression("GZIP", "recipe compression"), Catch::Contains("recipe compression"));
  CHECK(std::string(compression_name(CompressionKind::zstd)) == "zstd");
  CHECK(std::string(compression_media_suffix(CompressionKind::gzip)) == "+gzip");
  CHECK(std::string(compression_media_suffix(CompressionKind::zstd)) == "+zstd");
  CHECK(std::string(compression_media_suffix(CompressionKind::none)).empty());
  CHECK(compressor_version(CompressionKind::gzip) == std::string("libdeflate ") + LIBDEFLATE_VERSION_STRING);
  CHECK(compressor_version(CompressionKind::zstd) == std::string("zstd ") + ZSTD_versionString());
}

TEST_CASE("bad levels and thread counts are input errors", "[compress]") {
  MemorySink out;
  CHECK_THROWS_AS(make_compressor({CompressionKind::gzip, 0, 1}, out), InputError);
  CHECK_THROWS_AS(make_compressor({CompressionKind::gzip, 10, 1}, out), InputError);
  CHECK_THROWS_AS(make_compressor({CompressionKind::gzip, 6, 0}, out), InputError);
  CHECK_THROWS_AS(make_compressor({CompressionKind::zstd, 20, 1}, out), InputError);
  CHECK_THROWS_AS(make_compressor({CompressionKind::zstd, 3, 0}, out), InputError);
}

namespace {

// Accepts `limit` bytes, then fails like a full disk.
class FailingSink : public ByteSink {
public:
  explicit FailingSink(size_t limit) : m_limit(limit) {}
  void write(const uint8_t *, size_t size) override {
    if (m_written + size > m_limit) throw mrforge::SystemError("out.gz", "No space left on device");
    m_written += size;
  }

private:
  size_t m_limit;
  size_t m_written = 0;
};

} // namespace

TEST_CASE("a failing output sink stops the parallel gzip cleanly", "[compress]") {
  std::string data = mixed_data(size_t{3} << 20);
  for (int threads : {1, 4}) {
    CAPTURE(threads);
    FailingSink out(100000);
    auto run = [&] {
      std::unique_ptr<ByteSink> gz = make_compressor({CompressionKind::gzip, 6, threads}, out);
      for (size_t pos = 0; pos < data.size(); pos += 65536)
        gz->write(reinterpret_cast<const uint8_t *>(data.data()) + pos, std::min<size_t>(65536, data.size() - pos));
      gz->finish();
    };
    CHECK_THROWS_AS(run(), mrforge::SystemError); // and the destructor joins the workers
  }
}
