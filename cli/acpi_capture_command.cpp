// mrforge acpi capture: boots a QEMU (the local 7.2 by default, or --qemu; q35, TCG) for a VM shape
// with a tiny guest that dumps the three ACPI fw_cfg files, and writes them (with the shape and the
// QEMU version) to a directory, in the same layout as `mrforge acpi generate`, so the two can be
// compared with `mrforge acpi diff`.
#include "commands.hpp"
#include "output.hpp"
#include "shape_options.hpp"

#include <builder/system/output_dir.hpp>
#include <builder/vm/acpi_capture.hpp>
#include <measure/acpi/acpi_blobs.hpp>
#include <measure/acpi/acpi_generator.hpp>
#include <measure/documents/profile_yaml.hpp>
#include <measure/documents/vm_shape_file.hpp>
#include <measure/util/errors.hpp>
#include <measure/util/hash.hpp>

#include <filesystem>
#include <iostream>
#include <memory>

namespace mrforge::cli {

namespace {

namespace fs = std::filesystem;

struct CaptureOptions {
  ShapeOptions shape;
  std::string output;
  std::string firmware = "/usr/share/OVMF/OVMF_CODE.fd";
  std::string kernel;
  std::string accel = "tcg";
  std::string qemu = "qemu-system-x86_64";
  std::string qemu_data;
  int timeout = 300;
  bool json = false;
};

int run_capture(const CaptureOptions &o) {
  VmShape shape = shape_from_options(o.shape);
  print_shape_notes(shape, std::cerr);
  if (shape.profile.empty()) shape.profile = builder::k_capture_profile;
  builder::check_output_replaceable(o.output, builder::OutputKind::acpi_captured); // before a long boot
  validate_acpi_shape(shape, load_acpi_profile(shape.profile));                    // QEMU's limits

  builder::ScratchDir scratch = builder::ScratchDir::create("mrforge-acpi-capture");
  builder::AcpiCaptureSettings settings;
  settings.shape = shape;
  settings.firmware = o.firmware;
  settings.kernel = o.kernel;
  settings.work_dir = scratch.path();
  settings.timeout = std::chrono::seconds(o.timeout);
  settings.accel = o.accel;
  settings.qemu = o.qemu;
  settings.qemu_data_dir = o.qemu_data;
  settings.progress = [](const std::string &s) { print_line(s, std::cerr); };
  if (!fs::is_regular_file(settings.firmware))
    throw InputError("--firmware", "'" + settings.firmware + "' is not a file (Debian: apt-get install ovmf)");
  builder::AcpiCapture capture = builder::capture_acpi(settings);
  const AcpiBlobs &blobs = capture.blobs;

  builder::OutputDir out(o.output, builder::OutputKind::acpi_captured);
  write_acpi_blobs(blobs, out.temp_path());
  write_file_atomically(out.temp_path() + "/shape.yaml", vm_shape_to_yaml(shape));
  out.write_record({{"profile", shape.profile}, {"shape", "shape.yaml"}, {"qemu_version", capture.qemu_version}});
  out.commit();

  const std::pair<const char *, const Bytes *> files[] = {
      {"table-loader", &blobs.table_loader}, {"rsdp", &blobs.rsdp}, {"tables", &blobs.tables}};
  if (o.json) {
    Json j{{"ok", true},
           {"dir", o.output},
           {"profile", shape.profile},
           {"qemu_version", capture.qemu_version},
           {"shape", o.output + "/shape.yaml"},
           {"blobs", Json::array()}};
    for (const auto &[name, bytes] : files)
      j["blobs"].push_back(Json{{"name", name},
                                {"file", o.output + "/" + name},
                                {"size", bytes->size()},
                                {"sha384", to_hex(sha384(*bytes))}});
    print_json(j);
  } else {
    std::vector<std::vector<std::string>> rows;
    for (const auto &[name, bytes] : files)
      rows.push_back({name, std::to_string(bytes->size()) + " bytes", "sha384 " + to_hex(sha384(*bytes))});
    print_table(rows);
    std::cout << "captured: " << o.output << " (QEMU " << capture.qemu_version << ", profile " << shape.profile
              << ", shape in " << o.output << "/shape.yaml)\n";
  }
  return k_exit_ok;
}

} // namespace

void add_acpi_capture_command(CLI::App &acpi, Runner &run) {
  auto o = std::make_shared<CaptureOptions>();
  CLI::App *cmd =
      add_command(acpi, run, o, "capture", "Boot QEMU for a VM shape and save its real ACPI blobs", run_capture);
  cmd->footer(
      "Starts qemu-system-x86_64 (q35, TCG, OVMF) with the shape's machine options and devices (placeholder\n"
      "disks, a user-mode NIC, a read-only 9p share, empty root ports) and a tiny guest (a static busybox and\n"
      "the kernel's qemu_fw_cfg module) that dumps /sys/firmware/qemu_fw_cfg/by_name/etc/{table-loader,\n"
      "acpi/rsdp,acpi/tables} on the serial console: the blobs as OVMF measured them. Writes\n"
      "DIR/table-loader, DIR/rsdp, DIR/tables and DIR/shape.yaml (to re-capture: --shape DIR/shape.yaml) and\n"
      "DIR/mrforge-build.json, all at once; an existing DIR is replaced only if it is empty or an earlier\n"
      "`acpi capture` output, never through a symlink.\n"
      "QEMU is the system's qemu-system-x86_64 (/usr/bin: Debian bookworm's 7.2) or --qemu PATH, with --qemu-data DIR\n"
      "for one unpacked into a prefix of its own (`-L DIR`). Its version (`QEMU --version`) goes into\n"
      "DIR/mrforge-build.json and must be the shape's profile's: the default profile qemu-7.2-q35\n"
      "describes QEMU 7.2, and any other QEMU needs --profile NAME of a q35 profile of its own version\n"
      "(qemu-10.0-q35 for QEMU 10.0; TDX profiles cannot be captured). NUMA nodes (hugepages, numa_nodes)\n"
      "get a RAM backend each and their pxb-pcie expanders; GPUs and NVSwitches cannot be started here\n"
      "(use root ports with nothing behind them); vhost-vsock needs /dev/vhost-vsock. More than 255 vCPUs\n"
      "(APIC IDs >= 255): QEMU 10.0 starts them under TCG (-cpu qemu64,x2apic=on, added for them); QEMU 7.2\n"
      "only with --accel kvm and a KVM that has SMM (KVM's in-kernel irqchip). The guest brings up one vCPU\n"
      "(maxcpus=1). About 20 s per boot for small shapes under TCG, about a minute for 288 vCPUs.\n"
      "Progress goes to stderr.\n"
      "Examples:\n"
      "  mrforge acpi capture --cpus 2 --memory 2G --device virtio-blk --device virtio-net -o cap/\n"
      "  mrforge acpi capture --shape tests/data/acpi/qemu-7.2-q35/c1-m2g/shape.yaml -o cap/\n"
      "  mrforge acpi capture --shape shape.yaml --profile qemu-10.0-q35 -o cap10/ \\\n"
      "    --qemu /opt/mrforge-qemu-10.0/usr/bin/qemu-system-x86_64 \\\n"
      "    --qemu-data /opt/mrforge-qemu-10.0/usr/share/qemu\n"
      "  mrforge acpi diff cap/ gen/\n"
      "Exit codes: 0 captured; 1 usage error; 2 bad input (shape, unsupported device, firmware, kernel or\n"
      "module missing, --qemu not executable, a profile of another QEMU, DIR not writable or not an\n"
      "earlier `acpi capture` output); 3 QEMU cannot run or the guest did not dump the blobs.");
  add_shape_options(*cmd, o->shape, "--profile");
  cmd->add_option("-o,--output", o->output, "Directory for table-loader, rsdp, tables and shape.yaml")->required();
  cmd->add_option("--firmware", o->firmware, "OVMF for -bios (default /usr/share/OVMF/OVMF_CODE.fd)");
  cmd->add_option("--kernel", o->kernel,
                  "Guest kernel (default: the newest /boot/vmlinuz-* whose qemu_fw_cfg module is installed)");
  cmd->add_option("--accel", o->accel, "tcg (default) or kvm (QEMU 7.2 needs it for more than 255 vCPUs)")
      ->check(CLI::IsMember({"tcg", "kvm"}));
  cmd->add_option("--qemu", o->qemu,
                  "QEMU to run (default: the system's qemu-system-x86_64, looked up in /usr/sbin:/usr/bin:/sbin:/bin)");
  cmd->add_option("--qemu-data", o->qemu_data, "QEMU's data folder, passed as -L DIR (PREFIX/usr/share/qemu)");
  cmd->add_option("--timeout", o->timeout, "Seconds for the whole boot (default 300)")->check(CLI::Range(1, 86400));
  cmd->add_flag("--json", o->json,
                "Print JSON: {ok, dir, profile, qemu_version, shape, blobs: [{name, file, size, sha384}]}");
}

} // namespace mrforge::cli
