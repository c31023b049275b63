// A throwaway signed Debian repository for tests: .debs built with dpkg-deb, indexes made by
// apt-ftparchive, InRelease clearsigned by a key generated on the spot, served over loopback by
// python3's http.server. Needs dpkg-deb, apt-ftparchive, gpg, gzip, xz and /usr/bin/python3.
//
//   AptRepo repo(dir);
//   repo.build_deb({"hello", "1.0-1", "amd64", "libc6 (>= 2.34)", "", "", {{"usr/bin/hello", "#!/bin/sh\n", 0755}}});
//   repo.publish("bookworm", "main");
//   AptSource src{repo.serve(), "bookworm", {"main"}, "amd64", repo.keyring()};
//
// Every helper throws (mrforge::Error) when a tool fails, with the tool's stderr.
#pragma once

#include <builder/system/subprocess.hpp>

#include <cstdint>
#include <memory>
#include <set>
#include <string>
#include <vector>

namespace mrforge::test {

// Every member has a default initializer so that aggregate initialisation may stop early
// ({"hello", "1.0", "amd64"}) without -Wmissing-field-initializers.
struct DebFile {
  std::string path = {}; // inside the package, like "usr/bin/hello"
  std::string content = {};
  uint32_t mode = 0644;
};

struct DebSpec {
  std::string name = {}, version = {}, architecture = "amd64";
  std::string depends = {}, pre_depends = {}, provides = {};
  std::vector<DebFile> files = {};
  std::vector<std::string> directories = {}; // extra (empty) directories, like "var/lib/hello"
  std::string multi_arch = {};               // optional Multi-Arch field
  bool essential = false;                    // writes "Essential: yes"
};

class AptRepo;

// The repository the OCI image and input bundle tests build from, in `dir`, published (bookworm,
// main) and served (serve() returns its URL): libdemo1 1.2-1 (amd64, a library), demo-data 2.0-1
// (all; provides demo-data-virtual) and demo-hello 1.0-3 (amd64; depends on libdemo1 (>= 1.0)
// and demo-data-alt | demo-data-virtual, so that the resolver takes demo-data through Provides).
std::unique_ptr<AptRepo> demo_repository(const std::string &dir);

class AptRepo {
public:
  // Uses `dir` (created if missing) for the pool, dists, the signing key's home and the keyring.
  // Generates the signing key.
  explicit AptRepo(const std::string &dir);
  ~AptRepo(); // kills the HTTP server and the gpg-agent of the key homes
  AptRepo(const AptRepo &) = delete;
  AptRepo &operator=(const AptRepo &) = delete;

  // Builds NAME_VERSION_ARCH.deb (dpkg-deb --root-owner-group -Zxz, SOURCE_DATE_EPOCH fixed)
  // into DIR/pool/main/ and returns its absolute path.
  std::string build_deb(const DebSpec &spec);
  // Copies a hand-crafted .deb into DIR/pool/main/ (published with the next publish()).
  void add_deb_file(const std::string &deb_path);
  // Writes dists/SUITE/COMPONENT/binary-ARCH/Packages{,.gz,.xz} for every architecture of the
  // pool's packages (amd64 if there are only "all" ones), Release (Suite, Codename,
  // Architectures, Components set) and InRelease clearsigned with the fixture key.
  // `release_options` are extra APT::FTPArchive::Release:: settings, e.g. "Date=Thu, 03 Dec 2026
  // 10:00:00 UTC" or "ValidTime=86400" (Valid-Until is then that many seconds from now).
  void publish(const std::string &suite = "bookworm", const std::string &component = "main",
               const std::vector<std::string> &release_options = {});
  // Re-signs dists/SUITE/InRelease with a second throwaway key that keyring() does not hold.
  void sign_with_foreign_key(const std::string &suite = "bookworm");
  // The binary keyring (exported public key of the fixture key).
  std::string keyring() const { return m_keyring; }
  // Starts python3 -m http.server on a free loopback port serving dir(), waits until it answers
  // and returns "http://127.0.0.1:PORT". A second call returns the same URL.
  std::string serve();
  std::string dir() const { return m_dir; }

private:
  std::string make_key(const std::string &home, const std::string &uid);
  void clearsign(const std::string &home, const std::string &fingerprint, const std::string &suite);
  builder::ProcessResult run(const std::vector<std::string> &argv, const std::string &cwd = "",
                             const std::string &gnupg_home = "");

  std::string m_dir;
  std::string m_home;         // gpg home of the fixture key
  std::string m_foreign_home; // gpg home of the second key (made on demand)
  std::string m_fingerprint;
  std::string m_foreign_fingerprint;
  std::string m_keyring;
  std::string m_url;
  std::set<std::string> m_architectures; // of the packages in the pool
  builder::ChildProcess m_server;
};

} // namespace mrforge::test
