#include <builder/debian/repository.hpp>
#include <builder/debian/resolver.hpp>
#include <builder/recipe/inputs.hpp>
#include <builder/system/output_dir.hpp>

#include <measure/util/errors.hpp>
#include <measure/util/strings.hpp>

#include <algorithm>
#include <filesystem>
#include <functional>
#include <map>
#include <set>
#include <unistd.h>

namespace mrforge::builder {

namespace fs = std::filesystem;

debian::AptSource apt_source_for(const DebianSource &spec, const std::string &architecture,
                                 const SourceOptions &options, const std::string &where) {
  debian::AptSource source;
  source.suite = spec.suite;
  source.components = spec.components;
  source.architecture = architecture;
  source.uri = spec.mirror;
  source.keyring = spec.keyring;
  if (!source.uri.empty() && !source.keyring.empty()) return source;
  // From the host's apt configuration: the first entry (in its sorted order) for the suite.
  std::vector<debian::AptSource> host = debian::host_apt_sources(architecture, options.host_root);
  const debian::AptSource *match = nullptr;
  for (const auto &h : host)
    if (h.suite == spec.suite && (source.uri.empty() || h.uri == source.uri)) {
      match = &h;
      break;
    }
  if (match == nullptr) {
    if (!source.uri.empty() && source.keyring.empty()) {
      if (fs::exists(debian::k_default_debian_keyring)) {
        source.keyring = debian::k_default_debian_keyring;
        return source;
      }
      throw InputError(where, "no keyring for " + source.uri + ": add debian.keyring to the recipe");
    }
    throw InputError(where, "the host's apt configuration (" + options.host_root + "etc/apt) has no source for suite " +
                                spec.suite + "; add debian.mirror and debian.keyring to the recipe");
  }
  if (source.uri.empty()) source.uri = match->uri;
  if (source.keyring.empty()) source.keyring = match->keyring;
  if (source.keyring.empty())
    throw InputError(where,
                     "the host's apt source " + match->uri + " names no keyring; add debian.keyring to the recipe");
  return source;
}

namespace {

// "r.yaml:12:5: debian.sources" or "r.yaml: debian", for errors about one source.
std::string source_where(const Recipe &recipe, const DebianSource &spec) {
  if (recipe.debian.listed) return spec.where.describe() + ": debian.sources (" + spec.suite + ")";
  return recipe.path + ": debian";
}

LockedPackage locked_package(const debian::PackageRecord &r, const debian::Resolution &resolution) {
  LockedPackage p;
  p.name = r.name;
  p.version = r.version;
  p.architecture = r.architecture;
  p.size = r.size;
  p.sha256 = r.sha256;
  p.filename = r.filename;
  p.source = r.source_index;
  auto reason = resolution.reason.find(r.name);
  p.reason = reason == resolution.reason.end() ? "requested" : reason->second;
  return p;
}

// Merges the separately resolved sets of a GuestImage: one entry per package, naming every set
// that needs it. Resolved from the same indexes, a package has the same record in every set.
std::vector<LockedPackage> merge_sets(const std::map<std::string, debian::Resolution> &sets) {
  std::map<std::string, LockedPackage> merged;
  std::map<std::string, std::vector<std::pair<std::string, std::string>>> reasons; // name -> (set, reason)
  for (const auto &[set, resolution] : sets) {                                     // in set-name order
    for (const auto &r : resolution.packages) {
      LockedPackage p = locked_package(r, resolution);
      auto [it, added] = merged.emplace(p.name, p);
      if (!added && (it->second.version != p.version || it->second.sha256 != p.sha256))
        throw InputError("package " + p.name, "resolved to " + it->second.version + " and " + p.version +
                                                  " in two package sets of the same indexes");
      it->second.sets.push_back(set);
      reasons[p.name].emplace_back(set, p.reason);
    }
  }
  std::vector<LockedPackage> out;
  for (auto &[name, p] : merged) {
    const auto &list = reasons[name];
    bool same = std::all_of(list.begin(), list.end(), [&](const auto &e) { return e.second == list.front().second; });
    if (!same) {
      p.reason = join(list, "; ", [](const auto &set_reason) { return set_reason.first + ": " + set_reason.second; });
    }
    out.push_back(std::move(p));
  }
  return out;
}

} // namespace

Lock lock_recipe(const Recipe &recipe, Fetcher &fetcher, const SourceOptions &options, const Progress &progress) {
  Lock lock = lock_recipe_side(recipe);
  bool any = !lock.requested.empty();
  for (const auto &[set, names] : lock.requested_sets) any = any || !names.empty();
  if (!any) return lock;
  std::vector<debian::RepositoryIndex> indexes;
  for (const DebianSource &spec : recipe.debian.sources) {
    debian::AptSource source = apt_source_for(spec, recipe.debian.architecture, options, source_where(recipe, spec));
    if (progress) progress("index " + source.uri + " " + source.suite);
    debian::RepositoryIndex index = debian::load_repository_index(source, fetcher, progress);
    index.priority = spec.priority;
    LockedSource ls;
    ls.suite = source.suite;
    ls.components = source.components;
    ls.architecture = source.architecture;
    ls.inrelease_sha256 = index.inrelease_sha256;
    ls.inrelease_size = index.inrelease_size;
    if (index.date > 0) ls.date = debian::snapshot_time(index.date);
    ls.archive = spec.snapshot_archive.empty() ? debian::archive_of_mirror(source.uri) : spec.snapshot_archive;
    for (const auto &i : index.indexes) ls.indexes.push_back({i.path, i.sha256, i.size});
    lock.sources.push_back(ls);
    indexes.push_back(std::move(index));
  }
  const std::string &architecture = recipe.debian.architecture;
  if (lock.requested_sets.empty()) {
    debian::Resolution resolution = debian::resolve_dependencies(lock.requested, indexes, architecture);
    for (const auto &r : resolution.packages) lock.packages.push_back(locked_package(r, resolution));
  } else {
    std::map<std::string, debian::Resolution> sets;
    for (const auto &[set, names] : lock.requested_sets) {
      if (names.empty()) continue;
      // The firmware set's packages are only unpacked to take files out of them (OVMF.fd, a
      // stub, shim, GRUB); their dependencies (shim-signed's mokutil, grub2-common, ...) never
      // reach the image, so they are not followed.
      debian::ResolveOptions resolve;
      resolve.follow_dependencies = set != k_set_firmware;
      try {
        sets[set] = debian::resolve_dependencies(names, indexes, architecture, resolve);
      } catch (const debian::ResolutionError &e) {
        std::string message = e.what();
        if (message.rfind(e.input() + ": ", 0) == 0) message.erase(0, e.input().size() + 2);
        throw debian::ResolutionError(e.input(), message + " (in the " + set + " package set)");
      }
    }
    lock.packages = merge_sets(sets);
  }
  std::sort(lock.packages.begin(), lock.packages.end(),
            [](const LockedPackage &a, const LockedPackage &b) { return a.name < b.name; });
  return lock;
}

CurrentLock current_lock(const Recipe &recipe, LockMode mode, Fetcher &fetcher, const SourceOptions &options,
                         const Progress &progress) {
  std::string path = lock_path_for(recipe.path);
  CurrentLock out;
  bool exists = fs::exists(path);
  if (exists) {
    out.lock = read_lock(path);
    out.changes = lock_differences(recipe, out.lock);
    if (out.changes.empty()) return out;
  } else {
    out.changes.push_back("no lock file " + path);
  }
  if (mode == LockMode::frozen) {
    throw InputError(path, "--frozen: the lock does not match the recipe:\n  " + join(out.changes, "\n  ") +
                               "\nrun `mrforge lock " + recipe.path +
                               "` (and review the change) or build without --frozen");
  }
  if (exists && !packages_differ(recipe, out.lock)) {
    // Only local files, the kernel pin or the firmware path changed: no network needed.
    Lock side = lock_recipe_side(recipe);
    side.sources = std::move(out.lock.sources);
    side.packages = std::move(out.lock.packages);
    out.lock = std::move(side);
  } else {
    out.lock = lock_recipe(recipe, fetcher, options, progress);
  }
  write_file_atomically(path, lock_to_json(out.lock));
  out.written = true;
  return out;
}

namespace {

std::string join_url(const std::string &base, const std::string &rel) {
  std::string b = base;
  while (!b.empty() && b.back() == '/') b.pop_back();
  return b + "/" + rel;
}

// One pinned .deb to put into the store.
struct PinnedDeb {
  std::string what; // "package curl 7.88 (amd64)"
  std::string sha256;
  uint64_t size = 0;
  std::string filename; // pool path
  std::string file_name() const { return fs::path(filename).filename().string(); }
};

// Reports download progress of large files in tenths; cleared when the download ends.
class ProgressScope {
public:
  ProgressScope(Fetcher &fetcher, const Progress &progress, const std::string &name, uint64_t size)
      : m_fetcher(fetcher) {
    if (!progress || size < k_large) return;
    m_active = true;
    fetcher.set_progress([progress, name, size, last = uint64_t{0}](uint64_t received, uint64_t total) mutable {
      uint64_t whole = total != 0 ? total : size;
      uint64_t tenth = whole == 0 ? 0 : std::min<uint64_t>(10, received * 10 / whole);
      if (tenth <= last) return;
      last = tenth;
      progress("  " + name + ": " + std::to_string(received >> 20) + " of " + std::to_string(whole >> 20) + " MiB");
    });
  }
  ~ProgressScope() {
    if (m_active) m_fetcher.set_progress({});
  }
  ProgressScope(const ProgressScope &) = delete;
  ProgressScope &operator=(const ProgressScope &) = delete;

private:
  static constexpr uint64_t k_large = 8u << 20;
  Fetcher &m_fetcher;
  bool m_active = false;
};

enum class Fetched { in_store, from_directory, downloaded, from_snapshot };

// Where one locked source's files can be downloaded from: its mirror, and the snapshot of the
// lock's time for it (found on first need, then kept).
class SourceSite {
public:
  SourceSite(const LockedSource &locked, const DebianSource *spec, const Recipe &recipe, Store &store, Fetcher &fetcher,
             const FetchOptions &options, const Progress &progress)
      : m_locked(locked), m_spec(spec), m_recipe(recipe), m_store(store), m_fetcher(fetcher), m_options(options),
        m_progress(progress) {}

