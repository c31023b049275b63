#include <builder/archive/parallel_gzip.hpp>

#include <builder/archive/compress.hpp>

#include <measure/util/errors.hpp>

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

std::string zlib_message(const z_stream &z, int code) {
  return std::string(z.msg != nullptr ? z.msg : "error") + " (zlib code " + std::to_string(code) + ")";
}

} // namespace

struct ParallelGzipSink::Block {
  std::vector<uint8_t> input;      // at most k_gzip_block_size bytes
  std::vector<uint8_t> dictionary; // the previous block's last 32 KiB (empty for the first block)
  std::vector<uint8_t> output;     // compressed bytes: the first output_size are valid
  size_t output_size = 0;
  bool last = false;
  bool done = false; // set by the worker under the mutex
  uint32_t crc = 0;
  std::exception_ptr error;
};

namespace {

// One raw deflate stream per worker thread, reset for every block.
class RawDeflater {
public:
  explicit RawDeflater(int level) {
    int r = deflateInit2(&m_z, level, Z_DEFLATED, -15, 8, Z_DEFAULT_STRATEGY);
    if (r != Z_OK) throw Error("gzip: deflateInit2 failed: " + zlib_message(m_z, r));
  }
  ~RawDeflater() { deflateEnd(&m_z); }
  RawDeflater(const RawDeflater &) = delete;
  RawDeflater &operator=(const RawDeflater &) = delete;

  // Deflates `input` after priming the window with `dictionary`; returns the number of bytes
  // written to `output` (grown as needed).
  size_t deflate_block(const std::vector<uint8_t> &input, const std::vector<uint8_t> &dictionary, bool last,
                       std::vector<uint8_t> &output) {
    int r = deflateReset(&m_z);
    if (r != Z_OK) throw Error("gzip: deflateReset failed: " + zlib_message(m_z, r));
    if (!dictionary.empty()) {
      r = deflateSetDictionary(&m_z, dictionary.data(), static_cast<uInt>(dictionary.size()));
      if (r != Z_OK) throw Error("gzip: deflateSetDictionary failed: " + zlib_message(m_z, r));
    }
    // deflateBound covers Z_FINISH; a sync flush adds at most an empty stored block (5 bytes).
    size_t bound = static_cast<size_t>(deflateBound(&m_z, static_cast<uLong>(input.size()))) + 16;
    if (output.size() < bound) output.resize(bound);
    m_z.next_in = input.data();
    m_z.avail_in = static_cast<uInt>(input.size());
    m_z.next_out = output.data();
    m_z.avail_out = static_cast<uInt>(output.size());
    const int flush = last ? Z_FINISH : Z_SYNC_FLUSH;
    while (true) {
      r = deflate(&m_z, flush);
      if (r != Z_OK && r != Z_STREAM_END && r != Z_BUF_ERROR)
        throw Error("gzip: deflate failed: " + zlib_message(m_z, r));
      // Z_FINISH is complete at Z_STREAM_END; a sync flush when output space is left over.
      if (last ? r == Z_STREAM_END : (m_z.avail_in == 0 && m_z.avail_out != 0)) break;
      if (m_z.avail_out != 0) throw Error("gzip: deflate made no progress (zlib code " + std::to_string(r) + ")");
      size_t used = output.size();
      output.resize(used * 2);
      m_z.next_out = output.data() + used;
      m_z.avail_out = static_cast<uInt>(output.size() - used);
    }
    return output.size() - m_z.avail_out;
  }

private:
  z_stream m_z{};
};

} // namespace

ParallelGzipSink::ParallelGzipSink(ByteSink &out, int level, int threads)
    : m_out(out), m_level(level), m_crc(static_cast<uint32_t>(crc32_z(0, nullptr, 0))) {
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
  std::unique_ptr<RawDeflater> deflater;
  std::exception_ptr init_error;
  try {
    deflater = std::make_unique<RawDeflater>(m_level);
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
      block->crc = static_cast<uint32_t>(crc32_z(0, block->input.data(), block->input.size()));
      block->output_size = deflater->deflate_block(block->input, block->dictionary, block->last, block->output);
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
  block->dictionary.assign(m_dictionary.begin(), m_dictionary.end());
  size_t keep = std::min(k_gzip_dictionary_size, block->input.size());
  m_dictionary.assign(block->input.end() - static_cast<std::ptrdiff_t>(keep), block->input.end());

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
