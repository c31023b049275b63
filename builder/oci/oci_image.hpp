// The OCI image writer: turns staging trees (one per layer) into an OCI image layout
// (image-spec v1.0.2 "image-layout.md": oci-layout, index.json, blobs/sha256/) and a docker-archive
// tar next to it, following ../shared/docs/determinism.md "OCI image output": every time field is
// the build's one timestamp, no host-dependent field, and the JSON bytes are a function of the
// inputs only.
//
// Output directory (out_dir must exist and be empty; the caller builds into a temporary directory
// and renames it into place):
//   oci-layout                 {"imageLayoutVersion":"1.0.0"}
//   index.json                 one manifest descriptor, annotated org.opencontainers.image.ref.name
//   blobs/sha256/<hex>         layer blobs, the image config, the manifest
//   docker-archive.tar         the modern `docker save` layout (Docker >= 25): the three entries
//                              above plus the legacy manifest.json that `docker load` and
//                              `skopeo copy docker-archive:` read
#pragma once

#include <builder/archive/compress.hpp>
#include <builder/fs/fs_tree.hpp>
#include <builder/system/byte_sink.hpp>

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace mrforge::builder {

// The runtime part of the image config ("config" object of image-spec config.md). Empty fields
// are omitted from the JSON.
struct ImageConfig {
  std::vector<std::string> entrypoint;
  std::vector<std::string> cmd;
  std::vector<std::string> env; // "K=V"
  std::string working_dir;
  std::string user;
  std::map<std::string, std::string> labels;
  std::vector<std::string> exposed_ports; // "8080/tcp"
};

struct OciLayerInput {
  std::string name;             // for history "created_by" and messages, e.g. "packages"
  const FsTree *tree = nullptr; // not owned; must outlive the call
};

struct OciBuildOptions {
  int64_t created = 0; // SOURCE_DATE_EPOCH: config "created", history, every tar entry's mtime
  std::string architecture = "amd64";
  std::string os = "linux";
  // org.opencontainers.image.ref.name in index.json, e.g. "hello:latest"; also the RepoTags of the
  // docker-archive's manifest.json (":latest" appended when it has no tag). Empty: no name.
  std::string ref_name;
  Compression compression;
  std::map<std::string, std::string> annotations;    // added to the image manifest
  std::function<void(const std::string &)> progress; // optional: "layer packages: 1234 entries, 56 MB"
};

struct OciLayerResult {
  std::string name;
  std::string digest;  // "sha256:..." of the (compressed) blob
  std::string diff_id; // "sha256:..." of the uncompressed tar
  std::string media_type;
  uint64_t size = 0; // of the blob
};

struct OciImageResult {
  std::string manifest_digest; // "sha256:..."
  std::string config_digest;   // "sha256:..."
  std::string index_digest;    // "sha256:..." of index.json's bytes
  uint64_t manifest_size = 0;
  uint64_t config_size = 0;
  std::vector<OciLayerResult> layers;
  std::string docker_archive; // path of out_dir/docker-archive.tar
};

// Writes the image described above into out_dir. Each layer is write_tar(tree, mtime = created),
// hashed (diff_id), compressed with options.compression, hashed again (digest) and stored under
// its digest; identical layers share one blob. Writing the same inputs twice gives the same bytes
// in every file.
//
// Throws InputError for unusable inputs (no layers, a null tree, a negative or out-of-range
// `created`, an empty architecture/os, a ref_name that is not an OCI image-layout ref), SystemError
// if out_dir is missing, not a directory or not empty, or a file cannot be read or written. On an
// error no temporary file is left behind (files completed before it may remain; the caller
// removes its temporary out_dir).
OciImageResult write_oci_image(const std::vector<OciLayerInput> &layers, const ImageConfig &config,
                               const OciBuildOptions &options, const std::string &out_dir);

// RFC 3339 UTC timestamp of seconds since the epoch, "2024-01-02T03:04:05Z", independent of the
// locale and TZ. Throws InputError naming `what` for negative values or years past 9999.
std::string rfc3339_utc(int64_t seconds, const std::string &what);

// --- The parts of the writer that an imported image (oci_layout_import.hpp) shares -----------

// Whether `ref` is an org.opencontainers.image.ref.name (annotations.md's grammar).
bool is_valid_ref_name(const std::string &ref);

// The docker-archive RepoTags entry for an OCI ref: "hello:latest" as it is, "hello" or
// "localhost:5000/hello" with ":latest" appended. nullopt, with `why` set, when docker cannot name
// it so (a repository with upper case or other characters docker refuses, a bad tag).
std::optional<std::string> docker_repo_tag(const std::string &ref, std::string &why);

// Checks that out_dir is an empty directory and creates blobs/sha256 in it (mode 0755); returns
// the blob directory. Throws SystemError.
std::string create_oci_layout_dirs(const std::string &out_dir);

struct OciBlob {
  std::string hex; // sha256
  uint64_t size = 0;
};

// Stores one blob in blob_dir: `write` writes its bytes to the sink, which hashes them into the
// temporary file blob_dir/tmp_name; `check` (if given) sees the digest and size and may throw;
// then the file is renamed to blob_dir/<hex>. On an error the temporary file is removed.
OciBlob store_oci_blob(const std::string &blob_dir, const std::string &tmp_name,
                       const std::function<void(ByteSink &)> &write,
                       const std::function<void(const OciBlob &)> &check = {});

// What index.json, oci-layout and docker-archive.tar say about an image whose blobs are in
// OUT/blobs/sha256 already.
struct OciLayoutFiles {
  std::string manifest_media_type;
  std::string manifest_digest; // "sha256:..."
  uint64_t manifest_size = 0;
  std::string architecture; // the descriptor's platform; with `os` empty both: none
  std::string os;
  std::string ref_name; // the ref.name annotation (a valid one), empty: none
  std::string repo_tag; // docker-archive RepoTags (docker_repo_tag), empty: none
  std::string config_digest;
  std::vector<std::string> layer_digests; // in the manifest's order
  std::map<std::string, uint64_t> blobs;  // hex -> size: every blob of blobs/sha256
  int64_t mtime = 0;                      // of every docker-archive entry
};

// Writes out_dir/index.json (one descriptor), out_dir/oci-layout and out_dir/docker-archive.tar
// (the layout plus docker's manifest.json). Returns "sha256:..." of index.json's bytes. Throws
// InputError for text that is not UTF-8, SystemError for a file that cannot be written or read.
std::string write_oci_layout_files(const OciLayoutFiles &layout, const std::string &out_dir);

} // namespace mrforge::builder
