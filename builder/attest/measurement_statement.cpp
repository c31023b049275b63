// The statement is assembled from the output directory's own records (mrforge-build.json,
// sha256sum.txt, metadata.json, measurements.json, index.json), and every file it names is hashed
// on the way: a statement never claims a digest that the directory does not have.
#include <builder/attest/measurement_statement.hpp>

#include <builder/system/output_dir.hpp>
#include <builder/system/store.hpp>

#include <measure/documents/dstack_app.hpp>
#include <measure/documents/json_fields.hpp>
#include <measure/documents/json_text.hpp>
#include <measure/documents/measurement_json.hpp>
#include <measure/util/errors.hpp>
#include <measure/util/hash.hpp>
#include <measure/util/mapped_file.hpp>

#include <algorithm>
#include <filesystem>
#include <limits>
#include <map>
#include <set>

namespace fs = std::filesystem;

namespace mrforge::builder {

namespace {

using OJson = nlohmann::ordered_json;

constexpr size_t k_max_subjects = 4096; // far more than any output directory holds
constexpr size_t k_max_shapes = 1024;

void require_hex(const std::string &s, size_t bytes, const std::string &what) {
  if (!is_lower_hex(s, 2 * bytes))
    throw InputError(what, "expected " + std::to_string(2 * bytes) + " lower-case hex digits, got '" +
                               s.substr(0, 2 * bytes + 8) + (s.size() > 2 * bytes + 8 ? "...'" : "'"));
}

// A subject or artifact name: a relative path inside the output directory.
void require_relative_name(const std::string &name, const std::string &what) {
  if (name.empty() || name.front() == '/' || name.back() == '/' || name.find('\0') != std::string::npos)
    throw InputError(what, "'" + name + "' is not a file name inside the output directory");
  size_t start = 0;
  while (start <= name.size()) {
    size_t end = name.find('/', start);
    if (end == std::string::npos) end = name.size();
    std::string part = name.substr(start, end - start);
    if (part.empty() || part == "." || part == "..")
      throw InputError(what, "'" + name + "' is not a file name inside the output directory");
    start = end + 1;
  }
}

std::string path_in(const std::string &dir, const std::string &name) { return dir + "/" + name; }

void require_file(const std::string &path) {
  std::error_code ec;
  if (!fs::is_regular_file(path, ec))
    throw InputError(path, "missing (or not a regular file): not a complete `mrforge build` output directory");
}

// DIR/NAME of an output directory, read inside it (never through a symbolic link).
Bytes read_required(const std::string &dir, const std::string &name, FileLimit limit) {
  require_file(path_in(dir, name));
  return InputFile::open_in(dir, name, limit).read_all();
}

OJson read_json_file(const std::string &dir, const std::string &name) {
  Bytes b = read_required(dir, name, limits::k_json_document);
  return parse_json_text<OJson>(b, path_in(dir, name));
}

// Typed field access for the records the build wrote (and for untrusted statements).
uint64_t uint_field(const OJson &obj, const char *key, const std::string &what) {
  const OJson &v = json_field(obj, key, what);
  if (!v.is_number_unsigned()) throw InputError(what + "." + key, "expected a non-negative integer");
  return v.get<uint64_t>();
}

std::string hex_field(const OJson &obj, const char *key, size_t bytes, const std::string &what) {
  std::string s = json_string_field(obj, key, what);
  require_hex(s, bytes, what + "." + key);
  return s;
}

// "sha256:HEX" -> HEX
std::string oci_digest_hex(const std::string &digest, const std::string &what) {
  if (digest.compare(0, 7, "sha256:") != 0) throw InputError(what, "expected sha256:HEX, got '" + digest + "'");
  std::string hex = digest.substr(7);
  require_hex(hex, 32, what);
  return hex;
}

// Hashes DIR/NAME and requires `expected` (when not empty).
std::string hash_subject(const std::string &dir, const std::string &name, const std::string &expected,
                         const std::string &recorded_in) {
  std::string path = path_in(dir, name);
  require_file(path);
  std::string got = digest_file(InputFile::open_in(dir, name, limits::k_artifact)).sha256_hex;
  if (!expected.empty() && got != expected)
    throw InputError(path, "sha256 is " + got + " but " + recorded_in + " says " + expected +
                               ": the output directory was changed after the build (rebuild it, or find out what "
                               "changed it with `mrforge diff`)");
  return got;
}

OJson subject_json(const std::string &name, const std::string &sha256_hex) {
  return OJson{{"name", name}, {"digest", OJson{{"sha256", sha256_hex}}}};
}

OJson sorted_subjects(std::map<std::string, std::string> subjects) {
  OJson out = OJson::array();
  for (const auto &[name, digest] : subjects) out.push_back(subject_json(name, digest));
  return out;
}

// The SBOMs (sbom.spdx.json, sbom.cdx.json) of a GuestImage or OciImage output: subjects, each
// with the sha256 the build record's "sbom" object holds.
void add_sbom_subjects(const std::string &out, const OJson &record, std::map<std::string, std::string> &subjects) {
  const std::string record_path = path_in(out, k_build_record);
  const OJson &sbom = json_field(record, k_sbom_record_field, record_path);
  if (!sbom.is_object())
    throw InputError(record_path + "." + k_sbom_record_field, "expected an object {file name: sha256}");
  for (const char *name : {k_sbom_spdx_file, k_sbom_cyclonedx_file}) {
    const std::string where = record_path + "." + k_sbom_record_field;
    subjects[name] = hash_subject(out, name, hex_field(sbom, name, 32, where), where);
  }
}

// sha256sum.txt: "HEX  NAME\n" per file, sorted by name.
std::map<std::string, std::string> read_sha256sums(const std::string &dir, const std::string &file) {
  const std::string path = path_in(dir, file);
  Bytes b = read_required(dir, file, limits::k_text_record);
  std::string text(b.begin(), b.end());
  std::map<std::string, std::string> out;
  size_t pos = 0, line_no = 0;
  while (pos < text.size()) {
    size_t end = text.find('\n', pos);
    if (end == std::string::npos)
      throw FormatError(path, pos, "line " + std::to_string(line_no + 1) + " does not end with a newline");
    std::string line = text.substr(pos, end - pos);
    ++line_no;
    if (line.size() < 67 || line[64] != ' ' || line[65] != ' ' || !is_lower_hex(line.substr(0, 64), 64))
      throw FormatError(path, pos, "line " + std::to_string(line_no) + ": expected 'HEX  NAME'");
    std::string name = line.substr(66);
    require_relative_name(name, path + ": line " + std::to_string(line_no));
    if (!out.emplace(name, line.substr(0, 64)).second)
      throw FormatError(path, pos, "line " + std::to_string(line_no) + ": '" + name + "' is listed twice");
    if (out.size() > k_max_subjects) throw FormatError(path, pos, "more than 4096 files listed");
    pos = end + 1;
  }
  if (out.empty()) throw InputError(path, "lists no files");
  return out;
}

// measurements.json's "mrtd"/"rtmr0-2"/"events" re-emitted canonically from the parsed values.
void put_measurement(OJson &shape, const ExpectedValues &ev) {
  shape["mrtd"] = ev.mrtd ? OJson(to_hex(*ev.mrtd)) : OJson(nullptr);
  for (size_t i = 0; i < 3; ++i) shape["rtmr" + std::to_string(i)] = ev.rtmr[i] ? OJson(to_hex(*ev.rtmr[i])) : OJson();
  shape["events"] = OJson::array();
  for (const Event &e : ev.events) shape["events"].push_back(event_json(e));
}

OJson guest_predicate(const std::string &out, const OJson &record, std::map<std::string, std::string> &subjects) {
  const std::string record_path = path_in(out, k_build_record);

  std::map<std::string, std::string> sums = read_sha256sums(out, "sha256sum.txt");
  for (const auto &[name, digest] : sums) subjects[name] = hash_subject(out, name, digest, "sha256sum.txt");

  // digest.txt is the sha256 of sha256sum.txt: checked, not a subject (sha256sum.txt's lines are).
  std::string digest_path = path_in(out, "digest.txt");
  if (fs::exists(digest_path)) {
    Bytes d = InputFile::open_in(out, "digest.txt", limits::k_text_record).read_all();
    Bytes s = InputFile::open_in(out, "sha256sum.txt", limits::k_text_record).read_all();
    std::string want = to_hex(sha256(ByteView(s.data(), s.size()))) + "\n";
    if (std::string(d.begin(), d.end()) != want)
      throw InputError(digest_path, "is not the sha256 of sha256sum.txt: the output directory was changed after the "
                                    "build");
  }

  std::string lock_sha = hex_field(record, "lock_sha256", 32, record_path);
  subjects["recipe.lock"] = hash_subject(out, "recipe.lock", lock_sha, record_path + " (lock_sha256)");
  add_sbom_subjects(out, record, subjects);

  // The artifacts and their roles, each one of sha256sum.txt's files with the same digest.
  const OJson &artifacts = json_field(record, "artifacts", record_path);
  if (!artifacts.is_array()) throw InputError(record_path + ".artifacts", "expected an array");
  OJson roles = OJson::object();
  std::string firmware_name, firmware_sha;
  for (size_t i = 0; i < artifacts.size(); ++i) {
    std::string where = record_path + ".artifacts[" + std::to_string(i) + "]";
    std::string role = json_string_field(artifacts[i], "role", where);
    std::string name = json_string_field(artifacts[i], "name", where);
    std::string sha = hex_field(artifacts[i], "sha256", 32, where);
    auto it = sums.find(name);
    if (it == sums.end() || it->second != sha)
      throw InputError(where, "'" + name + "' is not listed in sha256sum.txt with sha256 " + sha);
    if (roles.contains(role)) throw InputError(where + ".role", "role '" + role + "' appears twice");
    roles[role] = name;
    if (role == "bios") firmware_name = name, firmware_sha = sha;
  }
  if (firmware_name.empty()) throw InputError(record_path + ".artifacts", "no artifact with role bios (the firmware)");

  // The command line: metadata.json (what a VM launcher reads) and the build record must agree.
  const std::string metadata_path = path_in(out, "metadata.json");
  std::string cmdline = json_string_field(read_json_file(out, "metadata.json"), "cmdline", metadata_path);
  if (json_string_field(record, "cmdline", record_path) != cmdline)
    throw InputError(record_path + ".cmdline", "differs from metadata.json's cmdline");

  const std::string measurements_path = path_in(out, "measurements.json");
  OJson measurements = read_json_file(out, "measurements.json");
  const OJson &shapes_in = json_field(measurements, "shapes", measurements_path);
  if (!shapes_in.is_array() || shapes_in.empty())
    throw InputError(measurements_path + ".shapes", "expected a non-empty array");
  OJson shapes = OJson::array();
  for (size_t i = 0; i < shapes_in.size(); ++i) {
    const OJson &s = shapes_in[i];
    std::string where = measurements_path + ": shapes[" + std::to_string(i) + "]";
    ExpectedValues ev = expected_values_from_json(s, where);
    if (!ev.mrtd || !ev.rtmr[0] || !ev.rtmr[1] || !ev.rtmr[2])
      throw InputError(where, "a guest build's shape must hold MRTD and RTMR0-2");
    if (s.contains("inputs") && s["inputs"].is_object() && s["inputs"].contains("cmdline") &&
        s["inputs"]["cmdline"] != cmdline)
      throw InputError(where + ".inputs.cmdline", "differs from metadata.json's cmdline");
    OJson shape;
    shape["profile"] = json_string_field(s, "profile", where);
    shape["ovmf_variant"] = json_string_field(s, "ovmf_variant", where);
    shape["cpus"] = uint_field(s, "cpus", where);
    shape["memory_bytes"] = uint_field(s, "memory_bytes", where);
    // measurements.json's acpi object (source, origin, the three digests, the VM shape), as it is.
    const OJson &acpi = json_field(s, "acpi", where);
    if (!acpi.is_object()) throw InputError(where + ".acpi", "expected an object {source, origin, ...}");
    json_string_field(acpi, "origin", where + ".acpi");
    shape["acpi"] = acpi;
    shape["firmware"] = OJson{{"name", firmware_name}, {"sha256", firmware_sha}};
    shape["cmdline"] = cmdline;
    put_measurement(shape, ev);
    shapes.push_back(std::move(shape));
  }

  OJson p;
  p["builder"] = OJson{{"tool", json_string_field(record, "tool", record_path)}};
  p["recipe"] = OJson{{"name", json_string_field(record, "recipe", record_path)},
                      {"sha256", hex_field(record, "recipe_sha256", 32, record_path)}};
  p["lock"] = OJson{{"sha256", lock_sha}};
  p["kind"] = "GuestImage";
  p["cmdline"] = cmdline;
  p["artifacts"] = roles;
  p["shapes"] = shapes;
  return p;
}

bool is_pinned_image_record(const OJson &record) {
  auto source = record.find("source");
  return source != record.end() && *source == k_app_source_oci_layout;
}

// An OCI output's image: index.json and the manifests it lists as subjects (the record's manifest
// among them), docker-archive.tar, and the digests the record gives. A pinned image's layers have
// no name or diff_id (build record of import_pinned_oci).
OJson oci_image_object(const std::string &out, const OJson &record, std::map<std::string, std::string> &subjects) {
  const std::string record_path = path_in(out, k_build_record);
  const std::string index_path = path_in(out, "index.json");
  const bool pinned = is_pinned_image_record(record);

  std::string manifest_hex =
      oci_digest_hex(json_string_field(record, "manifest_digest", record_path), record_path + ".manifest_digest");
  std::string index_hex =
      oci_digest_hex(json_string_field(record, "index_digest", record_path), record_path + ".index_digest");
  subjects["index.json"] = hash_subject(out, "index.json", index_hex, record_path + " (index_digest)");

  const OJson index = read_json_file(out, "index.json");
  const OJson &manifests = json_field(index, "manifests", index_path);
  if (!manifests.is_array() || manifests.empty())
    throw InputError(index_path + ".manifests", "expected a non-empty array");
  bool found = false;
  for (size_t i = 0; i < manifests.size(); ++i) {
    std::string where = index_path + ".manifests[" + std::to_string(i) + "]";
    std::string hex = oci_digest_hex(json_string_field(manifests[i], "digest", where), where + ".digest");
    std::string name = "blobs/sha256/" + hex;
    subjects[name] = hash_subject(out, name, hex, "its name");
    found |= hex == manifest_hex;
  }
  if (!found) throw InputError(record_path + ".manifest_digest", "is not one of index.json's manifests");
  subjects["docker-archive.tar"] = hash_subject(out, "docker-archive.tar", "", "");

  OJson layers = OJson::array();
  const OJson &layers_in = json_field(record, "layers", record_path);
  if (!layers_in.is_array()) throw InputError(record_path + ".layers", "expected an array");
  for (size_t i = 0; i < layers_in.size(); ++i) {
    std::string where = record_path + ".layers[" + std::to_string(i) + "]";
    const OJson &l = layers_in[i];
    std::string digest = json_string_field(l, "digest", where);
    oci_digest_hex(digest, where + ".digest");
    OJson layer;
    if (!pinned) {
      std::string diff_id = json_string_field(l, "diff_id", where);
      oci_digest_hex(diff_id, where + ".diff_id");
      layer["name"] = json_string_field(l, "name", where);
      layer["digest"] = digest;
      layer["diff_id"] = diff_id;
    } else {
      layer["digest"] = digest;
    }
    layer["size"] = uint_field(l, "size", where);
    layer["media_type"] = json_string_field(l, "media_type", where);
    layers.push_back(std::move(layer));
  }
  std::string config = json_string_field(record, "config_digest", record_path);
  oci_digest_hex(config, record_path + ".config_digest");
  return OJson{{"manifest_digest", "sha256:" + manifest_hex},
               {"config_digest", config},
               {"index_digest", "sha256:" + index_hex},
               {"ref", json_string_field(record, "ref", record_path)},
               {"layers", layers}};
}

OJson oci_predicate(const std::string &out, const OJson &record, std::map<std::string, std::string> &subjects) {
  const std::string record_path = path_in(out, k_build_record);
  if (is_pinned_image_record(record))
    throw InputError(record_path, "is a service image pinned from an OCI layout: sign the app output it belongs to");
  OJson oci = oci_image_object(out, record, subjects);
  add_sbom_subjects(out, record, subjects); // a built image's; a pinned one has none
  OJson p;
  p["builder"] = OJson{{"tool", json_string_field(record, "tool", record_path)}};
  p["recipe"] = OJson{{"name", json_string_field(record, "recipe", record_path)},
                      {"sha256", hex_field(record, "recipe_sha256", 32, record_path)}};
  p["lock"] = OJson{{"sha256", hex_field(record, "lock_sha256", 32, record_path)}};
  p["kind"] = "OciImage";
  p["shapes"] = OJson::array();
  p["oci"] = oci;
  return p;
}

// A DstackApp output: app-compose.json (whose sha256 is the compose hash), the compose file it
// embeds, mrforge-app.json, and every service's OCI image (images/NAME, its subjects prefixed).
OJson app_predicate(const std::string &out, const OJson &record, std::map<std::string, std::string> &subjects) {
  const std::string record_path = path_in(out, k_build_record);
  std::string compose_hash = hex_field(record, "compose_hash", 32, record_path);
  subjects[k_app_compose_file] = hash_subject(out, k_app_compose_file, compose_hash, record_path + " (compose_hash)");
  subjects[k_app_record_file] = hash_subject(out, k_app_record_file, "", "");
  subjects["docker-compose.yaml"] = hash_subject(out, "docker-compose.yaml", "", "");
  AppRecord app =
      parse_app_record(read_required(out, k_app_record_file, limits::k_json_document), path_in(out, k_app_record_file));
  if (app.compose_hash != compose_hash)
    throw InputError(path_in(out, k_app_record_file) + ".compose_hash", "differs from " + record_path);
  Bytes compose_json = read_required(out, k_app_compose_file, limits::k_json_document);
  AppComposeContent content = parse_app_compose(compose_json, path_in(out, k_app_compose_file));
  Bytes compose_yaml = read_required(out, "docker-compose.yaml", limits::k_json_document);
  if (std::string(compose_yaml.begin(), compose_yaml.end()) != content.compose_file)
    throw InputError(path_in(out, "docker-compose.yaml"), "is not the compose file app-compose.json embeds");
  std::map<std::string, std::string> images(content.images.begin(), content.images.end());

  OJson services = OJson::array();
  for (const AppServiceRecord &svc : app.services) {
    const std::string where = path_in(out, k_app_record_file) + ": service " + svc.name;
    if (svc.output != "images/" + svc.name) throw InputError(where + ".output", "expected images/" + svc.name);
    if (images[svc.name] != svc.image)
      throw InputError(where + ".image", "is not the image app-compose.json's compose file names");
    const std::string dir = path_in(out, svc.output);
    const OJson service_record = read_json_file(dir, k_build_record);
    std::map<std::string, std::string> own;
    const bool pinned = svc.source == k_app_source_oci_layout;
    if (pinned != is_pinned_image_record(service_record))
      throw InputError(where + ".source", "is " + svc.source + ", but " + path_in(dir, k_build_record) + " is not");
    if (pinned && json_string_field(service_record, "oci_layout", path_in(dir, k_build_record)) != svc.oci_layout)
      throw InputError(where + ".oci_layout", "is not the layout " + path_in(dir, k_build_record) + " names");
    OJson entry{{"name", svc.name}, {"image", svc.image}, {"source", svc.source}};
    OJson oci;
    if (pinned) {
      oci = oci_image_object(dir, service_record, own);
      entry["oci_layout"] = svc.oci_layout;
    } else {
      OJson built = oci_predicate(dir, service_record, own);
      entry["recipe"] = built["recipe"];
      entry["lock"] = built["lock"];
      oci = built["oci"];
    }
    if (oci["manifest_digest"] != svc.digest)
      throw InputError(where + ".digest", "is not the manifest digest of " + dir);
    for (const auto &[name, digest] : own) subjects[svc.output + "/" + name] = digest;
    entry["oci"] = oci;
    services.push_back(std::move(entry));
  }
  OJson p;
  p["builder"] = OJson{{"tool", json_string_field(record, "tool", record_path)}};
  p["recipe"] = OJson{{"name", json_string_field(record, "recipe", record_path)},
                      {"sha256", hex_field(record, "recipe_sha256", 32, record_path)}};
  p["kind"] = "DstackApp";
  p["shapes"] = OJson::array();
  p["app"] = OJson{{"name", app.name},
                   {"compose_hash", app.compose_hash},
                   {"app_id", app.app_id},
                   {"app_id_source", app.app_id_pinned ? "recipe" : "compose-hash"},
                   {"key_provider", app.key_provider},
                   {"no_instance_id", app.no_instance_id},
                   {"services", services}};
  return p;
}

// --- parsing ---------------------------------------------------------------------------------

StatementShape parse_shape(const OJson &s, const std::string &where) {
  StatementShape shape;
  shape.profile = json_string_field(s, "profile", where);
  shape.ovmf_variant = json_string_field(s, "ovmf_variant", where);
  uint64_t cpus = uint_field(s, "cpus", where);
  if (cpus == 0 || cpus > std::numeric_limits<unsigned>::max())
    throw InputError(where + ".cpus", "expected a vCPU count of at least 1");
  shape.cpus = static_cast<unsigned>(cpus);
  shape.memory_bytes = uint_field(s, "memory_bytes", where);
  if (shape.memory_bytes == 0) throw InputError(where + ".memory_bytes", "expected a memory size above 0");
  const OJson &acpi = json_field(s, "acpi", where);
  if (!acpi.is_object()) throw InputError(where + ".acpi", "expected an object {source, origin, ...}");
  shape.acpi = json_string_field(acpi, "origin", where + ".acpi");
  shape.acpi_record = acpi;
  shape.cmdline = json_string_field(s, "cmdline", where);
  const OJson &fw = json_field(s, "firmware", where);
  shape.firmware_name = json_string_field(fw, "name", where + ".firmware");
  shape.firmware_sha256 = hex_field(fw, "sha256", 32, where + ".firmware");

  // Lower-case hex only (the form we write), then the shared reader.
  const OJson &mrtd = json_field(s, "mrtd", where);
  if (!mrtd.is_null()) {
    if (!mrtd.is_string()) throw InputError(where + ".mrtd", "expected a SHA-384 hex string or null");
    require_hex(mrtd.get<std::string>(), 48, where + ".mrtd");
  }
  for (const char *k : {"rtmr0", "rtmr1", "rtmr2"}) hex_field(s, k, 48, where);
  const OJson &events = json_field(s, "events", where);
  if (!events.is_array()) throw InputError(where + ".events", "expected an array");
  for (size_t i = 0; i < events.size(); ++i) {
    std::string ew = where + ".events[" + std::to_string(i) + "]";
    hex_field(events[i], "digest", 48, ew);
  }
  shape.expected = expected_values_from_json(s, where);

  // The events must fold to the registers the shape states (a statement that contradicts itself
  // is refused here, before anything is compared with it).
  if (!shape.expected.events.empty()) {
    std::array<Sha384, 3> folded{};
    for (const Event &e : shape.expected.events) extend(folded[static_cast<size_t>(e.reg)], e.digest);
    for (size_t i = 0; i < 3; ++i)
      if (folded[i] != *shape.expected.rtmr[i])
        throw InputError(where + ".rtmr" + std::to_string(i),
                         "the shape's events fold to " + to_hex(folded[i]) + ", not to the stated value");
  }
  return shape;
}

} // namespace

nlohmann::ordered_json make_statement(const std::string &out_dir) {
  std::string out = out_dir;
  while (out.size() > 1 && out.back() == '/') out.pop_back();
  std::error_code ec;
  if (!fs::is_directory(out, ec)) throw InputError(out_dir, "not a directory (expected a `mrforge build` output)");
  const OJson record = read_json_file(out, k_build_record);
  if (!record.is_object()) throw InputError(path_in(out, k_build_record), "expected a JSON object");

  std::map<std::string, std::string> subjects;
  OJson predicate;
  if (record.contains("compose_hash"))
    predicate = app_predicate(out, record, subjects);
  else if (record.contains("manifest_digest"))
    predicate = oci_predicate(out, record, subjects);
  else
    predicate = guest_predicate(out, record, subjects);

  OJson st;
  st["_type"] = k_in_toto_statement_type;
  st["subject"] = sorted_subjects(subjects);
  st["predicateType"] = k_measurement_predicate_type;
  st["predicate"] = predicate;
  return st;
}

std::vector<uint8_t> statement_bytes(const nlohmann::ordered_json &statement) {
  std::string s;
  try {
    s = statement.dump(-1, ' ', false, nlohmann::json::error_handler_t::strict);
  } catch (const nlohmann::json::type_error &e) {
    throw InputError("statement", std::string("holds text that is not UTF-8 (a file name?): ") + e.what());
  }
  return std::vector<uint8_t>(s.begin(), s.end());
}

Statement parse_statement(const std::vector<uint8_t> &payload, const std::string &what) {
  Statement st;
  st.json = parse_json_text<OJson>(payload, what);
  const OJson &j = st.json;
  if (!j.is_object()) throw InputError(what, "expected an in-toto statement (a JSON object)");
  std::string type = json_string_field(j, "_type", what);
  if (type != k_in_toto_statement_type)
    throw InputError(what + "._type", "expected " + std::string(k_in_toto_statement_type) + ", got '" + type + "'");
  st.predicate_type = json_string_field(j, "predicateType", what);
  if (st.predicate_type != k_measurement_predicate_type)
    throw InputError(what + ".predicateType", "expected " + std::string(k_measurement_predicate_type) +
                                                  " (mrforge's TDX measurements), got '" + st.predicate_type + "'");

  const OJson &subjects = json_field(j, "subject", what);
  if (!subjects.is_array() || subjects.empty()) throw InputError(what + ".subject", "expected a non-empty array");
  if (subjects.size() > k_max_subjects) throw InputError(what + ".subject", "more than 4096 subjects");
  std::set<std::string> names;
  for (size_t i = 0; i < subjects.size(); ++i) {
    std::string where = what + ".subject[" + std::to_string(i) + "]";
    StatementSubject s;
    s.name = json_string_field(subjects[i], "name", where);
    require_relative_name(s.name, where + ".name");
    if (!names.insert(s.name).second) throw InputError(where + ".name", "'" + s.name + "' appears twice");
    s.sha256 = hex_field(json_field(subjects[i], "digest", where), "sha256", 32, where + ".digest");
    st.subjects.push_back(std::move(s));
  }

  const std::string pw = what + ".predicate";
  const OJson &p = json_field(j, "predicate", what);
  st.tool = json_string_field(json_field(p, "builder", pw), "tool", pw + ".builder");
  st.kind = json_string_field(p, "kind", pw);
  if (st.kind != "GuestImage" && st.kind != "OciImage" && st.kind != "DstackApp")
    throw InputError(pw + ".kind", "expected GuestImage, OciImage or DstackApp, got '" + st.kind + "'");
  const OJson &recipe = json_field(p, "recipe", pw);
  st.recipe_name = json_string_field(recipe, "name", pw + ".recipe");
  st.recipe_sha256 = hex_field(recipe, "sha256", 32, pw + ".recipe");
  // An app has a lock per service (predicate.app.services[].lock), none of its own.
  if (st.kind != "DstackApp") st.lock_sha256 = hex_field(json_field(p, "lock", pw), "sha256", 32, pw + ".lock");
  if (st.kind == "DstackApp") {
    const OJson &app = json_field(p, "app", pw);
    st.app_compose_hash = hex_field(app, "compose_hash", 32, pw + ".app");
    st.app_id = hex_field(app, "app_id", 20, pw + ".app");
    const std::string source = json_string_field(app, "app_id_source", pw + ".app");
    if (source != "compose-hash" && source != "recipe")
      throw InputError(pw + ".app.app_id_source", "expected compose-hash or recipe");
    st.app_id_pinned = source == "recipe";
    if (!st.app_id_pinned && st.app_id != app_id_of_compose_hash(st.app_compose_hash))
      throw InputError(pw + ".app.app_id", "is not the first 20 bytes of the compose hash");
  }
  const OJson &shapes = json_field(p, "shapes", pw);
  if (!shapes.is_array()) throw InputError(pw + ".shapes", "expected an array");
  if (shapes.size() > k_max_shapes) throw InputError(pw + ".shapes", "more than 1024 shapes");
  if (st.kind == "GuestImage" && shapes.empty())
    throw InputError(pw + ".shapes", "a GuestImage statement needs at least one VM shape");
  for (size_t i = 0; i < shapes.size(); ++i)
    st.shapes.push_back(parse_shape(shapes[i], pw + ".shapes[" + std::to_string(i) + "]"));
  return st;
}

Statement statement_from_envelope(const DsseEnvelope &envelope, const std::string &what) {
  if (envelope.payload_type != k_in_toto_payload_type)
    throw InputError(what + ": payloadType",
                     "expected " + std::string(k_in_toto_payload_type) + ", got '" + envelope.payload_type + "'");
  return parse_statement(envelope.payload, what + ": payload");
}

std::vector<std::string> check_subjects(const Statement &statement, const std::string &dir) {
  std::vector<std::string> problems;
  for (const StatementSubject &s : statement.subjects) {
    require_relative_name(s.name, "subject"); // parse_statement checked it; never leave `dir`
    std::string path = path_in(dir, s.name);
    std::error_code ec;
    if (!fs::is_regular_file(path, ec)) {
      problems.push_back(s.name + ": missing");
      continue;
    }
    std::string got = digest_file(InputFile::open_in(dir, s.name, limits::k_artifact)).sha256_hex;
    if (got != s.sha256) problems.push_back(s.name + ": sha256 is " + got + ", the statement says " + s.sha256);
  }
  return problems;
}

} // namespace mrforge::builder
