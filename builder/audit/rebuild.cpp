#include <builder/app/app_build.hpp>
#include <builder/attest/dsse.hpp>
#include <builder/attest/measurement_statement.hpp>
#include <builder/audit/rebuild.hpp>
#include <builder/build/guest_build.hpp>
#include <builder/build/oci_build.hpp>
#include <builder/bundle/input_bundle.hpp>
#include <builder/system/http_fetch.hpp>
#include <builder/system/output_dir.hpp>
#include <builder/system/store.hpp>

#include <measure/documents/json_text.hpp>
#include <measure/util/errors.hpp>
#include <measure/util/mapped_file.hpp>

#include <nlohmann/json.hpp>

#include <filesystem>
#include <functional>
#include <memory>
#include <optional>

namespace fs = std::filesystem;

namespace mrforge::builder {

namespace {

// The published directory's build record: what kind of build it is and its digest.
nlohmann::json read_record(const std::string &dir) {
  std::string path = dir + "/" + k_build_record;
  if (!fs::is_directory(dir))
    throw InputError(dir, "not a directory: --against takes a `mrforge build` output directory");
  if (!fs::exists(path))
    throw InputError(dir, std::string("no ") + k_build_record + ": not an output directory of `mrforge build`");
  return parse_json_text(InputFile::open_in(dir, k_build_record, limits::k_json_document).read_all(), path);
}

// digest.txt for a guest image, the manifest digest for an OCI image.
std::string output_digest(const nlohmann::json &record) {
  if (record.contains("manifest_digest") && record["manifest_digest"].is_string())
    return record["manifest_digest"].get<std::string>();
  if (record.contains("digest") && record["digest"].is_string()) return "sha256:" + record["digest"].get<std::string>();
  if (record.contains("compose_hash") && record["compose_hash"].is_string())
    return "sha256:" + record["compose_hash"].get<std::string>(); // a DstackApp: its app-compose.json
  return "";
}

// The published envelope and the key to check it with, read before the (long) rebuild so that
// a wrong key or a damaged envelope is reported at once.
struct SignedPublication {
  DsseEnvelope envelope;
  SigningKey key;
};

std::optional<SignedPublication> read_signed_publication(const RebuildSettings &s) {
  if (s.envelope.empty()) {
    if (!s.public_key.empty()) throw InputError("--pub", "is for --envelope: give the envelope it checks");
    return std::nullopt;
  }
  if (s.public_key.empty()) throw InputError("--envelope", "needs --pub: the public key the envelope was signed with");
  return SignedPublication{read_envelope(s.envelope), load_public_key(s.public_key)};
}

// The envelope against the rebuild: its signature, then its subjects and its whole statement.
void check_envelope(const SignedPublication &signed_pub, const std::string &envelope_path, const std::string &rebuilt,
                    RebuildResult &result) {
  DsseVerification v = verify_envelope(signed_pub.envelope, signed_pub.key);
  result.signature_ok = v.ok;
  if (!v.ok) {
    result.envelope_problems.push_back(envelope_path + ": " + v.message);
    return; // nothing in an unverified statement is worth comparing
  }
  Statement signed_statement = statement_from_envelope(signed_pub.envelope, envelope_path);
  for (const std::string &p : check_subjects(signed_statement, rebuilt))
    result.envelope_problems.push_back("signed subject against the rebuild: " + p);
  std::vector<uint8_t> ours = statement_bytes(make_statement(rebuilt));
  if (ours != signed_pub.envelope.payload)
    result.envelope_problems.push_back(
        envelope_path + ": the signed statement is not the statement of the rebuilt output "
                        "(`mrforge verify-signature` shows it; `mrforge sign` of the rebuild gives ours)");
}

// Builds into OUT with the store at WORK/store.
using BuildInto = std::function<void(Store &store, const std::string &out)>;

// The rebuild in WORK (fresh store WORK/store, output WORK/out) of the recipe named `name` at `path`.
RebuildResult rebuild_in(const std::string &name, const std::string &path, const RebuildSettings &settings,
                         const std::string &work, const BuildInto &build) {
  nlohmann::json published = read_record(settings.published);
  if (published.contains("recipe") && published["recipe"].is_string() && published["recipe"] != name)
    throw InputError(settings.published, "was built from recipe '" + published["recipe"].get<std::string>() +
                                             "', not from " + path + " ('" + name + "')");
  std::optional<SignedPublication> signed_pub = read_signed_publication(settings);
  const Progress &progress = settings.progress;
  // A fresh store: nothing from an earlier build (no step cache, no unpacked package) can leak in.
  Store store(work + "/store");
  if (progress) progress("rebuilding " + path + " in a fresh store (" + store.root() + ")");
  std::string out = work + "/out";
  build(store, out);

  RebuildResult result;
  result.published_digest = output_digest(published);
  result.rebuilt_digest = output_digest(read_record(out));
  if (progress) progress("comparing " + settings.published + " with the rebuild");
  DiffOptions diff;
  diff.use_guestfs = settings.use_guestfs;
  diff.progress = progress;
  result.differences = diff_paths(settings.published, out, diff);
  if (signed_pub) check_envelope(*signed_pub, settings.envelope, out, result);
  return result;
}

// The recipe's lock, as it is.
Lock frozen_lock(const Recipe &recipe, const RebuildSettings &settings, Fetcher &fetcher) {
  return current_lock(recipe, LockMode::frozen, fetcher, {}, settings.progress).lock;
}

// With settings.bundle: the bundle of these recipes' locks, verified into `store`.
void import_bundle_of(std::vector<BundleRecipe> recipes, const RebuildSettings &settings, Store &store) {
  if (!settings.bundle.empty())
    import_bundle(plan_bundle(std::move(recipes)), store, settings.bundle, settings.progress);
}

// A lock's inputs fetched into `store` (with a bundle, already there: offline).
void fetch_locked(const Lock &lock, const Recipe &recipe, const RebuildSettings &settings, Fetcher &fetcher,
                  Store &store) {
  FetchOptions fetch;
  fetch.mirrors = settings.mirrors;
  fetch.debs_dir = settings.debs_dir;
  fetch.snapshot_service = settings.snapshot_service;
  fetch.offline = !settings.bundle.empty();
  fetch_inputs(lock, recipe, store, fetcher, fetch, settings.progress);
}

BuildSettings build_settings(const RebuildSettings &settings, const std::string &out, int64_t epoch) {
  BuildSettings b;
  b.out_dir = out;
  b.source_date_epoch = epoch;
  b.threads = settings.threads;
  b.progress = settings.progress;
  return b;
}

RebuildResult rebuild_with(const std::string &name, const std::string &path, const RebuildSettings &settings,
                           const BuildInto &build) {
  if (settings.work_dir.empty()) {
    ScratchDir scratch = ScratchDir::create("mrforge-rebuild");
    return rebuild_in(name, path, settings, scratch.path(), build);
  }
  fs::create_directories(settings.work_dir);
  if (fs::exists(settings.work_dir + "/store") || fs::exists(settings.work_dir + "/out"))
    throw InputError(settings.work_dir, "already holds store/ or out/: a rebuild needs a fresh work directory");
  RebuildResult result = rebuild_in(name, path, settings, settings.work_dir, build);
  result.rebuilt_dir = settings.work_dir + "/out";
  return result;
}

} // namespace

RebuildResult rebuild_and_compare(const Recipe &recipe, const RebuildSettings &settings) {
  return rebuild_with(recipe.name, recipe.path, settings, [&](Store &store, const std::string &out) {
    Fetcher fetcher;
    Lock lock = frozen_lock(recipe, settings, fetcher);
    import_bundle_of({bundle_recipe(recipe_file_id(recipe.path), recipe_file_id(recipe.path), recipe, lock)}, settings,
                     store);
    fetch_locked(lock, recipe, settings, fetcher, store);
    BuildSettings b = build_settings(settings, out, settings.source_date_epoch);
    if (recipe.guest)
      build_guest(recipe, lock, store, b);
    else
      build_oci(recipe, lock, store, b);
  });
}

RebuildResult rebuild_app_and_compare(const AppRecipe &app, const RebuildSettings &settings) {
  return rebuild_with(app.name, app.path, settings, [&](Store &store, const std::string &out) {
    Fetcher fetcher;
    std::vector<Lock> locks;
    locks.reserve(app.services.size());
    std::vector<BundleRecipe> bundled;
    for (const AppServiceSpec &svc : app.services) {
      if (svc.source == AppServiceSource::oci_layout) continue; // read and verified again by build_app
      locks.push_back(frozen_lock(svc.recipe, settings, fetcher));
      bundled.push_back(bundle_recipe(svc.name, svc.recipe_path, svc.recipe, locks.back()));
    }
    import_bundle_of(std::move(bundled), settings, store);
    std::vector<AppServiceInputs> inputs;
    size_t next = 0;
    for (const AppServiceSpec &svc : app.services) {
      if (svc.source == AppServiceSource::oci_layout) {
        inputs.push_back({});
        continue;
      }
      const Lock &lock = locks[next++];
      fetch_locked(lock, svc.recipe, settings, fetcher, store);
      const char *env = settings.source_date_epoch_env ? settings.source_date_epoch_env->c_str() : nullptr;
      inputs.push_back({&lock, &store, resolve_source_date_epoch(svc.recipe, env)});
    }
    build_app(app, inputs, build_settings(settings, out, 0));
  });
}

} // namespace mrforge::builder
