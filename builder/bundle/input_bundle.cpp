#include <builder/archive/archive_writers.hpp>
#include <builder/bundle/input_bundle.hpp>
#include <builder/system/byte_sink.hpp>
#include <builder/system/output_dir.hpp>
#include <builder/system/utf8_locale.hpp>

#include <measure/documents/json_fields.hpp>
#include <measure/documents/json_text.hpp>
#include <measure/util/errors.hpp>
#include <measure/util/file_io.hpp>
#include <measure/util/hash.hpp>
#include <measure/util/terminal_text.hpp>
#include <measure/util/unique_fd.hpp>

#include <archive.h>
#include <archive_entry.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <memory>
#include <set>
#include <sys/stat.h>
#include <unistd.h>

namespace mrforge::builder {

namespace {

using nlohmann::json;

constexpr int k_bundle_version = 1;
constexpr const char *k_index_name = "index.json";
constexpr size_t k_chunk = size_t{1} << 20;
// Entries at least this large get a progress line of their own (a kernel package is ~100 MiB).
constexpr uint64_t k_progress_entry_size = 16 * limits::k_mib;

std::string errno_text() { return std::strerror(errno); }

// A path of the archive made from a lock's values: components separated by '/', none empty, "."
// or "..", no control characters. Locks are checked when read, but a name is never trusted twice.
std::string checked_entry_name(const std::string &name, const std::string &what) {
  bool ok = !name.empty() && name.front() != '/' && name.back() != '/';
  for (size_t start = 0; ok && start <= name.size();) {
    size_t end = name.find('/', start);
    if (end == std::string::npos) end = name.size();
    std::string part = name.substr(start, end - start);
    ok = !part.empty() && part != "." && part != "..";
    start = end + 1;
  }
  ok = ok && std::none_of(name.begin(), name.end(), [](char c) { return static_cast<unsigned char>(c) < 0x20; });
  if (!ok) throw InputError(what, "'" + echoed(name) + "' cannot be a path in a bundle (check the lock)");
  return name;
}

// A recipe id as one path component: characters other than letters, digits, '.', '_', '+' and '-'
// become '_', and a leading '.' too (so neither "." nor ".." can result).
std::string id_component(const std::string &id) {
  std::string out;
  for (char c : id) {
    bool plain = std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '_' || c == '+' || c == '-';
    out += plain ? c : '_';
  }
  if (out.empty() || out.front() == '.') out.insert(out.begin(), '_');
  return out;
}

std::string suite_of(const LockedPackage &p) {
  std::string suite = p.source.substr(0, p.source.find('/'));
  if (suite.empty())
    throw InputError("package " + p.name, "the lock names no source suite ('" + echoed(p.source) + "')");
  return suite;
}

void add_entry(BundlePlan &plan, BundleEntry entry, const std::string &id) {
  auto [it, inserted] = plan.entries.emplace(entry.name, entry);
  BundleEntry &held = it->second;
  if (!inserted && (held.sha256 != entry.sha256 || held.size != entry.size))
    throw InputError(entry.name, "two locks pin different content under this bundle path: " + held.what + " (sha256 " +
                                     held.sha256 + ") and " + entry.what + " of " + id + " (sha256 " + entry.sha256 +
                                     "); bundle these recipes separately");
  if (std::find(held.recipes.begin(), held.recipes.end(), id) == held.recipes.end()) held.recipes.push_back(id);
  std::sort(held.recipes.begin(), held.recipes.end());
}

// The folder of one source's signed metadata: SUITE/DATE (the InRelease's Date), so that two
// recipes locked at different times keep both; a lock without a date names it by the InRelease's
// digest instead.
std::string metadata_folder(const LockedSource &s) {
  return "sources/" + s.suite + "/" + (s.date.empty() ? "inrelease-" + s.inrelease_sha256.substr(0, 16) : s.date) +
         "/dists/" + s.suite + "/";
}

void add_source_entries(BundlePlan &plan, const BundleRecipe &r) {
  for (const LockedSource &s : r.lock.sources) {
    std::string what = "InRelease of " + s.suite + " (" + (s.date.empty() ? "undated" : s.date) + ")";
    if (s.inrelease_size == 0)
      throw InputError(r.lock_path, "source " + s.suite +
                                        ": the lock records no InRelease size (it was made by an older mrforge); "
                                        "re-lock with `mrforge lock` before exporting or importing a bundle");
    std::string folder = metadata_folder(s);
    add_entry(plan,
              {checked_entry_name(folder + "InRelease", what),
               BundleEntryKind::inrelease,
               s.inrelease_sha256,
               s.inrelease_size,
               {},
               what,
               {}},
              r.id);
    for (const LockedIndex &i : s.indexes) {
      std::string index_what =
          "index " + i.path + " of " + s.suite + " (" + (s.date.empty() ? "undated" : s.date) + ")";
      add_entry(plan,
                {checked_entry_name(folder + i.path, index_what),
                 BundleEntryKind::index,
                 i.sha256,
                 i.size,
                 {},
                 index_what,
                 {}},
                r.id);
    }
  }
}

void add_recipe_entries(BundlePlan &plan, const BundleRecipe &r) {
  add_source_entries(plan, r);
  for (const LockedPackage &p : r.lock.packages) {
    std::string what = "package " + p.name + " " + p.version + " (" + p.architecture + ")";
    std::string name = checked_entry_name("sources/" + suite_of(p) + "/" + p.filename, what);
    add_entry(plan, {name, BundleEntryKind::package, p.sha256, p.size, {}, what, {}}, r.id);
  }
  if (r.lock.kernel) {
    const LockedKernel &k = *r.lock.kernel;
    std::string what = "kernel " + k.package + " " + k.version + " (" + k.architecture + ")";
    add_entry(
        plan,
        {checked_entry_name("kernel/" + k.filename, what), BundleEntryKind::kernel, k.sha256, k.size, {}, what, {}},
        r.id);
  }
  for (const LockedFile &f : r.lock.files) {
    std::string what = "file " + f.path + " of " + r.recipe;
    std::string name = checked_entry_name("files/" + id_component(r.id) + "/" + f.path, what);
    add_entry(plan, {name, BundleEntryKind::file, f.sha256, f.size, {}, what, r.recipe_dir + "/" + f.path}, r.id);
  }
}

// Streams what is left of `fd` (exactly `size` bytes) into `consume`, hashing it; returns the
// sha256. Throws InputError naming `what` when the file holds another number of bytes.
template <class Consume>
std::string stream_file(int fd, const std::string &path, uint64_t size, const std::string &what, Consume consume) {
  Hasher hasher(HashAlgorithm::sha256);
  std::vector<uint8_t> buffer(k_chunk);
  uint64_t done = 0;
  for (;;) {
    ssize_t n = ::read(fd, buffer.data(), buffer.size());
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) throw SystemError(path, "cannot read: " + errno_text());
    if (n == 0) break;
    if (static_cast<uint64_t>(n) > size - done)
      throw InputError(what, path + " is larger than the " + std::to_string(size) + " bytes the lock pins");
    hasher.update(buffer.data(), static_cast<size_t>(n));
    consume(buffer.data(), static_cast<size_t>(n));
    done += static_cast<uint64_t>(n);
  }
  if (done != size)
    throw InputError(what, path + " has " + std::to_string(done) + " bytes, the lock pins " + std::to_string(size));
  return to_hex(hasher.finish());
}

std::string mib(uint64_t bytes) { return std::to_string((bytes + limits::k_mib / 2) / limits::k_mib) + " MiB"; }

// ---- import -------------------------------------------------------------------------------------

struct ArchiveReadFree {
  void operator()(archive *a) const { archive_read_free(a); }
};
using ArchiveReadPtr = std::unique_ptr<archive, ArchiveReadFree>;

// A store temporary file, removed unless committed.
class StoreTemp {
public:
  StoreTemp(Store &store, const std::string &hint)
      : m_path(store.temp_path(hint)), m_cleanup(m_path, InterruptCleanup::Kind::file) {}
  ~StoreTemp() {
    if (!m_path.empty()) ::unlink(m_path.c_str());
  }
  StoreTemp(const StoreTemp &) = delete;
  StoreTemp &operator=(const StoreTemp &) = delete;
  const std::string &path() const { return m_path; }
  // Store::commit renames or removes the file: it is no longer ours.
  void release() {
    m_path.clear();
    m_cleanup.release();
  }

private:
  std::string m_path;
  InterruptCleanup m_cleanup;
};

class BundleReader {
public:
  BundleReader(const BundlePlan &plan, Store &store, std::string path, const Progress &progress)
      : m_plan(plan), m_store(store), m_path(std::move(path)), m_progress(progress) {}

