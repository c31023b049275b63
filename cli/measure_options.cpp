#include "measure_options.hpp"

#include <builder/image_metadata.hpp>
#include <measure/errors.hpp>
#include <measure/profile_yaml.hpp>

namespace mrforge::cli {

namespace {

std::map<DigestSlot, Sha384> parse_digests(const std::vector<std::string> &specs) {
  std::map<DigestSlot, Sha384> out;
  for (const std::string &spec : specs) {
    size_t eq = spec.find('=');
    if (eq == std::string::npos)
      throw InputError("--digest " + spec, "expected NAME=HEX with NAME one of " + digest_slot_names());
    std::string name = spec.substr(0, eq);
    std::optional<DigestSlot> slot = digest_slot_from_name(name);
    if (!slot)
      throw InputError("--digest " + spec, "unknown component '" + name + "' (known: " + digest_slot_names() + ")");
    if (out.count(*slot)) throw InputError("--digest " + spec, "'" + name + "' given twice");
    out[*slot] = sha384_from_hex(spec.substr(eq + 1), "--digest " + name);
  }
  return out;
}

uint64_t parse_bytes(const std::string &text, const std::string &what) {
  if (text.empty() || text.find_first_not_of("0123456789") != std::string::npos || text.size() > 19)
    throw InputError(what, "'" + text + "' is not a byte count");
  return std::stoull(text);
}

} // namespace

void add_measure_options(CLI::App *cmd, MeasureOptions &o, bool required) {
  cmd->add_option("image_dir", o.image_dir, "Image directory with metadata.json (bios, kernel, initrd, cmdline)");
  cmd->add_option("--firmware", o.firmware, "OVMF.fd (unified CODE+VARS image with TDX metadata)");
  cmd->add_option("--kernel", o.kernel, "Kernel (bzImage / EFI stub PE)");
  cmd->add_option("--initrd", o.initrd, "Initrd file");
  cmd->add_option("--initrd-size", o.initrd_size, "Initrd size in bytes, when only --digest initrd= is given");
  cmd->add_option("--cmdline", o.cmdline, "Kernel command line as given to QEMU -append (without initrd=)");
  auto *cpus = cmd->add_option("--cpus", o.cpus, "Number of vCPUs")->check(CLI::Range(1u, 4096u));
  auto *memory = cmd->add_option("--memory", o.memory, "Guest memory: 2G, 2048M or bytes");
  auto *profile =
      cmd->add_option("--profile", o.profile, "Platform profile name (see `mrforge profiles`) or YAML file");
  if (required) {
    cpus->required();
    memory->required();
    profile->required();
  }
  cmd->add_option("--ovmf-variant", o.ovmf_variant, "OVMF variant name or YAML file (default: the profile's)");
  cmd->add_option("--acpi-tables", o.acpi_tables,
                  "Directory with QEMU's fw_cfg ACPI blobs table-loader, rsdp, tables (as copied from a guest's "
                  "/sys/firmware/qemu_fw_cfg/by_name/etc)");
  cmd->add_option("--digest", o.digests, "Supply a component digest instead of its binary: NAME=HEX (repeatable)");
}

bool any_measure_option(const MeasureOptions &o) {
  return !o.image_dir.empty() || !o.firmware.empty() || !o.kernel.empty() || !o.initrd.empty() || o.cmdline || o.cpus ||
         !o.memory.empty() || !o.profile.empty() || !o.ovmf_variant.empty() || !o.acpi_tables.empty() ||
         !o.digests.empty() || !o.initrd_size.empty();
}

std::unique_ptr<LoadedMeasureInputs> load_measure_inputs(const MeasureOptions &o) {
  std::string firmware = o.firmware, kernel = o.kernel, initrd = o.initrd;
  std::optional<std::string> cmdline = o.cmdline;
  if (!o.image_dir.empty()) {
    ImageMetadata meta = read_image_metadata(o.image_dir);
    if (firmware.empty()) firmware = meta.bios;
    if (kernel.empty()) kernel = meta.kernel;
    if (initrd.empty() && meta.initrd) initrd = *meta.initrd;
    if (!cmdline) cmdline = meta.cmdline;
  }
  if (!cmdline)
    throw InputError("--cmdline", "give the kernel command line (--cmdline \"\" for none), or an IMAGE_DIR");
  if (o.profile.empty()) throw InputError("--profile", "give the host's platform profile (see `mrforge profiles`)");
  if (o.cpus == 0) throw InputError("--cpus", "give the number of vCPUs");
  if (o.memory.empty()) throw InputError("--memory", "give the guest memory size (2G, 2048M or bytes)");

  auto loaded = std::make_unique<LoadedMeasureInputs>();
  loaded->profile = load_platform_profile(o.profile);
  if (loaded->profile.measured_into != MeasurementTarget::tdx_rtmrs)
    throw InputError("--profile",
                     "profile " + loaded->profile.name +
                         " describes a boot measured into TPM PCRs, not a TD's RTMRs; `mrforge boot` uses it");
  loaded->ovmf = load_ovmf_variant(o.ovmf_variant.empty() ? loaded->profile.default_ovmf_variant : o.ovmf_variant);
  MeasureInputs &in = loaded->in;
  auto map = [&](const std::string &path) {
    loaded->files.push_back(std::make_unique<MappedFile>(path));
    return NamedBytes{loaded->files.back()->bytes(), path};
  };
  if (!firmware.empty()) in.firmware = map(firmware);
  if (!kernel.empty()) in.kernel = map(kernel);
  if (!initrd.empty()) in.initrd = map(initrd);
  if (!o.initrd_size.empty()) in.initrd_size = parse_bytes(o.initrd_size, "--initrd-size");
  in.cmdline = *cmdline;
  in.cpus = o.cpus;
  in.memory = parse_memory_size(o.memory, "--memory");
  if (!o.acpi_tables.empty()) {
    in.acpi = acpi_digests_from_dir(o.acpi_tables);
    in.acpi_origin = o.acpi_tables;
  }
  in.supplied = parse_digests(o.digests);
  return loaded;
}

} // namespace mrforge::cli
