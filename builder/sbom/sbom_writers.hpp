// The two SBOM formats written from one SbomModel (sbom_model.hpp), and the pair of files every
// build output holds.
//
// SPDX 2.3 (https://spdx.github.io/spdx-spec/v2.3/, JSON as its schemas/spdx-schema.json): one
// document describing the image (SPDXRef-image); every element is a package (files of the output
// and local files too, with primaryPackagePurpose FILE or FIRMWARE and a SHA256 checksum, so that
// no SHA1 is needed; the kernel is OPERATING_SYSTEM, a .deb has no purpose); relationships DESCRIBES, CONTAINS,
// DEPENDS_ON and GENERATED_FROM. A Debian package's purl is an externalRef (PACKAGE-MANAGER purl), its .deb's sha256 a
// checksum, its source package sourceInfo. documentNamespace is https://mrforge.dev/spdx/NAME-HEX, HEX the sha256 of
// the document written without it.
//
// CycloneDX 1.6 (https://cyclonedx.org/docs/1.6/json/): metadata.component is the image, every
// other element a component (debs "library", the kernel "operating-system", OVMF.fd "firmware",
// files "file"), each with SHA-256 hashes; a deb's source package, its architecture and the
// guest sets are properties named "mrforge:deb:source", "mrforge:deb:source_version",
// "mrforge:deb:architecture" and "mrforge:guest:sets"; every relation becomes a dependsOn in
// "dependencies". serialNumber is a name-based UUID (version 5, RFC 4122 4.3, the URL namespace)
// of the sha256 of the document written without it.
//
// Both: created/timestamp is SOURCE_DATE_EPOCH (RFC 3339, UTC), elements and relations sorted,
// keys in a fixed order, two-space indentation and a final newline; no host path, user or clock.
#pragma once

#include <builder/sbom/sbom_model.hpp>
#include <builder/system/output_dir.hpp>

#include <nlohmann/json.hpp>

#include <map>
#include <string>

namespace mrforge::builder {

nlohmann::ordered_json spdx_document(const SbomModel &model);
nlohmann::ordered_json cyclonedx_document(const SbomModel &model);

// Writes k_sbom_spdx_file and k_sbom_cyclonedx_file into `dir` and returns file name -> sha256
// (lower-case hex) of each. Throws InputError for text that is not UTF-8, SystemError for the host.
std::map<std::string, std::string> write_sboms(const SbomModel &model, const std::string &dir);

} // namespace mrforge::builder