  BundleReport run() {
    Utf8Locale utf8; // names are UTF-8 whatever the caller's locale (see utf8_locale.hpp)
    // O_NONBLOCK: a FIFO cannot block the open; it is refused below (no effect on regular files).
    UniqueFd fd(::open(m_path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY));
    if (!fd) throw SystemError(m_path, "cannot open the bundle: " + errno_text());
    struct stat st {};
    if (::fstat(fd.get(), &st) != 0) throw SystemError(m_path, "cannot examine the bundle: " + errno_text());
    if (!S_ISREG(st.st_mode))
      throw SystemError(m_path, std::string("is ") + (S_ISDIR(st.st_mode) ? "a directory" : "not a regular file") +
                                    "; give the bundle file that `mrforge fetch --export` wrote");
    m_archive.reset(archive_read_new());
    if (!m_archive) throw Error("archive_read_new failed");
    archive *a = m_archive.get();
    // Tar only, and no decompression filter: a bundle is an uncompressed tar.
    check(archive_read_support_format_tar(a), "");
    check(archive_read_open_fd(a, fd.get(), 64 * 1024), "at its start");
    if (m_progress)
      m_progress("bundle " + m_path + ": verifying " + std::to_string(m_plan.entries.size()) + " entries");
    BundleReport report;
    report.path = m_path;
    std::set<std::string> seen;
    bool first = true;
    for (;;) {
      archive_entry *e = nullptr;
      int64_t offset = archive_read_header_position(a);
      int r = archive_read_next_header(a, &e);
      if (r == ARCHIVE_EOF) break;
      check(r, m_last.empty() ? "at its start" : "after entry '" + m_last + "'");
      const char *raw = archive_entry_pathname(e);
      std::string name = raw != nullptr ? raw : "";
      std::string where = "entry '" + echoed(name) + "' at offset " + std::to_string(offset);
      if (first) {
        first = false;
        if (name != k_index_name)
          fail(where + " comes first; a bundle starts with " + k_index_name +
               " (is this a bundle written by `mrforge fetch --export`?)");
        check_regular(e, where);
        read_index(e, where);
        m_last = name;
        continue;
      }
      auto it = m_plan.entries.find(name);
      if (it == m_plan.entries.end())
        fail(where + " is not in the index: the bundle was altered after it was written; nothing of it was stored");
      if (!seen.insert(name).second) fail(where + " appears twice; the bundle was altered");
      check_regular(e, where);
      const BundleEntry &entry = it->second;
      int64_t size = archive_entry_size(e);
      if (size < 0 || static_cast<uint64_t>(size) != entry.size)
        fail(where + " (" + entry.what + ") has " + std::to_string(size) + " bytes, the lock pins " +
             std::to_string(entry.size) + "; the bundle was altered");
      if (m_progress && entry.size >= k_progress_entry_size)
        m_progress("bundle: " + entry.name + " (" + mib(entry.size) + ")");
      read_entry(entry, where, report);
      report.bytes += entry.size;
      ++report.entries;
      m_last = name;
    }
    if (first) fail(std::string("holds no entries; a bundle starts with ") + k_index_name);
    for (const auto &[name, entry] : m_plan.entries)
      if (seen.count(name) == 0)
        fail("lacks entry '" + name + "' (" + entry.what +
             ") that its index lists: the bundle is incomplete; copy it again or export it again");
    return report;
  }

private:
  [[noreturn]] void fail(const std::string &message) const { throw InputError(m_path, message); }

