#include <builder/debian/snapshot.hpp>

#include <measure/util/errors.hpp>

#include <array>
#include <ctime>

namespace mrforge::builder::debian {

namespace {

// After the Date: the first snapshot import is normally within a few hours (four a day), later
// when the service lags.
constexpr std::array<int64_t, 7> k_probe_offsets = {0, 3600, 3 * 3600, 6 * 3600, 12 * 3600, 86400, 2 * 86400};

} // namespace

std::string snapshot_base(const std::string &service, const std::string &archive, const std::string &time) {
  std::string s = service;
  while (!s.empty() && s.back() == '/') s.pop_back();
  return s + "/archive/" + archive + "/" + time;
}

std::string snapshot_time(int64_t seconds) {
  std::time_t t = static_cast<std::time_t>(seconds);
  std::tm tm{};
  if (seconds < 0 || gmtime_r(&t, &tm) == nullptr || tm.tm_year + 1900 > 9999)
    throw InputError("time " + std::to_string(seconds), "out of the range 1970-9999");
  char out[32];
  size_t n = std::strftime(out, sizeof out, "%Y%m%dT%H%M%SZ", &tm);
  return std::string(out, n);
}

bool is_snapshot_time(const std::string &text) {
  if (text.size() != 16 || text[8] != 'T' || text[15] != 'Z') return false;
  for (size_t i = 0; i < 15; ++i)
    if (i != 8 && (text[i] < '0' || text[i] > '9')) return false;
  return true;
}

int64_t parse_snapshot_time(const std::string &time, const std::string &what) {
  if (!is_snapshot_time(time)) throw InputError(what, "\"" + time + "\" is not a time as YYYYMMDDTHHMMSSZ");
  auto num = [&](size_t at, size_t n) { return std::stoi(time.substr(at, n)); };
  std::tm tm{};
  tm.tm_year = num(0, 4) - 1900;
  tm.tm_mon = num(4, 2) - 1;
  tm.tm_mday = num(6, 2);
  tm.tm_hour = num(9, 2);
  tm.tm_min = num(11, 2);
  tm.tm_sec = num(13, 2);
  int64_t seconds = static_cast<int64_t>(timegm(&tm));
  if (seconds < 0 || snapshot_time(seconds) != time) throw InputError(what, "\"" + time + "\" is not a valid time");
  return seconds;
}

std::vector<std::string> snapshot_probe_times(int64_t date) {
  std::vector<std::string> out;
  for (int64_t offset : k_probe_offsets) out.push_back(snapshot_time(date + offset));
  return out;
}

std::string archive_of_mirror(const std::string &uri) {
  std::string u = uri;
  while (!u.empty() && u.back() == '/') u.pop_back();
  size_t scheme = u.find("://");
  size_t path = u.find('/', scheme == std::string::npos ? 0 : scheme + 3);
  if (path == std::string::npos) return {};
  return u.substr(u.rfind('/') + 1);
}

SnapshotMatch find_in_snapshot(const AptSource &source, const std::string &service, const std::string &archive,
                               int64_t date, const std::string &inrelease_sha256, Fetcher &fetcher,
                               const std::function<void(const std::string &)> &progress, LoadOptions options) {
  options.expected_inrelease_sha256 = inrelease_sha256;
  options.accept_expired = true;
  std::string tried;
  for (const std::string &time : snapshot_probe_times(date)) {
    AptSource at = source;
    at.uri = snapshot_base(service, archive, time);
    try {
      return SnapshotMatch{at.uri, load_repository_index(at, fetcher, progress, options)};
    } catch (const UnusableReleaseError &) {
      tried += "\n  " + at.uri + ": another InRelease";
    } catch (const NotFoundError &) {
      tried += "\n  " + at.uri + ": not found";
    }
  }
  throw InputError("InRelease of " + source.suite + " (sha256 " + inrelease_sha256 + ")",
                   "is in none of the snapshots of " + archive + " after its Date " + snapshot_time(date) + " on " +
                       service + ":" + tried);
}

} // namespace mrforge::builder::debian
