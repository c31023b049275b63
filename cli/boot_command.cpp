// mrforge boot: boots a built image under QEMU (TCG) with a software TPM in check mode, and
// compares what real OVMF and the Linux EFI stub measured (the vTPM event log the guest dumps)
// with the measure engine's prediction for a vTPM profile, event by event.
#include "commands.hpp"
#include "output.hpp"

#include <builder/system/output_dir.hpp>
#include <builder/vm/qemu_boot.hpp>
#include <measure/documents/image_metadata.hpp>
#include <measure/documents/profile_yaml.hpp>
#include <measure/documents/request_assembly.hpp>
#include <measure/engine/engine.hpp>
#include <measure/formats/tcg_log.hpp>
#include <measure/util/errors.hpp>
#include <measure/util/mapped_file.hpp>
#include <measure/util/size_text.hpp>
#include <measure/verify/vtpm_check.hpp>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <iostream>
#include <memory>
#include <optional>

namespace mrforge::cli {

namespace {

namespace fs = std::filesystem;

constexpr const char *k_check_param = "mrforge.check=1";

struct BootOptions {
  std::string image_dir;
  uint32_t cpus = 1;
  std::string memory = "2G";
  int timeout = 300;
  std::string save_acpi;
  std::string serial_log;
  std::string profile = "qemu-7.2-vtpm";
  std::string ovmf_variant;
  bool json = false;
};

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

std::string short_hex(const std::string &hex) { return hex.size() > 16 ? hex.substr(0, 16) + "..." : hex; }

int run_boot(const BootOptions &o) {
  // Refused before the boot rather than after it.
  if (!o.save_acpi.empty()) builder::check_output_replaceable(o.save_acpi, builder::OutputKind::acpi_boot_dump);
  ImageMetadata meta = read_image_metadata(o.image_dir);
  uint64_t memory = parse_memory_size(o.memory);
  if (memory % (1ull << 20)) throw InputError("--memory", "QEMU takes whole MiB; '" + o.memory + "' is not");
  if (o.timeout <= 0) throw InputError("--timeout", "must be at least 1 second");
  if (meta.rootfs && !fs::is_regular_file(*meta.rootfs))
    throw InputError("metadata.json: rootfs", "'" + *meta.rootfs + "' is not a file");

  // Check mode: the image's init dumps the TPM log and the fw_cfg ACPI blobs. The prediction uses
  // exactly the command line QEMU passes; the firmware decides the OVMF variant.
  std::string cmdline = meta.cmdline.empty() ? k_check_param : meta.cmdline + " " + k_check_param;
  MeasureSpec spec;
  spec.target = MeasurementTarget::tpm_pcrs;
  spec.profile = Given{o.profile, "--profile"};
  if (!o.ovmf_variant.empty()) spec.ovmf_variant = Given{o.ovmf_variant, "--ovmf-variant"};
  spec.firmware = Given{meta.bios, "metadata.json: bios", meta.dir};
  spec.kernel = Given{meta.kernel, "metadata.json: kernel", meta.dir};
  if (meta.initrd) spec.initrd = Given{*meta.initrd, "metadata.json: initrd", meta.dir};
  spec.cmdline = cmdline;
  spec.cpus = Given{std::to_string(o.cpus), "--cpus"};
  spec.memory = Given{std::to_string(memory), "--memory"};
  std::unique_ptr<AssembledRequest> assembled = assemble_measure_request(spec);
  const MeasureRequest &request = assembled->request;
  const PlatformProfile &profile = request.profile;
  const OvmfVariant &ovmf = request.ovmf.variant;
  MeasureInputs in = measure_inputs(request);
  VtpmPrediction prediction = predict_vtpm(profile, ovmf, in);

  // The TPM state and logs, removed with their directory at the end.
  builder::ScratchDir scratch = builder::ScratchDir::create("mrforge-boot");
  builder::BootSettings settings;
  settings.firmware = meta.bios;
  settings.kernel = meta.kernel;
  settings.initrd = meta.initrd.value_or("");
  settings.disk = meta.rootfs.value_or("");
  settings.cmdline = cmdline;
  settings.cpus = o.cpus;
  settings.memory = memory;
  settings.timeout = std::chrono::seconds(o.timeout);
  settings.work_dir = scratch.path();
  settings.progress = [](const std::string &s) { print_line(s, std::cerr); };
  builder::BootCapture cap;
  try {
    cap = builder::boot_image(settings);
  } catch (const SystemError &e) {
    std::cerr << "mrforge: error: cannot run the VM: " << message_text(e.what()) << "\n";
    return k_exit_internal;
  }

  std::vector<std::string> failures = cap.failures;
  if (!o.serial_log.empty()) write_bytes(o.serial_log, cap.serial);

  std::vector<EventCheck> checks;
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
    const std::pair<const char *, const char *> blobs[] = {{"fw_cfg/etc/table-loader", "etc/table-loader"},
                                                           {"fw_cfg/etc/acpi/rsdp", "etc/acpi/rsdp"},
                                                           {"fw_cfg/etc/acpi/tables", "etc/acpi/tables"}};
    builder::OutputDir out(o.save_acpi, builder::OutputKind::acpi_boot_dump);
    Json missing = Json::array();
    for (const auto &[name, rel] : blobs) {
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

  bool ok = cap.ready && events_ok && failures.empty();
  if (o.json) {
    Json j{{"ok", ok},
           {"ready", cap.ready},
           {"ready_line", cap.ready_line},
           {"root_mounted", cap.root_mounted},
           {"root_hash", cap.root_hash},
           {"last_stage", cap.last_stage},
           {"seconds", cap.seconds},
           {"profile", profile.name},
           {"ovmf_variant", ovmf.name},
           {"ovmf_variant_basis", std::string(variant_basis_name(request.ovmf.basis)) + ": " + request.ovmf.reason},
           {"cpus", o.cpus},
           {"memory", memory},
           {"cmdline", cmdline},
           {"failures", failures},
           {"missing_dumps", cap.missing},
           {"checks", Json::array()}};
    for (const EventCheck &c : checks)
      j["checks"].push_back(Json{{"status", check_status_name(c.status)},
                                 {"pcr", c.pcr},
                                 {"what", c.what},
                                 {"expected", c.expected},
                                 {"actual", c.actual},
                                 {"note", c.note},
                                 {"log_index", c.log_index ? Json(*c.log_index) : Json(nullptr)}});
    print_json(j);
  } else {
    std::vector<std::vector<std::string>> rows;
    for (const EventCheck &c : checks) {
      rows.push_back({check_status_name(c.status), "PCR" + std::to_string(c.pcr), c.what,
                      c.expected.empty() ? "-" : short_hex(c.expected), c.actual.empty() ? "-" : short_hex(c.actual)});
      if (c.status == CheckStatus::fail) {
        rows.push_back({"", "", "  expected " + (c.expected.empty() ? std::string("(nothing)") : c.expected)});
        rows.push_back({"", "", "  actual   " + (c.actual.empty() ? std::string("(nothing)") : c.actual)});
        rows.push_back({"", "", "  " + c.note});
      }
    }
    print_table(rows);
    if (!checks.empty()) std::cout << "\n";
    print_line("ready: " + (cap.ready ? cap.ready_line : "no (last stage: " + cap.last_stage + ")"));
    std::cout << "root: "
              << (cap.root_mounted ? "verity root mounted" + (cap.root_hash.empty() ? "" : " (" + cap.root_hash + ")")
                                   : std::string("not mounted"))
              << "\n";
    char secs[32];
    std::snprintf(secs, sizeof secs, "%.1f", cap.seconds);
    std::cout << "boot: " << secs << " s (QEMU TCG, " << o.cpus << " vCPU, " << format_memory_size(memory)
              << ", profile " << profile.name << ")\n";
    print_line("OVMF variant: " + ovmf.name + " (" + variant_basis_name(request.ovmf.basis) + ": " +
               request.ovmf.reason + ")");
    for (const std::string &f : failures) print_line("failure: " + f);
    print_line(ok ? "RESULT: OK"
                  : "RESULT: FAILED: " + (failures.empty() ? std::string("no ready line") : failures.front()));
  }
  return ok ? k_exit_ok : k_exit_mismatch;
}

} // namespace

void add_boot_command(CLI::App &app, Runner &run) {
  auto o = std::make_shared<BootOptions>();
  CLI::App *cmd = app.add_subcommand(
      "boot", "Boot a built image under QEMU with a software TPM and check what the firmware measured");
  cmd->footer("Boots OUT's firmware, kernel, initrd and rootfs (from OUT/metadata.json) under QEMU TCG with swtpm\n"
              "(SHA-384 bank), adding mrforge.check=1 to the command line: the image's init then dumps the TPM\n"
              "event log and the fw_cfg ACPI blobs, prints its ready line and powers off. Each event real OVMF\n"
              "and the Linux EFI stub measured is compared with the measure engine's prediction for a vTPM\n"
              "profile (same kernel header patch, Authenticode, command line and initrd rules as in a TD):\n"
              "  pass|FAIL  PCRn  what  expected  actual\n"
              "Needs qemu-system-x86_64, swtpm and swtpm_setup. Progress goes to stderr.\n"
              "Examples:\n"
              "  mrforge boot out/\n"
              "  mrforge boot out/ --memory 3G --cpus 2 --save-acpi acpi-3g/ --serial-log boot.log\n"
              "  mrforge measure out/ --memory 3G --acpi-tables acpi-3g/ --profile qemu-8.2-tdx\n"
              "Exit codes: 0 the guest reached its ready line and every event matches; 1 usage error;\n"
              "2 bad input (OUT, metadata.json or a file it names); 3 QEMU or swtpm cannot run;\n"
              "4 the boot failed (verity, panic, timeout, init failure) or an event differs.");
  cmd->add_option("OUT", o->image_dir, "Image directory (with metadata.json) written by `mrforge build`")->required();
  cmd->add_option("--cpus", o->cpus, "Number of vCPUs (default 1)")->check(CLI::Range(1u, 255u));
  cmd->add_option("--memory", o->memory, "Guest memory: 2G, 3072M, ... (default 2G)");
  cmd->add_option("--timeout", o->timeout, "Seconds for the whole boot (default 300)")->check(CLI::Range(1, 86400));
  cmd->add_option(
      "--save-acpi", o->save_acpi,
      "Write the captured ACPI blobs to DIR/etc/... (for `measure --acpi-tables DIR`); DIR is replaced only if "
      "empty or an earlier --save-acpi output");
  cmd->add_option("--serial-log", o->serial_log, "Write the guest's serial output (cleaned) to FILE");
  cmd->add_option("--profile", o->profile, "vTPM platform profile (default qemu-7.2-vtpm)");
  cmd->add_option("--ovmf-variant", o->ovmf_variant, "OVMF variant (default: the profile's)");
  cmd->add_flag("--json", o->json, "Print JSON: {ok, ready, checks, failures, ...}");
  cmd->callback([o, &run] { run = [o] { return run_boot(*o); }; });
}

} // namespace mrforge::cli