  void check(int r, const std::string &where) {
    if (r == ARCHIVE_OK) return;
    const char *message = archive_error_string(m_archive.get());
    fail("damaged or truncated " + where + ": " + (message != nullptr ? message : "unreadable tar") +
         " (a bundle is the uncompressed tar `mrforge fetch --export` writes; copy it again)");
  }

  void check_regular(archive_entry *e, const std::string &where) const {
    if (archive_entry_filetype(e) != AE_IFREG || archive_entry_hardlink(e) != nullptr || !archive_entry_size_is_set(e))
      fail(where + " is not a regular file; a bundle holds only regular files");
    if (archive_entry_sparse_reset(e) != 0) fail(where + " is a sparse file; a bundle holds only plain files");
  }

  // Reads the current entry's data in chunks into `consume`; exactly `size` bytes.
  template <class Consume> void read_data(uint64_t size, const std::string &where, Consume consume) {
    std::vector<uint8_t> buffer(k_chunk);
    uint64_t done = 0;
    for (;;) {
      la_ssize_t n = archive_read_data(m_archive.get(), buffer.data(), buffer.size());
      if (n < 0) check(static_cast<int>(n), "in " + where);
      if (n <= 0) break;
      if (static_cast<uint64_t>(n) > size - done) fail(where + " holds more bytes than its header says");
      consume(buffer.data(), static_cast<size_t>(n));
      done += static_cast<uint64_t>(n);
    }
    if (done != size)
      fail("truncated in " + where + ": " + std::to_string(done) + " of " + std::to_string(size) + " bytes");
  }

