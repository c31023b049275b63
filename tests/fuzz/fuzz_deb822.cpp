// Fuzz target for the Debian control-format parsers: paragraphs (Packages, InRelease, status),
// package records, relation fields and versions. Any input must either parse or throw
// mrforge::Error. The seed corpus (tests/fuzz/corpus/deb822) also runs as an ordinary test.
#include <builder/debian/deb822.hpp>
#include <builder/debian/relations.hpp>
#include <builder/debian/repository.hpp>
#include <builder/debian/version.hpp>
#include <measure/util/errors.hpp>

#include <cstddef>
#include <cstdint>
#include <string_view>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  using namespace mrforge::builder::debian;
  const std::string_view text(reinterpret_cast<const char *>(data), size);
  try {
    for (const Paragraph &p : parse_deb822(text, "fuzz")) {
      for (const Field &f : p.fields) {
        try {
          (void)parse_dependencies(f.value, "fuzz", "amd64");
        } catch (const mrforge::Error &) {
        }
        try {
          (void)parse_provides(f.value, "fuzz");
        } catch (const mrforge::Error &) {
        }
        try {
          (void)compare_versions(parse_version(f.value, "fuzz"), parse_version("1:2.0-1", "fuzz"));
        } catch (const mrforge::Error &) {
        }
      }
      (void)p.to_text();
    }
  } catch (const mrforge::Error &) {
  }
  try {
    (void)parse_packages(text, "fuzz", "bookworm/main");
  } catch (const mrforge::Error &) {
  }
  return 0;
}
