// Fuzz target for .deb unpacking (ar container, control and data tars through libarchive) into a
// staging tree. Any input must either unpack or throw mrforge::Error; nothing may be written
// outside the staging directory. The seed corpus (tests/fuzz/corpus/deb: debs made by dpkg-deb
// with xz, gzip and zstd, and hostile ones) also runs as an ordinary test.
#include <builder/debian/deb_unpack.hpp>
#include <builder/fs/content_staging.hpp>
#include <builder/fs/fs_tree.hpp>
#include <measure/util/errors.hpp>

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <unistd.h>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  char dir[] = "/tmp/mrforge-fuzz-deb-XXXXXX";
  if (::mkdtemp(dir) == nullptr) std::abort();
  std::string deb = std::string(dir) + "/input.deb";
  if (FILE *f = std::fopen(deb.c_str(), "wb")) {
    if (size > 0 && std::fwrite(data, 1, size, f) != size) std::abort();
    std::fclose(f);
  }
  try {
    mrforge::builder::FsTree tree;
    mrforge::builder::ContentStaging staging(std::string(dir) + "/staging");
    (void)mrforge::builder::unpack_deb(deb, "fuzz.deb", tree, staging, {});
  } catch (const mrforge::Error &) {
  }
  std::error_code ec;
  std::filesystem::remove_all(dir, ec);
  return 0;
}
