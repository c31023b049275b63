// A Debian repository's package index for one suite and architecture, verified the way apt does.
//
// 1. Fetch URI/dists/SUITE/InRelease.
// 2. Verify its OpenPGP signature with `gpgv --keyring KEYRING --status-fd 3 --output CONTENT`.
//    OpenPGP verification is delegated to Debian's gpgv because none of the libraries the builder
//    may use implements it; apt itself does the same. Only gpgv's output (the signed content) is
//    parsed, never the clearsigned file itself. A signature counts only with both GOODSIG and
//    VALIDSIG status lines and a digest other than MD5, SHA-1 or RIPEMD-160 (which apt refuses
//    too); any BADSIG refuses the file. Signatures by keys not in the keyring (NO_PUBKEY) are
//    ignored when another signature is good, as Debian signs with several keys. Armored keyrings
//    (*.asc) are converted with `gpg --dearmor` first, since gpgv 2.2 reads binary keyrings only.
// 3. Check the content: Suite or Codename equals the requested suite; Architectures lists the
//    requested architecture; Valid-Until, if present, is in the future (unless the caller loads a
//    snapshot of a recorded time, see LoadOptions).
// 4. For each component, pick COMPONENT/binary-ARCH/Packages.xz, else .gz, else Packages from the
//    SHA256 list; fetch it (by hash when the Release says Acquire-By-Hash: yes, falling back to the
//    plain path), check size and sha256, decompress with libarchive and parse the records.
#pragma once

#include <builder/debian/host_apt.hpp>
#include <builder/system/http_fetch.hpp>
#include <builder/system/store.hpp>

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

namespace mrforge::builder::debian {

struct IndexFile {
  std::string path; // relative to dists/SUITE: "main/binary-amd64/Packages.xz"
  std::string sha256;
  uint64_t size = 0;
};

struct PackageRecord {
  std::string name, version, architecture, filename;
  uint64_t size = 0;
  std::string sha256;
  std::string source_index; // "SUITE/COMPONENT"
  std::string depends, pre_depends, provides;
  bool essential = false;
  std::string multi_arch; // "", "same", "foreign", "allowed", "no"
};

struct RepositoryIndex {
  AptSource source;
  std::string inrelease_sha256; // of the fetched (signed) InRelease file
  uint64_t inrelease_size = 0;
  int64_t date = 0; // the Release's Date (seconds since the epoch); 0 when it has none
  std::vector<IndexFile> indexes;
  std::vector<PackageRecord> packages; // in index order
  int priority = 500;                  // apt pin priority of its packages (set by the caller; see resolver.hpp)
};

// The repository serves a signed InRelease that cannot be used for a lock made earlier: another
// one than the lock's (the mirror has moved on), or one whose Valid-Until has passed.
class UnusableReleaseError : public InputError {
public:
  using InputError::InputError;
};

struct LoadOptions {
  // Non-empty: the InRelease must have this sha256 (a lock's), else UnusableReleaseError.
  std::string expected_inrelease_sha256;
  // An expired Valid-Until is accepted: only for Debian's snapshot of the time a lock recorded,
  // which serves that InRelease as it was signed.
  bool accept_expired = false;
  // The time Valid-Until is compared with (seconds since the epoch); default: now.
  std::optional<int64_t> now;
  // When set, the verified InRelease and index files are kept in this store (by sha256).
  Store *keep = nullptr;
};

// Loads and verifies one source. `progress` receives one-line status messages ("fetching URL").
// Throws NotFoundError when the repository does not serve InRelease or a Packages file;
// SystemError for download failures, a bad signature ("InRelease of URI SUITE: signature not valid
// with keyring K: ...") or a checksum mismatch (naming the file, expected and actual digests);
// InputError for a missing keyring or a Release that does not match the source; DocumentError for
// malformed Release or Packages content.
RepositoryIndex load_repository_index(const AptSource &source, Fetcher &fetcher,
                                      const std::function<void(const std::string &)> &progress,
                                      const LoadOptions &options = {});

// URI/Filename: where the .deb of `record` is downloaded from.
std::string package_url(const AptSource &source, const PackageRecord &record);

// Parses Packages content into records (validating Package, Version, Architecture, Filename,
// Size, SHA256). `source` names the file in errors; `source_index` is copied into each record.
// Throws DocumentError with the line of the offending field.
std::vector<PackageRecord> parse_packages(std::string_view text, const std::string &source,
                                          const std::string &source_index);

// Seconds since the epoch for an RFC 2822 date as Release files write it
// ("Sat, 10 Jun 2023 08:55:35 UTC"). Throws InputError naming `what`.
int64_t parse_release_date(const std::string &text, const std::string &what);

} // namespace mrforge::builder::debian
