// The libcurl functions mrforge calls, resolved from libcurl.so.4 (Debian package libcurl4) the
// first time a download needs them (dynamic_library.hpp says why not at start-up). Types and
// constants come from <curl/curl.h> as usual.
#pragma once

#include <curl/curl.h>

namespace mrforge::builder {

struct CurlLibrary {
  decltype(&::curl_global_init) global_init = nullptr;
  decltype(&::curl_easy_strerror) easy_strerror = nullptr;
  decltype(&::curl_easy_init) easy_init = nullptr;
  decltype(&::curl_easy_cleanup) easy_cleanup = nullptr;
  decltype(&::curl_easy_reset) easy_reset = nullptr;
  decltype(&::curl_easy_setopt) easy_setopt = nullptr;
  decltype(&::curl_easy_perform) easy_perform = nullptr;
  decltype(&::curl_easy_getinfo) easy_getinfo = nullptr;
};

// Loads libcurl once per process (thread-safe) and keeps it loaded. Throws MissingLibraryError
// (dynamic_library.hpp) naming libcurl.so.4 and the package libcurl4 when it cannot be loaded;
// the next call tries again.
const CurlLibrary &curl_library();

} // namespace mrforge::builder
