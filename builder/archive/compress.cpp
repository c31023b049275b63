// Compressors behind make_compressor(): parallel gzip (builder/archive/parallel_gzip.hpp), zstd through
// libzstd's streaming API in multi-threaded mode, and a pass-through for "none".
//
// zstd parameters, all fixed (part of the digest contract together with the libzstd version):
//  - ZSTD_c_compressionLevel = the level; every other compression parameter at libzstd's default
//    for that level (window, job size and overlap are derived from the level only);
//  - ZSTD_c_nbWorkers = max(1, threads), never 0: libzstd documents that the multi-threaded
//    format is the same for any nbWorkers >= 1, but differs from single-threaded mode (0);
//  - ZSTD_c_checksumFlag = 1: a content checksum (XXH64) ends the frame, as the zstd CLI writes by
//    default, so `zstd -t` and decompressors verify the data;
//  - ZSTD_c_contentSizeFlag = 0: no content size in the frame header (we stream; the size is not
//    known up front);
//  - input is handed to libzstd in fixed chunks and ended with one ZSTD_e_end, never flushed in
//    between, so the frame does not depend on how callers cut their writes.
#include <builder/archive/compress.hpp>
#include <builder/archive/parallel_gzip.hpp>

#include <measure/util/errors.hpp>

#include <libdeflate.h>
#include <zstd.h>

#include <algorithm>
#include <vector>

namespace mrforge::builder {

namespace {

constexpr int k_gzip_max_level = 9;
constexpr int k_zstd_max_level = 19;
constexpr int k_zstd_checksum_flag = 1;
// Input is collected to this size before each ZSTD_compressStream2 call.
constexpr size_t k_zstd_input_chunk = size_t{1} << 20;

class PassThroughSink : public ByteSink {
public:
  explicit PassThroughSink(ByteSink &out) : m_out(out) {}
  void write(const uint8_t *data, size_t size) override { m_out.write(data, size); }
  void finish() override { m_out.finish(); }

private:
  ByteSink &m_out;
};

void check_zstd(size_t code, const char *what) {
  if (ZSTD_isError(code)) throw Error(std::string("zstd: ") + what + ": " + ZSTD_getErrorName(code));
}

class ZstdSink : public ByteSink {
public:
  ZstdSink(ByteSink &out, int level, int threads) : m_out(out), m_cctx(ZSTD_createCCtx()) {
    check_compression_level(CompressionKind::zstd, level);
    if (threads < 1) throw InputError("threads", std::to_string(threads) + " is not at least 1");
    if (m_cctx == nullptr) throw Error("zstd: ZSTD_createCCtx failed");
    check_zstd(ZSTD_CCtx_setParameter(m_cctx.get(), ZSTD_c_compressionLevel, level), "compression level");
    check_zstd(ZSTD_CCtx_setParameter(m_cctx.get(), ZSTD_c_checksumFlag, k_zstd_checksum_flag), "checksum flag");
    check_zstd(ZSTD_CCtx_setParameter(m_cctx.get(), ZSTD_c_contentSizeFlag, 0), "content size flag");
    // Fails if libzstd was built without multi-threading: then we cannot produce the pinned format.
    check_zstd(ZSTD_CCtx_setParameter(m_cctx.get(), ZSTD_c_nbWorkers, std::max(1, threads)),
               "multi-threaded mode (nbWorkers)");
    m_input.reserve(k_zstd_input_chunk);
    m_output.resize(ZSTD_CStreamOutSize());
  }

  void write(const uint8_t *data, size_t size) override {
    if (m_finished) throw Error("zstd: write after finish");
    while (size > 0) {
      size_t n = std::min(size, k_zstd_input_chunk - m_input.size());
      m_input.insert(m_input.end(), data, data + n);
      data += n;
      size -= n;
      if (m_input.size() == k_zstd_input_chunk) compress(ZSTD_e_continue);
    }
  }

  void finish() override {
    if (m_finished) throw Error("zstd: finish called twice");
    compress(ZSTD_e_end);
    m_finished = true;
    m_out.finish();
  }

private:
  void compress(ZSTD_EndDirective mode) {
    ZSTD_inBuffer in{m_input.data(), m_input.size(), 0};
    while (true) {
      ZSTD_outBuffer out{m_output.data(), m_output.size(), 0};
      size_t remaining = ZSTD_compressStream2(m_cctx.get(), &out, &in, mode);
      check_zstd(remaining, "compression failed");
      if (out.pos > 0) m_out.write(m_output.data(), out.pos);
      // e_continue: done once the input is consumed; e_end: once the frame is complete.
      if (mode == ZSTD_e_end ? remaining == 0 : in.pos == in.size) break;
    }
    m_input.clear();
  }

  struct CCtxFree {
    void operator()(ZSTD_CCtx *c) const { ZSTD_freeCCtx(c); }
  };
  ByteSink &m_out;
  std::unique_ptr<ZSTD_CCtx, CCtxFree> m_cctx;
  std::vector<uint8_t> m_input;
  std::vector<uint8_t> m_output;
  bool m_finished = false;
};

} // namespace

const char *compression_name(CompressionKind kind) {
  switch (kind) {
  case CompressionKind::none: return "none";
  case CompressionKind::gzip: return "gzip";
  case CompressionKind::zstd: return "zstd";
  }
  return "unknown";
}

CompressionKind parse_compression(const std::string &name, const std::string &what) {
  for (CompressionKind kind : {CompressionKind::none, CompressionKind::gzip, CompressionKind::zstd})
    if (name == compression_name(kind)) return kind;
  throw InputError(what, "unknown compression '" + name + "' (expected gzip, zstd or none)");
}

int max_compression_level(CompressionKind kind) {
  switch (kind) {
  case CompressionKind::none: return 0;
  case CompressionKind::gzip: return k_gzip_max_level;
  case CompressionKind::zstd: return k_zstd_max_level;
  }
  return 0;
}

bool is_compression_level(CompressionKind kind, int level) {
  return level >= 1 && level <= max_compression_level(kind);
}

void check_compression_level(CompressionKind kind, int level) {
  if (!is_compression_level(kind, level))
    throw InputError(std::string(compression_name(kind)) + " level",
                     std::to_string(level) + " is not in 1-" + std::to_string(max_compression_level(kind)));
}

const char *compression_media_suffix(CompressionKind kind) {
  switch (kind) {
  case CompressionKind::none: return "";
  case CompressionKind::gzip: return "+gzip";
  case CompressionKind::zstd: return "+zstd";
  }
  return "";
}

std::unique_ptr<ByteSink> make_compressor(const Compression &compression, ByteSink &out) {
  switch (compression.kind) {
  case CompressionKind::none: return std::make_unique<PassThroughSink>(out);
  case CompressionKind::gzip: return std::make_unique<ParallelGzipSink>(out, compression.level, compression.threads);
  case CompressionKind::zstd: return std::make_unique<ZstdSink>(out, compression.level, compression.threads);
  }
  throw Error("make_compressor: unknown compression kind");
}

std::string compressor_version(CompressionKind kind) {
  switch (kind) {
  case CompressionKind::none: return "none";
  case CompressionKind::gzip: return std::string("libdeflate ") + LIBDEFLATE_VERSION_STRING;
  case CompressionKind::zstd: return std::string("zstd ") + ZSTD_versionString();
  }
  return "unknown";
}

std::string compression_description(const Compression &compression) {
  if (compression.kind == CompressionKind::none) return compression_name(compression.kind);
  return std::string(compression_name(compression.kind)) + " level " + std::to_string(compression.level) + " (" +
         compressor_version(compression.kind) + ")";
}

} // namespace mrforge::builder
