// mrforge acpi: QEMU's ACPI tables for a VM shape. `generate` builds them natively (this file);
// `capture` boots the local QEMU and reads the real ones (acpi_capture_command.cpp); `diff` and
// `list` decode and compare them (acpi_diff_command.cpp).
#include "commands.hpp"
#include "output.hpp"
#include "shape_options.hpp"

#include <builder/system/output_dir.hpp>
#include <measure/acpi/acpi_decode.hpp>
#include <measure/acpi/acpi_generator.hpp>
#include <measure/documents/profile_yaml.hpp>
#include <measure/documents/vm_shape_file.hpp>
#include <measure/util/hash.hpp>

#include <iostream>
#include <memory>

namespace mrforge::cli {

namespace {

constexpr const char *k_default_acpi_profile = "qemu-7.2-q35";

struct GenerateOptions {
  ShapeOptions shape;
  std::string output;
  bool json = false;
};

int run_generate(const GenerateOptions &o) {
  VmShape shape = shape_from_options(o.shape);
  print_shape_notes(shape, std::cerr);
  if (shape.profile.empty()) shape.profile = k_default_acpi_profile;
  AcpiProfile profile = load_acpi_profile(shape.profile);
  GeneratedAcpi g = generate_acpi(shape, profile);
  std::string listing = acpi_listing(decode_acpi(g.blobs));

  builder::OutputDir out(o.output, builder::OutputKind::acpi_generated);
  write_acpi_blobs(g.blobs, out.temp_path());
  write_file_atomically(out.temp_path() + "/shape.yaml", vm_shape_to_yaml(shape));
  write_file_atomically(out.temp_path() + "/tables.txt", listing);
  out.write_record({{"profile", profile.name}, {"shape", "shape.yaml"}});
  out.commit();

  const std::pair<const char *, const Bytes *> files[] = {
      {"table-loader", &g.blobs.table_loader}, {"rsdp", &g.blobs.rsdp}, {"tables", &g.blobs.tables}};
  if (o.json) {
    Json j{{"ok", true}, {"dir", o.output}, {"profile", profile.name}, {"acpi_source", "generated"}};
    j["blobs"] = Json::array();
    for (const auto &[name, bytes] : files)
      j["blobs"].push_back(Json{{"name", name},
                                {"file", o.output + "/" + name},
                                {"size", bytes->size()},
                                {"sha384", to_hex(sha384(*bytes))}});
    j["tables"] = Json::array();
    for (const GeneratedTable &t : g.tables)
      j["tables"].push_back(Json{{"signature", t.signature}, {"offset", t.offset}, {"length", t.length}});
    print_json(j);
    return k_exit_ok;
  }
  std::vector<std::vector<std::string>> rows{{"TABLE", "OFFSET", "LENGTH"}};
  for (const GeneratedTable &t : g.tables)
    rows.push_back({t.signature, std::to_string(t.offset), std::to_string(t.length)});
  print_table(rows);
  std::cout << "\n";
  rows.clear();
  for (const auto &[name, bytes] : files)
    rows.push_back({name, std::to_string(bytes->size()) + " bytes", "sha384 " + to_hex(sha384(*bytes))});
  print_table(rows);
  std::cout << "generated: " << o.output << " (profile " << profile.name << "; listing in " << o.output
            << "/tables.txt)\n";
  return k_exit_ok;
}

} // namespace

void add_acpi_command(CLI::App &app, Runner &run) {
  CLI::App *acpi = app.add_subcommand("acpi", "QEMU's ACPI tables for a VM shape: generate, capture, diff, list");
  acpi->require_subcommand(1);

  auto o = std::make_shared<GenerateOptions>();
  CLI::App *gen =
      add_command(*acpi, run, o, "generate", "Generate QEMU's three ACPI fw_cfg blobs for a VM shape", run_generate);
  gen->footer(
      "Builds etc/table-loader, etc/acpi/rsdp and etc/acpi/tables byte for byte as the profile's QEMU serves them\n"
      "to OVMF (after the firmware programmed the platform), without running QEMU. Their SHA-384 digests are\n"
      "the three \"ACPI DATA\" events of RTMR0. Writes DIR/table-loader, DIR/rsdp, DIR/tables, DIR/shape.yaml\n"
      "and DIR/tables.txt (a decoded listing) and DIR/mrforge-build.json, all at once: an existing DIR is replaced\n"
      "only if it is empty or an earlier `acpi generate` output (its mrforge-build.json says so), never through a\n"
      "symlink. The shape comes from options, --shape FILE or --dstack-vm-config FILE (options override the\n"
      "file). Profiles: mrforge profiles (ACPI profiles are in measure/profiles/acpi); default qemu-7.2-q35.\n"
      "Examples:\n"
      "  mrforge acpi generate --cpus 2 --memory 2G --device virtio-blk --device virtio-net -o gen/\n"
      "  mrforge acpi generate --shape tests/data/acpi/qemu-7.2-q35/c1-m2g/shape.yaml -o gen/\n"
      "Exit codes: 0 generated; 1 usage error; 2 bad input (a shape the profile does not support: too many\n"
      "CPUs, memory or a 64-bit hole beyond the profile's limits, unknown device; a malformed shape file or\n"
      "profile; DIR exists and is not an earlier `acpi generate` output).");
  add_shape_options(*gen, o->shape, "--profile");
  gen->add_option("-o,--output", o->output, "Directory for the blobs, shape.yaml and tables.txt")->required();
  gen->add_flag("--json", o->json,
                "Print JSON: {ok, dir, profile, acpi_source, blobs: [{name, file, size, sha384}], tables: [...]}");

  add_acpi_capture_command(*acpi, run);
  add_acpi_diff_command(*acpi, run);
}

} // namespace mrforge::cli
