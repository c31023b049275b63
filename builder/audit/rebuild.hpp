// Auditing a published build: rebuild the recipe from its lock in a fresh store and compare
// every artifact and every measurement with the published output directory, explaining each
// difference down to the entry and attribute (artifact_diff.hpp). With a signed envelope, its
// signature, its subjects and its statement are checked against the rebuild as well.
#pragma once

#include <builder/app/app_recipe.hpp>
#include <builder/audit/artifact_diff.hpp>
#include <builder/debian/snapshot.hpp>
#include <builder/recipe/inputs.hpp>
#include <builder/recipe/recipe.hpp>

#include <optional>
#include <string>
#include <vector>

namespace mrforge::builder {

struct RebuildSettings {
  std::string published;  // the published output directory
  std::string envelope;   // optional: DSSE envelope published with it
  std::string public_key; // required with envelope
  std::string work_dir;   // empty: a fresh temporary directory (store + output), removed afterwards
  bool keep = false;      // keep work_dir's rebuilt output (reported in the result)
  std::vector<std::string> mirrors;
  std::string debs_dir;
  // An input bundle (`mrforge fetch --export`) imported into the fresh store first, verified against
  // the locks; the inputs are then taken from the store only (offline). Empty: none.
  std::string bundle;
  std::string snapshot_service = debian::k_snapshot_service; // empty: never ask it
  int64_t source_date_epoch = 0;
  std::optional<std::string> source_date_epoch_env; // DstackApp: SOURCE_DATE_EPOCH if set (else each service's recipe)
  int threads = 1;
  bool use_guestfs = true;
  Progress progress;
};

struct RebuildResult {
  std::string rebuilt_dir;      // empty unless kept
  std::string published_digest; // digest.txt or manifest digest of each side
  std::string rebuilt_digest;
  std::vector<Difference> differences;        // published -> rebuilt; empty: identical
  std::optional<bool> signature_ok;           // with an envelope
  std::vector<std::string> envelope_problems; // signature, subjects, statement vs. the rebuild
  bool identical() const { return differences.empty() && envelope_problems.empty(); }
};

// The recipe's lock is used as it is (frozen): a lock that does not match the recipe is an
// InputError. Throws what lock, fetch and build throw.
RebuildResult rebuild_and_compare(const Recipe &recipe, const RebuildSettings &settings);
// The same for a DstackApp: every service's OciImage recipe from its own lock, in one fresh store.
RebuildResult rebuild_app_and_compare(const AppRecipe &app, const RebuildSettings &settings);

} // namespace mrforge::builder
