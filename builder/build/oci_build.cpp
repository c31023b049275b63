#include <builder/build/oci_build.hpp>
#include <builder/fs/content_staging.hpp>
#include <builder/guest/program_check.hpp>
#include <builder/oci/oci_layout_import.hpp>
#include <builder/recipe/rootfs_assembly.hpp>
#include <builder/sbom/sbom_writers.hpp>
#include <builder/system/output_dir.hpp>

#include <measure/util/hash.hpp>
#include <measure/util/version.hpp>

#include <nlohmann/json.hpp>

namespace mrforge::builder {

nlohmann::json oci_build_json(const OciBuildResult &r) {
  nlohmann::json layers = nlohmann::json::array();
  for (const auto &l : r.image.layers)
    layers.push_back({{"name", l.name},
                      {"digest", l.digest},
                      {"diff_id", l.diff_id},
                      {"size", l.size},
                      {"media_type", l.media_type}});
  return {{"manifest_digest", r.image.manifest_digest},
          {"config_digest", r.image.config_digest},
          {"index_digest", r.image.index_digest},
          {"ref", r.ref_name},
          {"layers", layers},
          {"lock_sha256", r.lock_sha256},
          {"compressor", r.compressor}};
}

OciBuildResult build_oci(const Recipe &recipe, const Lock &lock, Store &store, const BuildSettings &settings) {
  OutputDir out(settings.out_dir, OutputKind::oci_image);
  ScratchDir scratch(store.make_scratch_dir("build-" + recipe.name.substr(0, recipe.name.find('/'))));
  ContentStaging staging(scratch.path() + "/contents");

  AssemblyOptions assembly;
  assembly.progress = settings.progress;
  LayeredTree tree = assemble_rootfs(recipe, lock, store, staging, assembly);
  const std::vector<std::string> &argv =
      recipe.config.entrypoint.empty() ? recipe.config.cmd : recipe.config.entrypoint;
  if (!argv.empty()) {
    // The runtime looks a bare name up in the image's PATH (runc: the config's Env, else this
    // default, which is also Docker's).
    std::string path = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
    for (const std::string &kv : recipe.config.env)
      if (kv.rfind("PATH=", 0) == 0) path = kv.substr(5);
    check_program_runs(tree.full(), argv.front(), path, recipe.config.entrypoint.empty() ? "cmd" : "entrypoint",
                       recipe.path);
  }

  std::vector<FsTree> layer_trees;
  for (size_t i = 0; i < recipe.layers.size(); ++i) layer_trees.push_back(tree.layer_tree(i));
  std::vector<OciLayerInput> inputs;
  for (size_t i = 0; i < recipe.layers.size(); ++i) inputs.push_back({recipe.layers[i], &layer_trees[i]});

  OciBuildOptions options;
  options.created = settings.source_date_epoch;
  options.architecture = recipe.has_debian ? recipe.debian.architecture : "amd64";
  options.ref_name = recipe.name + ":" + recipe.tag;
  options.compression = recipe.compression;
  options.compression.threads = settings.threads < 1 ? 1 : settings.threads;
  options.progress = settings.progress;

  OciBuildResult result;
  result.image = write_oci_image(inputs, recipe.config, options, out.temp_path());
  result.ref_name = options.ref_name;
  result.lock_sha256 = to_hex(sha256(ByteView::of(lock_to_json(lock))));
  result.compressor = compression_description(recipe.compression);

  // The SBOMs sit beside the layout (not in the image: its manifest digest does not change).
  SbomModel sbom = make_sbom_model(recipe, lock, store, result.image.manifest_digest, {}, settings.source_date_epoch);
  std::map<std::string, std::string> sbom_digests = write_sboms(sbom, out.temp_path());

  nlohmann::json record = oci_build_json(result);
  record[k_sbom_record_field] = sbom_digests;
  record["recipe"] = recipe.name;
  record["recipe_sha256"] = recipe.sha256;
  record["source_date_epoch"] = settings.source_date_epoch;
  record["tool"] = k_tool_name;
  out.write_record(nlohmann::ordered_json(record));
  out.commit();
  result.out_dir = out.final_path();
  result.image.docker_archive = result.out_dir + "/docker-archive.tar";
  return result;
}

OciBuildResult import_pinned_oci(const std::string &layout_dir, const std::string &layout_as_written,
                                 const std::string &manifest_digest, const std::string &ref,
                                 const BuildSettings &settings) {
  OutputDir out(settings.out_dir, OutputKind::oci_image);
  OciLayoutImportOptions options;
  options.layout_dir = layout_dir;
  options.manifest_digest = manifest_digest;
  options.ref = ref;
  options.progress = settings.progress;
  OciBuildResult result;
  result.image = import_oci_layout(options, out.temp_path());
  result.ref_name = ref;

  nlohmann::json layers = nlohmann::json::array();
  for (const auto &l : result.image.layers)
    layers.push_back({{"digest", l.digest}, {"size", l.size}, {"media_type", l.media_type}});
  nlohmann::ordered_json record{{"source", "oci-layout"},
                                {"oci_layout", layout_as_written},
                                {"manifest_digest", result.image.manifest_digest},
                                {"config_digest", result.image.config_digest},
                                {"index_digest", result.image.index_digest},
                                {"ref", ref},
                                {"layers", layers},
                                {"tool", k_tool_name}};
  out.write_record(record);
  out.commit();
  result.out_dir = out.final_path();
  result.image.docker_archive = result.out_dir + "/docker-archive.tar";
  return result;
}

} // namespace mrforge::builder
