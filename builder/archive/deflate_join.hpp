// Joining independently compressed raw deflate streams (RFC 1951) into one stream.
//
// libdeflate compresses a whole buffer at a time and always ends its output with a final block
// (BFINAL = 1) that stops at any bit. To put several such streams one after another inside one
// gzip member (as pigz does with zlib's Z_SYNC_FLUSH), every stream but the last is "unfinished":
// the BFINAL bit of its last block is cleared, and an empty stored block (BFINAL 0, BTYPE 00,
// zero bits up to the byte boundary, LEN 0x0000, NLEN 0xffff, exactly what Z_SYNC_FLUSH writes)
// is appended so that it ends on a byte boundary. Any inflater then reads the pieces as one
// stream. Because every piece was compressed without a preset dictionary, no back-reference
// crosses a piece boundary, so the joined stream decodes to the concatenated inputs.
//
// Finding the last block's header needs a walk over every block: deflate blocks carry no length.
// The walk decodes Huffman symbols without producing output (lengths and distances are skipped,
// not applied). Hand-written: neither zlib nor libdeflate exposes block boundaries.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

namespace mrforge::builder {

// Where a complete raw deflate stream's blocks are: the bit offset of the final block's header and
// the bit offset just past that block's end-of-block code (or stored data).
struct DeflateStreamEnd {
  uint64_t final_block_bit = 0;
  uint64_t end_bit = 0;
};

// Walks stream[0, size). Throws mrforge::Error naming the bit offset if the bytes are not a valid
// raw deflate stream, or if more than padding follows the final block.
DeflateStreamEnd find_deflate_stream_end(const uint8_t *stream, size_t size);

// Rewrites the complete raw deflate stream in stream[0, size) in place so that another raw deflate
// stream may follow it (see above); grows `stream` if it has fewer than the needed bytes and
// returns the new length, at most size + 5.
size_t unfinish_deflate_stream(std::vector<uint8_t> &stream, size_t size);

} // namespace mrforge::builder