  const LockedSource &locked() const { return m_locked; }

  debian::AptSource apt_source() {
    if (!m_source) {
      if (m_spec == nullptr)
        throw InputError(m_recipe.path,
                         "the lock's source " + m_locked.suite + " is not in the recipe; run `mrforge lock`");
      m_source =
          apt_source_for(*m_spec, m_recipe.debian.architecture, m_options.sources, source_where(m_recipe, *m_spec));
    }
    return *m_source;
  }

  // The snapshot URL holding the locked InRelease, or nullopt (why() says why).
  std::optional<std::string> snapshot() {
    if (!m_snapshot_tried) {
      m_snapshot_tried = true;
      m_snapshot = find_snapshot();
    }
    return m_snapshot;
  }
  const std::string &why_no_snapshot() const { return m_no_snapshot; }

  // Puts the InRelease and the index files into the store (and checks the InRelease's signature),
  // from the mirror, else the snapshot. Returns where they came from.
  std::string fetch_metadata() {
    bool all = m_store.contains(m_locked.inrelease_sha256);
    for (const auto &i : m_locked.indexes) all = all && m_store.contains(i.sha256);
    if (all) return "in store";
    const std::string what = "InRelease of " + m_locked.suite + " (sha256 " + m_locked.inrelease_sha256 + ")";
    if (m_options.offline)
      throw InputError(what, "is not in the store " + m_store.root() +
                                 " and --offline forbids downloading it; run `mrforge fetch` with network "
                                 "access, or `mrforge fetch --import BUNDLE`");
    debian::AptSource source = apt_source();
    debian::LoadOptions load = load_options();
    std::string mirror_problem;
    try {
      debian::load_repository_index(source, m_fetcher, m_progress, load);
      return "from " + source.uri;
    } catch (const debian::UnusableReleaseError &e) {
      mirror_problem = e.what();
    } catch (const SystemError &e) {
      // Not served, unreachable or badly signed: the snapshot's copy is verified the same way.
      mirror_problem = e.what();
    }
    if (std::optional<std::string> snap = snapshot()) return "from " + *snap;
    throw InputError(what, "cannot be had: " + mirror_problem + "; " + m_no_snapshot +
                               "\nget it another way: `mrforge fetch --import BUNDLE` with the input bundle "
                               "published with the image, or re-lock with `mrforge lock`");
  }

private:
  debian::LoadOptions load_options() {
    debian::LoadOptions load;
    load.expected_inrelease_sha256 = m_locked.inrelease_sha256;
    load.now = m_options.now;
    load.keep = &m_store;
    return load;
  }

