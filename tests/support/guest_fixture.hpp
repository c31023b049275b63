// The bundled guest recipe (recipes/debian-bookworm-tdx.yaml) as tests need it: copied to a
// scratch directory (so a test may change it), its inputs fetched into a store, and built. The
// packages come from deb.debian.org (tests using this are [network]); the kernel package from
// apt's cache. If the committed lock or kernel pin can no longer be fetched (Debian drops
// superseded versions), the copy is locked and pinned afresh with a WARN.
#pragma once

#include "../test_support.hpp"

#include <nlohmann/json.hpp>

#include <cstdint>
#include <set>
#include <string>
#include <vector>

namespace mrforge::test {

// Copies a bundled guest recipe (recipes/NAME.yaml), its lock, its folder, the bundled guest's
// folder (recipes/debian-bookworm-tdx: the disk-boot recipes use its init) and the kernel pin to
// DEST (DEST/recipes/..., DEST/kernels/...), creating files in sorted or reverse order and setting
// every mtime to `mtime`. Returns DEST/recipes/NAME.yaml.
std::string copy_guest_recipe(const std::string &dest, bool reverse = false,
                              const std::string &mtime = "2001-02-03 04:05:06",
                              const std::string &name = "debian-bookworm-tdx");

// Fetches the recipe's inputs into `store`; locks (and re-pins the kernel) afresh when the
// committed lock can no longer be fetched. Returns the --debs directory that serves the kernel.
std::string fetch_or_relock(const std::string &recipe, const std::string &store);

// Gives the copy `to` exactly the lock and kernel pin of the copy `from` (fetch_or_relock may have
// renewed them) and fetches its inputs into `store` from `debs`, REQUIREd to succeed.
void fetch_as(const std::string &from, const std::string &to, const std::string &store, const std::string &debs);

// The check names of a `mrforge boot --json` result whose status is FAIL.
std::set<std::string> failed_events(const nlohmann::json &boot);

// sgdisk's first sector of partition N of a disk image.
uint64_t first_sector(const std::string &disk, int n);

// Copies the image directory `out` to `tampered` and changes one byte of the command line inside
// its disk.img ("panic=-1" to "panic=-2"), where the command line appears exactly once (REQUIREd):
// in a UKI's .cmdline, or in grub.cfg on the ESP.
void copy_with_cmdline_byte_changed(const std::string &out, const std::string &tampered, const std::string &cmdline);

// `size` bytes of a file from `offset`, REQUIREd to be there.
std::string bytes_at(const std::string &path, uint64_t offset, uint64_t size);

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
