// mrforge boot: boots a built image under QEMU (TCG) with a software TPM in check mode, and
// compares what real OVMF and the Linux EFI stub measured (the vTPM event log the guest dumps)
// with the measure engine's prediction for a vTPM profile, event by event.
#include "commands.hpp"
#include "output.hpp"

#include <builder/vm/boot_check.hpp>
#include <measure/util/size_text.hpp>

#include <cstdio>
#include <iostream>
#include <memory>

namespace mrforge::cli {

namespace {

struct BootOptions {
  builder::BootCheckSettings check;
  bool json = false;
};

std::string short_hex(const std::string &hex) { return hex.size() > 16 ? hex.substr(0, 16) + "..." : hex; }

int run_boot(const BootOptions &o) {
  builder::BootCheckSettings settings = o.check;
  settings.progress = [](const std::string &s) { print_line(s, std::cerr); };
  const builder::BootCheckResult r = builder::run_boot_check(settings);
  const builder::BootCapture &cap = r.capture;
  const std::vector<EventCheck> &checks = r.checks;
  const std::vector<std::string> &failures = r.failures;
  const bool ok = r.ok;
  if (o.json) {
    Json j{{"ok", ok},
           {"ready", cap.ready},
           {"ready_line", cap.ready_line},
           {"root_mounted", cap.root_mounted},
           {"root_hash", cap.root_hash},
           {"last_stage", cap.last_stage},
           {"seconds", cap.seconds},
           {"profile", r.profile},
           {"ovmf_variant", r.ovmf_variant},
           {"ovmf_variant_basis", r.ovmf_basis},
           {"cpus", r.cpus},
           {"memory", r.memory},
           {"cmdline", r.cmdline},
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
    std::cout << "boot: " << secs << " s (QEMU TCG, " << r.cpus << " vCPU, " << format_memory_size(r.memory)
              << ", profile " << r.profile << ")\n";
    print_line("OVMF variant: " + r.ovmf_variant + " (" + r.ovmf_basis + ")");
    for (const std::string &f : failures) print_line("failure: " + f);
    print_line(ok ? "RESULT: OK"
                  : "RESULT: FAILED: " + (failures.empty() ? std::string("no ready line") : failures.front()));
  }
  return ok ? k_exit_ok : k_exit_mismatch;
}

} // namespace

void add_boot_command(CLI::App &app, Runner &run) {
  auto o = std::make_shared<BootOptions>();
  CLI::App *cmd =
      add_command(app, run, o, "boot",
                  "Boot a built image under QEMU with a software TPM and check what the firmware measured", run_boot);
  cmd->footer("Boots OUT's firmware, kernel, initrd and rootfs (from OUT/metadata.json) under QEMU TCG with swtpm\n"
              "(SHA-384 bank), adding mrforge.check=1 to the command line: the image's init then dumps the TPM\n"
              "event log and the fw_cfg ACPI blobs, prints its ready line and powers off. An image built with\n"
              "boot: uki or boot: shim-grub boots its disk.img instead (no -kernel), check mode coming through\n"
              "QEMU's fw_cfg (opt/org.mrforge/check) since the UKI or grub.cfg seals the command line. Each\n"
              "event real OVMF, shim, GRUB and the Linux EFI stub measured is compared with the measure\n"
              "engine's prediction for a vTPM\n"
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
  cmd->add_option("OUT", o->check.image_dir, "Image directory (with metadata.json) written by `mrforge build`")
      ->required();
  cmd->add_option("--cpus", o->check.cpus, "Number of vCPUs (default 1)")->check(CLI::Range(1u, 255u));
  cmd->add_option("--memory", o->check.memory, "Guest memory: 2G, 3072M, ... (default 2G)");
  cmd->add_option("--timeout", o->check.timeout, "Seconds for the whole boot (default 300)")
      ->check(CLI::Range(1, 86400));
  cmd->add_option(
      "--save-acpi", o->check.save_acpi,
      "Write the captured ACPI blobs to DIR/etc/... (for `measure --acpi-tables DIR`); DIR is replaced only if "
      "empty or an earlier --save-acpi output");
  cmd->add_option("--serial-log", o->check.serial_log, "Write the guest's serial output (cleaned) to FILE");
  cmd->add_option("--profile", o->check.profile, "vTPM platform profile (default qemu-7.2-vtpm)");
  cmd->add_option("--ovmf-variant", o->check.ovmf_variant, "OVMF variant (default: the profile's)");
  cmd->add_flag("--json", o->json, "Print JSON: {ok, ready, checks, failures, ...}");
}

} // namespace mrforge::cli
