#include <builder/debian/repository.hpp>

#include <builder/debian/deb822.hpp>
#include <builder/debian/version.hpp>
#include <builder/system/output_dir.hpp>
#include <builder/system/store.hpp>
#include <builder/system/subprocess.hpp>
#include <measure/util/errors.hpp>
#include <measure/util/file_io.hpp>
#include <measure/util/hash.hpp>
#include <measure/util/input_limits.hpp>
#include <measure/util/mapped_file.hpp>

#include <archive.h>
#include <archive_entry.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <limits>
#include <memory>
#include <sstream>
#include <unistd.h>

namespace mrforge::builder::debian {

namespace {

namespace fs = std::filesystem;

using limits::k_max_inrelease_size;
using limits::k_max_packages_size;
// Keyrings (debian-archive-keyring's is ~100 KiB).
constexpr FileLimit k_keyring{"keyring", 64 * limits::k_mib};
// The status pipe descriptor passed to gpgv (--status-fd).
constexpr int k_status_fd = 3;
constexpr std::chrono::seconds k_gpg_timeout{120};
// OpenPGP hash algorithm ids (RFC 4880 §9.4) that apt refuses as weak: MD5, SHA-1, RIPEMD-160.
constexpr std::array<const char *, 3> k_weak_hash_algorithms = {"1", "2", "3"};

std::string trim_text(std::string s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == ' ' || s.back() == '\r')) s.pop_back();
  size_t i = 0;
  while (i < s.size() && (s[i] == '\n' || s[i] == ' ')) ++i;
  return s.substr(i);
}

std::string one_line(const std::string &s) {
  std::string out = trim_text(s);
  std::replace(out.begin(), out.end(), '\n', ';');
  return out;
}

