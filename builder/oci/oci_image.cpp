// OCI image layout and docker-archive writer. Formats followed:
//   image-spec v1.0.2: image-layout.md (oci-layout, index.json, blobs/<alg>/<hex>), manifest.md,
//     config.md (architecture, os, created, config, rootfs.diff_ids, history), descriptor.md,
//     annotations.md (org.opencontainers.image.ref.name and its grammar).
//   Docker >= 25 `docker save` (image/tarexport/save.go): the OCI layout plus the legacy
//     manifest.json [{"Config","RepoTags","Layers"}] whose paths point into blobs/sha256/.
//     `docker load` (image/tarexport/load.go) reads manifest.json when present and decompresses
//     layers itself; skopeo's docker-archive source (containers/image docker/internal/tarfile)
//     accepts compressed layers too and serves them by diff_id, so the archive holds the very
//     same blobs as the layout (checked by tests/oci_image_test.cpp with skopeo 1.9). The legacy
//     "repositories" file is not written: load.go only reads it when manifest.json is missing.
//
// JSON bytes are deterministic: nlohmann::json keeps object keys in a std::map (byte-wise sorted),
// and every document is written with dump() — compact, no spaces, no trailing newline — so a
// digest is a function of the values only.
#include <builder/oci/oci_image.hpp>

#include <builder/archive/archive_writers.hpp>
#include <builder/system/byte_sink.hpp>
#include <measure/util/errors.hpp>
#include <measure/util/hash.hpp>
#include <measure/util/size_text.hpp>

#include <nlohmann/json.hpp>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <memory>
#include <optional>
#include <set>
#include <system_error>

#include <sys/stat.h>
#include <unistd.h>

