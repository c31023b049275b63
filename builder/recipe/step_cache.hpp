// The content-addressed step cache: a build step whose inputs are unchanged is not run again.
// Each step (rootfs image, initramfs, kernel, firmware) names its inputs in a key text (digests
// of packages and files, settings, tool versions); the entry STORE/steps/STEP/SHA256(KEY) holds
// the step's output files and entry.json (the key text and every output's sha256 and size).
// Entries are written to a temporary directory and renamed into place, so a crash never leaves
// a half entry; an entry whose outputs no longer match their recorded digests is ignored (and
// replaced by the next build), so a damaged cache cannot change a build's bytes. An output is
// hashed when the entry is made and again whenever its stat stamp (inode, size, modification and
// change times) differs from the one recorded with its digest or was taken within 2 s of its last
// change; otherwise the stamp vouches for it (as git's index does), so that a no-op build does
// not read a 200 MB root file system. A write through the file system always changes the change
// time; damage below it (a failing disk) is what `build --no-cache` and `rebuild` are for.
#pragma once

#include <builder/system/store.hpp>

#include <map>
#include <optional>
#include <string>
#include <vector>

namespace mrforge::builder {

// The text a step's cache key is made of: "name=value" lines in the order added.
class StepKey {
public:
  explicit StepKey(std::string step) : m_step(std::move(step)) {}
  StepKey &add(const std::string &name, const std::string &value);
  const std::string &step() const { return m_step; }
  const std::string &text() const { return m_text; }
  std::string digest() const; // sha256 hex of the text

private:
  std::string m_step;
  std::string m_text;
};

struct CachedEntry {
  std::string dir;                         // holds the output files
  std::map<std::string, FileDigest> files; // output name -> digest
  std::string file(const std::string &name) const { return dir + "/" + name; }
};

class StepCache {
public:
  // enabled = false: lookups always miss and nothing is written (`build --no-cache`).
  StepCache(const Store &store, bool enabled);

  // The entry if present and intact (every recorded output hashes to its digest, or its stamp
  // vouches for that).
  std::optional<CachedEntry> lookup(const StepKey &key) const;

  // A fresh directory to write a step's outputs into (under the store, same file system).
  std::string begin(const StepKey &key);
  // Records the outputs (file names inside the begun directory) and moves the directory into
  // place; returns the entry. When disabled, the directory stays where it is (the caller's
  // scratch) and is returned as the entry.
  CachedEntry commit(const StepKey &key, const std::string &dir, const std::vector<std::string> &outputs);

private:
  std::string entry_dir(const StepKey &key) const;
  std::string m_root;
  bool m_enabled;
};

} // namespace mrforge::builder
