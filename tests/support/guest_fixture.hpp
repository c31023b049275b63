// The bundled guest recipe (recipes/debian-bookworm-tdx.yaml) as tests need it: copied to a
// scratch directory (so a test may change it), its inputs fetched into a store, and built. The
// packages come from deb.debian.org (tests using this are [network]); the kernel package from
// apt's cache. If the committed lock or kernel pin can no longer be fetched (Debian drops
// superseded versions), the copy is locked and pinned afresh with a WARN.
#pragma once

#include "../test_support.hpp"

#include <nlohmann/json.hpp>

#include <string>
#include <vector>

namespace mrforge::test {

// Copies the recipe, its folder, its lock and the kernel pins to DEST (DEST/recipes/...,
// DEST/kernels/...), creating files in sorted or reverse order and setting every mtime to `mtime`.
// Returns DEST/recipes/debian-bookworm-tdx.yaml.
std::string copy_guest_recipe(const std::string &dest, bool reverse = false,
                              const std::string &mtime = "2001-02-03 04:05:06");

// Fetches the recipe's inputs into `store`; locks (and re-pins the kernel) afresh when the
// committed lock can no longer be fetched. Returns the --debs directory that serves the kernel.
std::string fetch_or_relock(const std::string &recipe, const std::string &store);

// `mrforge build --frozen --offline --json --store STORE RECIPE -o OUT [extra]`, REQUIREd to succeed.
nlohmann::json build_guest_json(const std::string &recipe, const std::string &store, const std::string &out,
                                const std::string &prefix = "", const std::vector<std::string> &extra = {});

// One build of the bundled recipe per test process, shared by the tests that need a real output
// directory (signing, statements, diff, rebuild). Treat it as read-only: copy what you change.
struct PublishedGuest {
  std::string root;   // scratch copy of the source tree (recipes/, kernels/)
  std::string recipe; // root/recipes/debian-bookworm-tdx.yaml
  std::string store;  // a store holding every locked input
  std::string debs;   // the --debs directory that serves the kernel package
  std::string out;    // the build output directory
};
const PublishedGuest &published_guest();

} // namespace mrforge::test
