#include <builder/sbom/sbom_writers.hpp>

#include <builder/oci/oci_image.hpp>

#include <measure/util/errors.hpp>
#include <measure/util/file_io.hpp>
#include <measure/util/hash.hpp>
#include <measure/util/strings.hpp>

#include <optional>
#include <set>

namespace mrforge::builder {

namespace {

using OJson = nlohmann::ordered_json;

constexpr const char *k_no_assertion = "NOASSERTION";

// RFC 4122 4.3's URL namespace (6ba7b811-9dad-11d1-80b4-00c04fd430c8), for the serial number.
constexpr uint8_t k_url_namespace[16] = {0x6b, 0xa7, 0xb8, 0x11, 0x9d, 0xad, 0x11, 0xd1,
                                         0x80, 0xb4, 0x00, 0xc0, 0x4f, 0xd4, 0x30, 0xc8};

std::string dump(const OJson &j, const std::string &what) {
  try {
    return j.dump(2, ' ', false, nlohmann::json::error_handler_t::strict) + "\n";
  } catch (const nlohmann::json::type_error &e) {
    throw InputError(what, std::string("holds text that is not UTF-8 (a package or file name?): ") + e.what());
  }
}

std::string content_hash(const OJson &j, const std::string &what) {
  return to_hex(sha256(ByteView::of(dump(j, what))));
}

// A name-based UUID, version 5 (RFC 4122 4.3): SHA-1 of the namespace and the name.
std::string uuid_v5(const std::string &name) {
  Bytes input(std::begin(k_url_namespace), std::end(k_url_namespace));
  input.insert(input.end(), name.begin(), name.end());
  std::optional<Bytes> sha1 = digest_by_name("SHA1", ByteView(input.data(), input.size()));
  if (!sha1 || sha1->size() < 16) throw Error("SBOM serial number: this OpenSSL provides no SHA-1");
  Bytes u(sha1->begin(), sha1->begin() + 16);
  u[6] = static_cast<uint8_t>((u[6] & 0x0f) | 0x50);
  u[8] = static_cast<uint8_t>((u[8] & 0x3f) | 0x80);
  std::string hex = to_hex(ByteView(u.data(), u.size()));
  return hex.substr(0, 8) + "-" + hex.substr(8, 4) + "-" + hex.substr(12, 4) + "-" + hex.substr(16, 4) + "-" +
         hex.substr(20);
}

// SPDXRef-KIND-NAME: the ref's kind, then its name with every character outside [A-Za-z0-9.]
// written as -XX, so that two refs never share an identifier.
std::string spdx_id(const std::string &ref) {
  size_t colon = ref.find(':');
  if (colon == std::string::npos) return "SPDXRef-" + ref;
  auto keep = [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.';
  };
  return "SPDXRef-" + ref.substr(0, colon) + "-" + escape_bytes(ref.substr(colon + 1), keep, '-');
}

// A CycloneDX bom-ref: a package's purl, otherwise the model's ref.
std::string bom_ref(const SbomModel &m, const std::string &ref) {
  for (const SbomPackage &p : m.packages)
    if (p.ref == ref) return p.purl;
  if (m.kernel && m.kernel->ref == ref) return m.kernel->purl;
  return ref;
}

OJson spdx_checksum(const std::string &sha256_hex) {
  return OJson::array({OJson{{"algorithm", "SHA256"}, {"checksumValue", sha256_hex}}});
}

OJson spdx_common(OJson p) {
  p["licenseConcluded"] = k_no_assertion;
  p["licenseDeclared"] = k_no_assertion;
  p["copyrightText"] = k_no_assertion;
  return p;
}

OJson spdx_deb(const SbomPackage &p, const char *purpose) {
  OJson j;
  j["SPDXID"] = spdx_id(p.ref);
  j["name"] = p.name;
  j["versionInfo"] = p.version;
  j["packageFileName"] = p.file_name;
  j["supplier"] = k_no_assertion;
  j["downloadLocation"] = k_no_assertion;
  j["filesAnalyzed"] = false;
  j["checksums"] = spdx_checksum(p.sha256);
  j["sourceInfo"] = "built from Debian source package " + p.source_name + " " + p.source_version;
  if (purpose != nullptr) j["primaryPackagePurpose"] = purpose;
  j["externalRefs"] = OJson::array(
      {OJson{{"referenceCategory", "PACKAGE-MANAGER"}, {"referenceType", "purl"}, {"referenceLocator", p.purl}}});
  if (!p.sets.empty()) j["comment"] = "guest image sets: " + join(p.sets, ", ");
  return spdx_common(std::move(j));
}

OJson spdx_file(const SbomFile &f, const char *purpose, const std::string &comment) {
  OJson j;
  j["SPDXID"] = spdx_id(f.ref);
  j["name"] = f.name;
  j["packageFileName"] = f.name;
  j["downloadLocation"] = k_no_assertion;
  j["filesAnalyzed"] = false;
  j["checksums"] = spdx_checksum(f.sha256);
  j["primaryPackagePurpose"] = purpose;
  j["comment"] = comment;
  return spdx_common(std::move(j));
}

const char *artifact_purpose(const SbomFile &f) { return f.name == "OVMF.fd" ? "FIRMWARE" : "FILE"; }

OJson cdx_hashes(const std::string &sha256_hex) {
  return OJson::array({OJson{{"alg", "SHA-256"}, {"content", sha256_hex}}});
}

OJson cdx_deb(const SbomPackage &p, const char *type) {
  OJson j;
  j["type"] = type;
  j["bom-ref"] = p.purl;
  j["name"] = p.name;
  j["version"] = p.version;
  j["hashes"] = cdx_hashes(p.sha256);
  j["purl"] = p.purl;
  OJson props = OJson::array();
  props.push_back({{"name", "mrforge:deb:architecture"}, {"value", p.architecture}});
  props.push_back({{"name", "mrforge:deb:file_name"}, {"value", p.file_name}});
  props.push_back({{"name", "mrforge:deb:source"}, {"value", p.source_name}});
  props.push_back({{"name", "mrforge:deb:source_version"}, {"value", p.source_version}});
  if (!p.sets.empty()) props.push_back({{"name", "mrforge:guest:sets"}, {"value", join(p.sets, ",")}});
  j["properties"] = props;
  return j;
}

OJson cdx_file(const SbomFile &f, const char *type, const char *scope_note) {
  OJson j;
  j["type"] = type;
  j["bom-ref"] = f.ref;
  j["name"] = f.name;
  j["hashes"] = cdx_hashes(f.sha256);
  j["properties"] = OJson::array({OJson{{"name", "mrforge:file:origin"}, {"value", scope_note}}});
  return j;
}

} // namespace

nlohmann::ordered_json spdx_document(const SbomModel &m) {
  const std::string created = rfc3339_utc(m.created, "SBOM: SOURCE_DATE_EPOCH");
  OJson packages = OJson::array();
  {
    OJson root;
    root["SPDXID"] = spdx_id(k_sbom_image_ref);
    root["name"] = m.name;
    root["versionInfo"] = m.version;
    root["downloadLocation"] = k_no_assertion;
    root["filesAnalyzed"] = false;
    root["primaryPackagePurpose"] = m.kind == "OciImage" ? "CONTAINER" : "OPERATING_SYSTEM";
    if (!m.purl.empty())
      root["externalRefs"] = OJson::array(
          {OJson{{"referenceCategory", "PACKAGE-MANAGER"}, {"referenceType", "purl"}, {"referenceLocator", m.purl}}});
    root["comment"] = m.kind == "OciImage" ? "OCI image, manifest digest " + m.digest
                                           : "TDX guest image, digest.txt " + m.digest + " (sha256 of sha256sum.txt)";
    packages.push_back(spdx_common(std::move(root)));
  }
  for (const SbomFile &f : m.artifacts)
    packages.push_back(spdx_file(f, artifact_purpose(f), "a file of the build output"));
  for (const SbomPackage &p : m.packages) packages.push_back(spdx_deb(p, nullptr)); // a .deb may hold anything
  if (m.kernel) packages.push_back(spdx_deb(*m.kernel, "OPERATING_SYSTEM"));
  for (const SbomFile &f : m.local_files)
    packages.push_back(spdx_file(f, "FILE", "a local file of the recipe (path relative to the recipe's folder)"));

  OJson relationships = OJson::array();
  relationships.push_back(OJson{{"spdxElementId", "SPDXRef-DOCUMENT"},
                                {"relationshipType", "DESCRIBES"},
                                {"relatedSpdxElement", spdx_id(k_sbom_image_ref)}});
  for (const SbomRelation &r : m.relations)
    relationships.push_back(
        OJson{{"spdxElementId", spdx_id(r.from)}, {"relationshipType", r.type}, {"relatedSpdxElement", spdx_id(r.to)}});

  OJson doc;
  doc["spdxVersion"] = "SPDX-2.3";
  doc["dataLicense"] = "CC0-1.0";
  doc["SPDXID"] = "SPDXRef-DOCUMENT";
  doc["name"] = m.name + ":" + m.version;
  doc["documentNamespace"] = ""; // replaced below
  doc["creationInfo"] = OJson{{"created", created}, {"creators", OJson::array({"Tool: " + m.tool})}};
  doc["packages"] = packages;
  doc["relationships"] = relationships;
  OJson without = doc;
  without.erase("documentNamespace");
  std::string name;
  for (char c : m.name) name += (c == '/' || c == ' ') ? '-' : c;
  doc["documentNamespace"] = "https://mrforge.dev/spdx/" + name + "-" + content_hash(without, "SPDX SBOM");
  return doc;
}

nlohmann::ordered_json cyclonedx_document(const SbomModel &m) {
  const std::string created = rfc3339_utc(m.created, "SBOM: SOURCE_DATE_EPOCH");
  OJson root;
  root["type"] = m.kind == "OciImage" ? "container" : "operating-system";
  root["bom-ref"] = k_sbom_image_ref;
  root["name"] = m.name;
  root["version"] = m.version;
  if (!m.purl.empty()) root["purl"] = m.purl;
  root["properties"] = OJson::array({OJson{
      {"name", m.kind == "OciImage" ? "mrforge:oci:manifest_digest" : "mrforge:guest:digest"}, {"value", m.digest}}});

  OJson components = OJson::array();
  for (const SbomFile &f : m.artifacts)
    components.push_back(cdx_file(f, f.name == "OVMF.fd" ? "firmware" : "file", "build output"));
  for (const SbomPackage &p : m.packages) components.push_back(cdx_deb(p, "library"));
  if (m.kernel) components.push_back(cdx_deb(*m.kernel, "operating-system"));
  for (const SbomFile &f : m.local_files) components.push_back(cdx_file(f, "file", "recipe"));

  // Every element once, with what it needs (sorted); the writer's order is the model's.
  std::map<std::string, std::set<std::string>> needs;
  needs[k_sbom_image_ref];
  for (const OJson &c : components) needs[c["bom-ref"].get<std::string>()];
  for (const SbomRelation &r : m.relations) needs[bom_ref(m, r.from)].insert(bom_ref(m, r.to));
  OJson dependencies = OJson::array();
  for (const auto &[ref, on] : needs)
    dependencies.push_back(OJson{{"ref", ref}, {"dependsOn", OJson(std::vector<std::string>(on.begin(), on.end()))}});

  OJson doc;
  doc["$schema"] = "http://cyclonedx.org/schema/bom-1.6.schema.json";
  doc["bomFormat"] = "CycloneDX";
  doc["specVersion"] = "1.6";
  doc["serialNumber"] = ""; // replaced below
  doc["version"] = 1;
  doc["metadata"] =
      OJson{{"timestamp", created},
            {"tools", OJson{{"components", OJson::array({OJson{{"type", "application"},
                                                               {"name", m.tool.substr(0, m.tool.find(' '))},
                                                               {"version", m.tool.substr(m.tool.find(' ') + 1)}}})}}},
            {"component", root}};
  doc["components"] = components;
  doc["dependencies"] = dependencies;
  OJson without = doc;
  without.erase("serialNumber");
  doc["serialNumber"] = "urn:uuid:" + uuid_v5("mrforge:sbom:" + content_hash(without, "CycloneDX SBOM"));
  return doc;
}

std::map<std::string, std::string> write_sboms(const SbomModel &model, const std::string &dir) {
  std::map<std::string, std::string> digests;
  for (const auto &[name, doc] : {std::pair<std::string, OJson>{k_sbom_spdx_file, spdx_document(model)},
                                  std::pair<std::string, OJson>{k_sbom_cyclonedx_file, cyclonedx_document(model)}}) {
    std::string text = dump(doc, name);
    write_file_atomically(dir + "/" + name, text);
    digests[name] = to_hex(sha256(ByteView::of(text)));
  }
  return digests;
}

} // namespace mrforge::builder
