// The host's apt sources (sources.list(5)), for `mrforge lock` when a recipe names no repository.
//
// Read: ROOT/etc/apt/sources.list and ROOT/etc/apt/sources.list.d/*.list in the one-line format
// ("deb [arch=amd64 signed-by=/path] URI SUITE COMPONENT..."), and ROOT/etc/apt/sources.list.d/
// *.sources in the deb822 format (Types, URIs, Suites, Components, Architectures, Signed-By,
// Enabled). Files whose name contains ".disabled" are skipped, as are deb-src entries, entries
// with Enabled: no, and entries whose architecture list excludes the requested architecture.
//
// Keyring: Signed-By when given. It must be a path: an inline key block (or a fingerprint list)
// is refused with an InputError asking for a keyring file, since we verify with gpgv against a
// file. Without Signed-By, /usr/share/keyrings/debian-archive-keyring.gpg is used when it exists
// (apt's other default, the keys in /etc/apt/trusted.gpg.d, is deliberately not consulted);
// otherwise keyring is left empty and loading the repository fails with a message saying so.
// Paths are returned as host paths: ROOT joined with the configured path.
//
// Flat repositories ("deb URI ./") are refused: we read only dists/SUITE/InRelease.
// The result is sorted by (uri, suite, components, architecture, keyring) and duplicates are
// removed, so it does not depend on directory-listing order or file names.
#pragma once

#include <string>
#include <vector>

namespace mrforge::builder::debian {

struct AptSource {
  std::string uri;   // without a trailing '/'
  std::string suite; // "bookworm"
  std::vector<std::string> components;
  std::string architecture; // the requested architecture
  std::string keyring;      // host path of the keyring for gpgv; empty if none is known

  bool operator==(const AptSource &o) const {
    return uri == o.uri && suite == o.suite && components == o.components && architecture == o.architecture &&
           keyring == o.keyring;
  }
  bool operator<(const AptSource &o) const;
};

constexpr const char *k_default_debian_keyring = "/usr/share/keyrings/debian-archive-keyring.gpg";

// Throws DocumentError (file, line) for malformed entries, InputError for inline keys, and
// SystemError for unreadable files.
std::vector<AptSource> host_apt_sources(const std::string &architecture, const std::string &root = "/");

} // namespace mrforge::builder::debian
