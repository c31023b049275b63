#include "apt_repo.hpp"

#include <measure/util/errors.hpp>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <csignal>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

namespace mrforge::test {

namespace {

namespace fs = std::filesystem;

constexpr std::chrono::seconds k_tool_timeout{120};
constexpr std::chrono::seconds k_server_start_timeout{20};
// Fixed mtimes in the .debs, so that a test that builds the same package twice gets the same bytes.
constexpr const char *k_source_date_epoch = "1700000000";

void write_file(const std::string &path, const std::string &content) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  if (!out) throw SystemError(path, "cannot create");
  out << content;
  if (!out.flush()) throw SystemError(path, "write failed");
}

// A deb's file name, without the epoch as Debian pools write it.
std::string deb_file_name(const DebSpec &spec) {
  std::string version = spec.version;
  if (size_t colon = version.find(':'); colon != std::string::npos) version = version.substr(colon + 1);
  return spec.name + "_" + version + "_" + spec.architecture + ".deb";
}

uint16_t free_loopback_port() {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) throw SystemError("socket", "cannot create");
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  socklen_t len = sizeof addr;
  if (::bind(fd, reinterpret_cast<sockaddr *>(&addr), sizeof addr) != 0 ||
      ::getsockname(fd, reinterpret_cast<sockaddr *>(&addr), &len) != 0) {
    ::close(fd);
    throw SystemError("127.0.0.1", "cannot bind a free port");
  }
  ::close(fd);
  return ntohs(addr.sin_port);
}

bool port_answers(uint16_t port) {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return false;
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = htons(port);
  bool ok = ::connect(fd, reinterpret_cast<sockaddr *>(&addr), sizeof addr) == 0;
  ::close(fd);
  return ok;
}

} // namespace

AptRepo::AptRepo(const std::string &dir) : m_dir(fs::absolute(dir).lexically_normal().string()) {
  while (m_dir.size() > 1 && m_dir.back() == '/') m_dir.pop_back();
  fs::create_directories(m_dir + "/pool/main");
  fs::create_directories(m_dir + "/dists");
  m_home = m_dir + "/gnupg";
  m_fingerprint = make_key(m_home, "mrforge test repository <repo@mrforge.invalid>");
  m_keyring = m_dir + "/keyring.gpg";
  run({"gpg", "--batch", "--yes", "--output", m_keyring, "--export", m_fingerprint}, "", m_home);
}

AptRepo::~AptRepo() {
  m_server = builder::ChildProcess(); // kills and reaps the server
  for (const auto &home : {m_home, m_foreign_home}) {
    if (home.empty()) continue;
    try {
      run({"gpgconf", "--kill", "gpg-agent"}, "", home);
    } catch (const std::exception &) {
      // Best effort: the agent exits by itself when its socket directory disappears.
    }
  }
}

builder::ProcessResult AptRepo::run(const std::vector<std::string> &argv, const std::string &cwd,
                                    const std::string &gnupg_home) {
  builder::ProcessOptions options;
  options.home = m_dir;
  options.working_directory = cwd;
  options.timeout = k_tool_timeout;
  options.environment = {{"SOURCE_DATE_EPOCH", k_source_date_epoch}};
  if (!gnupg_home.empty()) options.environment.emplace_back("GNUPGHOME", gnupg_home);
  builder::ProcessResult r = builder::run_process(argv, options);
  if (!r.success()) {
    std::string command;
    for (const auto &a : argv) command += (command.empty() ? "" : " ") + a;
    throw Error(command + ": " + r.describe() + ": " + r.stderr_data);
  }
  return r;
}

