// Deterministic compression. The output bytes depend only on the input bytes, the algorithm and
// the level, never on the thread count: gzip splits the input into fixed 2 MiB blocks, each
// deflated independently by libdeflate (pinned: Debian bookworm's libdeflate 1.14) and joined into
// one gzip member (builder/archive/parallel_gzip.hpp), so blocks can be compressed in parallel; zstd uses
// libzstd's multi-threaded mode with at least one worker, whose output is documented to be the
// same for any number of workers. gzip headers carry no time, no name, OS byte 255 ("unknown").
#pragma once

#include <builder/system/byte_sink.hpp>

#include <memory>
#include <string>

namespace mrforge::builder {

enum class CompressionKind { none, gzip, zstd };

struct Compression {
  CompressionKind kind = CompressionKind::gzip;
  int level = 6;   // gzip 1-9, zstd 1-19
  int threads = 1; // >= 1; changes speed, never bytes
};

// "gzip", "zstd", "none"; parse throws InputError naming `what`.
const char *compression_name(CompressionKind kind);
CompressionKind parse_compression(const std::string &name, const std::string &what);
// The levels of `kind` are 1 to max_compression_level(kind): gzip 9 (as gzip's), zstd 19 (the highest
// without --ultra's memory use); none has no levels (0).
int max_compression_level(CompressionKind kind);
bool is_compression_level(CompressionKind kind, int level);
// Throws InputError("gzip level" / "zstd level", ...) unless is_compression_level(kind, level).
void check_compression_level(CompressionKind kind, int level);
// Media-type suffix for OCI layers: "+gzip", "+zstd", "".
const char *compression_media_suffix(CompressionKind kind);

// A sink that compresses into `out`; finish() ends the stream and calls out.finish().
std::unique_ptr<ByteSink> make_compressor(const Compression &compression, ByteSink &out);

// Recorded in build outputs so a digest names its compressor: "libdeflate 1.14", "zstd 1.5.4".
std::string compressor_version(CompressionKind kind);
// What a build record says of a compression: "gzip level 6 (libdeflate 1.14)", "none".
std::string compression_description(const Compression &compression);

} // namespace mrforge::builder
