// Fuzz target for what verify --app reads from others: mrforge-app.json (an app record), a
// deployed app-compose.json with the compose file inside it, and compose files themselves. Any
// input must either parse or throw mrforge::Error; a parsed app-compose must compare with itself
// without differences. Seeds (tests/fuzz/corpus/dstack_app): the example app's three files, and a
// record with a service pinned from an OCI layout (mrforge-app-pinned.json).
#include <measure/documents/dstack_app.hpp>
#include <measure/documents/json_text.hpp>
#include <measure/util/errors.hpp>

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  using namespace mrforge;
  const ByteView bytes(data, size);
  try {
    (void)parse_app_record(bytes, "fuzz");
  } catch (const Error &) {
  }
  try {
    AppComposeContent c = parse_app_compose(bytes, "fuzz");
    if (!app_compose_differences(c, c).empty()) std::abort(); // the same content cannot differ
  } catch (const Error &) {
  }
  try {
    (void)normalized_app_compose(parse_json_text(bytes, "fuzz"), "fuzz");
  } catch (const Error &) {
  }
  try {
    (void)compose_service_images(std::string(reinterpret_cast<const char *>(data), size), "fuzz");
  } catch (const Error &) {
  }
  return 0;
}
