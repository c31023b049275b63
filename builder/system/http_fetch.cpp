#include <builder/system/curl_library.hpp>
#include <builder/system/http_fetch.hpp>

#include <measure/util/mapped_file.hpp>
#include <measure/util/size_text.hpp>
#include <measure/util/version.hpp>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <mutex>
#include <stdexcept>
#include <sys/stat.h>

namespace mrforge::builder {

namespace {

constexpr long k_connect_timeout_s = 30;
constexpr long k_low_speed_limit_bytes = 1;
constexpr long k_low_speed_time_s = 60;
constexpr long k_max_redirects = 10;
constexpr long k_max_deadline_seconds = 7 * 24 * 3600;
constexpr const char *k_deadline_variable = "MRFORGE_FETCH_TIMEOUT";

std::string too_large(uint64_t max_size) {
  return "the answer is larger than " + limit_text(max_size) +
         ", the size expected for this file; the transfer was aborted";
}

int hex_digit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// A file:// URL must name a regular file: curl would open a FIFO and wait for a writer forever,
// and read a device without end. (A missing file is left to curl, which reports it as not found.)
void check_file_url(const std::string &url) {
  std::string rest = url.substr(7); // after "file://"
  if (rest.rfind("localhost/", 0) == 0) rest = rest.substr(9);
  std::string path;
  for (size_t i = 0; i < rest.size(); ++i) {
    if (rest[i] == '%' && i + 2 < rest.size() && hex_digit(rest[i + 1]) >= 0 && hex_digit(rest[i + 2]) >= 0) {
      path += static_cast<char>(hex_digit(rest[i + 1]) * 16 + hex_digit(rest[i + 2]));
      i += 2;
    } else {
      path += rest[i];
    }
  }
  struct stat st {};
  if (::stat(path.c_str(), &st) == 0 && !S_ISREG(st.st_mode))
    throw SystemError(url, "is not a regular file (a FIFO or device would never end)");
}

void global_init() {
  static std::once_flag once;
  static CURLcode code = CURLE_OK;
  const CurlLibrary &curl = curl_library();
  std::call_once(once, [&curl] { code = curl.global_init(CURL_GLOBAL_DEFAULT); });
  if (code != CURLE_OK) throw SystemError("libcurl", std::string("curl_global_init: ") + curl.easy_strerror(code));
}

struct CurlDeleter {
  void operator()(CURL *c) const { curl_library().easy_cleanup(c); }
};

struct FileCloser {
  void operator()(FILE *f) const {
    if (f) std::fclose(f);
  }
};

struct TransferState {
  const std::function<void(const char *, size_t)> *sink = nullptr;
  const FetchProgress *progress = nullptr;
  std::string error; // an exception message from the sink, re-thrown after curl returns
};

size_t write_callback(char *data, size_t size, size_t count, void *user) {
  auto *state = static_cast<TransferState *>(user);
  size_t n = size * count;
  try {
    (*state->sink)(data, n);
  } catch (const std::exception &e) {
    state->error = e.what();
    return 0; // makes curl fail with CURLE_WRITE_ERROR
  }
  return n;
}

int progress_callback(void *user, curl_off_t dltotal, curl_off_t dlnow, curl_off_t, curl_off_t) {
  auto *state = static_cast<TransferState *>(user);
  if (state->progress && *state->progress)
    (*state->progress)(static_cast<uint64_t>(dlnow < 0 ? 0 : dlnow), static_cast<uint64_t>(dltotal < 0 ? 0 : dltotal));
  return 0;
}

template <typename T> void set(CURL *c, CURLoption option, T value, const std::string &url) {
  const CurlLibrary &curl = curl_library();
  CURLcode code = curl.easy_setopt(c, option, value);
  if (code != CURLE_OK) throw SystemError(url, std::string("curl_easy_setopt: ") + curl.easy_strerror(code));
}

} // namespace

struct Fetcher::Handle {
  std::unique_ptr<CURL, CurlDeleter> curl;
};

long Fetcher::deadline_from_environment() {
  const char *v = std::getenv(k_deadline_variable);
  if (v == nullptr) return limits::k_fetch_deadline_seconds;
  std::string s(v);
  long seconds = s.size() <= 7 ? static_cast<long>(parse_unsigned(s).value_or(0)) : 0;
  if (seconds < 1 || seconds > k_max_deadline_seconds)
    throw InputError(k_deadline_variable, "expected a whole number of seconds from 1 to " +
                                              std::to_string(k_max_deadline_seconds) + ", got '" + s.substr(0, 32) +
                                              "'");
  return seconds;
}

// libcurl is loaded by the first transfer, not here: a command that makes a Fetcher but finds
// everything in the store neither loads nor needs it.
Fetcher::Fetcher(long deadline_seconds) : m_handle(std::make_unique<Handle>()), m_deadline_seconds(deadline_seconds) {}

Fetcher::~Fetcher() = default;

void Fetcher::perform(const std::string &url, uint64_t max_size,
                      const std::function<void(const char *, size_t)> &sink) {
  bool is_file = url.rfind("file://", 0) == 0;
  if (!is_file && url.rfind("http://", 0) != 0 && url.rfind("https://", 0) != 0)
    throw SystemError(url, "unsupported URL scheme (expected http://, https:// or file://)");
  if (is_file) check_file_url(url);
  const CurlLibrary &curl = curl_library();
  if (!m_handle->curl) {
    global_init();
    m_handle->curl.reset(curl.easy_init());
    if (!m_handle->curl) throw SystemError("libcurl", "curl_easy_init failed");
  }
  CURL *c = m_handle->curl.get();
  curl.easy_reset(c);

  TransferState state;
  state.sink = &sink;
  state.progress = &m_progress;
  char error_buffer[CURL_ERROR_SIZE] = {0};

  set(c, CURLOPT_URL, url.c_str(), url);
#if LIBCURL_VERSION_NUM >= 0x075500
  set(c, CURLOPT_PROTOCOLS_STR, "http,https,file", url);
  set(c, CURLOPT_REDIR_PROTOCOLS_STR, "http,https", url);
#else
  set(c, CURLOPT_PROTOCOLS, CURLPROTO_HTTP | CURLPROTO_HTTPS | CURLPROTO_FILE, url);
  set(c, CURLOPT_REDIR_PROTOCOLS, CURLPROTO_HTTP | CURLPROTO_HTTPS, url);
#endif
  set(c, CURLOPT_ERRORBUFFER, error_buffer, url);
  set(c, CURLOPT_NOSIGNAL, 1L, url);
  set(c, CURLOPT_FOLLOWLOCATION, 1L, url);
  set(c, CURLOPT_MAXREDIRS, k_max_redirects, url);
  set(c, CURLOPT_FAILONERROR, 1L, url);
  set(c, CURLOPT_CONNECTTIMEOUT, k_connect_timeout_s, url);
  set(c, CURLOPT_LOW_SPEED_LIMIT, k_low_speed_limit_bytes, url);
  set(c, CURLOPT_LOW_SPEED_TIME, k_low_speed_time_s, url);
  set(c, CURLOPT_TIMEOUT, m_deadline_seconds, url);
  // Refused at once when the server announces a larger size; the sink checks what arrives.
  if (max_size <= static_cast<uint64_t>(std::numeric_limits<curl_off_t>::max()))
    set(c, CURLOPT_MAXFILESIZE_LARGE, static_cast<curl_off_t>(max_size), url);
  set(c, CURLOPT_USERAGENT, k_user_agent, url);
  set(c, CURLOPT_SSL_VERIFYPEER, 1L, url);
  set(c, CURLOPT_SSL_VERIFYHOST, 2L, url);
  set(c, CURLOPT_WRITEFUNCTION, write_callback, url);
  set(c, CURLOPT_WRITEDATA, static_cast<void *>(&state), url);
  set(c, CURLOPT_XFERINFOFUNCTION, progress_callback, url);
  set(c, CURLOPT_XFERINFODATA, static_cast<void *>(&state), url);
  set(c, CURLOPT_NOPROGRESS, m_progress ? 0L : 1L, url);

  CURLcode code = curl.easy_perform(c);
  // The error buffer lives on this stack frame: detach it before returning.
  curl.easy_setopt(c, CURLOPT_ERRORBUFFER, nullptr);
  if (code == CURLE_OK) return;
  if (!state.error.empty()) throw SystemError(url, state.error);
  std::string message = error_buffer[0] ? error_buffer : curl.easy_strerror(code);
  if (code == CURLE_HTTP_RETURNED_ERROR) {
    long status = 0;
    curl.easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
    if (status == 404 || status == 410) throw NotFoundError(url, "not found (HTTP " + std::to_string(status) + ")");
    throw SystemError(url, "HTTP status " + std::to_string(status));
  }
  if (code == CURLE_FILE_COULDNT_READ_FILE && is_file) throw NotFoundError(url, "not found: " + message);
  if (code == CURLE_FILESIZE_EXCEEDED) throw SystemError(url, too_large(max_size));
  if (code == CURLE_OPERATION_TIMEDOUT)
    throw SystemError(url, message + " (a transfer may take at most " + std::to_string(m_deadline_seconds) +
                               " s; set " + k_deadline_variable + "=SECONDS to allow more)");
  throw SystemError(url, message);
}

Bytes Fetcher::fetch_bytes(const std::string &url, uint64_t max_size) {
  Bytes out;
  perform(url, max_size, [&](const char *data, size_t n) {
    if (n > max_size - out.size()) throw std::length_error(too_large(max_size));
    out.insert(out.end(), reinterpret_cast<const uint8_t *>(data), reinterpret_cast<const uint8_t *>(data) + n);
  });
  return out;
}

void Fetcher::fetch_to_file(const std::string &url, const std::string &path, uint64_t max_size) {
  const std::string part = path + ".part";
  std::unique_ptr<FILE, FileCloser> file(std::fopen(part.c_str(), "wbe"));
  if (!file) throw SystemError(part, std::strerror(errno));
  uint64_t received = 0;
  try {
    perform(url, max_size, [&](const char *data, size_t n) {
      if (n > max_size - received) throw std::length_error(too_large(max_size));
      received += n;
      if (std::fwrite(data, 1, n, file.get()) != n)
        throw SystemError(part, std::string("write: ") + std::strerror(errno));
    });
    FILE *f = file.release();
    if (std::fclose(f) != 0) throw SystemError(part, std::string("close: ") + std::strerror(errno));
    if (std::rename(part.c_str(), path.c_str()) != 0)
      throw SystemError(path, std::string("rename from .part: ") + std::strerror(errno));
  } catch (...) {
    file.reset();
    std::remove(part.c_str());
    throw;
  }
}

} // namespace mrforge::builder
