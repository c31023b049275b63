// Debian package versions: [epoch:]upstream[-revision] (Debian Policy §5.6.12, deb-version(7)).
//
// Comparison follows dpkg's verrevcmp() (lib/dpkg/version.c) exactly: epochs numerically, then
// upstream and revision each as alternating non-digit and digit runs, where in non-digit runs
// '~' sorts before everything (even the end of the string), letters before non-letters, and digit
// runs compare numerically. A missing revision compares like "0" does ("1.0" == "1.0-0").
//
// Hand-written on purpose: libapt-pkg would pull apt's global configuration (and /etc/apt) into
// the builder, and the algorithm is small and fully specified by dpkg's source.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace mrforge::builder::debian {

struct Version {
  uint32_t epoch = 0;
  std::string upstream;
  std::string revision; // empty if the version has none

  // The canonical text: epoch only when non-zero, revision only when present.
  std::string to_string() const;
};

// Parses and validates like dpkg's parseversion(): surrounding spaces ignored, no inner spaces,
// epoch a decimal number <= INT32_MAX, upstream non-empty of [A-Za-z0-9.+~-:], revision
// (after the last '-') non-empty of [A-Za-z0-9.+~]. An upstream version that does not start
// with a digit is accepted (dpkg only warns). Throws InputError naming `what`.
Version parse_version(std::string_view text, const std::string &what);

// <0, 0, >0 as a sorts before, equal to, after b.
int compare_versions(const Version &a, const Version &b);
// Parses both (InputError naming the text on failure) and compares.
int compare_versions(std::string_view a, std::string_view b);

// dpkg's verrevcmp on one part (upstream or revision); exposed for tests.
int compare_version_part(std::string_view a, std::string_view b);

} // namespace mrforge::builder::debian