  std::optional<std::string> find_snapshot() {
    if (m_options.snapshot_service.empty()) {
      m_no_snapshot = "no snapshot service was given";
      return std::nullopt;
    }
    if (m_locked.date.empty() || m_locked.archive.empty()) {
      m_no_snapshot = "the lock records no " + std::string(m_locked.date.empty() ? "InRelease date" : "archive name") +
                      " for " + m_locked.suite + " (re-lock with this mrforge to record it)";
      return std::nullopt;
    }
    if (m_options.offline) {
      m_no_snapshot = "--offline";
      return std::nullopt;
    }
    try {
      int64_t date = debian::parse_snapshot_time(m_locked.date, "lock source " + m_locked.suite);
      if (m_progress)
        m_progress("looking for " + m_locked.suite + "'s InRelease of " + m_locked.date + " in " +
                   m_options.snapshot_service + " (archive " + m_locked.archive + ")");
      debian::SnapshotMatch match =
          debian::find_in_snapshot(apt_source(), m_options.snapshot_service, m_locked.archive, date,
                                   m_locked.inrelease_sha256, m_fetcher, m_progress, load_options());
      return match.base;
    } catch (const InputError &e) {
      m_no_snapshot = e.what();
    } catch (const SystemError &e) {
      m_no_snapshot = e.what();
    }
    return std::nullopt;
  }

