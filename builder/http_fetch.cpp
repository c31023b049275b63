#include <builder/http_fetch.hpp>

#include <curl/curl.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <mutex>

namespace mrforge::builder {

namespace {

constexpr long k_connect_timeout_s = 30;
constexpr long k_low_speed_limit_bytes = 1;
constexpr long k_low_speed_time_s = 60;
constexpr long k_max_redirects = 10;
constexpr const char *k_user_agent = "mrforge/0.1";

void global_init() {
  static std::once_flag once;
  static CURLcode code = CURLE_OK;
  std::call_once(once, [] { code = curl_global_init(CURL_GLOBAL_DEFAULT); });
  if (code != CURLE_OK) throw SystemError("libcurl", std::string("curl_global_init: ") + curl_easy_strerror(code));
}

struct CurlDeleter {
  void operator()(CURL *c) const { curl_easy_cleanup(c); }
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
  CURLcode code = curl_easy_setopt(c, option, value);
  if (code != CURLE_OK) throw SystemError(url, std::string("curl_easy_setopt: ") + curl_easy_strerror(code));
}

} // namespace

struct Fetcher::Handle {
  std::unique_ptr<CURL, CurlDeleter> curl;
};

Fetcher::Fetcher() : m_handle(std::make_unique<Handle>()) {
  global_init();
  m_handle->curl.reset(curl_easy_init());
  if (!m_handle->curl) throw SystemError("libcurl", "curl_easy_init failed");
}

Fetcher::~Fetcher() = default;

void Fetcher::perform(const std::string &url, const std::function<void(const char *, size_t)> &sink) {
  CURL *c = m_handle->curl.get();
  curl_easy_reset(c);
  bool is_file = url.rfind("file://", 0) == 0;
  if (!is_file && url.rfind("http://", 0) != 0 && url.rfind("https://", 0) != 0)
    throw SystemError(url, "unsupported URL scheme (expected http://, https:// or file://)");

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
  set(c, CURLOPT_USERAGENT, k_user_agent, url);
  set(c, CURLOPT_SSL_VERIFYPEER, 1L, url);
  set(c, CURLOPT_SSL_VERIFYHOST, 2L, url);
  set(c, CURLOPT_WRITEFUNCTION, write_callback, url);
  set(c, CURLOPT_WRITEDATA, static_cast<void *>(&state), url);
  set(c, CURLOPT_XFERINFOFUNCTION, progress_callback, url);
  set(c, CURLOPT_XFERINFODATA, static_cast<void *>(&state), url);
  set(c, CURLOPT_NOPROGRESS, m_progress ? 0L : 1L, url);

  CURLcode code = curl_easy_perform(c);
  // The error buffer lives on this stack frame: detach it before returning.
  curl_easy_setopt(c, CURLOPT_ERRORBUFFER, nullptr);
  if (code == CURLE_OK) return;
  if (!state.error.empty()) throw SystemError(url, state.error);
  std::string message = error_buffer[0] ? error_buffer : curl_easy_strerror(code);
  if (code == CURLE_HTTP_RETURNED_ERROR) {
    long status = 0;
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
    if (status == 404 || status == 410) throw NotFoundError(url, "not found (HTTP " + std::to_string(status) + ")");
    throw SystemError(url, "HTTP status " + std::to_string(status));
  }
  if (code == CURLE_FILE_COULDNT_READ_FILE && is_file) throw NotFoundError(url, "not found: " + message);
  throw SystemError(url, message);
}

Bytes Fetcher::fetch_bytes(const std::string &url, uint64_t max_size) {
  Bytes out;
  perform(url, [&](const char *data, size_t n) {
    if (n > max_size - out.size())
      throw SystemError(url, "larger than the limit of " + std::to_string(max_size) + " bytes");
    out.insert(out.end(), reinterpret_cast<const uint8_t *>(data), reinterpret_cast<const uint8_t *>(data) + n);
  });
  return out;
}

void Fetcher::fetch_to_file(const std::string &url, const std::string &path) {
  const std::string part = path + ".part";
  std::unique_ptr<FILE, FileCloser> file(std::fopen(part.c_str(), "wbe"));
  if (!file) throw SystemError(part, std::strerror(errno));
  try {
    perform(url, [&](const char *data, size_t n) {
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
