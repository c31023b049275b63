// Importing one image, pinned by its manifest digest, from an OCI image layout on disk (one that
// `skopeo copy docker://... oci:DIR` or another tool wrote; image-spec v1.0.2 image-layout.md:
// oci-layout {"imageLayoutVersion": "1.0.0"}, index.json, blobs/sha256/<hex>).
//
// The pinned digest must be one of index.json's `manifests` and name a single-platform image
// manifest (application/vnd.oci.image.manifest.v1+json); an image index (a multi-platform image) is
// refused with a message saying to pin the platform's manifest digest. Every blob is checked fail
// closed before it is used: the manifest's sha256 is the pin and its size the descriptor's; the
// config and each layer exist, are regular files inside the layout (no symbolic link, FIFO or
// device), and have the size and sha256 the manifest gives them. They are copied byte for byte while
// they are hashed (a layer may be GiBs: streamed, never held in memory), and the output is written
// with oci_image.hpp's writer: the same files as for a built image, a function of the blobs and the
// ref only (docker-archive entries have mtime 0: the layout has no build time of its own).
#pragma once

#include <builder/oci/oci_image.hpp>

#include <functional>
#include <string>

namespace mrforge::builder {

struct OciLayoutImportOptions {
  std::string layout_dir;      // the OCI layout read (may itself be a symbolic link)
  std::string manifest_digest; // "sha256:HEX": the pin
  // The image's name: the ref.name annotation of index.json when it is a valid one, the
  // docker-archive's RepoTags when docker can name it so; otherwise left out.
  std::string ref;
  std::function<void(const std::string &)> progress; // optional
};

// Verifies the pinned image of options.layout_dir and writes it into out_dir (existing, empty; the
// caller builds into a temporary directory). The result's layers have no name or diff_id (the
// layout does not give them without unpacking). Throws InputError naming the file (LAYOUT/index.json,
// LAYOUT/blobs/sha256/HEX) and what differs for a malformed or mismatching layout, SystemError for a
// file that cannot be read (missing, a symbolic link, not a regular file, too large) or written.
OciImageResult import_oci_layout(const OciLayoutImportOptions &options, const std::string &out_dir);

} // namespace mrforge::builder
