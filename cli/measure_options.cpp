#include "measure_options.hpp"

#include <measure/documents/image_metadata.hpp>
#include <measure/documents/json_text.hpp>
#include <measure/documents/recorded_shapes.hpp>
#include <measure/util/errors.hpp>
#include <measure/util/hash.hpp>
#include <measure/util/input_limits.hpp>
#include <measure/util/mapped_file.hpp>

#include <filesystem>

#include <iostream>
#include <measure/documents/profile_yaml.hpp>
#include <measure/util/strings.hpp>
#include <measure/util/terminal_text.hpp>

namespace mrforge::cli {

namespace {

std::map<DigestSlot, Sha384> parse_digests(const std::vector<std::string> &specs) {
  std::map<DigestSlot, Sha384> out;
  for (const std::string &spec : specs) {
    size_t eq = spec.find('=');
    if (eq == std::string::npos)
      throw InputError("--digest " + echoed(spec), "expected NAME=HEX with NAME one of " + digest_slot_names());
    std::string name = spec.substr(0, eq);
    std::optional<DigestSlot> slot = digest_slot_from_name(name);
    if (!slot)
      throw InputError("--digest " + echoed(spec),
                       "unknown component '" + echoed(name) + "' (known: " + digest_slot_names() + ")");
    if (out.count(*slot)) throw InputError("--digest " + echoed(spec), "'" + echoed(name) + "' given twice");
    out[*slot] = sha384_from_hex(spec.substr(eq + 1), "--digest " + name);
  }
  return out;
}

uint64_t parse_bytes(const std::string &text, const std::string &what) {
  if (text.empty() || text.find_first_not_of("0123456789") != std::string::npos || text.size() > 19)
    throw InputError(what, "'" + echoed(text) + "' is not a byte count");
  return std::stoull(text);
}

// IMAGE_DIR's measurements.json shape, when it has one.
std::optional<MeasureSpec> recorded_spec(const MeasureOptions &o, std::vector<std::string> &notes) {
  const std::string path = o.image_dir + "/measurements.json";
  if (!std::filesystem::exists(path)) {
    if (o.image_shape) throw InputError("--image-shape", o.image_dir + " has no measurements.json");
    return std::nullopt;
  }
  Bytes text = InputFile::open_in(o.image_dir, "measurements.json", limits::k_json_document).read_all();
  std::vector<RecordedShape> shapes = read_recorded_shapes(parse_json_text(text, path), path);
  std::vector<std::string> labels;
  for (const RecordedShape &s : shapes) labels.push_back(shape_label(s.profile, s.cpus, s.memory));
  size_t n = pick_recorded_shape(labels, o.image_shape, path, "--image-shape");
  notes.push_back("VM shape: " + shapes[n].where + " (" + labels[n] + ", ACPI " + shapes[n].acpi_source + ")");
  return spec_from_recorded_shape(shapes[n]);
}

} // namespace

void add_measure_options(CLI::App *cmd, MeasureOptions &o, bool required, std::function<bool()> other_job) {
  cmd->add_option("image_dir", o.image_dir,
                  "Image directory: metadata.json (bios, kernel, initrd, cmdline) and, from `mrforge build`, "
                  "measurements.json (profile, OVMF variant, CPUs, memory, ACPI source); options override it");
  cmd->add_option("--image-shape", o.image_shape,
                  "Which VM shape of IMAGE_DIR's measurements.json (0-based), when it holds several");
  cmd->add_option("--firmware", o.firmware, "OVMF.fd (unified CODE+VARS image with TDX metadata)");
  cmd->add_option("--kernel", o.kernel, "Kernel (bzImage / EFI stub PE)");
  cmd->add_option("--initrd", o.initrd, "Initrd file");
  cmd->add_option("--initrd-size", o.initrd_size, "Initrd size in bytes, when only --digest initrd= is given");
  cmd->add_option("--cmdline", o.cmdline, "Kernel command line as given to QEMU -append (without initrd=)");
  cmd->add_option("--cpus", o.cpus, "Number of vCPUs")->check(CLI::Range(1u, 4096u));
  cmd->add_option("--memory", o.memory, "Guest memory: 2G, 2048M or bytes");
  cmd->add_option("--profile", o.profile, "Platform profile name (see `mrforge profiles`) or YAML file");
  if (required) {
    // Required unless an image directory, a shape file or dstack vm_config supplies them.
    cmd->parse_complete_callback([&o, other_job] {
      if (!o.image_dir.empty() || !o.shape.shape_file.empty() || !o.shape.dstack_vm_config.empty()) return;
      if (other_job && other_job() && !any_measure_option(o)) return;
      for (const auto &[missing, name] : {std::pair<bool, const char *>{!o.cpus, "--cpus"},
                                          {o.memory.empty(), "--memory"},
                                          {o.profile.empty(), "--profile"}})
        if (missing)
          throw CLI::RequiredError(std::string(name) + " (or IMAGE_DIR / --dstack-vm-config FILE / --shape FILE)");
    });
  }
  cmd->add_option("--ovmf-variant", o.ovmf_variant,
                  "OVMF variant name or YAML file (default: the one the firmware's fingerprint identifies, else the "
                  "profile's default, printed as an assumption)");
  cmd->add_option("--acpi-tables", o.acpi_tables,
                  "Directory with QEMU's fw_cfg ACPI blobs table-loader, rsdp, tables (as copied from a guest's "
                  "/sys/firmware/qemu_fw_cfg/by_name/etc)");
  cmd->add_option("--digest", o.digests, "Supply a component digest instead of its binary: NAME=HEX (repeatable)");
  add_shape_options(*cmd, o.shape, "--acpi-profile", false);
}

bool any_measure_option(const MeasureOptions &o) {
  return !o.image_dir.empty() || !o.firmware.empty() || !o.kernel.empty() || !o.initrd.empty() || o.cmdline || o.cpus ||
         !o.memory.empty() || !o.profile.empty() || !o.ovmf_variant.empty() || !o.acpi_tables.empty() ||
         !o.digests.empty() || !o.initrd_size.empty() || o.shape.any_given() || o.image_shape;
}

LoadedRequest load_measure_request(const MeasureOptions &o) {
  LoadedRequest loaded;
  MeasureSpec spec;
  std::optional<ImageMetadata> meta;
  if (!o.image_dir.empty()) {
    meta = read_image_metadata(o.image_dir);
    if (std::optional<MeasureSpec> recorded = recorded_spec(o, loaded.notes)) spec = *recorded;
    // Files of the image directory are opened inside it, never through a link.
    spec.firmware = Given{meta->bios, "IMAGE_DIR metadata.json: bios", meta->dir};
    auto in_image = [&](const std::optional<std::string> &path, const char *field) {
      return Given{*path, std::string("IMAGE_DIR metadata.json: ") + field, meta->dir};
    };
    if (meta->boot != "direct") spec.disk = in_image(meta->disk, "disk");
    if (meta->boot == "shim-grub") {
      spec.shim = in_image(meta->shim, "shim");
      spec.grub = in_image(meta->grub, "grub");
      spec.grub_cfg = in_image(meta->grub_cfg, "grub_cfg");
    }
    if (meta->boot == "uki") { // the kernel, initrd and command line are the UKI's sections
      spec.uki = in_image(meta->uki, "uki");
    } else {
      spec.kernel = Given{meta->kernel, "IMAGE_DIR metadata.json: kernel", meta->dir};
      if (meta->initrd) spec.initrd = Given{*meta->initrd, "IMAGE_DIR metadata.json: initrd", meta->dir};
    }
    spec.cmdline = meta->cmdline;
  } else if (o.image_shape) {
    throw InputError("--image-shape", "only with an IMAGE_DIR");
  }
  if (!o.firmware.empty()) spec.firmware = Given{o.firmware, "--firmware"};
  if (!o.kernel.empty()) spec.kernel = Given{o.kernel, "--kernel"};
  if (!o.initrd.empty()) spec.initrd = Given{o.initrd, "--initrd"};
  if (o.cmdline) spec.cmdline = *o.cmdline;
  if (!spec.cmdline)
    throw InputError("--cmdline", "give the kernel command line (--cmdline \"\" for none), or an IMAGE_DIR");
  if (!o.initrd_size.empty()) spec.initrd_size = parse_bytes(o.initrd_size, "--initrd-size");
  spec.supplied = parse_digests(o.digests);

  // What the options change of a recorded shape: its ACPI digests were made for its own profile,
  // CPUs and memory, so they no longer hold when one of those changes.
  const bool shape_changed = !o.profile.empty() || o.cpus || !o.memory.empty();
  if (!o.profile.empty()) spec.profile = Given{o.profile, "--profile"};
  if (!o.ovmf_variant.empty()) spec.ovmf_variant = Given{o.ovmf_variant, "--ovmf-variant"};
  if (o.cpus) spec.cpus = Given{std::to_string(o.cpus), "--cpus"};
  if (!o.memory.empty()) spec.memory = Given{o.memory, "--memory"};
  if (shape_changed && !o.image_dir.empty()) {
    std::vector<std::string> overridden;
    for (const auto &[given, name] : {std::pair<bool, const char *>{!o.profile.empty(), "--profile"},
                                      {o.cpus != 0, "--cpus"},
                                      {!o.memory.empty(), "--memory"}})
      if (given) overridden.push_back(name);
    loaded.notes.push_back("options override the recorded shape: " + join(overridden, ", "));
  }
  if (shape_changed && spec.acpi.kind == AcpiChoice::Kind::digests) {
    loaded.notes.push_back("the recorded ACPI digests were made for the recorded profile, CPUs and memory: not used");
    spec.acpi = AcpiChoice{};
  }
  if (shape_changed && spec.acpi.shape && !o.profile.empty()) spec.acpi.shape->profile.clear();

  // The ACPI source the options name.
  if (!o.acpi_tables.empty()) {
    spec.acpi = AcpiChoice{};
    spec.acpi.kind = AcpiChoice::Kind::tables;
    spec.acpi.tables_dir = o.acpi_tables;
    spec.acpi.where = "--acpi-tables";
  } else if (o.shape.any_given()) {
    ShapeOptions so = o.shape;
    if (o.cpus) so.cpus = o.cpus;
    if (!o.memory.empty()) so.memory = o.memory;
    if (so.shape_file.empty() && so.dstack_vm_config.empty()) {
      // Options alone: CPUs and memory from wherever the request takes them.
      if (!so.cpus && spec.cpus) so.cpus = static_cast<uint32_t>(std::stoul(spec.cpus->value));
      if (so.memory.empty() && spec.memory) so.memory = spec.memory->value;
    }
    VmShape shape = shape_from_options(so);
    for (const std::string &n : shape.notes) loaded.notes.push_back(n);
    spec.acpi = AcpiChoice{};
    spec.acpi.kind = AcpiChoice::Kind::generate;
    spec.acpi.where = !o.shape.shape_file.empty()         ? "--shape"
                      : !o.shape.dstack_vm_config.empty() ? "--dstack-vm-config"
                                                          : "VM shape options";
    // A dstack vm_config names the platform too (its qemu_version).
    if (!o.shape.dstack_vm_config.empty() && !spec.profile)
      spec.profile = Given{shape.profile, "--dstack-vm-config (qemu_version)"};
    if (!o.shape.shape_file.empty() || !o.shape.dstack_vm_config.empty()) {
      if (!spec.cpus) spec.cpus = Given{std::to_string(shape.cpus), spec.acpi.where};
      if (!spec.memory) spec.memory = Given{std::to_string(shape.memory), spec.acpi.where};
    }
    spec.shape_where = shape.origin;
    spec.acpi.shape = shape;
    // Without a file, the options only adjust QEMU's defaults for the platform.
    if (o.shape.shape_file.empty() && o.shape.dstack_vm_config.empty()) {
      spec.acpi.shape_from_options = true;
      spec.acpi.pic_given = o.shape.pic.has_value();
      spec.acpi.smm_given = o.shape.smm.has_value();
    }
  }
  if (!spec.profile) throw InputError("--profile", "give the host's platform profile (see `mrforge profiles`)");
  if (!spec.cpus) throw InputError("--cpus", "give the number of vCPUs");
  if (!spec.memory) throw InputError("--memory", "give the guest memory size (2G, 2048M or bytes)");

  loaded.assembled = assemble_measure_request(spec);
  const OvmfChoice &ovmf = loaded.request().ovmf;
  loaded.notes.push_back("OVMF variant " + ovmf.variant.name + ": " + ovmf.describe());
  return loaded;
}

} // namespace mrforge::cli