namespace mrforge::builder {

namespace {

namespace fs = std::filesystem;
using nlohmann::json;

constexpr const char *k_manifest_media_type = "application/vnd.oci.image.manifest.v1+json";
constexpr const char *k_config_media_type = "application/vnd.oci.image.config.v1+json";
constexpr const char *k_index_media_type = "application/vnd.oci.image.index.v1+json";
constexpr const char *k_layer_media_type = "application/vnd.oci.image.layer.v1.tar"; // + "+gzip"/"+zstd"
constexpr const char *k_ref_name_annotation = "org.opencontainers.image.ref.name";
constexpr const char *k_docker_archive_name = "docker-archive.tar";
// 9999-12-31T23:59:59Z: RFC 3339 has four-digit years.
constexpr int64_t k_max_created = 253402300799;

// A temporary file that is removed unless committed (renamed into place or deliberately kept).
class TempFile {
public:
  explicit TempFile(std::string path) : m_path(std::move(path)) {}
  ~TempFile() {
    if (!m_committed) ::unlink(m_path.c_str()); // cleanup on an error path: nothing to report to
  }
  TempFile(const TempFile &) = delete;
  TempFile &operator=(const TempFile &) = delete;
  const std::string &path() const { return m_path; }
  void rename_to(const std::string &dest) {
    if (::rename(m_path.c_str(), dest.c_str()) != 0)
      throw SystemError(dest, std::string("cannot rename ") + m_path + " into place: " + std::strerror(errno));
    m_committed = true;
  }

private:
  std::string m_path;
  bool m_committed = false;
};

// Forwards bytes to `next` and finish() exactly once, whether or not the writer in front of it
// finishes its output itself.
class FinishOnceSink : public ByteSink {
public:
  explicit FinishOnceSink(ByteSink &next) : m_next(next) {}
  void write(const uint8_t *data, size_t size) override { m_next.write(data, size); }
  void finish() override {
    if (m_finished) return;
    m_finished = true;
    m_next.finish();
  }

private:
  ByteSink &m_next;
  bool m_finished = false;
};

std::string dump_json(const json &j, const std::string &what) {
  try {
    return j.dump(); // compact, keys sorted, no trailing newline: these bytes are digested
  } catch (const json::type_error &e) {
    throw InputError(what, std::string("cannot be written as JSON (strings must be UTF-8): ") + e.what());
  }
}

json descriptor(const std::string &media_type, const std::string &digest, uint64_t size) {
  return json{{"mediaType", media_type}, {"digest", digest}, {"size", size}};
}

// Writes bytes as blobs/sha256/<hex> (through a temporary file, so a crash never leaves a blob
// whose name is not its digest).
OciBlob store_bytes(const std::string &blob_dir, const std::string &bytes, const std::string &tmp_name) {
  return store_oci_blob(blob_dir, tmp_name, [&](ByteSink &sink) {
    sink.write(reinterpret_cast<const uint8_t *>(bytes.data()), bytes.size());
  });
}

void write_small_file(const std::string &path, const std::string &bytes) {
  FileSink file(path);
  file.write(reinterpret_cast<const uint8_t *>(bytes.data()), bytes.size());
  file.finish();
}

void check_out_dir(const std::string &out_dir) {
  std::error_code ec;
  fs::file_status st = fs::status(out_dir, ec);
  if (ec) throw SystemError(out_dir, "cannot use as the OCI output directory: " + ec.message());
  if (!fs::is_directory(st)) throw SystemError(out_dir, "the OCI output directory is not a directory");
  fs::directory_iterator it(out_dir, ec);
  if (ec) throw SystemError(out_dir, "cannot list the OCI output directory: " + ec.message());
  if (it != fs::directory_iterator())
    throw SystemError(out_dir,
                      "the OCI output directory must be empty (found '" + it->path().filename().string() + "')");
}

// 0755 whatever the umask: the layout's modes must not depend on the host (`diff` compares them).
void make_dir(const std::string &path) {
  if (::mkdir(path.c_str(), 0755) != 0 || ::chmod(path.c_str(), 0755) != 0)
    throw SystemError(path, std::string("cannot create directory: ") + std::strerror(errno));
}

bool is_alnum(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'); }

void validate_config(const ImageConfig &config) {
  for (const std::string &e : config.env)
    if (e.empty() || e[0] == '=' || e.find('=') == std::string::npos)
      throw InputError("image config: env", "'" + e + "' is not of the form NAME=VALUE");
  for (const std::string &p : config.exposed_ports) {
    size_t slash = p.find('/');
    std::string number = p.substr(0, slash);
    std::string proto = slash == std::string::npos ? std::string() : p.substr(slash + 1);
    bool ok = !number.empty() && number.size() <= 5 && number[0] != '0' &&
              parse_unsigned(number).value_or(UINT64_MAX) <= 65535 &&
              (proto == "tcp" || proto == "udp" || proto == "sctp");
    if (!ok)
      throw InputError("image config: exposed_ports", "'" + p + "' is not of the form PORT/tcp, PORT/udp or PORT/sctp");
  }
}

json config_object(const ImageConfig &config) {
  json c = json::object();
  if (!config.entrypoint.empty()) c["Entrypoint"] = config.entrypoint;
  if (!config.cmd.empty()) c["Cmd"] = config.cmd;
  if (!config.env.empty()) c["Env"] = config.env; // order kept: later entries may refer to earlier ones
  if (!config.working_dir.empty()) c["WorkingDir"] = config.working_dir;
  if (!config.user.empty()) c["User"] = config.user;
  if (!config.labels.empty()) c["Labels"] = config.labels;
  if (!config.exposed_ports.empty()) {
    json ports = json::object();
    for (const std::string &p : config.exposed_ports) ports[p] = json::object();
    c["ExposedPorts"] = ports;
  }
  return c;
}

std::string format_size(uint64_t bytes) {
  char buf[32];
  if (bytes < 10000)
    std::snprintf(buf, sizeof buf, "%llu bytes", static_cast<unsigned long long>(bytes));
  else if (bytes < 10000000)
    std::snprintf(buf, sizeof buf, "%llu kB", static_cast<unsigned long long>((bytes + 500) / 1000));
  else
    std::snprintf(buf, sizeof buf, "%llu MB", static_cast<unsigned long long>((bytes + 500000) / 1000000));
  return buf;
}

// Writes one layer blob: tar -> sha256 (diff_id) -> compressor -> sha256 (digest) -> file.
OciLayerResult write_layer(const OciLayerInput &layer, size_t index, const OciBuildOptions &options,
                           const std::string &blob_dir, uint64_t &tar_size) {
  TempFile tmp(blob_dir + "/.tmp-layer-" + std::to_string(index));
  OciLayerResult result;
  result.name = layer.name;
  result.media_type = std::string(k_layer_media_type) + compression_media_suffix(options.compression.kind);
  {
    FileSink file(tmp.path());
    HashingSink blob_hash(&file);
    std::unique_ptr<ByteSink> compressor;
    ByteSink *after_tar_hash = &blob_hash;
    if (options.compression.kind != CompressionKind::none) {
      compressor = make_compressor(options.compression, blob_hash);
      after_tar_hash = compressor.get();
    }
    HashingSink tar_hash(after_tar_hash);
    FinishOnceSink top(tar_hash);
    ArchiveOptions archive;
    archive.mtime = options.created;
    write_tar(*layer.tree, archive, top);
    top.finish();
    result.diff_id = "sha256:" + tar_hash.sha256_hex();
    result.digest = "sha256:" + blob_hash.sha256_hex();
    result.size = blob_hash.size();
    tar_size = tar_hash.size();
  }
  // An identical earlier layer already stored this blob: rename replaces it with the same bytes.
  tmp.rename_to(blob_dir + "/" + result.digest.substr(7));
  return result;
}

} // namespace

// annotations.md, org.opencontainers.image.ref.name:
//   ref       ::= component ("/" component)*
//   component ::= alphanum (separator alphanum)*
//   alphanum  ::= [A-Za-z0-9]+
//   separator ::= [-._:@+] | "--"
bool is_valid_ref_name(const std::string &ref) {
  size_t i = 0;
  auto alnum_run = [&] {
    size_t start = i;
    while (i < ref.size() && is_alnum(ref[i])) ++i;
    return i > start;
  };
  for (;;) {
    if (!alnum_run()) return false;
    if (i == ref.size()) return true;
    if (ref[i] == '/') {
      ++i;
      continue;
    }
    if (ref.compare(i, 2, "--") == 0)
      i += 2;
    else if (std::strchr("-._:@+", ref[i]) != nullptr)
      ++i;
    else
      return false;
  }
}

std::optional<std::string> docker_repo_tag(const std::string &ref, std::string &why) {
  size_t slash = ref.rfind('/');
  size_t colon = ref.rfind(':');
  bool has_tag = colon != std::string::npos && (slash == std::string::npos || colon > slash);
  std::string name = has_tag ? ref.substr(0, colon) : ref;
  std::string tag = has_tag ? ref.substr(colon + 1) : "latest";
  // The domain (first component, when followed by a path) may have upper case and a port.
  size_t first_slash = name.find('/');
  std::string path = first_slash == std::string::npos ? name : name.substr(first_slash + 1);
  for (char c : path)
    if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-' || c == '/')) {
      why = "'" + ref + "': a docker repository name (RepoTags) may only contain a-z, 0-9, '.', '_', '-' and '/'";
      return std::nullopt;
    }
  if (tag.empty() || tag.size() > 128 || tag[0] == '.' || tag[0] == '-') {
    why = "'" + ref + "': '" + tag + "' is not a docker tag";
    return std::nullopt;
  }
  return name + ":" + tag;
}

std::string create_oci_layout_dirs(const std::string &out_dir) {
  check_out_dir(out_dir);
  make_dir(out_dir + "/blobs");
  make_dir(out_dir + "/blobs/sha256");
  return out_dir + "/blobs/sha256";
}

OciBlob store_oci_blob(const std::string &blob_dir, const std::string &tmp_name,
                       const std::function<void(ByteSink &)> &write,
                       const std::function<void(const OciBlob &)> &check) {
  TempFile tmp(blob_dir + "/" + tmp_name);
  OciBlob blob;
  {
    FileSink file(tmp.path());
    HashingSink hash(&file);
    write(hash);
    hash.finish(); // finishes the file too
    blob = OciBlob{hash.sha256_hex(), hash.size()};
  }
  if (check) check(blob);
  tmp.rename_to(blob_dir + "/" + blob.hex);
  return blob;
}

std::string write_oci_layout_files(const OciLayoutFiles &layout, const std::string &out_dir) {
  const std::string blob_dir = out_dir + "/blobs/sha256";
  json manifest_descriptor = descriptor(layout.manifest_media_type, layout.manifest_digest, layout.manifest_size);
  if (!layout.architecture.empty() || !layout.os.empty())
    manifest_descriptor["platform"] = {{"architecture", layout.architecture}, {"os", layout.os}};
  if (!layout.ref_name.empty()) manifest_descriptor["annotations"] = {{k_ref_name_annotation, layout.ref_name}};
  json index = {
      {"schemaVersion", 2},
      {"mediaType", k_index_media_type},
      {"manifests", json::array({manifest_descriptor})},
  };
  std::string index_bytes = dump_json(index, "index.json");
  std::string layout_bytes = dump_json(json{{"imageLayoutVersion", "1.0.0"}}, "oci-layout");
  write_small_file(out_dir + "/index.json", index_bytes);
  write_small_file(out_dir + "/oci-layout", layout_bytes);

  // docker-archive.tar: the layout's files plus the legacy manifest.json, written from a tree whose
  // nodes point at the files just written (all root-owned, mode 0644/0755, mtime T).
  json docker_layers = json::array();
  for (const std::string &digest : layout.layer_digests) docker_layers.push_back("blobs/sha256/" + digest.substr(7));
  json docker_manifest = json::array({json{
      {"Config", "blobs/sha256/" + layout.config_digest.substr(7)},
      {"RepoTags", layout.repo_tag.empty() ? json::array() : json::array({layout.repo_tag})},
      {"Layers", docker_layers},
  }});
  std::string docker_manifest_bytes = dump_json(docker_manifest, "docker manifest.json");
  TempFile docker_manifest_file(out_dir + "/.tmp-docker-manifest.json");
  write_small_file(docker_manifest_file.path(), docker_manifest_bytes);

  FsTree archive_tree;
  auto add_dir = [&](const std::string &path) {
    Node node;
    node.type = NodeType::directory;
    node.mode = 0755;
    node.origin = "OCI image layout";
    archive_tree.add(path, node);
  };
  auto add_file = [&](const std::string &path, const std::string &host_path, uint64_t size) {
    Node node;
    node.type = NodeType::regular;
    node.mode = 0644;
    node.size = size;
    node.content_path = host_path;
    node.origin = "OCI image layout";
    archive_tree.add(path, node);
  };
  add_dir("blobs");
  add_dir("blobs/sha256");
  for (const auto &[hex, size] : layout.blobs) add_file("blobs/sha256/" + hex, blob_dir + "/" + hex, size);
  add_file("index.json", out_dir + "/index.json", index_bytes.size());
  add_file("oci-layout", out_dir + "/oci-layout", layout_bytes.size());
  add_file("manifest.json", docker_manifest_file.path(), docker_manifest_bytes.size());

  TempFile archive_tmp(out_dir + "/.tmp-" + k_docker_archive_name);
  {
    FileSink file(archive_tmp.path());
    FinishOnceSink top(file);
    ArchiveOptions archive;
    archive.mtime = layout.mtime;
    write_tar(archive_tree, archive, top);
    top.finish();
  }
  archive_tmp.rename_to(out_dir + "/" + k_docker_archive_name);
  return "sha256:" + to_hex(sha256(ByteView::of(index_bytes)));
}

std::string rfc3339_utc(int64_t seconds, const std::string &what) {
  if (seconds < 0 || seconds > k_max_created)
    throw InputError(what, std::to_string(seconds) + " is not a time between 1970 and 9999 (seconds since the epoch)");
  time_t t = static_cast<time_t>(seconds);
  struct tm tm {};
  if (gmtime_r(&t, &tm) == nullptr) throw InputError(what, std::to_string(seconds) + " cannot be converted to a date");
  char buf[80]; // the compiler cannot know the fields' ranges
  std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02dZ", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday,
                tm.tm_hour, tm.tm_min, tm.tm_sec);
  return buf;
}

