#include <builder/system/curl_library.hpp>
#include <builder/system/dynamic_library.hpp>

namespace mrforge::builder {

namespace {

struct LoadedCurl {
  DynamicLibrary library{"libcurl.so.4", "libcurl4", "downloads (http://, https://, file://)"};
  CurlLibrary functions;
  LoadedCurl() {
    library.load(functions.global_init, "curl_global_init");
    library.load(functions.easy_strerror, "curl_easy_strerror");
    library.load(functions.easy_init, "curl_easy_init");
    library.load(functions.easy_cleanup, "curl_easy_cleanup");
    library.load(functions.easy_reset, "curl_easy_reset");
    library.load(functions.easy_setopt, "curl_easy_setopt");
    library.load(functions.easy_perform, "curl_easy_perform");
    library.load(functions.easy_getinfo, "curl_easy_getinfo");
  }
};

} // namespace

const CurlLibrary &curl_library() {
  // Never unloaded: transfers may still run on other threads while static objects are destroyed
  // at exit. (A static initialiser that throws is tried again by the next call.)
  static const LoadedCurl *loaded = new LoadedCurl();
  return loaded->functions;
}

} // namespace mrforge::builder
