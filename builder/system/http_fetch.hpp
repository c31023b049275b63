// Downloads over http://, https:// and file:// with libcurl, loaded when the first Fetcher is made
// (curl_library.hpp): commands that download nothing do not load it.
//
// No retries: a failure is reported once, with the URL and curl's message or the HTTP status.
// Limits (measure/util/input_limits.hpp): every transfer has a size limit (the size the signed index or
// the lock gives, or a fixed one for InRelease) and must complete within a total deadline
// (default limits::k_fetch_deadline_seconds, 600 s; the environment variable MRFORGE_FETCH_TIMEOUT
// sets another number of seconds), so a mirror that trickles or never ends cannot hang a command.
// Also 30 s to connect, and a transfer slower than 1 byte/s for 60 s is aborted. Redirects are
// followed (at most 10) but only to http:// or https://, never from the network to file://; a
// file:// URL must name a regular file (a FIFO or device would never end). TLS peers are verified
// against the system's CA store.
#pragma once

#include <measure/util/bytes.hpp>
#include <measure/util/errors.hpp>
#include <measure/util/input_limits.hpp>

#include <cstdint>
#include <functional>
#include <memory>
#include <string>

namespace mrforge::builder {

// The server answered 404 or 410, or a file:// URL names no file: "the repository no longer serves
// X". path() is the URL.
class NotFoundError : public SystemError {
public:
  using SystemError::SystemError;
};

// Called during a transfer with the bytes received so far and the expected total (0 if unknown).
using FetchProgress = std::function<void(uint64_t received, uint64_t total)>;

class Fetcher {
public:
  // `deadline_seconds`: the most one transfer may take. libcurl is loaded and initialised by the
  // first transfer, which throws MissingLibraryError (a SystemError) if libcurl.so.4 is not
  // installed, SystemError if it cannot be initialised.
  explicit Fetcher(long deadline_seconds = deadline_from_environment());
  ~Fetcher();
  Fetcher(const Fetcher &) = delete;
  Fetcher &operator=(const Fetcher &) = delete;

  void set_progress(FetchProgress progress) { m_progress = std::move(progress); }

  // The whole body in memory (for small files: InRelease). Throws NotFoundError, or SystemError
  // naming the URL (and the limit, for a body larger than `max_size` or a transfer past the
  // deadline).
  Bytes fetch_bytes(const std::string &url, uint64_t max_size);

  // Streams the body into `path` (written as `path`.part, renamed when complete; the partial file
  // is removed on failure), aborting once it exceeds `max_size` bytes. Throws NotFoundError, or
  // SystemError naming the URL (and the limit) or the file.
  void fetch_to_file(const std::string &url, const std::string &path, uint64_t max_size);

  // MRFORGE_FETCH_TIMEOUT (whole seconds, 1 to 604800) if set, else limits::k_fetch_deadline_seconds.
  // Throws InputError naming the variable for any other value.
  static long deadline_from_environment();

private:
  struct Handle;
  void perform(const std::string &url, uint64_t max_size, const std::function<void(const char *, size_t)> &sink);
  std::unique_ptr<Handle> m_handle;
  FetchProgress m_progress;
  long m_deadline_seconds;
};

} // namespace mrforge::builder