bool is_hex64(const std::string &s) {
  if (s.size() != 64) return false;
  return std::all_of(s.begin(), s.end(), [](char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'); });
}

bool parse_u64(const std::string &s, uint64_t &out) {
  if (s.empty() || s.size() > 20) return false;
  uint64_t v = 0;
  for (char c : s) {
    if (c < '0' || c > '9') return false;
    auto d = static_cast<uint64_t>(c - '0');
    if (v > (std::numeric_limits<uint64_t>::max() - d) / 10) return false;
    v = v * 10 + d;
  }
  out = v;
  return true;
}

std::string base_uri(const AptSource &source) {
  std::string uri = source.uri;
  while (!uri.empty() && uri.back() == '/') uri.pop_back();
  return uri;
}

// Runs gpgv on the InRelease bytes and returns the signed content; see the header for the rules.
std::string verify_inrelease(const AptSource &source, ByteView inrelease, const ScratchDir &tmp) {
  const std::string what = "InRelease of " + source.uri + " " + source.suite;
  if (source.keyring.empty())
    throw InputError(what, "no keyring to verify it with (set Signed-By, or install debian-archive-keyring)");
  std::error_code ec;
  if (!fs::is_regular_file(source.keyring, ec)) throw SystemError(source.keyring, "keyring file not found");

  const std::string home = tmp.file("gnupg");
  fs::create_directory(home, ec);
  if (ec) throw SystemError(home, ec.message());
  fs::permissions(home, fs::perms::owner_all, ec);
  ProcessOptions options;
  options.home = tmp.path();
  options.environment = {{"GNUPGHOME", home}};
  options.timeout = k_gpg_timeout;

  std::string keyring = source.keyring;
  std::string head = read_text_file(source.keyring, k_keyring).substr(0, 32);
  bool armored = head.rfind("-----BEGIN PGP", 0) == 0 ||
                 (keyring.size() > 4 && keyring.compare(keyring.size() - 4, 4, ".asc") == 0);
  if (armored) {
    keyring = tmp.file("keyring.gpg");
    ProcessResult r = run_process(
        {"gpg", "--batch", "--no-options", "--homedir", home, "--output", keyring, "--dearmor", source.keyring},
        options);
    if (!r.success())
      throw SystemError(source.keyring, "gpg --dearmor failed (" + r.describe() + "): " + one_line(r.stderr_data));
  }

  const std::string signed_file = tmp.file("InRelease");
  const std::string content_file = tmp.file("InRelease.content");
  write_file_atomically(signed_file, inrelease);
  options.extra_fd = k_status_fd;
  ProcessResult r = run_process({"gpgv", "--homedir", home, "--keyring", keyring, "--status-fd",
                                 std::to_string(k_status_fd), "--output", content_file, signed_file},
                                options);

  bool good = false, valid = false, bad = false;
  std::string problems;
  std::istringstream status(r.extra_output);
  std::string line;
  while (std::getline(status, line)) {
    if (line.rfind("[GNUPG:] ", 0) != 0) continue;
    std::vector<std::string> words = split_words(line.substr(9));
    if (words.empty()) continue;
    const std::string &kw = words[0];
    if (kw == "GOODSIG")
      good = true;
    else if (kw == "BADSIG")
      bad = true;
    else if (kw == "VALIDSIG") {
      // VALIDSIG fpr date timestamp expire version reserved pubkey-algo hash-algo class [primary]
      if (words.size() < 9) continue;
      const std::string &hash_algo = words[8];
      if (std::find(k_weak_hash_algorithms.begin(), k_weak_hash_algorithms.end(), hash_algo) !=
          k_weak_hash_algorithms.end()) {
        problems += "signature by " + words[1] + " uses a weak digest (OpenPGP hash algorithm " + hash_algo + "); ";
        continue;
      }
      valid = true;
    } else if (kw == "EXPKEYSIG" || kw == "REVKEYSIG" || kw == "EXPSIG") {
      problems += kw + " " + (words.size() > 1 ? words[1] : "") + "; ";
    }
  }
  if (bad || !good || !valid) {
    std::string message = one_line(r.stderr_data);
    if (!problems.empty()) message = problems + message;
    if (bad) message = "a signature is BAD; " + message;
    if (message.empty()) message = "gpgv " + r.describe() + " without a good signature";
    throw SystemError(what, "signature not valid with keyring " + source.keyring + ": " + message);
  }
  return read_text_file(content_file, FileLimit{"InRelease", k_max_inrelease_size});
}

struct ArchiveDeleter {
  void operator()(archive *a) const { archive_read_free(a); }
};

// Decompresses a .xz/.gz/plain file with libarchive's raw format and every filter.
std::string decompress_file(const std::string &path, const std::string &name) {
  std::unique_ptr<archive, ArchiveDeleter> a(archive_read_new());
  if (!a) throw SystemError(name, "archive_read_new failed");
  if (archive_read_support_filter_all(a.get()) != ARCHIVE_OK || archive_read_support_format_raw(a.get()) != ARCHIVE_OK)
    throw SystemError(name, std::string("libarchive: ") + archive_error_string(a.get()));
  if (archive_read_open_filename(a.get(), path.c_str(), 65536) != ARCHIVE_OK)
    throw SystemError(name, std::string("cannot decompress: ") + archive_error_string(a.get()));
  archive_entry *entry = nullptr;
  int r = archive_read_next_header(a.get(), &entry);
  if (r == ARCHIVE_EOF) return {};
  if (r != ARCHIVE_OK) throw SystemError(name, std::string("cannot decompress: ") + archive_error_string(a.get()));
  std::string out;
  std::array<char, 65536> buf{};
  for (;;) {
    la_ssize_t n = archive_read_data(a.get(), buf.data(), buf.size());
    if (n < 0) throw SystemError(name, std::string("cannot decompress: ") + archive_error_string(a.get()));
    if (n == 0) break;
    if (static_cast<uint64_t>(n) > k_max_packages_size - out.size())
      throw SystemError(name, "decompresses to more than " + std::to_string(k_max_packages_size) + " bytes");
    out.append(buf.data(), static_cast<size_t>(n));
  }
  return out;
}

struct ReleaseEntry {
  std::string sha256;
  uint64_t size = 0;
};

// The SHA256 field: one "digest size path" per line.
std::vector<std::pair<std::string, ReleaseEntry>> parse_sha256_list(const Field &field, const std::string &source) {
  std::vector<std::pair<std::string, ReleaseEntry>> out;
  std::istringstream lines(field.value);
  std::string line;
  int line_no = field.line - 1;
  while (std::getline(lines, line)) {
    ++line_no;
    std::vector<std::string> words = split_words(line);
    if (words.empty()) continue;
    ReleaseEntry e;
    if (words.size() != 3 || !is_hex64(words[0]) || !parse_u64(words[1], e.size))
      throw DocumentError(source, line_no, 1, "SHA256 entry is not \"<sha256> <size> <path>\"");
    e.sha256 = words[0];
    out.emplace_back(words[2], e);
  }
  return out;
}

int64_t days_from_civil(int64_t y, unsigned m, unsigned d) {
  // Howard Hinnant's algorithm: days since 1970-01-01 in the proleptic Gregorian calendar.
  y -= m <= 2;
  const int64_t era = (y >= 0 ? y : y - 399) / 400;
  const auto yoe = static_cast<unsigned>(y - era * 400);
  const unsigned doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
  const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + static_cast<int64_t>(doe) - 719468;
}

std::string relative_dir(const std::string &path) {
  size_t slash = path.rfind('/');
  return slash == std::string::npos ? std::string() : path.substr(0, slash);
}

} // namespace

int64_t parse_release_date(const std::string &text, const std::string &what) {
  auto fail = [&](const std::string &m) { return InputError(what, "date \"" + text + "\": " + m); };
  std::vector<std::string> w = split_words(text);
  if (!w.empty() && w[0].size() == 4 && w[0].back() == ',') w.erase(w.begin()); // "Sat,"
  if (w.size() != 5) throw fail("expected \"Day, DD Mon YYYY HH:MM:SS UTC\"");
  uint64_t day = 0, year = 0;
  if (!parse_u64(w[0], day) || day < 1 || day > 31) throw fail("bad day");
  static const std::array<const char *, 12> months = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                                      "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
  unsigned month = 0;
  for (unsigned i = 0; i < months.size(); ++i)
    if (w[1] == months[i]) month = i + 1;
  if (month == 0) throw fail("bad month");
  if (!parse_u64(w[2], year) || year < 1970 || year > 9999) throw fail("bad year");
  const std::string &t = w[3];
  uint64_t hh = 0, mm = 0, ss = 0;
  if (t.size() != 8 || t[2] != ':' || t[5] != ':' || !parse_u64(t.substr(0, 2), hh) || !parse_u64(t.substr(3, 2), mm) ||
      !parse_u64(t.substr(6, 2), ss) || hh > 23 || mm > 59 || ss > 60)
    throw fail("bad time");
  int64_t offset = 0;
  const std::string &zone = w[4];
  if (zone == "UTC" || zone == "GMT" || zone == "Z") {
    offset = 0;
  } else if (zone.size() == 5 && (zone[0] == '+' || zone[0] == '-')) {
    uint64_t oh = 0, om = 0;
    if (!parse_u64(zone.substr(1, 2), oh) || !parse_u64(zone.substr(3, 2), om) || oh > 23 || om > 59)
      throw fail("bad zone");
    offset = static_cast<int64_t>(oh * 3600 + om * 60) * (zone[0] == '-' ? -1 : 1);
  } else {
    throw fail("unknown time zone \"" + zone + "\"");
  }
  int64_t days = days_from_civil(static_cast<int64_t>(year), month, static_cast<unsigned>(day));
  return days * 86400 + static_cast<int64_t>(hh * 3600 + mm * 60 + ss) - offset;
}

std::vector<PackageRecord> parse_packages(std::string_view text, const std::string &source,
                                          const std::string &source_index) {
  std::vector<PackageRecord> out;
  for (const Paragraph &p : parse_deb822(text, source)) {
    auto field_error = [&](const char *name, const std::string &message) {
      const Field *f = p.find(name);
      return DocumentError(source, f ? f->line : p.line, 1, std::string(name) + ": " + message);
    };
    PackageRecord r;
    r.name = p.required("Package");
    for (char c : r.name)
      if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '+' || c == '-' ||
            c == '.'))
        throw field_error("Package", "invalid package name \"" + r.name + "\"");
    r.version = p.required("Version");
    try {
      (void)parse_version(r.version, r.name);
    } catch (const InputError &e) {
      throw field_error("Version", e.what());
    }
    r.architecture = p.required("Architecture");
    if (split_words(r.architecture).size() != 1) throw field_error("Architecture", "expected one architecture");
    r.filename = p.required("Filename");
    if (r.filename.front() == '/' || r.filename.find("..") != std::string::npos ||
        split_words(r.filename).size() != 1 || r.filename.find("://") != std::string::npos)
      throw field_error("Filename", "\"" + r.filename + "\" is not a relative path inside the repository");
    if (!parse_u64(p.required("Size"), r.size)) throw field_error("Size", "not a decimal size");
    r.sha256 = p.required("SHA256");
    std::transform(r.sha256.begin(), r.sha256.end(), r.sha256.begin(),
                   [](char c) { return (c >= 'A' && c <= 'F') ? static_cast<char>(c - 'A' + 'a') : c; });
    if (!is_hex64(r.sha256)) throw field_error("SHA256", "not a sha256 digest");
    r.source_index = source_index;
    r.depends = p.get("Depends");
    r.pre_depends = p.get("Pre-Depends");
    r.provides = p.get("Provides");
    std::string essential = p.get("Essential", "no");
    if (essential == "yes")
      r.essential = true;
    else if (essential != "no")
      throw field_error("Essential", "expected yes or no");
    r.multi_arch = p.get("Multi-Arch");
    out.push_back(std::move(r));
  }
  return out;
}

