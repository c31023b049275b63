// The Debian repository client end to end over loopback: a signed repository built by the
// fixture loads and matches what was built; a foreign signature, a tampered index and a missing
// file are refused clearly. Also the pieces under it: running programs, fetching, the host's apt
// sources, Packages records and Release dates.
#include "support/apt_repo.hpp"
#include "test_support.hpp"

#include <builder/debian/host_apt.hpp>
#include <builder/debian/repository.hpp>
#include <builder/debian/resolver.hpp>
#include <builder/system/http_fetch.hpp>
#include <builder/system/subprocess.hpp>

#include <measure/util/errors.hpp>
#include <measure/util/hash.hpp>

#include <catch2/catch.hpp>

#include <csignal>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <unistd.h>
#include <vector>

using namespace mrforge;
using namespace mrforge::builder;
using namespace mrforge::builder::debian;

namespace {

namespace fs = std::filesystem;

// A temporary directory removed with its contents.
class ScratchDir {
public:
  ScratchDir() {
    std::string pattern = (fs::temp_directory_path() / "mrforge-debian-XXXXXX").string();
    if (!::mkdtemp(pattern.data())) throw SystemError(pattern, "mkdtemp failed");
    m_path = pattern;
  }
  ~ScratchDir() {
    std::error_code ec;
    fs::remove_all(m_path, ec);
  }
  ScratchDir(const ScratchDir &) = delete;
  ScratchDir &operator=(const ScratchDir &) = delete;
  const std::string &path() const { return m_path; }

private:
  std::string m_path;
};

void write_file(const std::string &path, const std::string &content) {
  fs::create_directories(fs::path(path).parent_path());
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << content;
  REQUIRE(out.good());
}

std::string read_file(const std::string &path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

bool contains(const std::string &haystack, const std::string &needle) {
  return haystack.find(needle) != std::string::npos;
}

void ignore_progress(const std::string &) {}

// A published repository with three packages: hello depends on libgreet, and an arch-all doc.
struct PublishedRepo {
  ScratchDir scratch;
  test::AptRepo repo{scratch.path() + "/repo"};
  std::string hello_deb, libgreet_deb, doc_deb;

  PublishedRepo() {
    hello_deb = repo.build_deb({"hello",
                                "2.10-3",
                                "amd64",
                                "libgreet (>= 1.0), hello-doc",
                                "",
                                "",
                                {{"usr/bin/hello", "#!/bin/sh\necho hello\n", 0755}},
                                {"usr/share/hello"},
                                "",
                                false});
    libgreet_deb = repo.build_deb({"libgreet",
                                   "1:1.2-1",
                                   "amd64",
                                   "",
                                   "",
                                   "libgreet-abi (= 1)",
                                   {{"usr/lib/libgreet.so.1", "not really a library\n", 0644}},
                                   {},
                                   "",
                                   false});
    doc_deb = repo.build_deb(
        {"hello-doc", "2.10-3", "all", "", "", "", {{"usr/share/doc/hello/README", "hi\n"}}, {}, "", false});
    repo.publish("bookworm", "main");
  }
  AptSource source(const std::string &uri) const {
    return AptSource{uri, "bookworm", {"main"}, "amd64", repo.keyring()};
  }
};

const PackageRecord *find_record(const RepositoryIndex &index, const std::string &name) {
  for (const auto &p : index.packages)
    if (p.name == name) return &p;
  return nullptr;
}

} // namespace

TEST_CASE("run_process captures output, feeds stdin and scrubs the environment", "[debian][subprocess]") {
  ::setenv("MRFORGE_SHOULD_NOT_LEAK", "1", 1);
  ProcessOptions options;
  options.stdin_data = std::string("from stdin\n");
  options.environment = {{"EXTRA", "yes"}};
  ProcessResult r = run_process({"/bin/sh", "-c", "cat; echo err >&2; env | sort; umask; exit 3"}, options);
  ::unsetenv("MRFORGE_SHOULD_NOT_LEAK");
  CHECK(r.exit_code == 3);
  CHECK_FALSE(r.success());
  CHECK(r.stderr_data == "err\n");
  CHECK(contains(r.stdout_data, "from stdin\n"));
  CHECK(contains(r.stdout_data, "TZ=UTC\n"));
  CHECK(contains(r.stdout_data, "LC_ALL=C.UTF-8\n"));
  CHECK(contains(r.stdout_data, "HOME=/nonexistent\n"));
  CHECK(contains(r.stdout_data, "PATH=/usr/sbin:/usr/bin:/sbin:/bin\n"));
  CHECK(contains(r.stdout_data, "EXTRA=yes\n"));
  CHECK(contains(r.stdout_data, "0022\n"));
  CHECK_FALSE(contains(r.stdout_data, "MRFORGE_SHOULD_NOT_LEAK"));
  CHECK(r.describe() == "exit status 3");
}

TEST_CASE("run_process gives the child an extra status descriptor and large stdin", "[debian][subprocess]") {
  ProcessOptions options;
  options.extra_fd = 3;
  options.stdin_data = std::string(1 << 20, 'x');
  ProcessResult r = run_process({"sh", "-c", "echo status >&3; wc -c"}, options);
  CHECK(r.success());
  CHECK(r.extra_output == "status\n");
  CHECK(r.stdout_data == "1048576\n");
  // A child that does not read its stdin does not kill us with SIGPIPE.
  ProcessResult early = run_process({"true"}, options);
  CHECK(early.success());
}

TEST_CASE("run_process kills a child that outlives its timeout", "[debian][subprocess]") {
  ProcessOptions options;
  options.timeout = std::chrono::milliseconds(200);
  auto start = std::chrono::steady_clock::now();
  ProcessResult r = run_process({"sleep", "30"}, options);
  CHECK(r.timed_out);
  CHECK_FALSE(r.success());
  CHECK(std::chrono::steady_clock::now() - start < std::chrono::seconds(10));
}

TEST_CASE("run_process names a program that cannot be started", "[debian][subprocess]") {
  try {
    run_process({"mrforge-no-such-program"});
    FAIL("no error");
  } catch (const SystemError &e) {
    CHECK(e.path() == "mrforge-no-such-program");
  }
  ScratchDir dir;
  ProcessOptions options;
  options.working_directory = dir.path() + "/missing";
  CHECK_THROWS_AS(run_process({"true"}, options), SystemError);
  CHECK_THROWS_AS(run_process({"/etc/hostname"}), SystemError);
}

TEST_CASE("A background child is killed and reaped when its owner goes away", "[debian][subprocess]") {
  int pid = 0;
  {
    ChildProcess child = spawn_process({"sleep", "30"}, ProcessOptions{}, "");
    pid = child.pid();
    CHECK(child.running());
    ChildProcess moved = std::move(child);
    CHECK(moved.pid() == pid);
  }
  CHECK(::kill(pid, 0) != 0); // reaped: the pid no longer exists
}

TEST_CASE("Fetching a file:// URL reads it and a missing file is NotFoundError", "[debian][fetch]") {
  ScratchDir dir;
  write_file(dir.path() + "/a.txt", "contents");
  Fetcher fetcher;
  uint64_t seen = 0;
  fetcher.set_progress([&](uint64_t received, uint64_t) { seen = received; });
  Bytes b = fetcher.fetch_bytes("file://" + dir.path() + "/a.txt", 1024);
  CHECK(std::string(b.begin(), b.end()) == "contents");
  fetcher.fetch_to_file("file://" + dir.path() + "/a.txt", dir.path() + "/copy", 8);
  CHECK(read_file(dir.path() + "/copy") == "contents");
  CHECK(seen == 8);
  CHECK_THROWS_AS(fetcher.fetch_bytes("file://" + dir.path() + "/missing", 1024), NotFoundError);
  CHECK_THROWS_AS(fetcher.fetch_to_file("file://" + dir.path() + "/missing", dir.path() + "/out", 1024), NotFoundError);
  CHECK_FALSE(fs::exists(dir.path() + "/out.part"));
  CHECK_FALSE(fs::exists(dir.path() + "/out"));
  CHECK_THROWS_AS(fetcher.fetch_bytes("ftp://example.invalid/x", 1024), SystemError);
  CHECK_THROWS_AS(fetcher.fetch_bytes("file://" + dir.path() + "/a.txt", 4), SystemError);
}

TEST_CASE("Host apt sources are read from both formats, filtered and sorted", "[debian][host_apt]") {
  ScratchDir root;
  write_file(root.path() + "/usr/share/keyrings/debian-archive-keyring.gpg", "k");
  write_file(root.path() + "/etc/apt/sources.list",
             "# comment\n"
             "deb http://deb.debian.org/debian/ bookworm main contrib # trailing\n"
             "deb-src http://deb.debian.org/debian bookworm main\n"
             "deb [arch=arm64] http://ports.example/debian bookworm main\n"
             "deb [ arch=amd64,i386 signed-by=/etc/apt/keyrings/extra.gpg ] https://extra.example/apt stable main\n"
             "\n");
  write_file(root.path() + "/etc/apt/sources.list.d/debian.sources",
             "Types: deb\n"
             "# http://snapshot.debian.org/archive/debian/20250520T000000Z\n"
             "URIs: http://deb.debian.org/debian\n"
             "Suites: bookworm bookworm-updates\n"
             "Components: main\n"
             "Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg\n"
             "\n"
             "Types: deb-src\n"
             "URIs: http://deb.debian.org/debian\n"
             "Suites: bookworm\n"
             "Components: main\n"
             "\n"
             "Types: deb\n"
             "URIs: http://deb.debian.org/debian-security\n"
             "Suites: bookworm-security\n"
             "Components: main\n"
             "Enabled: no\n");
  write_file(root.path() + "/etc/apt/sources.list.d/nodesource.sources.disabled-by-farm",
             "Types: deb\nURIs: https://deb.nodesource.com/node_20.x\nSuites: nodistro\nComponents: main\n");
  write_file(root.path() + "/etc/apt/sources.list.d/google.list.disabled",
             "deb https://packages.cloud.google.com/apt cloud-sdk-bookworm main\n");
  write_file(root.path() + "/etc/apt/sources.list.d/other.txt", "not read\n");

  auto sources = host_apt_sources("amd64", root.path());
  const std::string default_keyring = root.path() + "/usr/share/keyrings/debian-archive-keyring.gpg";
  const std::string extra_keyring = root.path() + "/etc/apt/keyrings/extra.gpg";
  REQUIRE(sources.size() == 4);
  CHECK(sources[0] == AptSource{"http://deb.debian.org/debian", "bookworm", {"main"}, "amd64", default_keyring});
  CHECK(sources[1] ==
        AptSource{"http://deb.debian.org/debian", "bookworm", {"main", "contrib"}, "amd64", default_keyring});
  CHECK(sources[2] ==
        AptSource{"http://deb.debian.org/debian", "bookworm-updates", {"main"}, "amd64", default_keyring});
  CHECK(sources[3] == AptSource{"https://extra.example/apt", "stable", {"main"}, "amd64", extra_keyring});
  // arm64 gets the ports entry and loses the amd64/i386-only one.
  auto arm64 = host_apt_sources("arm64", root.path());
  REQUIRE(arm64.size() == 4);
  CHECK(arm64[3] == AptSource{"http://ports.example/debian", "bookworm", {"main"}, "arm64", default_keyring});
}

TEST_CASE("Host apt sources without Signed-By fall back to the Debian keyring only if it exists",
          "[debian][host_apt]") {
  ScratchDir root;
  write_file(root.path() + "/etc/apt/sources.list", "deb http://deb.debian.org/debian bookworm main\n");
  auto sources = host_apt_sources("amd64", root.path());
  REQUIRE(sources.size() == 1);
  CHECK(sources[0].keyring.empty());
}

TEST_CASE("An inline Signed-By key block is refused with advice to name a keyring file", "[debian][host_apt]") {
  ScratchDir root;
  write_file(
      root.path() + "/etc/apt/sources.list.d/inline.sources",
      "Types: deb\nURIs: http://x.example/debian\nSuites: bookworm\nComponents: main\n"
      "Signed-By:\n -----BEGIN PGP PUBLIC KEY BLOCK-----\n .\n mQINBF...\n -----END PGP PUBLIC KEY BLOCK-----\n");
  try {
    host_apt_sources("amd64", root.path());
    FAIL("no error");
  } catch (const InputError &e) {
    CHECK(contains(e.what(), "inline.sources:5"));
    CHECK(contains(e.what(), "name it in Signed-By"));
  }
  write_file(root.path() + "/etc/apt/sources.list.d/inline.sources", "");
  write_file(root.path() + "/etc/apt/sources.list", "deb http://x.example/debian ./\n");
  CHECK_THROWS_AS(host_apt_sources("amd64", root.path()), DocumentError);
}

TEST_CASE("This machine's apt sources can be read", "[debian][host_apt]") {
  auto sources = host_apt_sources("amd64");
  for (const auto &s : sources) {
    CHECK_FALSE(s.uri.empty());
    CHECK_FALSE(s.components.empty());
    CHECK(s.architecture == "amd64");
  }
  CHECK(std::is_sorted(sources.begin(), sources.end()));
}

TEST_CASE("Packages records are validated and errors name the line", "[debian][repository]") {
  const std::string good = "Package: hello\nVersion: 2.10-3\nArchitecture: amd64\nEssential: yes\n"
                           "Filename: pool/main/h/hello/hello_2.10-3_amd64.deb\nSize: 53228\n"
                           "SHA256: " +
                           std::string(64, 'A') + "\nDepends: libc6\nMulti-Arch: foreign\n";
  auto records = parse_packages(good, "Packages", "bookworm/main");
  REQUIRE(records.size() == 1);
  CHECK(records[0].sha256 == std::string(64, 'a'));
  CHECK(records[0].essential);
  CHECK(records[0].multi_arch == "foreign");
  CHECK(records[0].source_index == "bookworm/main");
  auto line_of = [&](const std::string &from, const std::string &to) {
    std::string text = good;
    text.replace(text.find(from), from.size(), to);
    try {
      parse_packages(text, "Packages", "s/c");
    } catch (const DocumentError &e) {
      return e.line();
    }
    return 0;
  };
  CHECK(line_of("2.10-3\n", "2.10-\n") == 2);
  CHECK(line_of("pool/main", "../main") == 5);
  CHECK(line_of("pool/main", "/pool/main") == 5);
  CHECK(line_of("53228", "-1") == 6);
  CHECK(line_of("53228", "99999999999999999999999") == 6);
  CHECK(line_of(std::string(64, 'A'), "abc") == 7);
  CHECK(line_of("Essential: yes", "Essential: maybe") == 4);
  CHECK(line_of("Size: 53228\n", "") == 1); // missing: the paragraph's line
}

TEST_CASE("Release dates are read as RFC 2822 in UTC or with an offset", "[debian][repository]") {
  CHECK(parse_release_date("Sat, 10 Jun 2023 08:55:35 UTC", "t") == 1686387335);
  CHECK(parse_release_date("Thu, 01 Jan 1970 00:00:00 +0000", "t") == 0);
  CHECK(parse_release_date("Thu, 01 Jan 1970 01:00:00 +0100", "t") == 0);
  CHECK(parse_release_date("29 Feb 2024 12:00:00 GMT", "t") == 1709208000);
  for (const char *bad : {"", "Sat, 10 Jun 2023", "Sat, 10 Foo 2023 08:55:35 UTC", "Sat, 10 Jun 2023 8:55:35 UTC",
                          "Sat, 10 Jun 2023 08:55:35 CEST", "Sat, 32 Jun 2023 08:55:35 UTC"})
    CHECK_THROWS_AS(parse_release_date(bad, "t"), InputError);
}

TEST_CASE("A signed repository loads and its records match the debs that were built", "[debian][repository]") {
  PublishedRepo published;
  std::string url = published.repo.serve();
  Fetcher fetcher;
  std::vector<std::string> messages;
  RepositoryIndex index =
      load_repository_index(published.source(url), fetcher, [&](const std::string &m) { messages.push_back(m); });
  CHECK_FALSE(messages.empty());
  CHECK(index.inrelease_sha256 == to_hex(sha256(test::read(published.repo.dir() + "/dists/bookworm/InRelease"))));
  REQUIRE(index.indexes.size() == 1);
  CHECK(index.indexes[0].path == "main/binary-amd64/Packages.xz");
  CHECK(index.indexes[0].sha256 ==
        to_hex(sha256(test::read(published.repo.dir() + "/dists/bookworm/main/binary-amd64/Packages.xz"))));
  REQUIRE(index.packages.size() == 3);

  const PackageRecord *hello = find_record(index, "hello");
  REQUIRE(hello != nullptr);
  CHECK(hello->version == "2.10-3");
  CHECK(hello->architecture == "amd64");
  CHECK(hello->depends == "libgreet (>= 1.0), hello-doc");
  CHECK(hello->source_index == "bookworm/main");
  CHECK(hello->size == fs::file_size(published.hello_deb));
  CHECK(hello->sha256 == to_hex(sha256(test::read(published.hello_deb))));
  CHECK(package_url(index.source, *hello) == url + "/" + hello->filename);
  const PackageRecord *lib = find_record(index, "libgreet");
  REQUIRE(lib != nullptr);
  CHECK(lib->version == "1:1.2-1");
  CHECK(lib->provides == "libgreet-abi (= 1)");
  CHECK(lib->sha256 == to_hex(sha256(test::read(published.libgreet_deb))));
  REQUIRE(find_record(index, "hello-doc") != nullptr);
  CHECK(find_record(index, "hello-doc")->architecture == "all");

  // The downloaded .deb is the one in the pool.
  Bytes deb = fetcher.fetch_bytes(package_url(index.source, *hello), hello->size);
  CHECK(to_hex(sha256(deb)) == hello->sha256);

  Resolution r = resolve_dependencies({"hello"}, {index}, "amd64");
  REQUIRE(r.packages.size() == 3);
  CHECK(r.reason.at("libgreet") == "dependency of hello");

  // The same repository read through file:// gives the same index.
  RepositoryIndex local =
      load_repository_index(published.source("file://" + published.repo.dir()), fetcher, ignore_progress);
  CHECK(local.inrelease_sha256 == index.inrelease_sha256);
  CHECK(local.packages.size() == index.packages.size());
}

TEST_CASE("An armored keyring is converted for gpgv", "[debian][repository]") {
  PublishedRepo published;
  const std::string armored = published.repo.dir() + "/keyring.asc";
  ProcessOptions options;
  options.home = published.repo.dir();
  ProcessResult r = run_process({"gpg", "--batch", "--no-options", "--homedir", published.repo.dir() + "/gnupg",
                                 "--output", armored, "--enarmor", published.repo.keyring()},
                                options);
  REQUIRE(r.success());
  AptSource source = published.source("file://" + published.repo.dir());
  source.keyring = armored;
  Fetcher fetcher;
  CHECK(load_repository_index(source, fetcher, ignore_progress).packages.size() == 3);
}

TEST_CASE("An InRelease signed by a key outside the keyring is refused", "[debian][repository]") {
  PublishedRepo published;
  published.repo.sign_with_foreign_key("bookworm");
  const std::string url = published.repo.serve();
  Fetcher fetcher;
  try {
    load_repository_index(published.source(url), fetcher, ignore_progress);
    FAIL("no error");
  } catch (const SystemError &e) {
    INFO(e.what());
    CHECK(contains(e.what(), "InRelease of " + url + " bookworm: signature not valid with keyring " +
                                 published.repo.keyring() + ": "));
    CHECK(contains(e.what(), "No public key"));
  }
}

TEST_CASE("An InRelease that is not signed at all is refused", "[debian][repository]") {
  PublishedRepo published;
  fs::copy_file(published.repo.dir() + "/dists/bookworm/Release", published.repo.dir() + "/dists/bookworm/InRelease",
                fs::copy_options::overwrite_existing);
  Fetcher fetcher;
  CHECK_THROWS_WITH(load_repository_index(published.source("file://" + published.repo.dir()), fetcher, ignore_progress),
                    Catch::Contains("signature not valid"));
}

TEST_CASE("A Packages file changed after publishing is refused naming the file and both digests",
          "[debian][repository]") {
  PublishedRepo published;
  const std::string packages = published.repo.dir() + "/dists/bookworm/main/binary-amd64/Packages.xz";
  const std::string expected = to_hex(sha256(test::read(packages)));
  // Same size, one byte changed.
  {
    std::fstream f(packages, std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(20);
    f.put('\x5a');
  }
  const std::string actual = to_hex(sha256(test::read(packages)));
  REQUIRE(actual != expected);
  Fetcher fetcher;
  try {
    load_repository_index(published.source(published.repo.serve()), fetcher, ignore_progress);
    FAIL("no error");
  } catch (const SystemError &e) {
    INFO(e.what());
    CHECK(contains(e.what(), "main/binary-amd64/Packages.xz"));
    CHECK(contains(e.what(), expected));
    CHECK(contains(e.what(), actual));
  }
}

TEST_CASE("A repository that serves no InRelease gives NotFoundError", "[debian][repository]") {
  PublishedRepo published;
  const std::string url = published.repo.serve();
  Fetcher fetcher;
  AptSource source = published.source(url);
  source.suite = "trixie";
  CHECK_THROWS_AS(load_repository_index(source, fetcher, ignore_progress), NotFoundError);
  CHECK_THROWS_AS(fetcher.fetch_bytes(url + "/pool/main/nothing.deb", 1024), NotFoundError);
}

TEST_CASE("A Release for another suite or architecture is refused", "[debian][repository]") {
  PublishedRepo published;
  Fetcher fetcher;
  AptSource source = published.source("file://" + published.repo.dir());
  source.architecture = "arm64";
  CHECK_THROWS_WITH(load_repository_index(source, fetcher, ignore_progress),
                    Catch::Contains("does not list architecture arm64"));
  // A stable -> bookworm symlink style alias: Suite differs but Codename matches.
  fs::create_directory_symlink(published.repo.dir() + "/dists/bookworm", published.repo.dir() + "/dists/stable");
  source = published.source("file://" + published.repo.dir());
  source.suite = "stable";
  CHECK_THROWS_WITH(load_repository_index(source, fetcher, ignore_progress), Catch::Contains("not \"stable\""));
}
