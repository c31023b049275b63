#include <builder/archive/parallel_gzip.hpp>

#include <builder/archive/compress.hpp>
#include <builder/archive/deflate_join.hpp>

#include <measure/util/errors.hpp>

#include <libdeflate.h>
#define ZLIB_CONST
#include <zlib.h>

#include <algorithm>
#include <exception>
#include <string>
#include <system_error>

namespace mrforge::builder {

namespace {

// A sanity cap: more threads than this only cost memory.
constexpr int k_max_threads = 256;

// RFC 1952 section 2.3: ID1 ID2 CM FLG MTIME(4) XFL OS.
constexpr uint8_t k_gzip_id1 = 0x1f;
constexpr uint8_t k_gzip_id2 = 0x8b;
constexpr uint8_t k_gzip_cm_deflate = 8;
constexpr uint8_t k_gzip_os_unknown = 255;

uint8_t gzip_xfl(int level) {
  // RFC 1952: 2 = maximum compression, 4 = fastest algorithm (what gzip and pigz write).
  if (level == 9) return 2;
  if (level == 1) return 4;
  return 0;
}

void put_le32(uint8_t *p, uint32_t v) {
  for (int i = 0; i < 4; ++i) p[i] = static_cast<uint8_t>(v >> (8 * i));
}

} // namespace

struct ParallelGzipSink::Block {
  std::vector<uint8_t> input;  // at most k_gzip_block_size bytes
  std::vector<uint8_t> output; // compressed bytes: the first output_size are valid
  size_t output_size = 0;
  bool last = false;
  bool done = false; // set by the worker under the mutex
  uint32_t crc = 0;
  std::exception_ptr error;
};

namespace {

// One libdeflate compressor per worker thread.
class BlockDeflater {
public:
  explicit BlockDeflater(int level) : m_compressor(libdeflate_alloc_compressor(level)) {
    if (m_compressor == nullptr) throw Error("gzip: libdeflate_alloc_compressor failed (out of memory)");
  }
  ~BlockDeflater() { libdeflate_free_compressor(m_compressor); }
  BlockDeflater(const BlockDeflater &) = delete;
  BlockDeflater &operator=(const BlockDeflater &) = delete;