std::string AptRepo::make_key(const std::string &home, const std::string &uid) {
  fs::create_directories(home);
  fs::permissions(home, fs::perms::owner_all);
  run({"gpg", "--batch", "--passphrase", "", "--quick-gen-key", uid, "ed25519", "sign", "never"}, "", home);
  builder::ProcessResult r = run({"gpg", "--batch", "--with-colons", "--list-secret-keys"}, "", home);
  std::istringstream lines(r.stdout_data);
  std::string line;
  while (std::getline(lines, line)) {
    if (line.rfind("fpr:", 0) != 0) continue;
    // fpr:::::::::FINGERPRINT:
    size_t end = line.rfind(':', line.size() - 2);
    std::string fpr = line.substr(end + 1);
    if (!fpr.empty() && fpr.back() == ':') fpr.pop_back();
    return fpr;
  }
  throw Error("gpg: no fingerprint in --list-secret-keys output: " + r.stdout_data);
}

std::string AptRepo::build_deb(const DebSpec &spec) {
  const std::string stage = m_dir + "/build/" + spec.name + "_" + spec.architecture;
  fs::remove_all(stage);
  fs::create_directories(stage + "/DEBIAN");
  std::string control = "Package: " + spec.name + "\nVersion: " + spec.version +
                        "\nArchitecture: " + spec.architecture +
                        "\nMaintainer: mrforge tests <tests@mrforge.invalid>\n";
  if (spec.essential) control += "Essential: yes\n";
  if (!spec.multi_arch.empty()) control += "Multi-Arch: " + spec.multi_arch + "\n";
  if (!spec.pre_depends.empty()) control += "Pre-Depends: " + spec.pre_depends + "\n";
  if (!spec.depends.empty()) control += "Depends: " + spec.depends + "\n";
  if (!spec.provides.empty()) control += "Provides: " + spec.provides + "\n";
  control += "Description: test package " + spec.name + "\n built by mrforge's test fixture\n";
  write_file(stage + "/DEBIAN/control", control);
  for (const auto &d : spec.directories) fs::create_directories(stage + "/" + d);
  for (const auto &f : spec.files) {
    fs::path p = fs::path(stage) / f.path;
    fs::create_directories(p.parent_path());
    write_file(p.string(), f.content);
    fs::permissions(p, static_cast<fs::perms>(f.mode));
  }
  // dpkg-deb wants 0755 directories whatever the umask.
  for (auto it = fs::recursive_directory_iterator(stage); it != fs::recursive_directory_iterator(); ++it)
    if (it->is_directory()) fs::permissions(it->path(), static_cast<fs::perms>(0755));
  fs::permissions(stage, static_cast<fs::perms>(0755));

  const std::string out = m_dir + "/pool/main/" + deb_file_name(spec);
  run({"dpkg-deb", "--root-owner-group", "-Zxz", "--build", stage, out});
  fs::remove_all(stage);
  m_architectures.insert(spec.architecture);
  return out;
}

void AptRepo::add_deb_file(const std::string &deb_path) {
  const std::string out = m_dir + "/pool/main/" + fs::path(deb_path).filename().string();
  fs::copy_file(deb_path, out, fs::copy_options::overwrite_existing);
  builder::ProcessResult r = run({"dpkg-deb", "--field", out, "Architecture"});
  std::string arch = r.stdout_data;
  while (!arch.empty() && (arch.back() == '\n' || arch.back() == ' ')) arch.pop_back();
  m_architectures.insert(arch);
}

