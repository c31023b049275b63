// Parallel gzip (RFC 1952 around RFC 1951 deflate), one gzip member whose bytes depend only on the
// input bytes and the level (and the pinned libdeflate, Debian bookworm's 1.14):
//  - the input is cut into fixed blocks of k_gzip_block_size bytes (the last may be shorter);
//  - each block is deflated on its own, with no dictionary, by libdeflate at the same level
//    (libdeflate_deflate_compress), into a complete raw deflate stream;
//  - every block but the last is then "unfinished" (builder/archive/deflate_join.hpp): BFINAL of
//    its last deflate block cleared and an empty stored block appended, as zlib's Z_SYNC_FLUSH
//    ends a piece, so the concatenated pieces form one valid deflate stream that gunzip, zlib and
//    Go's compress/gzip read as a single member;
//  - the CRC-32 of each block (libdeflate_crc32) is joined with zlib's crc32_combine.
// Independent blocks cost a little ratio at each boundary (the window starts empty), which
// libdeflate's better parsing more than makes up for: at level 6 the output is smaller than
// gzip -6's. The thread count only sets how many blocks are compressed at the same time; at most
// 2 * threads blocks are in flight, so memory stays bounded (about 4 MiB per block) whatever the
// input size. Results are written to the output sink in order, on the caller's thread.
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

constexpr size_t k_gzip_block_size = size_t{2} << 20; // part of the stream format: never change

class ParallelGzipSink : public ByteSink {
public:
  // level 1-9, threads >= 1 (InputError otherwise). Starts `threads` worker threads.
  ParallelGzipSink(ByteSink &out, int level, int threads);
  ~ParallelGzipSink() override;
  ParallelGzipSink(const ParallelGzipSink &) = delete;
  ParallelGzipSink &operator=(const ParallelGzipSink &) = delete;

  void write(const uint8_t *data, size_t size) override;
  // Compresses the last block, writes the trailer and calls out.finish(). Rethrows a worker's
  // failure (libdeflate error, out of memory) as mrforge::Error.
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
