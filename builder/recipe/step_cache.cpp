#include <builder/recipe/step_cache.hpp>
#include <builder/system/output_dir.hpp>

#include <measure/documents/json_text.hpp>
#include <measure/util/errors.hpp>
#include <measure/util/hash.hpp>
#include <measure/util/mapped_file.hpp>

#include <nlohmann/json.hpp>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <sys/stat.h>
#include <time.h>

namespace mrforge::builder {

namespace fs = std::filesystem;

StepKey &StepKey::add(const std::string &name, const std::string &value) {
  // One line per input; values never contain newlines in practice, but escape them so that two
  // different keys can never produce the same text.
  std::string v;
  for (char c : value) {
    if (c == '\\')
      v += "\\\\";
    else if (c == '\n')
      v += "\\n";
    else
      v += c;
  }
  m_text += name + "=" + v + "\n";
  return *this;
}

std::string StepKey::digest() const { return to_hex(sha256(ByteView::of(m_step + "\n" + m_text))); }

StepCache::StepCache(const Store &store, bool enabled) : m_root(store.root() + "/steps"), m_enabled(enabled) {}

std::string StepCache::entry_dir(const StepKey &key) const { return m_root + "/" + key.step() + "/" + key.digest(); }

namespace {

// An output file as it was when its digest was last checked: its inode, size and modification and
// change times (nanoseconds), and the clock then. Any write, truncation, chmod or replacement
// changes the change time, which no caller can set back, so an output whose stamp still matches
// has the bytes that were hashed; unless it changed within k_racy_ns of being stamped (timestamps
// are as coarse as the kernel's tick), when it is hashed again, as git does with its index.
constexpr int64_t k_racy_ns = int64_t{2} * 1000 * 1000 * 1000;

int64_t ns_of(const struct timespec &t) { return int64_t{t.tv_sec} * 1000000000 + t.tv_nsec; }

int64_t now_ns() {
  struct timespec t {};
  ::clock_gettime(CLOCK_REALTIME, &t);
  return ns_of(t);
}

// [inode, size, mtime_ns, ctime_ns, stamped_at_ns]; empty if the file is not a regular file.
nlohmann::json stat_stamp(const std::string &path) {
  struct stat st {};
  if (::lstat(path.c_str(), &st) != 0 || !S_ISREG(st.st_mode)) return nlohmann::json();
  return nlohmann::json::array(
      {uint64_t{st.st_ino}, int64_t{st.st_size}, ns_of(st.st_mtim), ns_of(st.st_ctim), now_ns()});
}

// True if `recorded` (a stat_stamp) vouches for the file's bytes as they are now.
bool stamp_vouches(const nlohmann::json &recorded, const nlohmann::json &now) {
  if (!recorded.is_array() || recorded.size() != 5 || !now.is_array()) return false;
  for (size_t i = 0; i < 4; ++i)
    if (recorded[i] != now[i]) return false;
  const int64_t changed = recorded[3].get<int64_t>(), stamped = recorded[4].get<int64_t>();
  return stamped - changed > k_racy_ns;
}

} // namespace

std::optional<CachedEntry> StepCache::lookup(const StepKey &key) const {
  if (!m_enabled) return std::nullopt;
  CachedEntry entry;
  entry.dir = entry_dir(key);
  const std::string record = entry.dir + "/entry.json";
  std::error_code missing;
  if (!fs::exists(record, missing)) return std::nullopt;
  try {
    nlohmann::json j = parse_json_text(read_file(record, limits::k_json_document), record);
    if (j.at("key").get<std::string>() != key.text()) return std::nullopt;
    bool restamped = false;
    for (auto &[name, d] : j.at("outputs").items()) {
      FileDigest expected{d.at("sha256").get<std::string>(), d.at("size").get<uint64_t>()};
      const std::string path = entry.file(name);
      nlohmann::json stamp = stat_stamp(path);
      if (stamp.is_null() || stamp[1].get<uint64_t>() != expected.size) return std::nullopt;
      if (!stamp_vouches(d.value("stat", nlohmann::json()), stamp)) {
        FileDigest actual = digest_file(path, limits::k_artifact);
        if (actual.sha256_hex != expected.sha256_hex || actual.size != expected.size) return std::nullopt;
        d["stat"] = stat_stamp(path); // taken after the hash: vouches for those bytes from now on
        restamped = true;
      }
      entry.files[name] = expected;
    }
    if (restamped) {
      try {
        write_file_atomically(record, j.dump(2) + "\n");
      } catch (const std::exception &) {
        // A read-only store still works: its entries are hashed on every lookup.
      }
    }
  } catch (const std::exception &) {
    return std::nullopt; // unreadable or damaged entry: rebuild
  }
  return entry;
}

std::string StepCache::begin(const StepKey &key) {
  std::string parent = m_enabled ? m_root + "/" + key.step() : m_root + "/uncached";
  std::error_code ec;
  fs::create_directories(parent, ec);
  if (ec) throw SystemError(parent, "cannot create the step cache directory: " + ec.message());
  std::string tmpl = parent + "/.tmp-XXXXXX";
  std::vector<char> buf(tmpl.begin(), tmpl.end());
  buf.push_back('\0');
  if (!mkdtemp(buf.data())) throw SystemError(parent, std::string("mkdtemp failed: ") + std::strerror(errno));
  return buf.data();
}

CachedEntry StepCache::commit(const StepKey &key, const std::string &dir, const std::vector<std::string> &outputs) {
  CachedEntry entry;
  nlohmann::json record{{"step", key.step()}, {"key", key.text()}, {"outputs", nlohmann::json::object()}};
  for (const std::string &name : outputs) {
    FileDigest d = digest_file(dir + "/" + name, limits::k_artifact);
    record["outputs"][name] = {{"sha256", d.sha256_hex}, {"size", d.size}, {"stat", stat_stamp(dir + "/" + name)}};
    entry.files[name] = d;
  }
  write_file_atomically(dir + "/entry.json", record.dump(2) + "\n");
  if (!m_enabled) {
    entry.dir = dir;
    return entry;
  }
  entry.dir = entry_dir(key);
  std::error_code ec;
  if (!lookup(key)) fs::remove_all(entry.dir, ec); // a damaged entry that lookup() refused
  if (std::rename(dir.c_str(), entry.dir.c_str()) != 0) {
    int err = errno;
    // Another build of the same step finished first: its entry has the same key, so use it.
    if (err == ENOTEMPTY || err == EEXIST) {
      if (std::optional<CachedEntry> other = lookup(key)) {
        fs::remove_all(dir, ec);
        return *other;
      }
    }
    throw SystemError(entry.dir, std::string("cannot move the step's outputs into the cache: ") + std::strerror(err));
  }
  return entry;
}

} // namespace mrforge::builder
