#include <builder/system/output_dir.hpp>
#include <builder/vm/boot_check.hpp>
#include <measure/acpi/acpi_digests.hpp>
#include <measure/documents/image_metadata.hpp>
#include <measure/documents/profile_yaml.hpp>
#include <measure/documents/request_assembly.hpp>
#include <measure/engine/engine.hpp>
#include <measure/formats/tcg_log.hpp>
#include <measure/util/errors.hpp>
#include <measure/util/mapped_file.hpp>
#include <measure/util/size_text.hpp>

#include <algorithm>
#include <filesystem>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>

namespace mrforge::builder {

namespace {

namespace fs = std::filesystem;

constexpr const char *k_check_param = "mrforge.check=1";

// Writes a file through a temporary sibling renamed into place (a symlink at `path` is replaced,
// not written through), creating its parent directories.
void write_bytes(const std::string &path, const std::string &bytes) {
  std::error_code ec;
  fs::path parent = fs::path(path).parent_path();
  if (!parent.empty()) fs::create_directories(parent, ec);
  if (ec) throw SystemError(parent.string(), "cannot create directory: " + ec.message());
  write_file_atomically(path, bytes);
}

// The value of `key=` on a command line, if present.
std::optional<std::string> cmdline_value(const std::string &cmdline, const std::string &key) {
  size_t pos = 0;
  while (pos < cmdline.size()) {
    size_t end = cmdline.find(' ', pos);
    if (end == std::string::npos) end = cmdline.size();
    std::string word = cmdline.substr(pos, end - pos);
    if (word.rfind(key + "=", 0) == 0) return word.substr(key.size() + 1);
    pos = end + 1;
  }
  return std::nullopt;
}

// The guest's dumps of QEMU's three ACPI fw_cfg files ("fw_cfg/" + the fw_cfg name).
const char *const k_acpi_dumps[] = {"fw_cfg/etc/table-loader", "fw_cfg/etc/acpi/rsdp", "fw_cfg/etc/acpi/tables"};
constexpr size_t k_fw_cfg_prefix = 7; // "fw_cfg/"

// The digests of the three ACPI blobs the guest dumped from fw_cfg (QEMU's bytes as OVMF read them),
// or nullopt with a failure saying why they cannot be used.
std::optional<AcpiDigests> dumped_acpi_digests(const BootCapture &cap, std::vector<std::string> &failures) {
  std::vector<ByteView> blobs;
  for (const char *name : k_acpi_dumps) {
    auto it = cap.blobs.find(name);
    if (it == cap.blobs.end()) {
      failures.push_back(std::string("the OVMF variant measures QEMU's ACPI blobs, but the guest did not dump ") +
                         name + ": the \"ACPI DATA\" events cannot be predicted");
      return std::nullopt;
    }
    blobs.push_back(ByteView::of(it->second));
  }
  try {
    return acpi_digests(blobs[0], k_acpi_dumps[0], blobs[1], k_acpi_dumps[1], blobs[2], k_acpi_dumps[2]);
  } catch (const FormatError &e) {
    failures.push_back(std::string("the guest's fw_cfg ACPI dump is unusable: ") + e.what());
    return std::nullopt;
  }
}

} // namespace

BootCheckResult run_boot_check(const BootCheckSettings &o) {
  // Refused before the boot rather than after it.
  if (!o.save_acpi.empty()) check_output_replaceable(o.save_acpi, OutputKind::acpi_boot_dump);
  ImageMetadata meta = read_image_metadata(o.image_dir);
  uint64_t memory = parse_memory_size(o.memory);
  if (memory % (1ull << 20)) throw InputError("--memory", "QEMU takes whole MiB; '" + o.memory + "' is not");
  if (o.timeout <= 0) throw InputError("--timeout", "must be at least 1 second");
  if (meta.rootfs && !fs::is_regular_file(*meta.rootfs))
    throw InputError("metadata.json: rootfs", "'" + *meta.rootfs + "' is not a file");

  // Check mode: the image's init dumps the TPM log and the fw_cfg ACPI blobs. The prediction uses
  // exactly the command line QEMU passes; the firmware decides the OVMF variant. A disk-booted
  // image's command line is sealed in its UKI or grub.cfg: check mode comes through fw_cfg instead.
  const bool disk_boot = meta.boot != "direct";
  std::string cmdline = disk_boot              ? meta.cmdline
                        : meta.cmdline.empty() ? k_check_param
                                               : meta.cmdline + " " + k_check_param;
  MeasureSpec spec;
  spec.target = MeasurementTarget::tpm_pcrs;
  spec.profile = Given{o.profile, "--profile"};
  if (!o.ovmf_variant.empty()) spec.ovmf_variant = Given{o.ovmf_variant, "--ovmf-variant"};
  spec.firmware = Given{meta.bios, "metadata.json: bios", meta.dir};
  if (disk_boot) {
    spec.disk = Given{*meta.disk, "metadata.json: disk", meta.dir};
    spec.disk_slots = std::vector<unsigned>{k_boot_disk_slot}; // the only PCI device QEMU gets
  }
  if (meta.boot == "uki") {
    spec.uki = Given{*meta.uki, "metadata.json: uki", meta.dir};
  } else {
    if (meta.boot == "shim-grub") {
      spec.shim = Given{*meta.shim, "metadata.json: shim", meta.dir};
      spec.grub = Given{*meta.grub, "metadata.json: grub", meta.dir};
      spec.grub_cfg = Given{*meta.grub_cfg, "metadata.json: grub_cfg", meta.dir};
    }
    spec.kernel = Given{meta.kernel, "metadata.json: kernel", meta.dir};
    if (meta.initrd) spec.initrd = Given{*meta.initrd, "metadata.json: initrd", meta.dir};
  }
  spec.cmdline = cmdline;
  spec.cpus = Given{std::to_string(o.cpus), "--cpus"};
  spec.memory = Given{std::to_string(memory), "--memory"};
  std::unique_ptr<AssembledRequest> assembled = assemble_measure_request(spec);
  const MeasureRequest &request = assembled->request;
  const PlatformProfile &profile = request.profile;
  const OvmfVariant &ovmf = request.ovmf.variant;
  MeasureInputs in = measure_inputs(request);
  // The "ACPI DATA" events of a variant that measures QEMU's fw_cfg blobs are predicted after the
  // boot, from the blobs the guest read from fw_cfg; everything else is predicted (and its inputs
  // refused) before it.
  PlatformProfile without_acpi = profile;
  std::vector<EventStep> &steps = meta.boot == "uki"         ? without_acpi.uki_events
                                  : meta.boot == "shim-grub" ? without_acpi.shim_grub_events
                                                             : without_acpi.events;
  const size_t all_steps = steps.size();
  steps.erase(std::remove(steps.begin(), steps.end(), EventStep::acpi_tables), steps.end());
  const bool acpi_measured = steps.size() != all_steps && !ovmf.vtpm_acpi_blobs.empty();
  VtpmPrediction prediction = predict_vtpm(acpi_measured ? without_acpi : profile, ovmf, in);

  // The TPM state and logs, removed with their directory at the end.
  ScratchDir scratch = ScratchDir::create("mrforge-boot");
  BootSettings settings;
  settings.firmware = meta.bios;
  if (disk_boot) {
    settings.boot_disk = *meta.disk; // in k_boot_disk_slot, as predicted
    settings.check_by_fw_cfg = true;
  } else {
    settings.kernel = meta.kernel;
    settings.initrd = meta.initrd.value_or("");
    settings.disk = meta.rootfs.value_or("");
    settings.cmdline = cmdline;
  }
  settings.cpus = o.cpus;
  settings.memory = memory;
  settings.timeout = std::chrono::seconds(o.timeout);
  settings.work_dir = scratch.path();
  settings.progress = o.progress;
  BootCheckResult result;
  BootCapture &cap = result.capture;
  cap = boot_image(settings);

  std::vector<std::string> &failures = result.failures;
  failures = cap.failures;
  if (!o.serial_log.empty()) write_bytes(o.serial_log, cap.serial);

  if (acpi_measured) {
    if (std::optional<AcpiDigests> acpi = dumped_acpi_digests(cap, failures)) {
      in.acpi = *acpi;
      in.acpi_origin = "the guest's fw_cfg dump";
      prediction = predict_vtpm(profile, ovmf, in);
    }
  }

  std::vector<EventCheck> &checks = result.checks;
  auto log_blob = cap.blobs.find("tpm-event-log");
  if (log_blob != cap.blobs.end()) {
    try {
      Bytes bytes(log_blob->second.begin(), log_blob->second.end());
      TcgLog log = parse_tcg_log(bytes, "tpm-event-log (from the guest)");
      checks = check_vtpm_log(log, prediction.events);
    } catch (const FormatError &e) {
      failures.push_back(std::string("the guest's TPM event log is unusable: ") + e.what());
    }
  } else if (cap.ready || cap.check_done) {
    failures.push_back(
        "the guest did not dump the TPM event log (tpm-event-log" +
        std::string(std::find(cap.missing.begin(), cap.missing.end(), "tpm-event-log") != cap.missing.end()
                        ? " reported missing: no TPM seen by the kernel?)"
                        : " not dumped: was the image built with check mode?)"));
  }
  bool events_ok = !checks.empty() && all_passed(checks);
  if (!checks.empty() && !events_ok) {
    size_t n = 0;
    for (const EventCheck &c : checks) n += c.status == CheckStatus::fail;
    failures.push_back(std::to_string(n) + " measured event(s) differ from the prediction");
  }
  std::optional<std::string> expected_root = cmdline_value(meta.cmdline, "mrforge.roothash");
  if (cap.root_mounted && expected_root && !cap.root_hash.empty() && cap.root_hash != *expected_root)
    failures.push_back("the guest mounted root hash " + cap.root_hash + ", metadata.json says " + *expected_root);

  if (!o.save_acpi.empty()) {
    OutputDir out(o.save_acpi, OutputKind::acpi_boot_dump);
    nlohmann::ordered_json missing = nlohmann::ordered_json::array();
    for (const char *name : k_acpi_dumps) {
      const std::string rel = std::string(name).substr(k_fw_cfg_prefix);
      auto it = cap.blobs.find(name);
      if (it == cap.blobs.end()) {
        failures.push_back(std::string("--save-acpi: the guest did not dump ") + name);
        missing.push_back(rel);
      } else {
        write_bytes(out.temp_path() + "/" + rel, it->second);
      }
    }
    out.write_record({{"profile", profile.name}, {"missing", missing}});
    out.commit();
  }

  result.ok = cap.ready && events_ok && failures.empty();
  result.profile = profile.name;
  result.ovmf_variant = ovmf.name;
  result.ovmf_basis = request.ovmf.describe();
  result.cpus = o.cpus;
  result.memory = memory;
  result.cmdline = cmdline;
  return result;
}

} // namespace mrforge::builder
