#include <builder/app/app_build.hpp>
#include <builder/build/oci_build.hpp>
#include <builder/system/output_dir.hpp>

#include <measure/util/errors.hpp>
#include <measure/util/file_io.hpp>
#include <measure/util/hash.hpp>
#include <measure/util/version.hpp>

#include <filesystem>

namespace fs = std::filesystem;

namespace mrforge::builder {

nlohmann::json app_compose_object(const AppRecipe &app, const std::string &compose_file) {
  const AppComposeSettings &s = app.settings;
  nlohmann::json j;
  // dstack-types AppCompose (lib.rs:202-277) and the shell's extras (app-compose.sh: pre_launch_script).
  j["manifest_version"] = s.manifest_version == 2 ? nlohmann::json(2) : nlohmann::json("3");
  j["name"] = app.name;
  j["runner"] = s.runner;
  j["docker_compose_file"] = compose_file;
  j["key_provider"] = s.key_provider;
  j["key_provider_id"] = s.key_provider_id;
  j["kms_enabled"] = s.key_provider == "kms";
  j["local_key_provider_enabled"] = s.key_provider == "local";
  j["gateway_enabled"] = s.gateway;
  j["public_logs"] = s.public_logs;
  j["public_sysinfo"] = s.public_sysinfo;
  j["public_tcbinfo"] = s.public_tcbinfo;
  j["secure_time"] = s.secure_time;
  j["no_instance_id"] = s.no_instance_id;
  j["allowed_envs"] = s.allowed_envs;
  if (!s.pre_launch_script.empty()) j["pre_launch_script"] = s.pre_launch_script;
  if (!s.storage_fs.empty()) j["storage_fs"] = s.storage_fs;
  return j;
}

nlohmann::json app_build_json(const AppBuildResult &r) {
  nlohmann::json services = nlohmann::json::array();
  for (const AppServiceRecord &s : r.services) {
    nlohmann::json entry{{"name", s.name}, {"source", s.source}, {"image", s.image}, {"digest", s.digest}};
    if (s.source == k_app_source_oci_layout)
      entry["oci_layout"] = s.oci_layout;
    else
      entry["recipe"] = s.recipe;
    services.push_back(std::move(entry));
  }
  return {{"compose_hash", r.compose_hash}, {"app_id", r.app_id}, {"services", services}};
}

AppBuildResult build_app(const AppRecipe &app, const std::vector<AppServiceInputs> &inputs,
                         const BuildSettings &settings) {
  if (inputs.size() != app.services.size())
    throw InputError(app.path, "internal: one set of inputs per service is needed");
  OutputDir out(settings.out_dir, OutputKind::dstack_app);
  const std::string t = out.temp_path();

  // images/ with its mode set, not the umask's (each image directory sets its own).
  const std::string images = t + "/images";
  std::error_code ec;
  fs::create_directory(images, ec);
  if (!ec) fs::permissions(images, fs::perms(0755), ec);
  if (ec) throw SystemError(images, "cannot create: " + ec.message());

  AppBuildResult result;
  std::vector<std::pair<std::string, std::string>> digests;
  for (size_t i = 0; i < app.services.size(); ++i) {
    const AppServiceSpec &svc = app.services[i];
    BuildSettings b = settings;
    b.out_dir = t + "/images/" + svc.name;
    AppServiceRecord rec;
    rec.name = svc.name;
    rec.ref = svc.image_ref;
    if (svc.source == AppServiceSource::oci_layout) {
      if (settings.progress) settings.progress("service " + svc.name + ": verifying " + svc.oci_layout);
      OciBuildResult oci = import_pinned_oci(svc.oci_layout_dir, svc.oci_layout, svc.pinned_digest, svc.image_ref, b);
      rec.source = k_app_source_oci_layout;
      rec.digest = oci.image.manifest_digest;
      rec.oci_layout = svc.oci_layout;
    } else {
      if (inputs[i].lock == nullptr || inputs[i].store == nullptr)
        throw InputError(app.path, "internal: service " + svc.name + " has no lock or store");
      if (settings.progress) settings.progress("service " + svc.name + ": building " + svc.recipe_path);
      b.source_date_epoch = inputs[i].source_date_epoch;
      OciBuildResult oci = build_oci(svc.recipe, *inputs[i].lock, *inputs[i].store, b);
      rec.source = k_app_source_recipe;
      rec.digest = oci.image.manifest_digest;
      rec.recipe = svc.recipe_path;
      rec.recipe_name = svc.recipe.name;
      rec.recipe_sha256 = svc.recipe.sha256;
      rec.lock_sha256 = oci.lock_sha256;
    }
    rec.image = rec.ref + "@" + rec.digest;
    rec.output = "images/" + svc.name;
    digests.emplace_back(svc.name, rec.digest);
    result.services.push_back(std::move(rec));
  }

  std::string compose_file = pin_compose_images(app, digests);
  std::string app_compose = normalized_app_compose(app_compose_object(app, compose_file), app.path);
  result.compose_hash = compose_hash_of(ByteView::of(app_compose));
  result.app_id = app.app_id.empty() ? app_id_of_compose_hash(result.compose_hash) : app.app_id;
  write_file_atomically(t + "/" + k_app_compose_file, app_compose);
  write_file_atomically(t + "/docker-compose.yaml", compose_file);

  nlohmann::ordered_json services = nlohmann::ordered_json::array();
  for (const AppServiceRecord &s : result.services) {
    nlohmann::ordered_json entry{
        {"name", s.name}, {"source", s.source}, {"ref", s.ref}, {"digest", s.digest}, {"image", s.image}};
    if (s.source == k_app_source_oci_layout) {
      entry["oci_layout"] = s.oci_layout;
    } else {
      entry["recipe"] = s.recipe;
      entry["recipe_name"] = s.recipe_name;
      entry["recipe_sha256"] = s.recipe_sha256;
      entry["lock_sha256"] = s.lock_sha256;
    }
    entry["output"] = s.output;
    services.push_back(std::move(entry));
  }
  nlohmann::ordered_json record{{"kind", "DstackApp"},
                                {"name", app.name},
                                {"recipe", {{"name", app.name}, {"sha256", app.sha256}}},
                                {"app_compose", k_app_compose_file},
                                {"compose_hash", result.compose_hash},
                                {"app_id", result.app_id},
                                {"app_id_source", app.app_id.empty() ? "compose-hash" : "recipe"},
                                {"key_provider", app.settings.key_provider},
                                {"key_provider_id", app.settings.key_provider_id},
                                {"storage_fs", app.settings.storage_fs},
                                {"no_instance_id", app.settings.no_instance_id},
                                {"services", services},
                                {"tool", k_tool_name}};
  write_file_atomically(t + "/" + k_app_record_file, record.dump(2) + "\n");

  nlohmann::ordered_json build{
      {"recipe", app.name},      {"recipe_sha256", app.sha256}, {"compose_hash", result.compose_hash},
      {"app_id", result.app_id}, {"services", services},        {"tool", k_tool_name}};
  out.write_record(build);
  out.commit();
  result.out_dir = out.final_path();
  return result;
}

} // namespace mrforge::builder
