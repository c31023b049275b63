#include <builder/debian/repository.hpp>
#include <builder/debian/resolver.hpp>
#include <builder/inputs.hpp>
#include <builder/output_dir.hpp>

#include <measure/errors.hpp>

#include <algorithm>
#include <filesystem>
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

Lock lock_recipe(const Recipe &recipe, Fetcher &fetcher, const SourceOptions &options, const Progress &progress) {
  Lock lock;
  lock.recipe_name = recipe.name;
  for (const auto &p : recipe.packages) lock.requested.push_back(p.name);
  std::sort(lock.requested.begin(), lock.requested.end());
  lock.has_debian = recipe.has_debian;
  if (recipe.has_debian) {
    lock.debian = recipe.debian;
    lock.debian.keyring.clear(); // a host path: not part of what the lock pins (the InRelease digest is)
  }
  if (!recipe.packages.empty()) {
    debian::AptSource source = apt_source_for(recipe.debian, options, recipe.path + ": debian");
    if (progress) progress("index " + source.uri + " " + source.suite);
    debian::RepositoryIndex index = debian::load_repository_index(source, fetcher, progress);
    debian::Resolution resolution = debian::resolve_dependencies(lock.requested, {index}, source.architecture);
    LockedSource ls;
    ls.suite = source.suite;
    ls.components = source.components;
    ls.architecture = source.architecture;
    ls.inrelease_sha256 = index.inrelease_sha256;
    for (const auto &i : index.indexes) ls.indexes.push_back({i.path, i.sha256, i.size});
    lock.sources.push_back(ls);
    for (const auto &r : resolution.packages) {
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
      lock.packages.push_back(p);
    }
    std::sort(lock.packages.begin(), lock.packages.end(),
              [](const LockedPackage &a, const LockedPackage &b) { return a.name < b.name; });
  }
  lock.files = digest_recipe_files(recipe);
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
    std::string list;
    for (const auto &c : out.changes) list += "\n  " + c;
    throw InputError(path, "--frozen: the lock does not match the recipe:" + list + "\nrun `mrforge lock " +
                               recipe.path + "` (and review the change) or build without --frozen");
  }
  if (exists && !packages_differ(recipe, out.lock)) {
    out.lock.files = digest_recipe_files(recipe); // only local files changed: no network needed
    out.lock.recipe_name = recipe.name;
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

std::string deb_file_name(const LockedPackage &p) { return fs::path(p.filename).filename().string(); }

} // namespace

FetchReport fetch_inputs(const Lock &lock, const Recipe &recipe, Store &store, Fetcher &fetcher,
                         const FetchOptions &options, const Progress &progress) {
  FetchReport report;
  std::vector<std::string> mirrors = options.mirrors;
  bool source_known = false;
  auto add_recipe_source = [&]() {
    if (source_known || !recipe.has_debian) return;
    source_known = true;
    mirrors.push_back(apt_source_for(recipe.debian, options.sources, recipe.path + ": debian").uri);
  };
  size_t index = 0;
  for (const LockedPackage &p : lock.packages) {
    ++index;
    std::string what = "package " + p.name + " " + p.version + " (" + p.architecture + ")";
    std::string counter = "[" + std::to_string(index) + "/" + std::to_string(lock.packages.size()) + "] ";
    if (store.contains(p.sha256)) {
      store.require(p.sha256, p.size, what);
      ++report.in_store;
      continue;
    }
    if (!options.debs_dir.empty()) {
      std::string candidate = (fs::path(options.debs_dir) / deb_file_name(p)).string();
      if (fs::exists(candidate)) {
        if (progress) progress(counter + "copy " + candidate);
        store.add_file(candidate, p.sha256, p.size, what);
        ++report.from_directory;
        continue;
      }
    }
    if (options.offline)
      throw InputError(what, "is not in the store " + store.root() +
                                 " and --offline forbids downloading it; run "
                                 "`mrforge fetch` with network access first, or give --debs DIR");
    add_recipe_source();
    std::vector<std::string> missing;
    bool done = false;
    for (const std::string &mirror : mirrors) {
      std::string url = join_url(mirror, p.filename);
      if (progress) progress(counter + "download " + url + " (" + std::to_string(p.size / 1024) + " KiB)");
      std::string temp = store.temp_path(deb_file_name(p));
      try {
        fetcher.fetch_to_file(url, temp);
      } catch (const NotFoundError &) {
        ::unlink(temp.c_str());
        missing.push_back(url);
        continue;
      } catch (...) {
        ::unlink(temp.c_str());
        throw;
      }
      store.commit(temp, p.sha256, p.size, what + " from " + url);
      ++report.downloaded;
      report.bytes_downloaded += p.size;
      done = true;
      break;
    }
    if (done) continue;
    std::string tried;
    for (const auto &m : missing) tried += "\n  " + m;
    throw InputError(what, "is pinned by the lock but no longer served (HTTP 404 from:" + tried +
                               ")\nsupply it without changing the lock: `mrforge fetch --debs DIR` with a directory "
                               "holding " +
                               deb_file_name(p) +
                               ", or `--mirror URL` for a mirror that still has it (for instance a "
                               "snapshot.debian.org/archive/debian/<date>/ URL); or re-lock with `mrforge lock` "
                               "to move to the versions the repository serves now");
  }
  return report;
}

} // namespace mrforge::builder