  void read_index(archive_entry *e, const std::string &where) {
    int64_t size = archive_entry_size(e);
    if (size < 0 || static_cast<uint64_t>(size) > limits::k_json_document.max_size)
      fail(where + ": " + std::to_string(size) + " bytes, more than an index (at most " +
           std::to_string(limits::k_json_document.max_size) + ")");
    std::string text;
    text.reserve(static_cast<size_t>(size));
    read_data(static_cast<uint64_t>(size), where,
              [&](const uint8_t *data, size_t n) { text.append(reinterpret_cast<const char *>(data), n); });
    if (text == bundle_index_json(m_plan)) return;
    diagnose_index(text);
  }

  // The index differs from the locks' own: says how, as precisely as it can, and throws.
  [[noreturn]] void diagnose_index(const std::string &text) const {
    const std::string where = k_index_name;
    json doc;
    try {
      doc = parse_json_text(text, where);
    } catch (const FormatError &e) {
      fail(std::string(k_index_name) + " is not JSON (" + e.what() + "); not a bundle written by mrforge");
    }
    auto version = doc.is_object() ? doc.find("bundleVersion") : doc.end();
    if (!doc.is_object() || version == doc.end() || *version != k_bundle_version)
      fail(std::string(k_index_name) + " is not an mrforge input bundle index of version " +
           std::to_string(k_bundle_version));
    try {
      std::map<std::string, std::string> locks; // id -> lock_sha256
      const json &recipes = json_field(doc, "recipes", where);
      if (!recipes.is_array()) fail(std::string(k_index_name) + ": recipes is not a list");
      for (const json &r : recipes)
        locks[json_string_field(r, "id", where + ".recipes")] = json_string_field(r, "lock_sha256", where + ".recipes");
      std::set<std::string> expected_ids;
      for (const BundleRecipe &r : m_plan.recipes) {
        expected_ids.insert(r.id);
        auto it = locks.find(r.id);
        if (it == locks.end())
          fail("holds no inputs for " + r.recipe + " (" + r.id +
               "); it was exported for other recipes: export a bundle of this one");
        if (it->second != r.lock_sha256)
          fail("was made from another lock of " + r.recipe + " (" + r.id + "): the bundle's lock has sha256 " +
               echoed(it->second) + ", " + r.lock_path + " has " + r.lock_sha256 +
               "; check out the lock the bundle was made from, or export the bundle again from this one");
      }
      for (const auto &[id, sha] : locks)
        if (expected_ids.count(id) == 0)
          fail("holds inputs for recipe '" + echoed(id) + "', which is not part of what is being imported");
      const json &entries = json_field(doc, "entries", where);
      if (!entries.is_array()) fail(std::string(k_index_name) + ": entries is not a list");
      std::set<std::string> listed;
      for (const json &en : entries) {
        std::string name = json_string_field(en, "name", where + ".entries");
        listed.insert(name);
        auto it = m_plan.entries.find(name);
        if (it == m_plan.entries.end())
          fail(std::string(k_index_name) + " lists entry '" + echoed(name) +
               "', which the locks do not pin; the bundle was altered");
        std::string sha = json_string_field(en, "sha256", where + ".entries");
        if (sha != it->second.sha256)
          fail(std::string(k_index_name) + ": entry '" + name + "' (" + it->second.what + ") has sha256 " +
               echoed(sha) + ", the lock pins " + it->second.sha256 + "; the bundle was altered");
      }
      for (const auto &[name, entry] : m_plan.entries)
        if (listed.count(name) == 0)
          fail(std::string(k_index_name) + " lacks entry '" + name + "' (" + entry.what +
               "); the bundle was made from other locks or altered");
    } catch (const InputError &e) {
      if (e.input() == m_path) throw;
      fail(e.what());
    }
    fail(std::string(k_index_name) + " is not the index of these locks (it differs in form); export the bundle again");
  }