  // Deflates `input` into `output` (grown as needed) as one raw deflate stream, unfinished unless
  // `last`; returns the number of bytes written.
  size_t deflate_block(const std::vector<uint8_t> &input, bool last, std::vector<uint8_t> &output) {
    // The bound covers libdeflate's worst case; unfinishing adds at most 5 bytes.
    const size_t bound = libdeflate_deflate_compress_bound(m_compressor, input.size()) + 8;
    if (output.size() < bound) output.resize(bound);
    const size_t size =
        libdeflate_deflate_compress(m_compressor, input.data(), input.size(), output.data(), output.size());
    if (size == 0) throw Error("gzip: libdeflate_deflate_compress found its output bound too small");
    return last ? size : unfinish_deflate_stream(output, size);
  }

private:
  libdeflate_compressor *m_compressor;
};

} // namespace

ParallelGzipSink::ParallelGzipSink(ByteSink &out, int level, int threads) : m_out(out), m_level(level), m_crc(0) {
  check_compression_level(CompressionKind::gzip, level);
  if (threads < 1 || threads > k_max_threads)
    throw InputError("threads", std::to_string(threads) + " is not in 1-" + std::to_string(k_max_threads));
  m_max_in_flight = 2 * static_cast<size_t>(threads);
  m_current = std::make_unique<Block>();
  m_current->input.reserve(k_gzip_block_size);
  try {
    for (int i = 0; i < threads; ++i) m_workers.emplace_back([this] { worker(); });
  } catch (const std::system_error &e) {
    {
      std::lock_guard<std::mutex> lock(m_mutex);
      m_stop = true;
    }
    m_work_ready.notify_all();
    for (std::thread &t : m_workers) t.join();
    throw Error(std::string("gzip: cannot start a compression thread: ") + e.what());
  }
}

ParallelGzipSink::~ParallelGzipSink() {
  {
    std::lock_guard<std::mutex> lock(m_mutex);
    m_stop = true;
  }
  m_work_ready.notify_all();
  for (std::thread &t : m_workers) t.join();
}

void ParallelGzipSink::worker() {
  std::unique_ptr<BlockDeflater> deflater;
  std::exception_ptr init_error;
  try {
    deflater = std::make_unique<BlockDeflater>(m_level);
  } catch (...) {
    init_error = std::current_exception(); // reported with the first block this worker takes
  }
  while (true) {
    Block *block = nullptr;
    {
      std::unique_lock<std::mutex> lock(m_mutex);
      m_work_ready.wait(lock, [this] { return m_stop || !m_pending.empty(); });
      if (m_stop) return;
      block = m_pending.front();
      m_pending.pop_front();
    }
    try {
      if (init_error) std::rethrow_exception(init_error);
      block->crc = libdeflate_crc32(0, block->input.data(), block->input.size());
      block->output_size = deflater->deflate_block(block->input, block->last, block->output);
    } catch (...) {
      block->error = std::current_exception(); // rethrown on the caller's thread by emit()
    }
    {
      std::lock_guard<std::mutex> lock(m_mutex);
      block->done = true;
    }
    m_block_done.notify_all();
  }
}

void ParallelGzipSink::write(const uint8_t *data, size_t size) {
  if (m_finished || !m_current) throw Error("gzip: write after finish or after a failure");
  while (size > 0) {
    // A full block is submitted only once more input arrives, so that finish() knows which
    // block is the last one (and the block boundaries depend only on the input length).
    if (m_current->input.size() == k_gzip_block_size) submit(false);
    size_t n = std::min(size, k_gzip_block_size - m_current->input.size());
    m_current->input.insert(m_current->input.end(), data, data + n);
    data += n;
    size -= n;
  }
}

void ParallelGzipSink::submit(bool last) {
  std::unique_ptr<Block> block = std::move(m_current);
  block->last = last;
  block->done = false;
  block->error = nullptr;

  drain(m_max_in_flight - 1); // make room: bounded memory
  {
    std::lock_guard<std::mutex> lock(m_mutex);
    m_pending.push_back(block.get());
    m_in_flight.push_back(std::move(block));
  }
  m_work_ready.notify_one();

  if (m_free.empty()) {
    m_current = std::make_unique<Block>();
    m_current->input.reserve(k_gzip_block_size);
  } else {
    m_current = std::move(m_free.back());
    m_free.pop_back();
  }
  m_current->input.clear();
  drain(m_max_in_flight); // write whatever is already done, without waiting
}

void ParallelGzipSink::drain(size_t max_in_flight) {
  std::unique_lock<std::mutex> lock(m_mutex);
  while (true) {
    while (!m_in_flight.empty() && m_in_flight.front()->done) {
      std::unique_ptr<Block> block = std::move(m_in_flight.front());
      m_in_flight.pop_front();
      lock.unlock();
      emit(*block);
      m_free.push_back(std::move(block));
      lock.lock();
    }
    if (m_in_flight.size() <= max_in_flight) return;
    m_block_done.wait(lock, [this] { return m_in_flight.front()->done; });
  }
}

void ParallelGzipSink::emit(Block &block) {
  if (block.error) std::rethrow_exception(block.error);
  if (!m_header_written) {
    const uint8_t header[10] = {k_gzip_id1, k_gzip_id2,        k_gzip_cm_deflate, 0, 0, 0, 0,
                                0,          gzip_xfl(m_level), k_gzip_os_unknown};
    m_out.write(header, sizeof header);
    m_header_written = true;
  }
  m_out.write(block.output.data(), block.output_size);
  m_crc = static_cast<uint32_t>(crc32_combine(m_crc, block.crc, static_cast<z_off_t>(block.input.size())));
  m_total += block.input.size();
}

void ParallelGzipSink::finish() {
  if (m_finished || !m_current) throw Error("gzip: finish called twice or after a failure");
  submit(true);
  drain(0);
  uint8_t trailer[8];
  put_le32(trailer, m_crc);
  put_le32(trailer + 4, static_cast<uint32_t>(m_total & 0xffffffffU)); // ISIZE: length mod 2^32
  m_out.write(trailer, sizeof trailer);
  m_finished = true;
  m_out.finish();
}

} // namespace mrforge::builder
