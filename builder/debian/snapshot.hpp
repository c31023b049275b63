// Debian's snapshot archive (https://snapshot.debian.org): every state of Debian's archives since
// 2005, at URLs SERVICE/archive/ARCHIVE/YYYYMMDDTHHMMSSZ/ (ARCHIVE: debian, debian-security, ...).
// A time that is not exactly a snapshot's is answered with a redirect to the last snapshot before
// it.
//
// A lock records each source's InRelease digest and Date. The snapshot holding that InRelease is
// the first one imported after the Date, which is not the Date itself: the archive is signed
// (Date) before the snapshot service imports the pushed mirror, a few hours later. So the
// snapshot is found by probing: the InRelease at Date, Date + 1 h, + 3 h, + 6 h, + 12 h, + 1 d,
// + 2 d (seven small requests at most), until one has the locked digest. Its snapshot also holds
// every file the InRelease's indexes list (the pool keeps them while any suite names them).
#pragma once

#include <builder/debian/repository.hpp>

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace mrforge::builder::debian {

constexpr const char *k_snapshot_service = "https://snapshot.debian.org";

// SERVICE/archive/ARCHIVE/TIME (no trailing '/').
std::string snapshot_base(const std::string &service, const std::string &archive, const std::string &time);

// The times probed for a Date (seconds since the epoch), as YYYYMMDDTHHMMSSZ, in order.
std::vector<std::string> snapshot_probe_times(int64_t date);

// The archive name a mirror URL implies: its last path segment ("http://deb.debian.org/debian" ->
// "debian"); empty when the URL has no path.
std::string archive_of_mirror(const std::string &uri);

struct SnapshotMatch {
  std::string base; // the snapshot URL whose InRelease is the locked one
  RepositoryIndex index;
};

// Probes the snapshots of `archive` after `date` for the InRelease of `source` (its uri is
// ignored) with sha256 `inrelease_sha256`, verifying its signature with source.keyring; an expired
// Valid-Until is accepted there (it was valid when signed). The indexes are fetched and checked as
// load_repository_index does, and kept in options.keep. Throws InputError saying which times were
// asked and what each gave when none has it.
SnapshotMatch find_in_snapshot(const AptSource &source, const std::string &service, const std::string &archive,
                               int64_t date, const std::string &inrelease_sha256, Fetcher &fetcher,
                               const std::function<void(const std::string &)> &progress, LoadOptions options);

// "YYYYMMDDTHHMMSSZ" for seconds since the epoch (years 1970-9999, else InputError); the check of
// that form; and its seconds (throws InputError naming `what`).
std::string snapshot_time(int64_t seconds);
bool is_snapshot_time(const std::string &text);
int64_t parse_snapshot_time(const std::string &time, const std::string &what);

} // namespace mrforge::builder::debian