  void read_entry(const BundleEntry &entry, const std::string &where, BundleReport &report) {
    Hasher hasher(HashAlgorithm::sha256);
    auto check_digest = [&]() {
      std::string got = to_hex(hasher.finish());
      if (got != entry.sha256)
        fail(where + " (" + entry.what + ") has sha256 " + got + ", the lock pins " + entry.sha256 +
             "; the bundle was altered or damaged, nothing of this entry was stored");
    };
    bool store_it = entry.kind != BundleEntryKind::file && !m_store.contains(entry.sha256);
    if (!store_it) {
      read_data(entry.size, where, [&](const uint8_t *data, size_t n) { hasher.update(data, n); });
      check_digest();
      ++(entry.kind == BundleEntryKind::file ? report.files_checked : report.already_in_store);
      return;
    }
    StoreTemp temp(m_store, entry.name.substr(entry.name.rfind('/') + 1));
    {
      UniqueFd out(::open(temp.path().c_str(), O_WRONLY | O_TRUNC | O_CLOEXEC | O_NOFOLLOW));
      if (!out) throw SystemError(temp.path(), "cannot open: " + errno_text());
      read_data(entry.size, where, [&](const uint8_t *data, size_t n) {
        hasher.update(data, n);
        write_all(out.get(), data, n, temp.path());
      });
      if (::close(out.release()) != 0) throw SystemError(temp.path(), "cannot write into the store: " + errno_text());
    }
    check_digest();
    std::string temp_path = temp.path();
    temp.release(); // commit renames it into place, or removes it
    m_store.commit(temp_path, entry.sha256, entry.size, entry.what + " from " + m_path);
    ++report.stored;
  }

  const BundlePlan &m_plan;
  Store &m_store;
  std::string m_path;
  const Progress &m_progress;
  ArchiveReadPtr m_archive;
  std::string m_last; // the last entry read, for messages
};

} // namespace

const char *bundle_entry_kind_name(BundleEntryKind kind) {
  switch (kind) {
  case BundleEntryKind::package: return "package";
  case BundleEntryKind::kernel: return "kernel";
  case BundleEntryKind::file: return "file";
  case BundleEntryKind::inrelease: return "inrelease";
  case BundleEntryKind::index: return "index";
  }
  return "unknown";
}

std::string recipe_file_id(const std::string &recipe_path) {
  size_t slash = recipe_path.rfind('/');
  return slash == std::string::npos ? recipe_path : recipe_path.substr(slash + 1);
}

BundleRecipe bundle_recipe(const std::string &id, const std::string &shown, const Recipe &recipe, Lock lock) {
  BundleRecipe r;
  r.id = id;
  r.recipe = shown;
  r.recipe_dir = recipe.dir;
  r.lock_path = lock_path_for(recipe.path);
  r.lock_sha256 = digest_file(r.lock_path, limits::k_json_document).sha256_hex;
  r.lock = std::move(lock);
  return r;
}