  const LockedSource &m_locked;
  const DebianSource *m_spec;
  const Recipe &m_recipe;
  Store &m_store;
  Fetcher &m_fetcher;
  const FetchOptions &m_options;
  const Progress &m_progress;
  std::optional<debian::AptSource> m_source;
  bool m_snapshot_tried = false;
  std::optional<std::string> m_snapshot;
  std::string m_no_snapshot;
};

// Downloads `deb` from `base` into the store; false when the server does not have it (the reason
// is added to `missing`).
bool download_deb(const PinnedDeb &deb, const std::string &base, Store &store, Fetcher &fetcher,
                  const Progress &progress, const std::string &counter, std::vector<std::string> &missing) {
  std::string url = join_url(base, deb.filename);
  if (progress) progress(counter + "download " + url + " (" + std::to_string(deb.size / 1024) + " KiB)");
  std::string temp = store.temp_path(deb.file_name());
  try {
    ProgressScope scope(fetcher, progress, deb.file_name(), deb.size);
    fetcher.fetch_to_file(url, temp, deb.size);
  } catch (const NotFoundError &) {
    ::unlink(temp.c_str());
    missing.push_back(url + " (not found)");
    return false;
  } catch (const SystemError &e) {
    // A mirror that cannot be reached is not the end: the next one may have the file.
    ::unlink(temp.c_str());
    missing.push_back(url + " (" + e.what() + ")");
    return false;
  } catch (...) {
    ::unlink(temp.c_str());
    throw;
  }
  store.commit(temp, deb.sha256, deb.size, deb.what + " from " + url);
  return true;
}

// Puts one pinned .deb into the store: already there, from --debs, or downloaded from the first
// of `mirrors` that serves it, else from the snapshot of `site` (asked only when needed).
Fetched fetch_deb(const PinnedDeb &deb, const std::function<std::vector<std::string>()> &mirrors, SourceSite *site,
                  Store &store, Fetcher &fetcher, const FetchOptions &options, const Progress &progress,
                  const std::string &counter) {
  if (store.contains(deb.sha256)) {
    store.require(deb.sha256, deb.size, deb.what);
    return Fetched::in_store;
  }
  if (!options.debs_dir.empty()) {
    std::string candidate = (fs::path(options.debs_dir) / deb.file_name()).string();
    if (fs::exists(candidate)) {
      if (progress) progress(counter + "copy " + candidate);
      store.add_file(candidate, deb.sha256, deb.size, deb.what);
      return Fetched::from_directory;
    }
  }
  if (options.offline)
    throw InputError(deb.what, "is not in the store " + store.root() +
                                   " and --offline forbids downloading it; run "
                                   "`mrforge fetch` with network access first, give --debs DIR, or "
                                   "`mrforge fetch --import BUNDLE`");
  std::vector<std::string> missing;
  for (const std::string &mirror : mirrors())
    if (download_deb(deb, mirror, store, fetcher, progress, counter, missing)) return Fetched::downloaded;
  std::string snapshot_note;
  if (site != nullptr) {
    if (std::optional<std::string> snap = site->snapshot()) {
      if (download_deb(deb, *snap, store, fetcher, progress, counter, missing)) return Fetched::from_snapshot;
    } else {
      snapshot_note = "\nDebian's snapshot archive was not asked: " + site->why_no_snapshot();
    }
  }
  std::string tried;
  for (const auto &m : missing) tried += "\n  " + m;
  throw InputError(deb.what, "is pinned but no longer served:" + tried + snapshot_note +
                                 "\nsupply it without changing the pin: `mrforge fetch --import BUNDLE` with the "
                                 "input bundle published with the image, `--debs DIR` with a directory holding " +
                                 deb.file_name() +
                                 ", or `--mirror URL` for a mirror that still has it (for instance a "
                                 "snapshot.debian.org/archive/debian/<time>/ URL); or re-lock with `mrforge lock` "
                                 "to move to the versions the repository serves now");
}

void count(Fetched f, uint64_t size, FetchReport &report) {
  switch (f) {
  case Fetched::in_store: ++report.in_store; break;
  case Fetched::from_directory: ++report.from_directory; break;
  case Fetched::from_snapshot: ++report.from_snapshot; [[fallthrough]];
  case Fetched::downloaded:
    ++report.downloaded;
    report.bytes_downloaded += size;
    break;
  }
}

std::string suite_of(const std::string &source_index) { return source_index.substr(0, source_index.find('/')); }

} // namespace

FetchReport fetch_inputs(const Lock &lock, const Recipe &recipe, Store &store, Fetcher &fetcher,
                         const FetchOptions &options, const Progress &progress) {
  FetchReport report;
  // The lock's sources, with the recipe's spec of each (matched by suite).
  std::map<std::string, SourceSite> sites;
  for (const LockedSource &ls : lock.sources) {
    const DebianSource *spec = nullptr;
    if (recipe.has_debian)
      for (const DebianSource &d : recipe.debian.sources)
        if (d.suite == ls.suite) spec = &d;
    sites.emplace(std::piecewise_construct, std::forward_as_tuple(ls.suite),
                  std::forward_as_tuple(ls, spec, recipe, store, fetcher, options, progress));
  }
  if (options.repository_metadata)
    for (auto &[suite, site] : sites) report.sources.push_back(suite + ": " + site.fetch_metadata());

  size_t total = lock.packages.size() + (lock.kernel ? 1 : 0);
  size_t index = 0;
  for (const LockedPackage &p : lock.packages) {
    ++index;
    PinnedDeb deb{"package " + p.name + " " + p.version + " (" + p.architecture + ")", p.sha256, p.size, p.filename};
    std::string counter = "[" + std::to_string(index) + "/" + std::to_string(total) + "] ";
    auto site = sites.find(suite_of(p.source));
    SourceSite *s = site == sites.end() ? nullptr : &site->second;
    // Asked only when a download is needed: the source's mirror may come from the host's apt.
    auto mirrors = [&]() {
      std::vector<std::string> out = options.mirrors;
      if (s != nullptr) out.push_back(s->apt_source().uri);
      return out;
    };
    count(fetch_deb(deb, mirrors, s, store, fetcher, options, progress, counter), p.size, report);
  }
  if (lock.kernel) {
    const LockedKernel &k = *lock.kernel;
    ++index;
    PinnedDeb deb{"kernel " + k.package + " " + k.version + " (" + k.architecture + ", pin " + k.pin + ")", k.sha256,
                  k.size, k.filename};
    std::string counter = "[" + std::to_string(index) + "/" + std::to_string(total) + "] ";
    auto mirrors = [&]() {
      std::vector<std::string> out = options.mirrors;
      out.push_back(k.mirror);
      return out;
    };
    // The snapshot of the locked source served by the pin's mirror, if the recipe has one.
    SourceSite *s = nullptr;
    const std::string kernel_archive = debian::archive_of_mirror(k.mirror);
    for (auto &entry : sites)
      if (entry.second.locked().archive == kernel_archive) {
        s = &entry.second;
        break;
      }
    Fetched f = fetch_deb(deb, mirrors, s, store, fetcher, options, progress, counter);
    if (f == Fetched::downloaded || f == Fetched::from_snapshot) report.bytes_downloaded += k.size;
    report.kernel_deb = store.path_of(k.sha256);
    report.kernel_fetch = f == Fetched::in_store        ? "in store"
                          : f == Fetched::downloaded    ? "downloaded"
                          : f == Fetched::from_snapshot ? "downloaded from Debian's snapshot archive"
                                                        : "from directory";
  }
  return report;
}

} // namespace mrforge::builder
