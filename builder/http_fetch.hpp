// Downloads over http://, https:// and file:// with libcurl.
//
// No retries: a failure is reported once, with the URL and curl's message or the HTTP status.
// Timeouts: 30 s to connect, and a transfer slower than 1 byte/s for 60 s is aborted (there is no
// total limit, so large files on slow links still complete). Redirects are followed (at most 10)
// but only to http:// or https://, never from the network to file://. TLS peers are verified
// against the system's CA store.
#pragma once

#include <measure/bytes.hpp>
#include <measure/errors.hpp>

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
  // Throws SystemError if libcurl cannot be initialised.
  Fetcher();
  ~Fetcher();
  Fetcher(const Fetcher &) = delete;
  Fetcher &operator=(const Fetcher &) = delete;

  void set_progress(FetchProgress progress) { m_progress = std::move(progress); }

  // The whole body in memory (for small files: InRelease). Refuses bodies larger than
  // `max_size`. Throws NotFoundError, or SystemError naming the URL.
  Bytes fetch_bytes(const std::string &url, uint64_t max_size = k_default_max_in_memory);

  // Streams the body into `path` (written as `path`.part, renamed when complete; the partial file
  // is removed on failure). Throws NotFoundError, or SystemError naming the URL or the file.
  void fetch_to_file(const std::string &url, const std::string &path);

  static constexpr uint64_t k_default_max_in_memory = 256ull << 20;

private:
  struct Handle;
  void perform(const std::string &url, const std::function<void(const char *, size_t)> &sink);
  std::unique_ptr<Handle> m_handle;
  FetchProgress m_progress;
};

} // namespace mrforge::builder