std::string package_url(const AptSource &source, const PackageRecord &record) {
  return base_uri(source) + "/" + record.filename;
}

RepositoryIndex load_repository_index(const AptSource &source, Fetcher &fetcher,
                                      const std::function<void(const std::string &)> &progress,
                                      const LoadOptions &options) {
  auto say = [&](const std::string &m) {
    if (progress) progress(m);
  };
  const std::string what = "InRelease of " + source.uri + " " + source.suite;
  if (source.suite.empty() || source.suite.find("..") != std::string::npos)
    throw InputError(what, "not a valid suite name");
  const std::string dists = base_uri(source) + "/dists/" + source.suite + "/";
  const std::string inrelease_url = dists + "InRelease";
  ScratchDir tmp = ScratchDir::create("mrforge-repo");

  say("fetching " + inrelease_url);
  Bytes inrelease = fetcher.fetch_bytes(inrelease_url, k_max_inrelease_size);
  RepositoryIndex index;
  index.source = source;
  index.inrelease_sha256 = to_hex(sha256(inrelease));
  index.inrelease_size = inrelease.size();
  if (!options.expected_inrelease_sha256.empty() && index.inrelease_sha256 != options.expected_inrelease_sha256)
    throw UnusableReleaseError(what, "is another one than the lock's (sha256 " + index.inrelease_sha256 +
                                         ", the lock " + options.expected_inrelease_sha256 +
                                         "): the repository has moved on");
  std::string content = verify_inrelease(source, inrelease, tmp);

  std::vector<Paragraph> paragraphs = parse_deb822(content, what);
  if (paragraphs.size() != 1)
    throw DocumentError(what, paragraphs.empty() ? 1 : paragraphs[1].line, 1,
                        "expected exactly one paragraph in the signed content");
  const Paragraph &release = paragraphs[0];
  if (release.get("Suite") != source.suite && release.get("Codename") != source.suite)
    throw InputError(what, "is for suite \"" + release.get("Suite") + "\" (codename \"" + release.get("Codename") +
                               "\"), not \"" + source.suite + "\"");
  if (const Field *archs = release.find("Architectures")) {
    std::vector<std::string> list = split_words(archs->value);
    if (std::find(list.begin(), list.end(), source.architecture) == list.end())
      throw InputError(what,
                       "does not list architecture " + source.architecture + " (Architectures: " + archs->value + ")");
  }
  if (const Field *date = release.find("Date")) index.date = parse_release_date(date->value, what + ": Date");
  if (const Field *valid_until = release.find("Valid-Until")) {
    int64_t until = parse_release_date(valid_until->value, what + ": Valid-Until");
    int64_t now = options.now ? *options.now : static_cast<int64_t>(std::time(nullptr));
    if (until <= now && !options.accept_expired)
      throw UnusableReleaseError(what, "expired: Valid-Until " + valid_until->value + " has passed");
  }
  if (options.keep) {
    std::string kept = options.keep->temp_path("InRelease");
    write_file_atomically(kept, inrelease);
    options.keep->commit(kept, index.inrelease_sha256, index.inrelease_size, what);
  }
  const Field *sha_field = release.find("SHA256");
  if (!sha_field) throw DocumentError(what, release.line, 1, "no SHA256 field");
  auto entries = parse_sha256_list(*sha_field, what);
  const bool by_hash = iequals(release.get("Acquire-By-Hash"), "yes");

  for (const auto &component : source.components) {
    const std::string base = component + "/binary-" + source.architecture + "/Packages";
    const std::pair<std::string, ReleaseEntry> *chosen = nullptr;
    for (const char *suffix : {".xz", ".gz", ""}) {
      for (const auto &e : entries)
        if (e.first == base + suffix) {
          chosen = &e;
          break;
        }
      if (chosen) break;
    }
    if (!chosen)
      throw InputError(what, "lists no " + base + "(.xz|.gz) in its SHA256 section: component " + component +
                                 " has no packages for " + source.architecture);
    const std::string &path = chosen->first;
    const ReleaseEntry &expected = chosen->second;
    const std::string url = dists + path;
    const std::string local = tmp.file("Packages-download");
    std::string fetched_from = url;
    if (by_hash) {
      fetched_from = dists + relative_dir(path) + "/by-hash/SHA256/" + expected.sha256;
      say("fetching " + fetched_from);
      try {
        fetcher.fetch_to_file(fetched_from, local, expected.size);
      } catch (const NotFoundError &) {
        fetched_from = url;
      }
    }
    if (fetched_from == url) {
      say("fetching " + url);
      fetcher.fetch_to_file(url, local, expected.size);
    }
    FileDigest actual = digest_file(local, limits::k_artifact);
    if (actual.size != expected.size)
      throw SystemError(fetched_from, path + ": size " + std::to_string(actual.size) + " does not match " +
                                          std::to_string(expected.size) + " from InRelease (sha256 expected " +
                                          expected.sha256 + ", actual " + actual.sha256_hex + ")");
    if (actual.sha256_hex != expected.sha256)
      throw SystemError(fetched_from, path + ": sha256 mismatch: InRelease says " + expected.sha256 +
                                          ", downloaded file has " + actual.sha256_hex);
    index.indexes.push_back(IndexFile{path, expected.sha256, expected.size});
    if (options.keep && !options.keep->contains(expected.sha256))
      options.keep->add_file(local, expected.sha256, expected.size, fetched_from);
    std::string packages = decompress_file(local, url);
    std::vector<PackageRecord> records = parse_packages(packages, url, source.suite + "/" + component);
    say(url + ": " + std::to_string(records.size()) + " packages");
    index.packages.insert(index.packages.end(), std::make_move_iterator(records.begin()),
                          std::make_move_iterator(records.end()));
    std::error_code ec;
    fs::remove(local, ec);
  }
  return index;
}

} // namespace mrforge::builder::debian