void AptRepo::publish(const std::string &suite, const std::string &component,
                      const std::vector<std::string> &release_options) {
  std::set<std::string> archs;
  for (const auto &a : m_architectures)
    if (a != "all") archs.insert(a);
  if (archs.empty()) archs.insert("amd64");
  std::string arch_list;
  for (const auto &a : archs) arch_list += (arch_list.empty() ? "" : " ") + a;

  const std::string dists = m_dir + "/dists/" + suite;
  for (const auto &arch : archs) {
    const std::string rel = component + "/binary-" + arch;
    fs::create_directories(dists + "/" + rel);
    builder::ProcessResult packages = run({"apt-ftparchive", "--arch", arch, "packages", "pool/" + component}, m_dir);
    write_file(dists + "/" + rel + "/Packages", packages.stdout_data);
    builder::ProcessOptions compress;
    compress.stdin_data = packages.stdout_data;
    compress.timeout = k_tool_timeout;
    builder::ProcessResult gz = builder::run_process({"gzip", "-9n", "-c"}, compress);
    builder::ProcessResult xz = builder::run_process({"xz", "-c"}, compress);
    if (!gz.success() || !xz.success()) throw Error("compressing Packages failed: " + gz.stderr_data + xz.stderr_data);
    write_file(dists + "/" + rel + "/Packages.gz", gz.stdout_data);
    write_file(dists + "/" + rel + "/Packages.xz", xz.stdout_data);
  }
  fs::remove(dists + "/Release");
  fs::remove(dists + "/InRelease");
  const std::string prefix = "APT::FTPArchive::Release::";
  std::vector<std::string> argv = {"apt-ftparchive",
                                   "-o",
                                   prefix + "Suite=" + suite,
                                   "-o",
                                   prefix + "Codename=" + suite,
                                   "-o",
                                   prefix + "Architectures=" + arch_list,
                                   "-o",
                                   prefix + "Components=" + component};
  for (const std::string &option : release_options) {
    argv.push_back("-o");
    argv.push_back(prefix + option);
  }
  argv.push_back("release");
  argv.push_back("dists/" + suite);
  builder::ProcessResult release = run(argv, m_dir);
  write_file(dists + "/Release", release.stdout_data);
  clearsign(m_home, m_fingerprint, suite);
}

void AptRepo::clearsign(const std::string &home, const std::string &fingerprint, const std::string &suite) {
  const std::string dists = m_dir + "/dists/" + suite;
  run({"gpg", "--batch", "--yes", "--pinentry-mode", "loopback", "--passphrase", "", "--local-user", fingerprint,
       "--digest-algo", "SHA256", "--output", dists + "/InRelease", "--clearsign", dists + "/Release"},
      "", home);
}

void AptRepo::sign_with_foreign_key(const std::string &suite) {
  if (m_foreign_home.empty()) {
    m_foreign_home = m_dir + "/gnupg-foreign";
    m_foreign_fingerprint = make_key(m_foreign_home, "mrforge foreign key <foreign@mrforge.invalid>");
  }
  clearsign(m_foreign_home, m_foreign_fingerprint, suite);
}

std::string AptRepo::serve() {
  if (!m_url.empty()) return m_url;
  const uint16_t port = free_loopback_port();
  builder::ProcessOptions options;
  options.home = m_dir;
  m_server = builder::spawn_process(
      {"/usr/bin/python3", "-m", "http.server", "--bind", "127.0.0.1", std::to_string(port), "--directory", m_dir},
      options, m_dir + "/http-server.log");
  const auto deadline = std::chrono::steady_clock::now() + k_server_start_timeout;
  while (!port_answers(port)) {
    if (!m_server.running()) throw Error("python3 http.server exited; see " + m_dir + "/http-server.log");
    if (std::chrono::steady_clock::now() > deadline)
      throw Error("python3 http.server did not answer on port " + std::to_string(port));
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  m_url = "http://127.0.0.1:" + std::to_string(port);
  return m_url;
}

std::unique_ptr<AptRepo> demo_repository(const std::string &dir) {
  auto repo = std::make_unique<AptRepo>(dir);
  DebSpec lib{"libdemo1", "1.2-1", "amd64"};
  lib.files = {{"usr/lib/libdemo.so.1", "library bytes\n", 0644}};
  DebSpec data{"demo-data", "2.0-1", "all"};
  data.provides = "demo-data-virtual";
  data.files = {{"usr/share/demo/words", "alpha\nbeta\n", 0644}};
  DebSpec hello{"demo-hello", "1.0-3", "amd64"};
  hello.depends = "libdemo1 (>= 1.0), demo-data-alt | demo-data-virtual";
  hello.files = {{"usr/bin/demo-hello", "#!/bin/sh\necho hello\n", 0755}};
  repo->build_deb(lib);
  repo->build_deb(data);
  repo->build_deb(hello);
  repo->publish();
  repo->serve();
  return repo;
}

} // namespace mrforge::test
