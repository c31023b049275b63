// mrforge rebuild: the auditor's command. Rebuild a recipe from its lock in a fresh store and
// compare every artifact and measurement with a published output directory (and, with
// --envelope, its signed statement), explaining each difference down to entry and attribute.
#include "commands.hpp"
#include "input_options.hpp"
#include "output.hpp"

#include <builder/audit/rebuild.hpp>
#include <builder/recipe/recipe.hpp>

#include <cstdlib>
#include <iostream>
#include <memory>
#include <thread>

namespace mrforge::cli {

namespace {

struct RebuildCommandOptions {
  std::string recipe;
  builder::RebuildSettings settings;
  int threads = 0;
  bool quiet = false;
  bool no_guestfs = false;
  bool json = false;
};

Json difference_json(const builder::Difference &d) {
  Json j{{"artifact", d.artifact}, {"entry", d.entry}, {"attribute", d.attribute}, {"a", d.a}, {"b", d.b}};
  if (d.offset) j["offset"] = *d.offset;
  if (!d.note.empty()) j["note"] = d.note;
  j["line"] = d.line();
  return j;
}

builder::RebuildResult rebuild(RebuildCommandOptions &o) {
  builder::RebuildSettings &s = o.settings;
  s.threads = o.threads > 0 ? o.threads : static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  s.use_guestfs = !o.no_guestfs;
  if (!o.quiet) s.progress = [](const std::string &line) { print_line("mrforge: " + line, std::cerr); };
  const char *env = std::getenv("SOURCE_DATE_EPOCH");
  if (builder::is_app_recipe(o.recipe)) {
    builder::AppRecipe app = builder::load_app_recipe(o.recipe);
    if (env) s.source_date_epoch_env = std::string(env);
    return builder::rebuild_app_and_compare(app, s);
  }
  builder::Recipe recipe = builder::load_recipe(o.recipe);
  s.source_date_epoch = builder::resolve_source_date_epoch(recipe, env);
  return builder::rebuild_and_compare(recipe, s);
}

int run_rebuild(RebuildCommandOptions o) {
  builder::RebuildResult r = rebuild(o);
  const builder::RebuildSettings &s = o.settings;

  if (o.json) {
    Json j{{"identical", r.identical()},
           {"published", s.published},
           {"published_digest", r.published_digest},
           {"rebuilt_digest", r.rebuilt_digest},
           {"rebuilt", r.rebuilt_dir.empty() ? Json(nullptr) : Json(r.rebuilt_dir)},
           {"differences", Json::array()}};
    for (const auto &d : r.differences) j["differences"].push_back(difference_json(d));
    if (r.signature_ok) {
      j["signature_ok"] = *r.signature_ok;
      j["envelope_problems"] = r.envelope_problems;
    }
    print_json(j);
    return r.identical() ? k_exit_ok : k_exit_mismatch;
  }
  print_table({{"published", r.published_digest, s.published},
               {"rebuilt", r.rebuilt_digest, r.rebuilt_dir.empty() ? "(temporary, removed)" : r.rebuilt_dir}});
  if (r.signature_ok) {
    if (*r.signature_ok && r.envelope_problems.empty())
      std::cout << "envelope   signature verifies; its subjects and statement are the rebuild's\n";
    for (const auto &p : r.envelope_problems) print_line("envelope   " + p);
  }
  if (r.differences.empty() && r.envelope_problems.empty()) {
    std::cout << "\nIDENTICAL: every artifact and every measurement of " << s.published
              << " was reproduced from the recipe and its lock\n";
    return k_exit_ok;
  }
  if (!r.differences.empty()) {
    std::cout << "\nDIFFERENT: " << r.differences.size() << " difference" << (r.differences.size() == 1 ? "" : "s")
              << " (published -> rebuilt; causes first, then what follows from them):\n";
    for (const auto &d : r.differences) print_line("  " + d.line());
  }
  return k_exit_mismatch;
}

} // namespace

void add_rebuild_command(CLI::App &app, Runner &run) {
  auto o = std::make_shared<RebuildCommandOptions>();
  CLI::App *cmd = add_command(app, run, o, "rebuild",
                              "Rebuild a recipe in a fresh store and compare it with a published output (for auditors)",
                              run_rebuild);
  cmd->footer(
      "The recipe's lock is used as it is (a lock that disagrees with the recipe is an error). Every input\n"
      "is fetched again into a fresh store (--work DIR keeps it and the rebuilt output; default: a temporary\n"
      "directory), the image is built, and every file of PUBLISHED is compared with the rebuild's. A\n"
      "difference names the artifact, the entry inside it (file in the root file system, tar or cpio member,\n"
      "JSON field) and the attribute (content, mode, owner, mtime, link target, xattr). File-system images are\n"
      "read through libguestfs (LIBGUESTFS_BACKEND_SETTINGS=force_tcg without KVM; --no-guestfs compares bytes).\n"
      "With --envelope and --pub, the envelope's signature is checked and its subjects and statement must\n"
      "be exactly the rebuild's.\n"
      "With --bundle FILE (the input bundle published with the image) nothing is downloaded.\n"
      "Example: mrforge rebuild recipes/debian-bookworm-tdx.yaml --against published/ \\\n"
      "           --envelope published.intoto.json --pub ci.pub --bundle inputs.tar\n"
      "Exit codes: 0 identical, 1 usage error, 2 bad input (recipe, lock, published directory, key), 3 internal\n"
      "error, 4 the rebuild differs or the envelope does not verify.");
  cmd->add_option("RECIPE", o->recipe, "Recipe file; its lock RECIPE.lock pins every input")
      ->required()
      ->check(CLI::ExistingFile);
  cmd->add_option("--against", o->settings.published, "The published output directory of `mrforge build`")
      ->required()
      ->check(CLI::ExistingDirectory);
  cmd->add_option("--envelope", o->settings.envelope, "The DSSE envelope published with it (`mrforge sign`)")
      ->check(CLI::ExistingFile);
  cmd->add_option("--pub", o->settings.public_key, "Public key for --envelope (PEM)")->check(CLI::ExistingFile);
  cmd->add_option("--work", o->settings.work_dir,
                  "Keep the fresh store and the rebuilt output here (DIR/store, DIR/out; must not hold them yet)");
  cmd->add_option("--mirror", o->settings.mirrors,
                  "Also fetch pinned packages from this mirror (tried first; repeatable), e.g. snapshot.debian.org");
  cmd->add_option("--debs", o->settings.debs_dir, "A directory of .deb files to take pinned packages from (by sha256)")
      ->check(CLI::ExistingDirectory);
  cmd->add_option("--bundle", o->settings.bundle,
                  "Take every input from this input bundle (`mrforge fetch --export`), verified against the lock; "
                  "no network")
      ->type_name("FILE");
  add_snapshot_options(cmd, o->settings.snapshot_service);
  cmd->add_option("--threads", o->threads, "Compression threads (default: all cores); never changes the bytes")
      ->check(CLI::Range(1, 256));
  cmd->add_flag("--no-guestfs", o->no_guestfs, "Compare file-system images as bytes (no libguestfs appliance)");
  cmd->add_flag("-q,--quiet", o->quiet, "No progress lines on stderr");
  cmd->add_flag("--json", o->json,
                "Print JSON: {identical, published_digest, rebuilt_digest, differences: [{artifact, entry, "
                "attribute, a, b, line}], signature_ok, envelope_problems}");
}

} // namespace mrforge::cli
