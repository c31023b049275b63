#include <measure/documents/dstack_app.hpp>

#include <measure/documents/json_fields.hpp>
#include <measure/documents/json_text.hpp>
#include <measure/documents/yaml_field.hpp>
#include <measure/util/errors.hpp>
#include <measure/util/hash.hpp>
#include <measure/util/terminal_text.hpp>

#include <optional>
#include <set>

namespace mrforge {

namespace {

using Json = nlohmann::json;

// Every value of the normalized form: no null, no float, printable-ASCII keys.
void check_normal_form(const Json &j, const std::string &where) {
  if (j.is_null())
    throw InputError(where, "is null: dstack's JS and Python SDKs serialize nulls differently; leave the field out");
  if (j.is_number_float())
    throw InputError(where, "is a floating-point number: dstack's SDKs write those differently; use an integer");
  if (j.is_object()) {
    for (const auto &[key, value] : j.items()) {
      for (char c : key)
        if (c < 0x20 || c > 0x7e)
          throw InputError(where + "." + echoed(key),
                           "the key is not printable ASCII: the SDKs sort such keys in different orders");
      check_normal_form(value, where + "." + key);
    }
  } else if (j.is_array()) {
    for (size_t i = 0; i < j.size(); ++i) check_normal_form(j[i], where + "[" + std::to_string(i) + "]");
  }
}

std::string hex_field(const Json &obj, const char *key, size_t digits, const std::string &where) {
  std::string s = json_string_field(obj, key, where);
  if (!is_lower_hex(s, digits))
    throw InputError(where + "." + key, "expected " + std::to_string(digits) + " lower-case hex digits");
  return s;
}

// "sha256:HEX" of an image manifest.
std::string digest_field(const Json &obj, const char *key, const std::string &where) {
  std::string s = json_string_field(obj, key, where);
  if (!is_sha256_digest(s)) throw InputError(where + "." + key, "expected sha256: and 64 lower-case hex digits");
  return s;
}

[[noreturn]] void compose_fail(const std::string &file, const YAML::Node &node, const std::string &message) {
  const YAML::Mark m = node.Mark();
  throw DocumentError(file, m.line + 1, m.column + 1, message);
}

} // namespace

std::string normalized_app_compose(const nlohmann::json &app_compose, const std::string &what) {
  if (!app_compose.is_object()) throw InputError(what, "app-compose must be a JSON object");
  check_normal_form(app_compose, what);
  // nlohmann::json keeps objects in a std::map: keys in byte order, which for ASCII keys is the
  // order of JS's Object.keys().sort() and Python's sorted(). dump(-1) writes "," and ":" with no
  // spaces; ensure_ascii=false leaves UTF-8 as it is and escapes '"', '\' and control characters
  // (\b \f \n \r \t, others \u00xx in lower case) as JSON.stringify and json.dumps do.
  try {
    return app_compose.dump(-1, ' ', false, nlohmann::json::error_handler_t::strict);
  } catch (const nlohmann::json::type_error &e) {
    throw InputError(what, std::string("holds text that is not UTF-8: ") + e.what());
  }
}

std::string compose_hash_of(ByteView app_compose_bytes) { return to_hex(sha256(app_compose_bytes)); }

std::string app_id_of_compose_hash(const std::string &compose_hash_hex) { return compose_hash_hex.substr(0, 40); }

std::vector<std::pair<std::string, std::string>> compose_service_images(const std::string &yaml,
                                                                        const std::string &file) {
  YAML::Node root = parse_yaml_text(yaml, file, "YAML");
  if (!root.IsMap()) throw DocumentError(file, 1, 1, "a docker compose file is a mapping with a `services` key");
  // (A default YAML::Node is a defined null: absence is kept in an optional.)
  std::optional<YAML::Node> found;
  for (const auto &kv : root)
    if (kv.first.IsScalar() && kv.first.Scalar() == "services") {
      if (found) compose_fail(file, kv.first, "`services` appears twice");
      found = kv.second;
    }
  if (!found) throw DocumentError(file, 1, 1, "no `services` mapping: a dstack app runs the compose file's services");
  const YAML::Node services = *found;
  if (!services.IsMap() || services.size() == 0)
    compose_fail(file, services, "`services` must be a mapping of at least one service");
  std::vector<std::pair<std::string, std::string>> out;
  std::set<std::string> seen;
  for (const auto &svc : services) {
    if (!svc.first.IsScalar()) compose_fail(file, svc.first, "a service name must be a string");
    std::string name = svc.first.Scalar();
    if (!seen.insert(name).second) compose_fail(file, svc.first, "service '" + echoed(name) + "' appears twice");
    if (!svc.second.IsMap()) compose_fail(file, svc.second, "service '" + echoed(name) + "' must be a mapping");
    std::optional<YAML::Node> image;
    for (const auto &kv : svc.second)
      if (kv.first.IsScalar() && kv.first.Scalar() == "image") {
        if (image) compose_fail(file, kv.first, "service '" + echoed(name) + "': `image` appears twice");
        image = kv.second;
      }
    if (!image)
      compose_fail(file, svc.second,
                   "service '" + echoed(name) + "' has no `image`: every service of a dstack app runs a pinned image");
    if (!image->IsScalar() || image->Scalar().empty())
      compose_fail(file, *image, "service '" + echoed(name) + "': `image` must be a non-empty string");
    out.emplace_back(name, image->Scalar());
  }
  return out;
}

AppRecord parse_app_record(ByteView bytes, const std::string &source) {
  Json j = parse_json_text(bytes, source);
  if (!j.is_object()) throw InputError(source, "expected mrforge-app.json's JSON object");
  AppRecord r;
  r.source = source;
  if (json_string_field(j, "kind", source) != "DstackApp")
    throw InputError(source + ".kind", "expected DstackApp: this is not the record of a `mrforge build` of an app");
  r.name = json_string_field(j, "name", source);
  const Json &recipe = json_field(j, "recipe", source);
  r.recipe_name = json_string_field(recipe, "name", source + ".recipe");
  r.recipe_sha256 = hex_field(recipe, "sha256", 64, source + ".recipe");
  r.app_compose = json_string_field(j, "app_compose", source);
  if (r.app_compose.empty() || r.app_compose.find('/') != std::string::npos || r.app_compose == "." ||
      r.app_compose == "..")
    throw InputError(source + ".app_compose", "expected a file name beside the record");
  r.compose_hash = hex_field(j, "compose_hash", 64, source);
  r.app_id = hex_field(j, "app_id", 40, source);
  const std::string id_source = json_string_field(j, "app_id_source", source);
  if (id_source != "compose-hash" && id_source != "recipe")
    throw InputError(source + ".app_id_source", "expected compose-hash or recipe, got '" + echoed(id_source) + "'");
  r.app_id_pinned = id_source == "recipe";
  if (!r.app_id_pinned && r.app_id != app_id_of_compose_hash(r.compose_hash))
    throw InputError(source + ".app_id", "is not the first 20 bytes of compose_hash (dstack's rule)");
  r.key_provider = json_string_field(j, "key_provider", source);
  if (r.key_provider != "kms" && r.key_provider != "local" && r.key_provider != "none")
    throw InputError(source + ".key_provider", "expected kms, local or none, got '" + echoed(r.key_provider) + "'");
  r.key_provider_id = json_string_field(j, "key_provider_id", source);
  if (r.key_provider_id.size() % 2 != 0 || !is_lower_hex(r.key_provider_id, r.key_provider_id.size()))
    throw InputError(source + ".key_provider_id", "expected lower-case hex (an even number of digits) or \"\"");
  if (!r.key_provider_id.empty() && r.key_provider == "none")
    throw InputError(source + ".key_provider_id", "must be empty with key_provider none");
  r.storage_fs = json_string_field(j, "storage_fs", source);
  if (!r.storage_fs.empty() && r.storage_fs != "zfs" && r.storage_fs != "ext4")
    throw InputError(source + ".storage_fs", "expected zfs, ext4 or \"\", got '" + echoed(r.storage_fs) + "'");
  r.no_instance_id = json_bool_field(j, "no_instance_id", source);
  r.tool = json_string_field(j, "tool", source);
  const Json &services = json_field(j, "services", source);
  if (!services.is_array() || services.empty()) throw InputError(source + ".services", "expected a non-empty array");
  std::set<std::string> names;
  for (size_t i = 0; i < services.size(); ++i) {
    const std::string where = source + ".services[" + std::to_string(i) + "]";
    const Json &s = services[i];
    AppServiceRecord svc;
    svc.name = json_string_field(s, "name", where);
    if (svc.name.empty() || !names.insert(svc.name).second) throw InputError(where + ".name", "empty or appears twice");
    svc.ref = json_string_field(s, "ref", where);
    svc.digest = digest_field(s, "digest", where);
    svc.image = json_string_field(s, "image", where);
    if (svc.image != svc.ref + "@" + svc.digest)
      throw InputError(where + ".image", "is not REF@DIGEST of the service's ref and digest");
    svc.source = json_string_field(s, "source", where);
    const char *const recipe_fields[] = {"recipe", "recipe_name", "recipe_sha256", "lock_sha256"};
    if (svc.source == k_app_source_recipe) {
      if (s.contains("oci_layout")) throw InputError(where + ".oci_layout", "a service built from a recipe has none");
      svc.recipe = json_string_field(s, "recipe", where);
      svc.recipe_name = json_string_field(s, "recipe_name", where);
      svc.recipe_sha256 = hex_field(s, "recipe_sha256", 64, where);
      svc.lock_sha256 = hex_field(s, "lock_sha256", 64, where);
    } else if (svc.source == k_app_source_oci_layout) {
      for (const char *key : recipe_fields)
        if (s.contains(key))
          throw InputError(where + "." + key, "a service pinned from an OCI layout has no recipe and no lock");
      svc.oci_layout = json_string_field(s, "oci_layout", where);
      if (svc.oci_layout.empty() || svc.oci_layout[0] == '/')
        throw InputError(where + ".oci_layout", "expected a folder relative to the app recipe's");
    } else {
      throw InputError(where + ".source", "expected recipe or oci-layout, got '" + echoed(svc.source) + "'");
    }
    svc.output = json_string_field(s, "output", where);
    r.services.push_back(std::move(svc));
  }
  return r;
}

AppComposeContent parse_app_compose(ByteView bytes, const std::string &source) {
  Json j = parse_json_text(bytes, source);
  if (!j.is_object()) throw InputError(source, "expected app-compose.json's JSON object");
  AppComposeContent c;
  for (const auto &[key, value] : j.items()) {
    if (key == "docker_compose_file") continue;
    c.fields[key] = value.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  }
  auto it = j.find("docker_compose_file");
  if (it == j.end()) throw InputError(source + ".docker_compose_file", "missing: the app has no compose file");
  if (!it->is_string()) throw InputError(source + ".docker_compose_file", "expected the compose file as a string");
  c.compose_file = it->get<std::string>();
  c.images = compose_service_images(c.compose_file, source + ": docker_compose_file");
  return c;
}

std::vector<std::string> app_compose_differences(const AppComposeContent &record, const AppComposeContent &other) {
  std::vector<std::string> out;
  std::map<std::string, std::string> theirs(other.images.begin(), other.images.end());
  std::set<std::string> ours;
  for (const auto &[service, image] : record.images) {
    ours.insert(service);
    auto it = theirs.find(service);
    if (it == theirs.end())
      out.push_back("service '" + echoed(service) + "': only in the record (image " + echoed(image) + ")");
    else if (it->second != image)
      out.push_back("service '" + echoed(service) + "': image " + echoed(it->second) + ", the record has " +
                    echoed(image));
  }
  for (const auto &[service, image] : other.images)
    if (!ours.count(service))
      out.push_back("service '" + echoed(service) + "': not in the record (image " + echoed(image) + ")");
  std::set<std::string> keys;
  for (const auto &kv : record.fields) keys.insert(kv.first);
  for (const auto &kv : other.fields) keys.insert(kv.first);
  for (const std::string &k : keys) {
    auto a = record.fields.find(k), b = other.fields.find(k);
    std::string va = a == record.fields.end() ? "(absent)" : a->second;
    std::string vb = b == other.fields.end() ? "(absent)" : b->second;
    if (va != vb) out.push_back("field " + echoed(k) + ": " + echoed(vb) + ", the record has " + echoed(va));
  }
  if (out.empty() && record.compose_file != other.compose_file)
    out.push_back("docker_compose_file: the same images, but the compose file's text differs");
  return out;
}

} // namespace mrforge
