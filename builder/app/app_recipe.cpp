#include <builder/app/app_recipe.hpp>

#include <measure/documents/dstack_app.hpp>
#include <measure/documents/yaml_field.hpp>
#include <measure/util/errors.hpp>
#include <measure/util/hash.hpp>
#include <measure/util/input_limits.hpp>
#include <measure/util/mapped_file.hpp>
#include <measure/util/terminal_text.hpp>

#include <algorithm>
#include <filesystem>
#include <map>
#include <optional>
#include <set>

namespace fs = std::filesystem;

namespace mrforge::builder {

namespace {

enum class PathKind { file, folder };

// A path relative to the recipe's folder (it may leave it: the example app uses ../oci/hello.yaml).
std::string relative_path(const YamlField &f, const std::string &dir, const char *what, PathKind kind) {
  std::string s = f.str();
  if (s.empty() || s[0] == '/') f.fail(std::string("expected a path relative to the recipe's folder (") + what + ")");
  fs::path full = (fs::path(dir) / s).lexically_normal();
  std::error_code ec;
  if (kind == PathKind::file && !fs::is_regular_file(full, ec)) f.fail(std::string("no ") + what + " " + full.string());
  if (kind == PathKind::folder && !fs::is_directory(full, ec))
    f.fail(std::string("no ") + what + " folder " + full.string());
  return full.string();
}

// "sha256:" and 64 lower-case hex digits: an image manifest's digest.
bool is_sha256_digest(const std::string &s) {
  return s.size() == 71 && s.compare(0, 7, "sha256:") == 0 &&
         std::all_of(s.begin() + 7, s.end(), [](char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'); });
}

// An image reference as the compose file writes it: [registry/]name[:tag], no digest.
bool is_image_ref(const std::string &s) {
  if (s.empty() || s.size() > 255 || s.front() == '/' || s.front() == ':') return false;
  return std::all_of(s.begin(), s.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' || c == '_' ||
           c == '-' || c == '/' || c == ':';
  });
}

// Environment variable names dstack's allowed_envs can hold.
bool is_env_name(const std::string &s) {
  if (s.empty() || s.size() > 128 || (s[0] >= '0' && s[0] <= '9')) return false;
  return std::all_of(s.begin(), s.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_';
  });
}

// Text the guest reads as a string: UTF-8 without NUL (shell and JSON consumers).
void require_text(const YamlField &f, const std::string &s) {
  if (s.find('\0') != std::string::npos) f.fail("holds a NUL character");
  if (complete_utf8_prefix(s) != s.size()) f.fail("is not UTF-8");
}

// The image node of each compose service, with its position (yaml-cpp's Mark.pos counts bytes of
// UTF-8 input).
std::map<std::string, YAML::Node> compose_image_nodes(const std::string &text, const std::string &file) {
  YAML::Node root = parse_yaml_text(text, file, "YAML");
  std::map<std::string, YAML::Node> out;
  for (const auto &kv : root)
    if (kv.first.IsScalar() && kv.first.Scalar() == "services")
      for (const auto &svc : kv.second)
        for (const auto &f : svc.second)
          if (f.first.IsScalar() && f.first.Scalar() == "image") out[svc.first.Scalar()] = f.second;
  return out;
}

} // namespace

bool is_app_recipe(const std::string &path) {
  try {
    Bytes bytes = read_file(path, limits::k_yaml_document);
    YAML::Node root = parse_yaml_text(std::string(bytes.begin(), bytes.end()), path, "YAML");
    return root.IsMap() && root["kind"] && root["kind"].IsScalar() && root["kind"].Scalar() == "DstackApp";
  } catch (const Error &) {
    return false;
  }
}

AppRecipe load_app_recipe(const std::string &path) {
  Bytes bytes = read_file(path, limits::k_yaml_document);
  std::string text(bytes.begin(), bytes.end());
  YamlField root = load_yaml_document(text, path, "DstackApp");
  root.expect_map({"apiVersion", "kind", "name", "app_id", "compose", "services", "key_provider", "key_provider_id",
                   "runner", "manifest_version", "gateway", "public_logs", "public_sysinfo", "public_tcbinfo",
                   "secure_time", "no_instance_id", "allowed_envs", "pre_launch_script", "storage_fs"});
  AppRecipe app;
  app.path = path;
  app.sha256 = to_hex(sha256(ByteView(bytes.data(), bytes.size())));
  app.dir = fs::absolute(fs::path(path)).parent_path().lexically_normal().string();

  YamlField name = root.required("name");
  app.name = name.str();
  require_text(name, app.name);
  if (app.name.empty() || app.name.size() > 128 || app.name.find('\n') != std::string::npos)
    name.fail("expected an app name of 1 to 128 characters on one line");

  if (auto id = root.optional("app_id")) {
    Bytes raw = id->hex();
    if (raw.size() != 20) id->fail("expected 40 hex digits (dstack's app ids are 20 bytes)");
    app.app_id = to_hex(raw);
  }

  AppComposeSettings &s = app.settings;
  YamlField kp = root.required("key_provider");
  s.key_provider = kp.str();
  if (s.key_provider != "kms" && s.key_provider != "local" && s.key_provider != "none")
    kp.fail("expected kms, local or none (dstack's key providers an app chooses), got '" + echoed(s.key_provider) +
            "'");
  if (auto id = root.optional("key_provider_id")) {
    if (!id->str().empty()) s.key_provider_id = to_hex(id->hex());
    if (!s.key_provider_id.empty() && s.key_provider == "none")
      id->fail("must be empty with key_provider none (dstack docs/security/cvm-boundaries.md)");
  }
  if (auto r = root.optional("runner")) {
    s.runner = r->str();
    if (s.runner != "docker-compose" && s.runner != "nerdctl-compose")
      r->fail("expected docker-compose or nerdctl-compose (a DstackApp runs a compose file)");
  }
  if (auto m = root.optional("manifest_version")) {
    s.manifest_version = m->u32();
    if (s.manifest_version != 2 && s.manifest_version != 3)
      m->fail("expected 2 or 3 (the versions dstack's guest accepts for these fields)");
  }
  auto flag = [&](const char *key, bool &out) {
    if (auto f = root.optional(key)) out = f->boolean();
  };
  flag("gateway", s.gateway);
  flag("public_logs", s.public_logs);
  flag("public_sysinfo", s.public_sysinfo);
  flag("public_tcbinfo", s.public_tcbinfo);
  flag("secure_time", s.secure_time);
  flag("no_instance_id", s.no_instance_id);
  if (auto e = root.optional("allowed_envs")) {
    std::set<std::string> seen;
    for (const YamlField &f : e->list()) {
      std::string v = f.str();
      if (!is_env_name(v))
        f.fail("expected an environment variable name (letters, digits, '_'), got '" + echoed(v) + "'");
      if (!seen.insert(v).second) f.fail("'" + v + "' is listed twice");
      s.allowed_envs.push_back(v);
    }
  }
  if (auto p = root.optional("pre_launch_script")) {
    s.pre_launch_script = p->str();
    require_text(*p, s.pre_launch_script);
  }
  if (auto f = root.optional("storage_fs")) {
    s.storage_fs = f->str();
    if (s.storage_fs != "zfs" && s.storage_fs != "ext4") f->fail("expected zfs or ext4");
  }

  YamlField compose = root.required("compose");
  app.compose = compose.str();
  app.compose_path = relative_path(compose, app.dir, "compose file", PathKind::file);
  Bytes compose_bytes = read_file(app.compose_path, limits::k_yaml_document);
  app.compose_text.assign(compose_bytes.begin(), compose_bytes.end());
  if (app.compose_text.compare(0, 3, "\xEF\xBB\xBF") == 0)
    throw DocumentError(app.compose_path, 1, 1, "starts with a byte order mark: save it as plain UTF-8");
  if (complete_utf8_prefix(app.compose_text) != app.compose_text.size() ||
      app.compose_text.find('\0') != std::string::npos)
    throw DocumentError(app.compose_path, 1, 1, "is not UTF-8 text");
  std::vector<std::pair<std::string, std::string>> images = compose_service_images(app.compose_text, app.compose_path);

  YamlField services = root.required("services");
  std::map<std::string, std::string> compose_images(images.begin(), images.end());
  for (const auto &[svc_name, svc] : services.entries()) {
    svc.expect_map({"recipe", "oci_layout", "image", "digest"});
    AppServiceSpec spec;
    spec.name = svc_name;
    spec.where = Location{svc.file(), svc.line(), svc.column()};
    // Compose's service names ([a-zA-Z0-9._-]); also the name of the service's output directory.
    if (svc_name.empty() || svc_name.size() > 64 || svc_name[0] == '.' ||
        !std::all_of(svc_name.begin(), svc_name.end(), [](char c) {
          return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' || c == '_' ||
                 c == '-';
        }))
      svc.fail("expected a compose service name (letters, digits, '.', '_', '-', not starting with '.')");
    std::optional<YamlField> recipe = svc.optional("recipe"), layout = svc.optional("oci_layout"),
                             image = svc.optional("image"), digest = svc.optional("digest");
    if (recipe && layout)
      layout->fail("a service's image comes from a recipe or from an OCI layout, not both: remove one");
    if (!recipe && !layout)
      svc.fail("expected recipe: (an OciImage recipe to build) or oci_layout: (a local OCI layout, with image: and "
               "digest:)");
    if (recipe) {
      if (digest)
        digest->fail("is only for oci_layout services: the digest of an image built from a recipe is computed");
      spec.recipe_path = recipe->str();
      std::string recipe_file = relative_path(*recipe, app.dir, "OciImage recipe", PathKind::file);
      spec.recipe = load_recipe(recipe_file);
      if (spec.recipe.kind != "OciImage")
        recipe->fail("'" + spec.recipe_path + "' is a " + spec.recipe.kind + " recipe; a service runs an OciImage");
      spec.image_ref = spec.recipe.name + ":" + spec.recipe.tag;
    } else {
      spec.source = AppServiceSource::oci_layout;
      spec.oci_layout = layout->str();
      spec.oci_layout_dir = relative_path(*layout, app.dir, "OCI image layout", PathKind::folder);
      if (!image)
        svc.fail("a service from oci_layout needs image: (the reference the compose file writes, e.g. "
                 "docker.io/library/redis:7.2)");
      if (!digest)
        svc.fail("a service from oci_layout needs digest: \"sha256:HEX\" (the image manifest's digest it is pinned "
                 "to)");
      spec.pinned_digest = digest->str();
      if (!is_sha256_digest(spec.pinned_digest))
        digest->fail("expected sha256: and 64 lower-case hex digits, got '" + echoed(spec.pinned_digest) + "'");
    }
    if (image) {
      spec.image_ref = image->str();
      if (!is_image_ref(spec.image_ref))
        image->fail("expected an image reference [registry/]name[:tag] without a digest, got '" +
                    echoed(spec.image_ref) + "'");
    }
    auto it = compose_images.find(svc_name);
    if (it == compose_images.end()) svc.fail("service '" + echoed(svc_name) + "' is not a service of " + app.compose);
    if (it->second != spec.image_ref)
      svc.fail("the compose file's service '" + echoed(svc_name) + "' has image '" + echoed(it->second) +
               "'; write image: " + spec.image_ref + " there (mrforge pins it to the digest it builds)");
    app.services.push_back(std::move(spec));
  }
  for (const auto &entry : images) {
    // A named variable, not a structured binding: C++17 lambdas cannot capture those (clang).
    const std::string &svc_name = entry.first;
    if (std::none_of(app.services.begin(), app.services.end(),
                     [&](const AppServiceSpec &sp) { return sp.name == svc_name; }))
      services.fail("the compose file's service '" + echoed(svc_name) + "' (image '" + echoed(entry.second) +
                    "') has no entry here: every service's image must come from a recipe or a pinned OCI layout");
  }
  return app;
}

std::string pin_compose_images(const AppRecipe &app, const std::vector<std::pair<std::string, std::string>> &digests) {
  const std::string &text = app.compose_text;
  std::map<std::string, YAML::Node> nodes = compose_image_nodes(text, app.compose_path);
  // Replacements from the end of the file backwards, so that earlier offsets stay valid.
  std::vector<std::pair<size_t, std::pair<size_t, std::string>>> edits; // pos -> (length, new text)
  std::map<std::string, std::string> pinned;
  for (const auto &entry : digests) {
    const std::string &svc = entry.first; // not a structured binding: the lambdas below capture it
    const std::string &digest = entry.second;
    auto spec = std::find_if(app.services.begin(), app.services.end(),
                             [&](const AppServiceSpec &sp) { return sp.name == svc; });
    auto node = nodes.find(svc);
    if (spec == app.services.end() || node == nodes.end())
      throw InputError(app.compose_path, "no service '" + echoed(svc) + "' to pin");
    const YAML::Mark m = node->second.Mark();
    const std::string &ref = spec->image_ref;
    auto fail = [&](const std::string &message) {
      throw DocumentError(app.compose_path, m.line + 1, m.column + 1, "service '" + echoed(svc) + "': " + message);
    };
    if (m.pos < 0 || static_cast<size_t>(m.pos) >= text.size()) fail("the image's position is unknown");
    size_t pos = static_cast<size_t>(m.pos);
    std::string quote;
    if (text[pos] == '"' || text[pos] == '\'') quote = text.substr(pos, 1);
    std::string token = quote + ref + quote;
    if (text.compare(pos, token.size(), token) != 0)
      fail("write the image as a plain or quoted scalar on one line, exactly '" + ref + "'");
    size_t end = pos + token.size();
    if (end < text.size() && std::string(" \t\r\n#,}]").find(text[end]) == std::string::npos)
      fail("the image continues after '" + ref + "': write exactly '" + ref + "'");
    std::string image = ref + "@" + digest;
    edits.push_back({pos, {token.size(), quote + image + quote}});
    pinned[svc] = image;
  }
  std::sort(edits.begin(), edits.end(), [](const auto &a, const auto &b) { return a.first > b.first; });
  std::string out = text;
  for (const auto &[pos, edit] : edits) out.replace(pos, edit.first, edit.second);
  // The rewritten file must name exactly the pinned images, the other services' as before.
  std::vector<std::pair<std::string, std::string>> before = compose_service_images(text, app.compose_path);
  std::map<std::string, std::string> want(before.begin(), before.end());
  for (const auto &[svc, image] : pinned) want[svc] = image;
  std::vector<std::pair<std::string, std::string>> after = compose_service_images(out, app.compose_path + " (pinned)");
  if (after.size() != before.size())
    throw InputError(app.compose_path, "pinning changed the number of services: the file's layout defeats the "
                                       "in-place rewrite");
  for (const auto &[svc, image] : after) {
    auto it = want.find(svc);
    if (it == want.end() || it->second != image)
      throw InputError(app.compose_path, "service '" + echoed(svc) + "' reads '" + echoed(image) +
                                             "' after pinning: the file's layout defeats the in-place rewrite");
  }
  return out;
}

} // namespace mrforge::builder
