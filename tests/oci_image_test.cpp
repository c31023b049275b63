// Tests of the OCI image writer: the JSON structures parsed back and checked against digests
// computed here over the files, byte-identical rebuilds, and the real tools that consume the
// output (skopeo 1.9, umoci 0.4.7, docker-registry 2.8 from Debian bookworm). A missing tool fails
// the test: CI installs them, and a silently skipped test proves nothing.
#include "test_support.hpp"

#include <builder/oci/oci_image.hpp>

#include <measure/util/errors.hpp>
#include <measure/util/hash.hpp>
#include <measure/util/mapped_file.hpp>

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <arpa/inet.h>
#include <chrono>
#include <csignal>
#include <cstdlib>
#include <cstring>
#include <fcntl.h>
#include <filesystem>
#include <fstream>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <thread>
#include <unistd.h>

namespace fs = std::filesystem;
using nlohmann::json;
using namespace mrforge;
using namespace mrforge::builder;
using mrforge::test::TempDir;

namespace {

constexpr int64_t k_epoch = 1700000000; // 2023-11-14T22:13:20Z
const std::string k_ref = "hello:latest";

std::string read_text(const std::string &path) {
  Bytes b = read_file(path, limits::k_artifact);
  return std::string(b.begin(), b.end());
}

void write_text(const std::string &path, const std::string &text) {
  std::ofstream out(path, std::ios::binary);
  out << text;
  REQUIRE(out.good());
}

std::string sha256_of_file(const std::string &path) {
  return "sha256:" + to_hex(sha256(read_file(path, limits::k_artifact)));
}

// Fails the test (not skips) if a tool the test needs is not installed.
std::string require_tool(const std::string &name) {
  const char *path_env = std::getenv("PATH");
  std::string path = path_env != nullptr ? path_env : "/usr/bin:/bin";
  size_t pos = 0;
  while (pos <= path.size()) {
    size_t colon = path.find(':', pos);
    if (colon == std::string::npos) colon = path.size();
    std::string candidate = path.substr(pos, colon - pos) + "/" + name;
    if (::access(candidate.c_str(), X_OK) == 0) return candidate;
    pos = colon + 1;
  }
  FAIL(name << " is not installed: the [oci] tests need skopeo, umoci, docker-registry, gzip and zstd "
               "(Debian bookworm packages; CI installs them)");
  return {};
}

struct RunResult {
  int status = -1; // exit code, or -1 if killed by a signal
  std::string out;
  std::string err;
};

// Runs a program (no shell) with stdout and stderr captured through files in `scratch`.
RunResult run(const std::vector<std::string> &args, const std::string &scratch) {
  std::string out_path = scratch + "/.stdout";
  std::string err_path = scratch + "/.stderr";
  std::vector<char *> argv;
  for (const std::string &a : args) argv.push_back(const_cast<char *>(a.c_str()));
  argv.push_back(nullptr);
  pid_t pid = ::fork();
  REQUIRE(pid >= 0);
  if (pid == 0) {
    int out = ::open(out_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
    int err = ::open(err_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
    int null = ::open("/dev/null", O_RDONLY);
    if (out < 0 || err < 0 || null < 0) ::_exit(126);
    ::dup2(null, 0);
    ::dup2(out, 1);
    ::dup2(err, 2);
    ::execvp(argv[0], argv.data());
    ::_exit(127);
  }
  int wstatus = 0;
  while (::waitpid(pid, &wstatus, 0) < 0 && errno == EINTR) {
  }
  RunResult r;
  r.status = WIFEXITED(wstatus) ? WEXITSTATUS(wstatus) : -1;
  r.out = read_text(out_path);
  r.err = read_text(err_path);
  fs::remove(out_path);
  fs::remove(err_path);
  return r;
}

std::string describe(const std::vector<std::string> &args) {
  std::string s;
  for (const std::string &a : args) s += (s.empty() ? "" : " ") + a;
  return s;
}

// Runs and requires exit status 0, showing the command and its stderr otherwise.
RunResult run_ok(const std::vector<std::string> &args, const std::string &scratch) {
  RunResult r = run(args, scratch);
  INFO("command: " << describe(args) << "\nstatus: " << r.status << "\nstderr: " << r.err << "\nstdout: " << r.out);
  REQUIRE(r.status == 0);
  return r;
}

// Host files that the trees' regular nodes point at.
struct Sources {
  explicit Sources(const TempDir &dir) : root(dir / "src") {
    fs::create_directories(root);
    write_text(root + "/hello", "#!/bin/sh\necho hello from mrforge\n");
    write_text(root + "/secret", "top secret\n");
    write_text(root + "/data", std::string(200000, 'x') + "end\n");
  }
  std::string root;
};

Node dir_node(uint32_t mode = 0755) {
  Node n;
  n.type = NodeType::directory;
  n.mode = mode;
  n.origin = "test";
  return n;
}

Node file_node(const std::string &host, uint32_t mode, uint32_t uid = 0, uint32_t gid = 0) {
  Node n;
  n.type = NodeType::regular;
  n.mode = mode;
  n.uid = uid;
  n.gid = gid;
  n.content_path = host;
  n.size = fs::file_size(host);
  n.origin = "test";
  return n;
}

// Layer "base": directories, a 0755 script, a symlink to it, a 0600 file owned by uid 1000.
FsTree base_tree(const Sources &src) {
  FsTree t;
  t.add("etc", dir_node());
  t.add("etc/secret", file_node(src.root + "/secret", 0600, 1000, 1000));
  t.add("usr", dir_node());
  t.add("usr/bin", dir_node());
  t.add("usr/bin/hello", file_node(src.root + "/hello", 0755));
  Node link;
  link.type = NodeType::symlink;
  link.mode = 0777;
  link.link_target = "hello";
  link.origin = "test";
  t.add("usr/bin/hi", link);
  return t;
}

// Layer "data": a second layer over the first.
FsTree data_tree(const Sources &src) {
  FsTree t;
  t.add("srv", dir_node(0750));
  t.add("srv/data.txt", file_node(src.root + "/data", 0644));
  return t;
}

ImageConfig test_config() {
  ImageConfig c;
  c.entrypoint = {"/usr/bin/hello"};
  c.cmd = {"--verbose"};
  c.env = {"PATH=/usr/bin:/bin", "GREETING=hi"};
  c.working_dir = "/srv";
  c.user = "1000:1000";
  c.labels = {{"org.example.b", "2"}, {"org.example.a", "1"}};
  c.exposed_ports = {"8080/tcp", "53/udp"};
  return c;
}

OciBuildOptions test_options(Compression compression = {}) {
  OciBuildOptions o;
  o.created = k_epoch;
  o.ref_name = k_ref;
  o.compression = compression;
  o.annotations = {{"org.opencontainers.image.title", "mrforge test"}};
  return o;
}

struct Built {
  std::string dir;
  OciImageResult result;
  std::vector<std::string> progress;
};

Built build(const TempDir &tmp, const std::string &name, const Sources &src, Compression compression = {}) {
  FsTree base = base_tree(src);
  FsTree data = data_tree(src);
  Built b;
  b.dir = tmp / name;
  fs::create_directories(b.dir);
  OciBuildOptions options = test_options(compression);
  options.progress = [&b](const std::string &m) { b.progress.push_back(m); };
  b.result = write_oci_image({{"base", &base}, {"data", &data}}, test_config(), options, b.dir);
  return b;
}

json parse_file(const std::string &path) { return json::parse(read_text(path)); }

std::string blob_path(const std::string &dir, const std::string &digest) {
  REQUIRE(digest.rfind("sha256:", 0) == 0);
  return dir + "/blobs/sha256/" + digest.substr(7);
}

// Every file below `dir` (relative paths), sorted.
std::vector<std::string> list_files(const std::string &dir) {
  std::vector<std::string> files;
  for (const auto &e : fs::recursive_directory_iterator(dir))
    files.push_back(fs::relative(e.path(), dir).string() + (e.is_directory() ? "/" : ""));
  std::sort(files.begin(), files.end());
  return files;
}

// Decompresses a layer blob with the real gzip/zstd into `out` and returns its sha256.
std::string diff_id_of(const std::string &blob, const std::string &media_type, const std::string &scratch) {
  std::string tool;
  if (media_type.size() > 5 && media_type.compare(media_type.size() - 5, 5, "+gzip") == 0) tool = "gzip";
  if (media_type.size() > 5 && media_type.compare(media_type.size() - 5, 5, "+zstd") == 0) tool = "zstd";
  if (tool.empty()) return sha256_of_file(blob);
  RunResult r = run_ok({require_tool(tool), "-dc", blob}, scratch);
  return "sha256:" + to_hex(sha256(ByteView::of(r.out)));
}

// Checks the layout's JSON against the files and the returned result.
void check_layout(const Built &b, const std::string &scratch, const std::string &layer_media_type) {
  const OciImageResult &r = b.result;
  CHECK(read_text(b.dir + "/oci-layout") == R"({"imageLayoutVersion":"1.0.0"})");

  std::string index_text = read_text(b.dir + "/index.json");
  CHECK(index_text.back() == '}'); // compact, no trailing newline
  CHECK(sha256_of_file(b.dir + "/index.json") == r.index_digest);
  json index = json::parse(index_text);
  CHECK(index.dump() == index_text); // sorted keys, compact
  CHECK(index["schemaVersion"] == 2);
  CHECK(index["mediaType"] == "application/vnd.oci.image.index.v1+json");
  REQUIRE(index["manifests"].size() == 1);
  const json &md = index["manifests"][0];
  CHECK(md["mediaType"] == "application/vnd.oci.image.manifest.v1+json");
  CHECK(md["digest"] == r.manifest_digest);
  CHECK(md["size"] == r.manifest_size);
  CHECK(md["annotations"]["org.opencontainers.image.ref.name"] == k_ref);
  CHECK(md["platform"] == json{{"architecture", "amd64"}, {"os", "linux"}});

  // Every blob's name is the sha256 of its bytes.
  for (const auto &e : fs::directory_iterator(b.dir + "/blobs/sha256"))
    CHECK("sha256:" + e.path().filename().string() == sha256_of_file(e.path().string()));

  std::string manifest_path = blob_path(b.dir, r.manifest_digest);
  CHECK(fs::file_size(manifest_path) == r.manifest_size);
  json manifest = parse_file(manifest_path);
  CHECK(manifest["schemaVersion"] == 2);
  CHECK(manifest["mediaType"] == "application/vnd.oci.image.manifest.v1+json");
  CHECK(manifest["config"]["mediaType"] == "application/vnd.oci.image.config.v1+json");
  CHECK(manifest["config"]["digest"] == r.config_digest);
  CHECK(manifest["config"]["size"] == r.config_size);
  CHECK(manifest["annotations"] == json{{"org.opencontainers.image.title", "mrforge test"}});
  REQUIRE(manifest["layers"].size() == r.layers.size());
  REQUIRE(r.layers.size() == 2);
  for (size_t i = 0; i < r.layers.size(); ++i) {
    const json &l = manifest["layers"][i];
    const OciLayerResult &lr = r.layers[i];
    CHECK(l["mediaType"] == layer_media_type);
    CHECK(lr.media_type == layer_media_type);
    CHECK(l["digest"] == lr.digest);
    CHECK(l["size"] == lr.size);
    std::string blob = blob_path(b.dir, lr.digest);
    CHECK(fs::file_size(blob) == lr.size);
    CHECK(sha256_of_file(blob) == lr.digest);
    CHECK(diff_id_of(blob, lr.media_type, scratch) == lr.diff_id);
  }
  CHECK(r.layers[0].name == "base");
  CHECK(r.layers[1].name == "data");

  std::string config_path = blob_path(b.dir, r.config_digest);
  CHECK(fs::file_size(config_path) == r.config_size);
  json config = parse_file(config_path);
  CHECK(config["architecture"] == "amd64");
  CHECK(config["os"] == "linux");
  CHECK(config["created"] == "2023-11-14T22:13:20Z");
  CHECK(config["rootfs"]["type"] == "layers");
  CHECK(config["rootfs"]["diff_ids"] == json{r.layers[0].diff_id, r.layers[1].diff_id});
  REQUIRE(config["history"].size() == 2);
  CHECK(config["history"][0] == json{{"created", "2023-11-14T22:13:20Z"}, {"created_by", "mrforge: layer base"}});
  CHECK(config["history"][1] == json{{"created", "2023-11-14T22:13:20Z"}, {"created_by", "mrforge: layer data"}});
  const json &c = config["config"];
  CHECK(c["Entrypoint"] == json{"/usr/bin/hello"});
  CHECK(c["Cmd"] == json{"--verbose"});
  CHECK(c["Env"] == json{"PATH=/usr/bin:/bin", "GREETING=hi"});
  CHECK(c["WorkingDir"] == "/srv");
  CHECK(c["User"] == "1000:1000");
  CHECK(c["Labels"] == json{{"org.example.a", "1"}, {"org.example.b", "2"}});
  CHECK(c["ExposedPorts"] == json{{"53/udp", json::object()}, {"8080/tcp", json::object()}});

  // The docker-archive's legacy manifest.json, read with the real tar.
  CHECK(r.docker_archive == b.dir + "/docker-archive.tar");
  RunResult listing = run_ok({"tar", "-tvf", r.docker_archive}, scratch);
  INFO("docker-archive.tar:\n" << listing.out);
  RunResult m = run_ok({"tar", "-xOf", r.docker_archive, "manifest.json"}, scratch);
  json docker = json::parse(m.out);
  REQUIRE(docker.size() == 1);
  CHECK(docker[0]["Config"] == "blobs/sha256/" + r.config_digest.substr(7));
  CHECK(docker[0]["RepoTags"] == json{"hello:latest"});
  CHECK(docker[0]["Layers"] ==
        json{"blobs/sha256/" + r.layers[0].digest.substr(7), "blobs/sha256/" + r.layers[1].digest.substr(7)});
  CHECK(run_ok({"tar", "-xOf", r.docker_archive, "index.json"}, scratch).out == index_text);
}

bool same_bytes(const std::string &a, const std::string &b) {
  return read_file(a, limits::k_artifact) == read_file(b, limits::k_artifact);
}

// Binds port 0 on loopback to find a free port (the registry binds it right after).
int free_port() {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  REQUIRE(fd >= 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  REQUIRE(::bind(fd, reinterpret_cast<sockaddr *>(&addr), sizeof addr) == 0);
  socklen_t len = sizeof addr;
  REQUIRE(::getsockname(fd, reinterpret_cast<sockaddr *>(&addr), &len) == 0);
  ::close(fd);
  return ntohs(addr.sin_port);
}

// GET http://127.0.0.1:PORT/v2/ answered with 200?
bool registry_answers(int port) {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) return false;
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = htons(static_cast<uint16_t>(port));
  bool ok = false;
  if (::connect(fd, reinterpret_cast<sockaddr *>(&addr), sizeof addr) == 0) {
    std::string request = "GET /v2/ HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n";
    if (::write(fd, request.data(), request.size()) == static_cast<ssize_t>(request.size())) {
      char buf[64] = {};
      ssize_t n = ::read(fd, buf, sizeof buf - 1);
      ok = n > 12 && std::strncmp(buf, "HTTP/1.", 7) == 0 && std::strncmp(buf + 9, "200", 3) == 0;
    }
  }
  ::close(fd);
  return ok;
}

// A docker-registry child process, always killed and reaped.
class Registry {
public:
  Registry(const std::string &binary, const TempDir &tmp) : m_log(tmp / "registry.log") {
    m_port = free_port();
    std::string storage = tmp / "registry-storage";
    fs::create_directories(storage);
    std::string config = tmp / "registry.yml";
    write_text(config, "version: 0.1\n"
                       "log:\n  level: warn\n"
                       "storage:\n  filesystem:\n    rootdirectory: " +
                           storage +
                           "\n"
                           "http:\n  addr: 127.0.0.1:" +
                           std::to_string(m_port) + "\n");
    m_pid = ::fork();
    REQUIRE(m_pid >= 0);
    if (m_pid == 0) {
      int log = ::open(m_log.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
      int null = ::open("/dev/null", O_RDONLY);
      if (log < 0 || null < 0) ::_exit(126);
      ::dup2(null, 0);
      ::dup2(log, 1);
      ::dup2(log, 2);
      ::execl(binary.c_str(), binary.c_str(), "serve", config.c_str(), static_cast<char *>(nullptr));
      ::_exit(127);
    }
  }
  ~Registry() {
    if (m_pid <= 0) return; // never kill(-1): that would signal every process we may signal
    ::kill(m_pid, SIGKILL);
    int status = 0;
    while (::waitpid(m_pid, &status, 0) < 0 && errno == EINTR) {
    }
  }
  Registry(const Registry &) = delete;
  Registry &operator=(const Registry &) = delete;

  // Waits (up to 20 s) until /v2/ answers; fails with the registry's log if it exits or times out.
  void wait_ready() {
    for (int i = 0; i < 200; ++i) {
      int status = 0;
      if (::waitpid(m_pid, &status, WNOHANG) == m_pid) {
        m_pid = -1; // reaped; the destructor's kill(-1) must not happen
        FAIL("docker-registry exited early: " << read_text(m_log));
      }
      if (registry_answers(m_port)) return;
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    FAIL("docker-registry did not answer on 127.0.0.1:" << m_port << ": " << read_text(m_log));
  }
  int port() const { return m_port; }

private:
  std::string m_log;
  int m_port = 0;
  pid_t m_pid = -1;
};

std::vector<std::string> json_strings(const json &j) {
  std::vector<std::string> v;
  for (const json &e : j) v.push_back(e.get<std::string>());
  return v;
}

std::vector<std::string> layer_digests(const OciImageResult &r) {
  std::vector<std::string> v;
  for (const OciLayerResult &l : r.layers) v.push_back(l.digest);
  return v;
}

std::vector<std::string> diff_ids(const OciImageResult &r) {
  std::vector<std::string> v;
  for (const OciLayerResult &l : r.layers) v.push_back(l.diff_id);
  return v;
}

} // namespace

TEST_CASE("rfc3339_utc formats seconds as UTC whatever the TZ", "[oci]") {
  const char *old_tz = std::getenv("TZ");
  std::string saved = old_tz != nullptr ? old_tz : "";
  ::setenv("TZ", "America/New_York", 1);
  ::tzset();
  CHECK(rfc3339_utc(0, "t") == "1970-01-01T00:00:00Z");
  CHECK(rfc3339_utc(k_epoch, "t") == "2023-11-14T22:13:20Z");
  CHECK(rfc3339_utc(253402300799, "t") == "9999-12-31T23:59:59Z");
  if (old_tz != nullptr)
    ::setenv("TZ", saved.c_str(), 1);
  else
    ::unsetenv("TZ");
  ::tzset();
  CHECK_THROWS_AS(rfc3339_utc(-1, "t"), InputError);
  CHECK_THROWS_AS(rfc3339_utc(253402300800, "t"), InputError);
}

TEST_CASE("The OCI layout's JSON matches its blobs, and a rebuild gives the same bytes", "[oci]") {
  TempDir tmp;
  Sources src(tmp);
  Built a = build(tmp, "a", src);
  check_layout(a, tmp.path(), "application/vnd.oci.image.layer.v1.tar+gzip");

  REQUIRE(a.progress.size() == 3);
  CHECK(a.progress[0].rfind("layer base: 6 entries, ", 0) == 0);
  CHECK(a.progress[1].rfind("layer data: 2 entries, ", 0) == 0);

  // No temporary files left: 2 layers + config + manifest, the layout files and the archive.
  std::vector<std::string> files = list_files(a.dir);
  CHECK(files.size() == 2 + 4 + 3); // blobs/, blobs/sha256/; 4 blobs; oci-layout, index.json, archive
  for (const std::string &f : files) CHECK(f.find(".tmp") == std::string::npos);

  // A second build in another directory, with another umask, gives the same bytes in every file.
  mode_t old_umask = ::umask(077);
  Built b = build(tmp, "b", src);
  ::umask(old_umask);
  CHECK(b.result.manifest_digest == a.result.manifest_digest);
  CHECK(b.result.index_digest == a.result.index_digest);
  REQUIRE(list_files(b.dir) == files);
  for (const std::string &f : files) {
    if (f.back() == '/') continue;
    INFO(f);
    CHECK(same_bytes(a.dir + "/" + f, b.dir + "/" + f));
  }
}

TEST_CASE("OCI layers can be zstd-compressed or uncompressed", "[oci]") {
  TempDir tmp;
  Sources src(tmp);
  Compression zstd;
  zstd.kind = CompressionKind::zstd;
  zstd.level = 3;
  Built z = build(tmp, "zstd", src, zstd);
  check_layout(z, tmp.path(), "application/vnd.oci.image.layer.v1.tar+zstd");

  Compression none;
  none.kind = CompressionKind::none;
  Built n = build(tmp, "none", src, none);
  check_layout(n, tmp.path(), "application/vnd.oci.image.layer.v1.tar");
  for (const OciLayerResult &l : n.result.layers) CHECK(l.digest == l.diff_id);
  // The tars are the same whatever the compression.
  CHECK(diff_ids(n.result) == diff_ids(z.result));

  // skopeo reads both, also from the docker-archive. (umoci 0.4.7 cannot unpack zstd layers: "blob is
  // not correct mediatype: application/vnd.oci.image.layer.v1.tar+zstd"; so no umoci here.)
  std::string skopeo = require_tool("skopeo");
  for (const Built *b : {&z, &n}) {
    json inspect = json::parse(run_ok({skopeo, "inspect", "oci:" + b->dir + ":" + k_ref}, tmp.path()).out);
    CHECK(inspect["Digest"] == b->result.manifest_digest);
    CHECK(json_strings(inspect["Layers"]) == layer_digests(b->result));
    json archive =
        json::parse(run_ok({skopeo, "inspect", "docker-archive:" + b->result.docker_archive}, tmp.path()).out);
    CHECK(json_strings(archive["Layers"]) == diff_ids(b->result));
  }
}

TEST_CASE("Identical layers are stored as one blob", "[oci]") {
  TempDir tmp;
  Sources src(tmp);
  FsTree base = base_tree(src);
  std::string dir = tmp / "img";
  fs::create_directories(dir);
  OciImageResult r = write_oci_image({{"one", &base}, {"two", &base}}, {}, test_options(), dir);
  REQUIRE(r.layers.size() == 2);
  CHECK(r.layers[0].digest == r.layers[1].digest);
  size_t blobs = 0;
  for (const auto &e : fs::directory_iterator(dir + "/blobs/sha256")) {
    (void)e;
    ++blobs;
  }
  CHECK(blobs == 3); // layer, config, manifest
  json config = parse_file(blob_path(dir, r.config_digest));
  CHECK(config["config"] == json::object()); // an empty ImageConfig gives an empty object
  CHECK(config["rootfs"]["diff_ids"].size() == 2);
  // Each blob once in the archive.
  RunResult listing = run_ok({"tar", "-tf", r.docker_archive}, tmp.path());
  CHECK(listing.out == "blobs/\nblobs/sha256/\n" + [&] {
    std::vector<std::string> names;
    for (const auto &e : fs::directory_iterator(dir + "/blobs/sha256"))
      names.push_back("blobs/sha256/" + e.path().filename().string() + "\n");
    std::sort(names.begin(), names.end());
    std::string s;
    for (const std::string &n : names) s += n;
    return s;
  }() + "index.json\nmanifest.json\noci-layout\n");
}

TEST_CASE("write_oci_image refuses bad inputs and leaves no temporary files", "[oci]") {
  TempDir tmp;
  Sources src(tmp);
  FsTree base = base_tree(src);
  std::string dir = tmp / "img";
  fs::create_directories(dir);

  CHECK_THROWS_AS(write_oci_image({}, {}, test_options(), dir), InputError);
  CHECK_THROWS_AS(write_oci_image({{"x", nullptr}}, {}, test_options(), dir), InputError);
  OciBuildOptions o = test_options();
  o.created = -5;
  CHECK_THROWS_AS(write_oci_image({{"base", &base}}, {}, o, dir), InputError);
  for (const char *bad : {"-hello", "hello//x", "hello:", "héllo", "a b"}) {
    o = test_options();
    o.ref_name = bad;
    INFO(bad);
    CHECK_THROWS_AS(write_oci_image({{"base", &base}}, {}, o, dir), InputError);
  }
  o = test_options();
  o.ref_name = "Hello:latest"; // a valid OCI ref, but not a docker repository name
  CHECK_THROWS_AS(write_oci_image({{"base", &base}}, {}, o, dir), InputError);
  ImageConfig c;
  c.exposed_ports = {"80"};
  CHECK_THROWS_AS(write_oci_image({{"base", &base}}, c, test_options(), dir), InputError);
  c = {};
  c.env = {"NOEQUALS"};
  CHECK_THROWS_AS(write_oci_image({{"base", &base}}, c, test_options(), dir), InputError);
  CHECK(fs::is_empty(dir)); // input errors are found before anything is written

  CHECK_THROWS_AS(write_oci_image({{"base", &base}}, {}, test_options(), tmp / "missing"), SystemError);
  write_text(dir + "/stray", "x");
  CHECK_THROWS_AS(write_oci_image({{"base", &base}}, {}, test_options(), dir), SystemError);
  fs::remove(dir + "/stray");

  // A content file that vanished: write_tar fails in the second layer, and the first layer's blob
  // is complete while no temporary file remains.
  FsTree broken;
  broken.add("gone", file_node(src.root + "/secret", 0644));
  fs::copy_file(src.root + "/secret", src.root + "/gone");
  broken.find_mutable("gone")->content_path = src.root + "/gone";
  fs::remove(src.root + "/gone");
  CHECK_THROWS_AS(write_oci_image({{"base", &base}, {"broken", &broken}}, {}, test_options(), dir), SystemError);
  for (const std::string &f : list_files(dir)) {
    INFO(f);
    CHECK(f.find(".tmp") == std::string::npos);
  }
}

TEST_CASE("skopeo reads the OCI layout and the docker-archive", "[oci]") {
  std::string skopeo = require_tool("skopeo");
  TempDir tmp;
  Sources src(tmp);
  Built b = build(tmp, "img", src);

  json oci = json::parse(run_ok({skopeo, "inspect", "oci:" + b.dir + ":" + k_ref}, tmp.path()).out);
  CHECK(oci["Digest"] == b.result.manifest_digest);
  CHECK(json_strings(oci["Layers"]) == layer_digests(b.result));
  CHECK(oci["Architecture"] == "amd64");
  CHECK(oci["Os"] == "linux");
  CHECK(oci["Created"] == "2023-11-14T22:13:20Z");
  CHECK(oci["Labels"] == json{{"org.example.a", "1"}, {"org.example.b", "2"}});
  std::string raw = run_ok({skopeo, "inspect", "--raw", "oci:" + b.dir + ":" + k_ref}, tmp.path()).out;
  CHECK(raw == read_text(blob_path(b.dir, b.result.manifest_digest)));

  // docker-archive: skopeo serves the layers by diff_id (decompressing them).
  json archive = json::parse(run_ok({skopeo, "inspect", "docker-archive:" + b.result.docker_archive}, tmp.path()).out);
  CHECK(json_strings(archive["Layers"]) == diff_ids(b.result));
  CHECK(archive["Architecture"] == "amd64");
  CHECK(archive["Env"] == json{"PATH=/usr/bin:/bin", "GREETING=hi"});
  json archive_config =
      json::parse(run_ok({skopeo, "inspect", "--config", "docker-archive:" + b.result.docker_archive}, tmp.path()).out);
  CHECK(archive_config == parse_file(blob_path(b.dir, b.result.config_digest)));

  // Copies out of the archive verify every layer against its diff_id.
  std::string from_archive = tmp / "from-archive";
  run_ok(
      {skopeo, "--insecure-policy", "copy", "docker-archive:" + b.result.docker_archive, "oci:" + from_archive + ":x"},
      tmp.path());
  json copied = json::parse(run_ok({skopeo, "inspect", "--config", "oci:" + from_archive + ":x"}, tmp.path()).out);
  CHECK(copied["rootfs"]["diff_ids"] == json(diff_ids(b.result)));

  // skopeo's own docker-archive written from our layout.
  std::string out_tar = tmp / "copied.tar";
  run_ok({skopeo, "--insecure-policy", "copy", "oci:" + b.dir + ":" + k_ref,
          "docker-archive:" + out_tar + ":mrforge/hello:1"},
         tmp.path());
  json written = json::parse(run_ok({skopeo, "inspect", "docker-archive:" + out_tar}, tmp.path()).out);
  CHECK(json_strings(written["Layers"]) == diff_ids(b.result));
}

TEST_CASE("An OCI image goes through a real registry and comes back with the same digest", "[oci]") {
  std::string skopeo = require_tool("skopeo");
  std::string registry_binary = require_tool("docker-registry");
  TempDir tmp;
  Sources src(tmp);
  Built b = build(tmp, "img", src);

  Registry registry(registry_binary, tmp);
  registry.wait_ready();
  std::string remote = "docker://127.0.0.1:" + std::to_string(registry.port()) + "/mrforge/test:1";
  run_ok({skopeo, "--insecure-policy", "copy", "--dest-tls-verify=false", "oci:" + b.dir + ":" + k_ref, remote},
         tmp.path());

  json inspect = json::parse(run_ok({skopeo, "inspect", "--tls-verify=false", remote}, tmp.path()).out);
  CHECK(inspect["Digest"] == b.result.manifest_digest);
  CHECK(json_strings(inspect["Layers"]) == layer_digests(b.result));
  std::string raw = run_ok({skopeo, "inspect", "--raw", "--tls-verify=false", remote}, tmp.path()).out;
  CHECK(raw == read_text(blob_path(b.dir, b.result.manifest_digest)));

  std::string back = tmp / "back";
  run_ok({skopeo, "--insecure-policy", "copy", "--src-tls-verify=false", remote, "oci:" + back + ":" + k_ref},
         tmp.path());
  json index = parse_file(back + "/index.json");
  REQUIRE(index["manifests"].size() == 1);
  CHECK(index["manifests"][0]["digest"] == b.result.manifest_digest);
  for (const auto &e : fs::directory_iterator(b.dir + "/blobs/sha256")) {
    std::string name = e.path().filename().string();
    INFO(name);
    CHECK(same_bytes(e.path().string(), back + "/blobs/sha256/" + name));
  }
}

TEST_CASE("umoci unpacks the OCI layout with modes, owners and symlinks intact", "[oci]") {
  std::string umoci = require_tool("umoci");
  TempDir tmp;
  Sources src(tmp);
  Built b = build(tmp, "img", src);

  std::string bundle = tmp / "bundle";
  std::vector<std::string> args = {umoci, "unpack"};
  if (::geteuid() != 0) args.push_back("--rootless");
  for (const std::string &a : {std::string("--image"), b.dir + ":" + k_ref, bundle}) args.push_back(a);
  run_ok(args, tmp.path());

  std::string rootfs = bundle + "/rootfs";
  CHECK(read_text(rootfs + "/usr/bin/hello") == read_text(src.root + "/hello"));
  CHECK(read_text(rootfs + "/etc/secret") == read_text(src.root + "/secret"));
  CHECK(read_text(rootfs + "/srv/data.txt") == read_text(src.root + "/data"));
  struct stat st {};
  REQUIRE(::lstat((rootfs + "/usr/bin/hello").c_str(), &st) == 0);
  CHECK((st.st_mode & 07777) == 0755);
  REQUIRE(::lstat((rootfs + "/etc/secret").c_str(), &st) == 0);
  CHECK((st.st_mode & 07777) == 0600);
  if (::geteuid() == 0) {
    CHECK(st.st_uid == 1000);
    CHECK(st.st_gid == 1000);
  }
  REQUIRE(::lstat((rootfs + "/srv").c_str(), &st) == 0);
  CHECK(S_ISDIR(st.st_mode));
  CHECK((st.st_mode & 07777) == 0750);
  CHECK(st.st_mtime == k_epoch);
  REQUIRE(::lstat((rootfs + "/usr/bin/hi").c_str(), &st) == 0);
  CHECK(S_ISLNK(st.st_mode));
  CHECK(fs::read_symlink(rootfs + "/usr/bin/hi") == "hello");

  // The bundle's runtime config carries the image config.
  json runtime = parse_file(bundle + "/config.json");
  CHECK(runtime["process"]["args"] == json{"/usr/bin/hello", "--verbose"});
  CHECK(runtime["process"]["cwd"] == "/srv");
}

TEST_CASE("The docker-archive's RepoTags follow ref_name, with :latest added when it has no tag", "[oci]") {
  std::string skopeo = require_tool("skopeo");
  TempDir tmp;
  Sources src(tmp);
  FsTree base = base_tree(src);
  struct Case {
    std::string ref_name;
    json repo_tags;
  };
  for (const Case &c :
       {Case{"localhost:5000/mrforge/hello", json{"localhost:5000/mrforge/hello:latest"}},
        Case{"registry.example/a/b:v1.2", json{"registry.example/a/b:v1.2"}}, Case{"", json::array()}}) {
    INFO("ref_name '" << c.ref_name << "'");
    std::string dir = tmp / ("img" + std::to_string(c.repo_tags.size()) + c.ref_name.substr(0, 4));
    fs::create_directories(dir);
    OciBuildOptions o = test_options();
    o.ref_name = c.ref_name;
    OciImageResult r = write_oci_image({{"base", &base}}, {}, o, dir);
    json docker = json::parse(run_ok({"tar", "-xOf", r.docker_archive, "manifest.json"}, tmp.path()).out);
    CHECK(docker[0]["RepoTags"] == c.repo_tags);
    json index = parse_file(dir + "/index.json");
    if (c.ref_name.empty())
      CHECK(index["manifests"][0].count("annotations") == 0);
    else
      CHECK(index["manifests"][0]["annotations"]["org.opencontainers.image.ref.name"] == c.ref_name);
    json inspect = json::parse(run_ok({skopeo, "inspect", "docker-archive:" + r.docker_archive}, tmp.path()).out);
    CHECK(json_strings(inspect["Layers"]) == diff_ids(r));
    // Without a name in the path, skopeo's oci: transport takes the only manifest.
    json oci = json::parse(run_ok({skopeo, "inspect", "oci:" + dir}, tmp.path()).out);
    CHECK(oci["Digest"] == r.manifest_digest);
  }
}
