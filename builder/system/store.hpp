// The content-addressed input store: every input of a build (packages, and later firmware and
// kernels) is kept as STORE/sha256/<hex>, written once, verified on the way in, and read by
// builds that never touch the network. Default location: $MRFORGE_STORE, else
// $XDG_CACHE_HOME/mrforge/store, else $HOME/.cache/mrforge/store.
#pragma once

#include <measure/util/mapped_file.hpp>

#include <cstdint>
#include <optional>
#include <string>

namespace mrforge::builder {

class Store {
public:
  // Creates the directory if needed. Throws SystemError.
  explicit Store(std::string root);
  static std::string default_root();

  const std::string &root() const { return m_root; }
  std::string path_of(const std::string &sha256_hex) const;
  bool contains(const std::string &sha256_hex) const;
  // The path of a stored blob after checking its size (not its digest: that is checked on the
  // way in). Throws InputError naming `what` when missing, saying to run `mrforge fetch`.
  std::string require(const std::string &sha256_hex, uint64_t size, const std::string &what) const;

  // Copies a file into the store if its sha256 and size are as expected; returns the stored
  // path. Throws InputError naming the file and both digests otherwise (nothing is stored), and
  // SystemError if `source` is not a regular file or larger than `size` (checked before copying).
  std::string add_file(const std::string &source, const std::string &sha256_hex, uint64_t size,
                       const std::string &what);
  // A new temporary file path inside the store (same file system, for rename), and the commit of
  // such a file once verified.
  std::string temp_path(const std::string &hint);
  std::string commit(const std::string &temp, const std::string &sha256_hex, uint64_t size, const std::string &what);
  // A private scratch directory under the store, removed by the caller (see ScratchDir).
  std::string make_scratch_dir(const std::string &hint);

private:
  std::string m_root;
};

// The sha256 (hex) and size of a file, streamed from where `file` stands. Throws SystemError if a
// read fails or the file yields more than its limit.
struct FileDigest {
  std::string sha256_hex;
  uint64_t size = 0;
};
FileDigest digest_file(InputFile file);
// digest_file(InputFile::open(path, limit)): refuses anything but a regular file (a FIFO or a
// device would never end) and files larger than `limit`.
FileDigest digest_file(const std::string &path, FileLimit limit);

} // namespace mrforge::builder
