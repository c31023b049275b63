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

debian::AptSource apt_source_for(const DebianSourceSpec &spec, const SourceOptions &options, const std::string &where) {
  debian::AptSource source;
  source.suite = spec.suite;
  source.components = spec.components;
  source.architecture = spec.architecture;
  source.uri = spec.mirror;
  source.keyring = spec.keyring;
  if (!source.uri.empty() && !source.keyring.empty()) return source;
  // From the host's apt configuration: the first entry (in its sorted order) for the suite.
  std::vector<debian::AptSource> host = debian::host_apt_sources(spec.architecture, options.host_root);
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
  debian::AptSource source = apt_source_for(recipe.debian, options, recipe.path + ": debian");
  if (progress) progress("index " + source.uri + " " + source.suite);
  debian::RepositoryIndex index = debian::load_repository_index(source, fetcher, progress);
  LockedSource ls;
  ls.suite = source.suite;
  ls.components = source.components;
  ls.architecture = source.architecture;
  ls.inrelease_sha256 = index.inrelease_sha256;
  for (const auto &i : index.indexes) ls.indexes.push_back({i.path, i.sha256, i.size});
  lock.sources.push_back(ls);
  if (lock.requested_sets.empty()) {
    debian::Resolution resolution = debian::resolve_dependencies(lock.requested, {index}, source.architecture);
    for (const auto &r : resolution.packages) lock.packages.push_back(locked_package(r, resolution));
  } else {
    std::map<std::string, debian::Resolution> sets;
    for (const auto &[set, names] : lock.requested_sets) {
      if (names.empty()) continue;
      try {
        sets[set] = debian::resolve_dependencies(names, {index}, source.architecture);
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

enum class Fetched { in_store, from_directory, downloaded };

// Puts one pinned .deb into the store: already there, from --debs, or downloaded from the first
// mirror that serves it (`mirrors` is asked only when a download is needed).
Fetched fetch_deb(const PinnedDeb &deb, const std::function<std::vector<std::string>()> &mirrors, Store &store,
                  Fetcher &fetcher, const FetchOptions &options, const Progress &progress, const std::string &counter) {
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
                                   "`mrforge fetch` with network access first, or give --debs DIR");
  std::vector<std::string> missing;
  for (const std::string &mirror : mirrors()) {
    std::string url = join_url(mirror, deb.filename);
    if (progress) progress(counter + "download " + url + " (" + std::to_string(deb.size / 1024) + " KiB)");
    std::string temp = store.temp_path(deb.file_name());
    try {
      ProgressScope scope(fetcher, progress, deb.file_name(), deb.size);
      fetcher.fetch_to_file(url, temp, deb.size);
    } catch (const NotFoundError &) {
      ::unlink(temp.c_str());
      missing.push_back(url);
      continue;
    } catch (...) {
      ::unlink(temp.c_str());
      throw;
    }
    store.commit(temp, deb.sha256, deb.size, deb.what + " from " + url);
    return Fetched::downloaded;
  }
  std::string tried;
  for (const auto &m : missing) tried += "\n  " + m;
  throw InputError(deb.what, "is pinned but no longer served (HTTP 404 from:" + tried +
                                 ")\nsupply it without changing the pin: `mrforge fetch --debs DIR` with a directory "
                                 "holding " +
                                 deb.file_name() +
                                 ", or `--mirror URL` for a mirror that still has it (for instance a "
                                 "snapshot.debian.org/archive/debian/<date>/ URL, or .../archive/debian-security/"
                                 "<date>/ for a kernel); or re-lock with `mrforge lock` to move to the versions the "
                                 "repository serves now");
}

void count(Fetched f, uint64_t size, FetchReport &report) {
  switch (f) {
  case Fetched::in_store: ++report.in_store; break;
  case Fetched::from_directory: ++report.from_directory; break;
  case Fetched::downloaded:
    ++report.downloaded;
    report.bytes_downloaded += size;
    break;
  }
}

} // namespace

FetchReport fetch_inputs(const Lock &lock, const Recipe &recipe, Store &store, Fetcher &fetcher,
                         const FetchOptions &options, const Progress &progress) {
  FetchReport report;
  std::vector<std::string> mirrors = options.mirrors;
  bool source_known = false;
  auto package_mirrors = [&]() {
    if (!source_known && recipe.has_debian) {
      source_known = true;
      mirrors.push_back(apt_source_for(recipe.debian, options.sources, recipe.path + ": debian").uri);
    }
    return mirrors;
  };
  size_t total = lock.packages.size() + (lock.kernel ? 1 : 0);
  size_t index = 0;
  for (const LockedPackage &p : lock.packages) {
    ++index;
    PinnedDeb deb{"package " + p.name + " " + p.version + " (" + p.architecture + ")", p.sha256, p.size, p.filename};
    std::string counter = "[" + std::to_string(index) + "/" + std::to_string(total) + "] ";
    count(fetch_deb(deb, package_mirrors, store, fetcher, options, progress, counter), p.size, report);
  }
  if (lock.kernel) {
    const LockedKernel &k = *lock.kernel;
    ++index;
    PinnedDeb deb{"kernel " + k.package + " " + k.version + " (" + k.architecture + ", pin " + k.pin + ")", k.sha256,
                  k.size, k.filename};
    std::string counter = "[" + std::to_string(index) + "/" + std::to_string(total) + "] ";
    auto kernel_mirrors = [&]() {
      std::vector<std::string> out = options.mirrors;
      out.push_back(k.mirror);
      return out;
    };
    Fetched f = fetch_deb(deb, kernel_mirrors, store, fetcher, options, progress, counter);
    if (f == Fetched::downloaded) report.bytes_downloaded += k.size;
    report.kernel_deb = store.path_of(k.sha256);
    report.kernel_fetch = f == Fetched::in_store     ? "in store"
                          : f == Fetched::downloaded ? "downloaded"
                                                     : "from directory";
  }
  return report;
}

} // namespace mrforge::builder
