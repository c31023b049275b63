#include <builder/oci/oci_layout_import.hpp>

#include <measure/documents/json_fields.hpp>
#include <measure/documents/json_text.hpp>
#include <measure/util/errors.hpp>
#include <measure/util/hash.hpp>
#include <measure/util/mapped_file.hpp>
#include <measure/util/terminal_text.hpp>

#include <nlohmann/json.hpp>

#include <algorithm>
#include <iterator>
#include <map>
#include <optional>

namespace mrforge::builder {

namespace {

using Json = nlohmann::json;

// image-spec v1.0.2 media-types.md, and the two index types a registry serves for a
// multi-platform image (OCI's and Docker's manifest list).
constexpr const char *k_manifest_type = "application/vnd.oci.image.manifest.v1+json";
constexpr const char *k_config_type = "application/vnd.oci.image.config.v1+json";
constexpr const char *k_oci_index_type = "application/vnd.oci.image.index.v1+json";
constexpr const char *k_docker_list_type = "application/vnd.docker.distribution.manifest.list.v2+json";
constexpr const char *k_layer_types[] = {"application/vnd.oci.image.layer.v1.tar",
                                         "application/vnd.oci.image.layer.v1.tar+gzip",
                                         "application/vnd.oci.image.layer.v1.tar+zstd"};
// More layers than any image runs with (overlayfs stacks at most 128 lower directories in
// Docker's driver; containerd's snapshotters similar): a bound on the walk and the copy.
constexpr size_t k_max_layers = 1024;
constexpr size_t k_copy_chunk = 1 << 20;

struct Descriptor {
  std::string media_type;
  std::string hex; // sha256
  uint64_t size = 0;
};

// "sha256:HEX" -> HEX; other algorithms are refused (mrforge checks blobs with sha256 only).
std::string sha256_hex_of(const std::string &digest, const std::string &where) {
  if (!is_sha256_digest(digest))
    throw InputError(where, "expected a digest sha256: and 64 lower-case hex digits, got '" + echoed(digest) + "'");
  return digest.substr(7);
}

Descriptor descriptor_at(const Json &d, const std::string &where) {
  Descriptor out;
  out.media_type = json_string_field(d, "mediaType", where);
  out.hex = sha256_hex_of(json_string_field(d, "digest", where), where + ".digest");
  const Json &size = json_field(d, "size", where);
  if (!size.is_number_unsigned()) throw InputError(where + ".size", "expected a size in bytes");
  out.size = size.get<uint64_t>();
  return out;
}

std::string blob_name(const std::string &hex) { return "blobs/sha256/" + hex; }

// A JSON document of the layout (oci-layout, index.json, the manifest), bounded and never through a
// symbolic link or from a FIFO.
Bytes read_layout_file(const std::string &layout, const std::string &relative) {
  return InputFile::open_in(layout, relative, limits::k_json_document).read_all();
}

// The descriptor of the pinned manifest in index.json.
Descriptor pinned_descriptor(const std::string &layout, const std::string &pin_hex, std::string &architecture,
                             std::string &os) {
  const std::string index_path = layout + "/index.json";
  const Json index = parse_json_text(read_layout_file(layout, "index.json"), index_path);
  if (!index.is_object()) throw InputError(index_path, "expected an OCI image index (a JSON object)");
  const Json &manifests = json_field(index, "manifests", index_path);
  if (!manifests.is_array()) throw InputError(index_path + ".manifests", "expected an array of descriptors");
  std::optional<Descriptor> found;
  bool lists_an_index = false;
  for (size_t i = 0; i < manifests.size(); ++i) {
    const std::string where = index_path + ".manifests[" + std::to_string(i) + "]";
    const Json &d = manifests[i];
    if (!d.is_object()) throw InputError(where, "expected a descriptor (a JSON object)");
    auto media = d.find("mediaType");
    lists_an_index |= media != d.end() && (*media == k_oci_index_type || *media == k_docker_list_type);
    auto digest = d.find("digest");
    if (digest == d.end() || !digest->is_string() || digest->get<std::string>() != "sha256:" + pin_hex) continue;
    Descriptor desc = descriptor_at(d, where);
    if (found && (found->media_type != desc.media_type || found->size != desc.size))
      throw InputError(where, "names the pinned manifest again with another media type or size");
    if (desc.media_type == k_oci_index_type || desc.media_type == k_docker_list_type)
      throw InputError(where, "sha256:" + pin_hex + " is an image index (" + desc.media_type +
                                  "): a multi-platform image. Pin the digest of the platform's image manifest "
                                  "instead (`skopeo inspect --raw oci:DIR` lists them)");
    if (desc.media_type != k_manifest_type)
      throw InputError(where + ".mediaType", "'" + echoed(desc.media_type) + "' is not an OCI image manifest (" +
                                                 k_manifest_type +
                                                 "): copy the image with `skopeo copy --format oci` and pin that");
    auto platform = d.find("platform");
    if (!found && platform != d.end() && platform->is_object()) {
      architecture = json_string_field(*platform, "architecture", where + ".platform");
      os = json_string_field(*platform, "os", where + ".platform");
    }
    found = desc;
  }
  if (!found)
    throw InputError(index_path, "holds no manifest sha256:" + pin_hex + " (it lists " +
                                     std::to_string(manifests.size()) +
                                     "): the pinned digest is not of this layout; check the digest or copy the image "
                                     "again" +
                                     (lists_an_index ? std::string(" (a platform's manifest inside a multi-platform "
                                                                   "image index is not taken: copy that platform's "
                                                                   "image alone, e.g. skopeo copy --override-arch)")
                                                     : std::string()));
  return *found;
}

struct ParsedManifest {
  Descriptor config;
  std::vector<Descriptor> layers;
};

ParsedManifest parse_manifest(ByteView bytes, const std::string &source) {
  const Json m = parse_json_text(bytes, source);
  if (!m.is_object()) throw InputError(source, "expected an OCI image manifest (a JSON object)");
  const Json &version = json_field(m, "schemaVersion", source);
  if (!version.is_number_unsigned() || version.get<uint64_t>() != 2)
    throw InputError(source + ".schemaVersion", "expected 2 (image-spec manifest.md)");
  auto media = m.find("mediaType");
  if (media != m.end() && (!media->is_string() || media->get<std::string>() != k_manifest_type))
    throw InputError(source + ".mediaType", std::string("expected ") + k_manifest_type);
  ParsedManifest out;
  out.config = descriptor_at(json_field(m, "config", source), source + ".config");
  if (out.config.media_type != k_config_type)
    throw InputError(source + ".config.mediaType", "'" + echoed(out.config.media_type) + "' is not " + k_config_type +
                                                       ": this is not a container image");
  const Json &layers = json_field(m, "layers", source);
  if (!layers.is_array() || layers.empty()) throw InputError(source + ".layers", "expected a non-empty array");
  if (layers.size() > k_max_layers)
    throw InputError(source + ".layers", "more than " + std::to_string(k_max_layers) + " layers");
  for (size_t i = 0; i < layers.size(); ++i) {
    const std::string where = source + ".layers[" + std::to_string(i) + "]";
    Descriptor d = descriptor_at(layers[i], where);
    if (std::find(std::begin(k_layer_types), std::end(k_layer_types), d.media_type) == std::end(k_layer_types))
      throw InputError(where + ".mediaType",
                       "'" + echoed(d.media_type) + "' is not an OCI layer mrforge copies (tar, tar+gzip, tar+zstd)");
    out.layers.push_back(std::move(d));
  }
  return out;
}

// Copies LAYOUT/blobs/sha256/HEX into blob_dir, a chunk at a time, checking its size against the
// descriptor before and while reading and its sha256 before it is renamed into place.
void copy_blob(const std::string &layout, const Descriptor &d, const std::string &what, const std::string &blob_dir) {
  InputFile in = InputFile::open_in(layout, blob_name(d.hex), limits::k_oci_blob);
  const std::string path = in.path();
  auto size_problem = [&](const std::string &got) {
    return InputError(path, what + ": " + got + " bytes, the manifest's descriptor says " + std::to_string(d.size) +
                                " (a truncated or altered blob: copy the image again)");
  };
  if (in.size() != d.size) throw size_problem(std::to_string(in.size()));
  store_oci_blob(
      blob_dir, ".tmp-import",
      [&](ByteSink &sink) {
        uint64_t total = 0;
        for (;;) {
          Bytes chunk = in.read_some(k_copy_chunk);
          if (chunk.empty()) break;
          if (chunk.size() > d.size - total) throw size_problem("more than " + std::to_string(d.size));
          total += chunk.size();
          sink.write(chunk.data(), chunk.size());
        }
      },
      [&](const OciBlob &blob) {
        if (blob.size != d.size) throw size_problem(std::to_string(blob.size));
        if (blob.hex != d.hex)
          throw InputError(path, what + ": its sha256 is " + blob.hex +
                                     ", not the digest its name and the manifest give (a corrupted blob: copy the "
                                     "image again)");
      });
}

} // namespace

OciImageResult import_oci_layout(const OciLayoutImportOptions &options, const std::string &out_dir) {
  const std::string &layout = options.layout_dir;
  auto progress = [&](const std::string &message) {
    if (options.progress) options.progress(message);
  };
  const std::string pin_hex = sha256_hex_of(options.manifest_digest, "the pinned digest");

  // oci-layout: the layout's version (image-layout.md).
  const std::string marker_path = layout + "/oci-layout";
  const Json marker = parse_json_text(read_layout_file(layout, "oci-layout"), marker_path);
  if (!marker.is_object() || json_string_field(marker, "imageLayoutVersion", marker_path) != "1.0.0")
    throw InputError(marker_path, "expected {\"imageLayoutVersion\": \"1.0.0\"}: not an OCI image layout");

  std::string architecture, os;
  const Descriptor pinned = pinned_descriptor(layout, pin_hex, architecture, os);

  // The manifest: its bytes must be the pin's, and of the descriptor's size.
  InputFile manifest_file = InputFile::open_in(layout, blob_name(pin_hex), limits::k_json_document);
  const std::string manifest_path = manifest_file.path();
  const Bytes manifest = manifest_file.read_all();
  if (manifest.size() != pinned.size)
    throw InputError(manifest_path, "the manifest: " + std::to_string(manifest.size()) +
                                        " bytes, index.json's descriptor says " + std::to_string(pinned.size));
  const std::string manifest_hex = to_hex(sha256(ByteView(manifest.data(), manifest.size())));
  if (manifest_hex != pin_hex)
    throw InputError(manifest_path, "the manifest's sha256 is " + manifest_hex + ", not the pinned sha256:" + pin_hex +
                                        " (a corrupted blob: copy the image again)");
  const ParsedManifest parsed = parse_manifest(ByteView(manifest.data(), manifest.size()), manifest_path);

  // Every blob, copied as it is verified.
  const std::string blob_dir = create_oci_layout_dirs(out_dir);
  OciImageResult result;
  std::map<std::string, uint64_t> blobs;
  store_oci_blob(blob_dir, ".tmp-manifest", [&](ByteSink &sink) { sink.write(manifest.data(), manifest.size()); });
  blobs[pin_hex] = pinned.size;
  copy_blob(layout, parsed.config, "the image config", blob_dir);
  blobs[parsed.config.hex] = parsed.config.size;
  for (size_t i = 0; i < parsed.layers.size(); ++i) {
    const Descriptor &l = parsed.layers[i];
    if (blobs.count(l.hex) == 0) {
      copy_blob(layout, l, "layer " + std::to_string(i), blob_dir);
      blobs[l.hex] = l.size;
    }
    OciLayerResult layer;
    layer.digest = "sha256:" + l.hex;
    layer.media_type = l.media_type;
    layer.size = l.size;
    result.layers.push_back(std::move(layer));
    progress("layer " + std::to_string(i) + ": sha256:" + l.hex + " verified (" + std::to_string(l.size) + " bytes)");
  }

  OciLayoutFiles files;
  files.manifest_media_type = k_manifest_type;
  files.manifest_digest = "sha256:" + pin_hex;
  files.manifest_size = pinned.size;
  files.architecture = architecture;
  files.os = os;
  if (is_valid_ref_name(options.ref)) files.ref_name = options.ref;
  std::string why;
  if (std::optional<std::string> tag = docker_repo_tag(options.ref, why)) files.repo_tag = *tag;
  files.config_digest = "sha256:" + parsed.config.hex;
  for (const OciLayerResult &l : result.layers) files.layer_digests.push_back(l.digest);
  files.blobs = blobs;
  files.mtime = 0;
  result.index_digest = write_oci_layout_files(files, out_dir);
  result.manifest_digest = files.manifest_digest;
  result.manifest_size = pinned.size;
  result.config_digest = files.config_digest;
  result.config_size = parsed.config.size;
  result.docker_archive = out_dir + "/docker-archive.tar";
  progress("image " + options.ref + ": manifest " + result.manifest_digest + " from " + layout + ", " +
           std::to_string(result.layers.size()) + " layers verified");
  return result;
}

} // namespace mrforge::builder