BundlePlan plan_bundle(std::vector<BundleRecipe> recipes) {
  BundlePlan plan;
  std::sort(recipes.begin(), recipes.end(), [](const BundleRecipe &a, const BundleRecipe &b) { return a.id < b.id; });
  for (size_t i = 1; i < recipes.size(); ++i)
    if (recipes[i].id == recipes[i - 1].id)
      throw InputError(recipes[i].recipe, "two recipes of one bundle share the id '" + recipes[i].id + "'");
  for (const BundleRecipe &r : recipes) add_recipe_entries(plan, r);
  plan.recipes = std::move(recipes);
  return plan;
}

std::string bundle_index_json(const BundlePlan &plan) {
  json recipes = json::array();
  for (const BundleRecipe &r : plan.recipes)
    recipes.push_back({{"id", r.id},
                       {"recipe", r.recipe},
                       {"lock", lock_path_for(r.recipe)},
                       {"lock_sha256", r.lock_sha256},
                       {"name", r.lock.recipe_name}});
  json entries = json::array();
  for (const auto &[name, e] : plan.entries)
    entries.push_back({{"name", name},
                       {"kind", bundle_entry_kind_name(e.kind)},
                       {"sha256", e.sha256},
                       {"size", e.size},
                       {"recipes", e.recipes}});
  json doc = {{"bundleVersion", k_bundle_version}, {"recipes", recipes}, {"entries", entries}};
  return doc.dump(2) + "\n";
}

BundleReport export_bundle(const BundlePlan &plan, const Store &store, const std::string &output,
                           const Progress &progress) {
  struct stat st {};
  if (::lstat(output.c_str(), &st) == 0 && !S_ISREG(st.st_mode) && !S_ISLNK(st.st_mode))
    throw SystemError(output, std::string("is ") + (S_ISDIR(st.st_mode) ? "a directory" : "not a regular file") +
                                  "; give a file name for the bundle");
  BundleReport report;
  report.path = output;
  uint64_t total = 0;
  for (const auto &[name, e] : plan.entries) total += e.size;
  if (progress)
    progress("bundle " + output + ": writing " + std::to_string(plan.entries.size()) + " entries (" + mib(total) + ")");
  FileOutput out(output);
  {
    FileSink file(out.temp_path());
    HashingSink hashed(&file);
    TarStreamWriter tar(hashed, ArchiveOptions{});
    std::string index = bundle_index_json(plan);
    tar.begin_file(k_index_name, index.size());
    tar.write(reinterpret_cast<const uint8_t *>(index.data()), index.size());
    tar.end_file();
    for (const auto &[name, e] : plan.entries) {
      std::string source = e.kind == BundleEntryKind::file ? e.local_path : store.require(e.sha256, e.size, e.what);
      if (progress && e.size >= k_progress_entry_size) progress("bundle: " + name + " (" + mib(e.size) + ")");
      InputFile in = InputFile::open(source, FileLimit{"locked input", e.size});
      tar.begin_file(name, e.size);
      std::string got =
          stream_file(in.fd(), source, e.size, e.what, [&](const uint8_t *data, size_t n) { tar.write(data, n); });
      if (got != e.sha256)
        throw InputError(e.what, source + " has sha256 " + got + ", the lock pins " + e.sha256 +
                                     (e.kind == BundleEntryKind::file
                                          ? "; it changed since the lock was made (run `mrforge lock`)"
                                          : "; delete it from the store and run `mrforge fetch` again"));
      tar.end_file();
      report.bytes += e.size;
      ++report.entries;
    }
    tar.close();
    hashed.finish(); // fsyncs and closes the file
    report.sha256 = hashed.sha256_hex();
    report.archive_size = hashed.size();
  }
  out.commit();
  return report;
}

BundleReport import_bundle(const BundlePlan &plan, Store &store, const std::string &path, const Progress &progress) {
  return BundleReader(plan, store, path, progress).run();
}

} // namespace mrforge::builder
