// Parallel gzip (RFC 1952 around RFC 1951 deflate), in the way pigz does it, with output that
// depends only on the input bytes and the level:
//  - the input is cut into fixed blocks of k_gzip_block_size bytes (the last may be shorter);
//  - each block is deflated by zlib as a raw stream (windowBits -15, memLevel 8,
//    Z_DEFAULT_STRATEGY) primed with the last k_gzip_dictionary_size bytes of the previous
//    block's input (deflateSetDictionary), and ended with Z_SYNC_FLUSH (the last block with
//    Z_FINISH), so the concatenated pieces form one valid deflate stream;
//  - the CRC-32 of each block is computed with its compression and joined with crc32_combine.
// The thread count only sets how many blocks are compressed at the same time; at most
// 2 * threads blocks are in flight, so memory stays bounded (about 300 KiB per block) whatever
// the input size. Results are written to the output sink in order, on the caller's thread.
// Header: 1f 8b 08, FLG 0 (no name, no comment, no extra field), MTIME 0, XFL (2 at level 9,
// 4 at level 1, else 0), OS 255 (unknown). Trailer: CRC-32 and ISIZE, little-endian.
#pragma once

#include <builder/system/byte_sink.hpp>

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

namespace mrforge::builder {

constexpr size_t k_gzip_block_size = size_t{128} << 10;     // pigz's default -b 128
constexpr size_t k_gzip_dictionary_size = size_t{32} << 10; // deflate's window

class ParallelGzipSink : public ByteSink {
public:
  // level 1-9, threads >= 1 (InputError otherwise). Starts `threads` worker threads.
  ParallelGzipSink(ByteSink &out, int level, int threads);
  ~ParallelGzipSink() override;
  ParallelGzipSink(const ParallelGzipSink &) = delete;
  ParallelGzipSink &operator=(const ParallelGzipSink &) = delete;

  void write(const uint8_t *data, size_t size) override;
  // Compresses the last block, writes the trailer and calls out.finish(). Rethrows a worker's
  // failure (zlib error, out of memory) as mrforge::Error.
  void finish() override;

private:
  struct Block;
  void worker();
  void submit(bool last);
  // Writes finished blocks at the head of the queue to m_out, waiting for workers while more
  // than `max_in_flight` blocks are queued (0: until the queue is empty).
  void drain(size_t max_in_flight);
  void emit(Block &block);

  ByteSink &m_out;
  int m_level;
  size_t m_max_in_flight;
  bool m_header_written = false;
  bool m_finished = false;
  uint32_t m_crc;
  uint64_t m_total = 0;
  std::unique_ptr<Block> m_current;           // being filled by write()
  std::vector<uint8_t> m_dictionary;          // tail of the previous block's input
  std::vector<std::unique_ptr<Block>> m_free; // recycled blocks (buffers keep their capacity)

  std::mutex m_mutex;
  std::condition_variable m_work_ready;           // workers wait for m_pending or m_stop
  std::condition_variable m_block_done;           // the caller waits for the head block
  std::deque<std::unique_ptr<Block>> m_in_flight; // submitted, in input order; owned here
  std::deque<Block *> m_pending;                  // submitted, not yet taken by a worker
  bool m_stop = false;
  std::vector<std::thread> m_workers;
};

} // namespace mrforge::builder