OciImageResult write_oci_image(const std::vector<OciLayerInput> &layers, const ImageConfig &config,
                               const OciBuildOptions &options, const std::string &out_dir) {
  // Validate everything before the first byte is written.
  if (layers.empty()) throw InputError("OCI image", "an image needs at least one layer");
  for (size_t i = 0; i < layers.size(); ++i)
    if (layers[i].tree == nullptr)
      throw InputError("OCI image", "layer " + std::to_string(i) + " ('" + layers[i].name + "') has no tree");
  std::string created = rfc3339_utc(options.created, "OCI image: created");
  if (options.architecture.empty()) throw InputError("OCI image: architecture", "must not be empty");
  if (options.os.empty()) throw InputError("OCI image: os", "must not be empty");
  std::string repo_tag;
  if (!options.ref_name.empty()) {
    if (!is_valid_ref_name(options.ref_name))
      throw InputError("ref_name", "'" + options.ref_name +
                                       "' is not an OCI image-layout ref (components of [A-Za-z0-9] joined by "
                                       "'-', '.', '_', ':', '@', '+' or '--', separated by '/')");
    std::string why;
    std::optional<std::string> tag = docker_repo_tag(options.ref_name, why);
    if (!tag) throw InputError("ref_name", why);
    repo_tag = *tag;
  }
  validate_config(config);

  auto progress = [&](const std::string &message) {
    if (options.progress) options.progress(message);
  };

  OciImageResult result;
  const std::string blob_dir = create_oci_layout_dirs(out_dir);

  // Layers.
  std::map<std::string, uint64_t> blob_sizes; // hex -> size: every distinct blob, for the archive
  for (size_t i = 0; i < layers.size(); ++i) {
    uint64_t tar_size = 0;
    OciLayerResult layer = write_layer(layers[i], i, options, blob_dir, tar_size);
    std::string message =
        "layer " + layer.name + ": " + std::to_string(layers[i].tree->size()) + " entries, " + format_size(tar_size);
    if (options.compression.kind != CompressionKind::none)
      message += std::string(" (") + compression_name(options.compression.kind) + " " + format_size(layer.size) + ")";
    progress(message);
    blob_sizes[layer.digest.substr(7)] = layer.size;
    result.layers.push_back(std::move(layer));
  }

  // Image config.
  json history = json::array();
  json diff_ids = json::array();
  for (const OciLayerResult &layer : result.layers) {
    diff_ids.push_back(layer.diff_id);
    history.push_back(json{{"created", created}, {"created_by", "mrforge: layer " + layer.name}});
  }
  json image_config = {
      {"architecture", options.architecture},
      {"os", options.os},
      {"created", created},
      {"config", config_object(config)},
      {"rootfs", {{"type", "layers"}, {"diff_ids", diff_ids}}},
      {"history", history},
  };
  OciBlob config_blob = store_bytes(blob_dir, dump_json(image_config, "image config"), ".tmp-config");
  blob_sizes[config_blob.hex] = config_blob.size;
  result.config_digest = "sha256:" + config_blob.hex;
  result.config_size = config_blob.size;

  // Image manifest.
  json manifest_layers = json::array();
  for (const OciLayerResult &layer : result.layers)
    manifest_layers.push_back(descriptor(layer.media_type, layer.digest, layer.size));
  json manifest = {
      {"schemaVersion", 2},
      {"mediaType", k_manifest_media_type},
      {"config", descriptor(k_config_media_type, result.config_digest, result.config_size)},
      {"layers", manifest_layers},
  };
  if (!options.annotations.empty()) manifest["annotations"] = options.annotations;
  OciBlob manifest_blob = store_bytes(blob_dir, dump_json(manifest, "image manifest annotations"), ".tmp-manifest");
  blob_sizes[manifest_blob.hex] = manifest_blob.size;
  result.manifest_digest = "sha256:" + manifest_blob.hex;
  result.manifest_size = manifest_blob.size;

  // index.json, oci-layout and docker-archive.tar.
  OciLayoutFiles files;
  files.manifest_media_type = k_manifest_media_type;
  files.manifest_digest = result.manifest_digest;
  files.manifest_size = result.manifest_size;
  files.architecture = options.architecture;
  files.os = options.os;
  files.ref_name = options.ref_name;
  files.repo_tag = repo_tag;
  files.config_digest = result.config_digest;
  for (const OciLayerResult &layer : result.layers) files.layer_digests.push_back(layer.digest);
  files.blobs = blob_sizes;
  files.mtime = options.created;
  result.index_digest = write_oci_layout_files(files, out_dir);
  result.docker_archive = out_dir + "/" + k_docker_archive_name;
  progress("image " + (options.ref_name.empty() ? std::string("(unnamed)") : options.ref_name) + ": manifest " +
           result.manifest_digest + ", " + std::to_string(result.layers.size()) + " layers");
  return result;
}

} // namespace mrforge::builder
