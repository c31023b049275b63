// Output directories that appear whole or not at all. A build writes into a fresh sibling
// directory (OUT.mrforge-tmp-XXXXXX) and commit() swaps it into place with
// renameat2(RENAME_EXCHANGE) (or a plain rename when OUT does not exist), then removes the old
// contents. Until commit(), an existing OUT is untouched; a failed build removes its temporary
// directory. An existing OUT is only ever replaced if it is empty or holds the marker file a
// previous mrforge build wrote, so `-o ~` cannot destroy a home directory.
#pragma once

#include <string>

namespace mrforge::builder {

// The file in every output directory that records how it was made; its presence also marks the
// directory as mrforge's, so that a later build may replace it.
constexpr const char *k_build_record = "mrforge-build.json";

class OutputDir {
public:
  // Checks that `final_path` may be replaced (throws InputError otherwise) and creates the
  // temporary directory. `marker` is the file name that marks a directory as mrforge's output.
  OutputDir(std::string final_path, std::string marker);
  ~OutputDir(); // removes the temporary directory unless committed
  OutputDir(const OutputDir &) = delete;
  OutputDir &operator=(const OutputDir &) = delete;

  const std::string &temp_path() const { return m_temp; }
  const std::string &final_path() const { return m_final; }
  // The marker file must exist in temp_path() by now. Throws SystemError.
  void commit();

private:
  std::string m_final;
  std::string m_marker;
  std::string m_temp;
  bool m_committed = false;
};

// A temporary directory removed (recursively) when it goes out of scope.
class ScratchDir {
public:
  explicit ScratchDir(std::string path) : m_path(std::move(path)) {}
  // Creates PREFIX-XXXXXX (mkdtemp, mode 0700) under $TMPDIR or /tmp. Throws SystemError.
  static ScratchDir create(const std::string &prefix);
  ~ScratchDir();
  ScratchDir(const ScratchDir &) = delete;
  ScratchDir &operator=(const ScratchDir &) = delete;
  const std::string &path() const { return m_path; }
  std::string file(const std::string &name) const { return m_path + "/" + name; }

private:
  std::string m_path;
};

// Writes a small file atomically: PATH.tmp-XXXXXX then rename. Throws SystemError.
void write_file_atomically(const std::string &path, const std::string &content, unsigned mode = 0644);

} // namespace mrforge::builder
