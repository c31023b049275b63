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
    for (const auto &[name, d] : j.at("outputs").items()) {
      FileDigest expected{d.at("sha256").get<std::string>(), d.at("size").get<uint64_t>()};
      std::error_code ec;
      if (fs::file_size(entry.file(name), ec) != expected.size || ec) return std::nullopt;
      FileDigest actual = digest_file(entry.file(name), limits::k_artifact);
      if (actual.sha256_hex != expected.sha256_hex) return std::nullopt;
      entry.files[name] = actual;
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
    record["outputs"][name] = {{"sha256", d.sha256_hex}, {"size", d.size}};
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
