// Live capture of QEMU's ACPI blobs (see acpi_capture.hpp). The guest is the prototype's: a static
// busybox, the kernel's qemu_fw_cfg module (uncompressed, busybox insmod cannot decompress) and an
// /init that dumps /sys/firmware/qemu_fw_cfg/by_name/etc/... in qemu_boot's check-dump protocol.
// The machine is the shape's, with QEMU's default CPU model (qemu64, as dstack uses) under TCG.
#include <builder/vm/acpi_capture.hpp>

#include <builder/archive/archive_writers.hpp>
#include <builder/archive/compress.hpp>
#include <builder/fs/content_staging.hpp>
#include <builder/fs/fs_tree.hpp>
#include <builder/guest/elf_file.hpp>
#include <builder/guest/initramfs.hpp>
#include <builder/guest/kernel_modules.hpp>
#include <builder/system/byte_sink.hpp>
#include <builder/system/subprocess.hpp>
#include <builder/vm/qemu_boot.hpp>

#include <measure/acpi/acpi_generator.hpp>
#include <measure/documents/profile_yaml.hpp>
#include <measure/util/errors.hpp>
#include <measure/util/file_io.hpp>
#include <measure/util/strings.hpp>

#include <algorithm>
#include <cctype>
#include <cstdio>
#include <cstring>
#include <filesystem>

#include <unistd.h>

namespace mrforge::builder {

namespace {

namespace fs = std::filesystem;

// no_timer_check: with pic=off under TCG, Linux's IO-APIC timer check (check_timer) fails and the
// boot panics or QEMU 7.2 crashes in about two boots of three; the capture needs no timer check.
// maxcpus=1: the guest brings up no secondary CPU (under TCG each takes seconds; OVMF has already
// started and parked them all). The guest only reads fw_cfg, so its kernel options cannot change
// the blobs (captured with and without it: same bytes).
constexpr const char *k_cmdline = "console=ttyS0 quiet panic=-1 no_timer_check maxcpus=1";
constexpr const char *k_cpu_model = "qemu64"; // QEMU's default for q35, and dstack's -cpu
// QEMU 7.2 constants for the highest guest address (see capture_cpu_model).
constexpr uint32_t k_default_phys_bits = 40; // target/i386/cpu.h TCG_PHYS_ADDR_BITS
constexpr uint32_t k_max_phys_bits = 52;     // target/i386/cpu-param.h TARGET_PHYS_ADDR_SPACE_BITS
constexpr uint64_t k_gib = 1ull << 30;
constexpr uint64_t k_default_hole64 = 32 * k_gib; // q35.h Q35_PCI_HOST_HOLE64_SIZE_DEFAULT
constexpr const char *k_ram_backend_id = "mrforge-ram";
constexpr const char *k_module_dir = "kernel/drivers/firmware";
constexpr const char *k_module_name = "qemu_fw_cfg";
constexpr const char *k_vhost_vsock_device = "/dev/vhost-vsock";
// APIC IDs are the vCPU indexes (one socket, validate_acpi_shape); 255 and above are x2APIC IDs.
constexpr uint32_t k_max_xapic_cpus = 255;
constexpr uint64_t k_placeholder_disk = 1 << 20; // bytes of each placeholder virtio-blk backend
constexpr size_t k_serial_tail_lines = 25;       // serial lines quoted in a failure message
constexpr std::chrono::seconds k_version_timeout{30};
constexpr const char *k_version_banner = "QEMU emulator version "; // softmmu/vl.c version()
const char *const k_blob_names[] = {"fw_cfg/etc/table-loader", "fw_cfg/etc/acpi/rsdp", "fw_cfg/etc/acpi/tables"};

const char *on_off(bool b) { return b ? "on" : "off"; }

std::string hex_name(const char *fmt, unsigned v) {
  char buf[16];
  std::snprintf(buf, sizeof buf, fmt, v);
  return buf;
}

// The shape as QEMU options: -machine/-smp/-m go to BootSettings' own fields, the rest is appended.
// The guest RAM goes into `ram` backends (one per NUMA node, else one for the machine), created by
// the caller (ram_backend_args) because their files live in its work directory.
struct RamBackend {
  std::string id;
  uint64_t size = 0;
};
struct ShapeArgs {
  std::string machine;
  uint32_t cpus = 1;
  uint64_t memory = 0;
  std::vector<RamBackend> ram;
  std::vector<std::string> rest;
};

void create_placeholder_disk(const std::string &path) {
  std::error_code ec;
  if (fs::is_regular_file(path, ec) && fs::file_size(path, ec) == k_placeholder_disk) return;
  write_file_atomically(path, std::string(k_placeholder_disk, '\0'));
}

void create_directory(const std::string &path) {
  std::error_code ec;
  fs::create_directories(path, ec);
  if (ec) throw SystemError(path, "cannot create directory: " + ec.message());
}

// A root port's testdev: QEMU's pci-testdev on the port's bus, its 64-bit prefetchable BAR (if
// the shape gives one) as membar (device_bars_problem has checked the BAR list's form).
void add_testdev(ShapeArgs &a, const PciDevice &port, const std::string &port_id) {
  if (port.behind != RootPortChild::testdev) return;
  std::string dev = "pci-testdev,bus=" + port_id;
  for (const PciBar &b : port.bars)
    if (b.type == PciBarType::pref64) dev += ",membar=" + std::to_string(b.size);
  a.rest.insert(a.rest.end(), {"-device", dev});
}

ShapeArgs shape_args(const VmShape &shape, const std::string &scratch_dir) {
  const std::string where = shape.origin.empty() ? std::string("VM shape") : shape.origin;
  if (shape.cpus == 0) throw InputError(where + ": cpus", "QEMU takes at least 1 vCPU, got 0");
  if (shape.memory == 0 || shape.memory % (1ull << 20))
    throw InputError(where + ": memory", "QEMU takes whole MiB; got " + std::to_string(shape.memory) + " bytes");
  validate_numa_layout(shape);
  auto no_passthrough = [&](const PciDevice &d, const std::string &field) {
    if (d.kind == PciDeviceKind::pcie_root_port && d.behind != RootPortChild::none &&
        d.behind != RootPortChild::testdev)
      throw InputError(where + ": " + field, std::string("pcie-root-port with a ") + root_port_child_name(d.behind) +
                                                 " behind it: there is no such hardware to pass through on this "
                                                 "host; use behind: none, or a testdev with the same BAR sizes");
  };
  for (size_t n = 0; n < shape.numa_nodes.size(); ++n)
    for (size_t i = 0; i < shape.numa_nodes[n].pxb_devices.size(); ++i)
      no_passthrough(shape.numa_nodes[n].pxb_devices[i],
                     "numa_nodes[" + std::to_string(n) + "].pxb_devices[" + std::to_string(i) + "]");
  for (size_t i = 0; i < shape.devices.size(); ++i) {
    const PciDevice &d = shape.devices[i];
    no_passthrough(d, "devices[" + std::to_string(i) + "]");
    if (d.kind == PciDeviceKind::vhost_vsock && !fs::exists(k_vhost_vsock_device))
      throw InputError(where + ": devices[" + std::to_string(i) + "]",
                       std::string("vhost-vsock needs ") + k_vhost_vsock_device +
                           ", which this host does not have (load the vhost_vsock module, or leave vsock out)");
  }

  ShapeArgs a;
  a.machine = std::string("q35,smm=") + on_off(shape.smm) + ",hpet=" + on_off(shape.hpet) + ",pic=" + on_off(shape.pic);
  a.cpus = shape.cpus;
  a.memory = shape.memory;
  if (!shape.pci_hotplug) {
    a.rest.push_back("-global");
    a.rest.push_back("ICH9-LPC.acpi-pci-hotplug-with-bridge-support=off");
  }
  if (shape.pci_hole64_size) {
    a.rest.push_back("-global");
    a.rest.push_back("q35-pcihost.pci-hole64-size=" + std::to_string(*shape.pci_hole64_size));
  }
  const std::string scratch = fs::absolute(scratch_dir).lexically_normal().string();
  uint32_t disks = 0, nics = 0, vsocks = 0, shares = 0, ports = 0;
  // NUMA nodes (numa_layout: explicit, or the one hugepages implies), each with its own RAM
  // backend; the backend's kind (RAM, file, hugetlbfs) does not change the tables, only -numa and
  // the sizes do. Expanders go first on the command line, at their fixed slots, so that the
  // root-bus devices after them take the free slots in order (numa_layout) and the root ports on
  // pcie.0 keep the BSELs they have without expanders (newer buses are numbered first).
  const NumaLayout layout = numa_layout(shape);
  if (layout.nodes.empty()) a.ram.push_back({k_ram_backend_id, shape.memory});
  uint32_t first_cpu = 0, expanders = 0;
  for (size_t n = 0; n < layout.nodes.size(); ++n) {
    const NumaNode &node = layout.nodes[n];
    const std::string id = "mem" + std::to_string(n);
    a.ram.push_back({id, node.memory});
    std::string numa = "node,nodeid=" + std::to_string(n);
    if (node.cpus == 1) numa += ",cpus=" + std::to_string(first_cpu);
    if (node.cpus > 1) numa += ",cpus=" + std::to_string(first_cpu) + "-" + std::to_string(first_cpu + node.cpus - 1);
    first_cpu += node.cpus;
    a.rest.insert(a.rest.end(), {"-numa", numa + ",memdev=" + id});
  }
  for (size_t n = 0; n < layout.nodes.size(); ++n) {
    const NumaNode &node = layout.nodes[n];
    if (!node.pxb_bus) continue;
    const std::string pxb = "pcie.node" + std::to_string(n);
    a.rest.insert(a.rest.end(),
                  {"-device", "pxb-pcie,id=" + pxb +
                                  ",bus=pcie.0,addr=" + hex_name("%x", k_first_pxb_slot + expanders++) +
                                  ",numa_node=" + std::to_string(n) + ",bus_nr=" + std::to_string(*node.pxb_bus)});
    for (size_t i = 0; i < node.pxb_devices.size(); ++i) {
      std::string p = std::to_string(++ports);
      a.rest.insert(a.rest.end(), {"-device", "pcie-root-port,id=rp" + p + ",bus=" + pxb + ",chassis=" + p +
                                                  ",addr=" + hex_name("%x", static_cast<unsigned>(i))});
      add_testdev(a, node.pxb_devices[i], "rp" + p);
    }
  }
  // With expanders QEMU would put a device without bus= on the newest PCIe bus: name pcie.0.
  const std::string on_root = expanders ? ",bus=pcie.0" : "";
  for (const PciDevice &d : layout.root_bus) {
    switch (d.kind) {
    case PciDeviceKind::virtio_blk: {
      std::string id = "disk" + std::to_string(disks++);
      std::string file = scratch + "/" + id + ".raw";
      create_directory(scratch);
      create_placeholder_disk(file);
      a.rest.insert(a.rest.end(),
                    {"-drive", "file=" + qemu_escape(file) + ",if=none,id=" + id + ",format=raw,readonly=on", "-device",
                     "virtio-blk-pci,drive=" + id + on_root});
      break;
    }
    case PciDeviceKind::virtio_net: {
      std::string id = "net" + std::to_string(nics++);
      a.rest.insert(a.rest.end(), {"-netdev", "user,id=" + id, "-device", "virtio-net-pci,netdev=" + id + on_root});
      break;
    }
    case PciDeviceKind::vhost_vsock:
      a.rest.insert(a.rest.end(), {"-device", "vhost-vsock-pci,guest-cid=" + std::to_string(3 + vsocks++) + on_root});
      break;
    case PciDeviceKind::virtio_9p: {
      std::string n = std::to_string(shares++);
      std::string dir = scratch + "/9p";
      create_directory(dir);
      a.rest.insert(a.rest.end(),
                    {"-fsdev", "local,id=fs" + n + ",path=" + qemu_escape(dir) + ",security_model=none,readonly=on",
                     "-device", "virtio-9p-pci,fsdev=fs" + n + ",mount_tag=share" + n + on_root});
      break;
    }
    case PciDeviceKind::pcie_root_port: {
      std::string n = std::to_string(++ports);
      a.rest.insert(a.rest.end(), {"-device", "pcie-root-port,id=rp" + n + ",chassis=" + n + on_root});
      add_testdev(a, d, "rp" + n);
      break;
    }
    }
  }
  return a;
}

// Version-string order: runs of digits compare as numbers, everything else byte-wise.
bool version_less(const std::string &a, const std::string &b) {
  size_t i = 0, j = 0;
  while (i < a.size() && j < b.size()) {
    bool da = std::isdigit(static_cast<unsigned char>(a[i])) != 0;
    bool db = std::isdigit(static_cast<unsigned char>(b[j])) != 0;
    if (da && db) {
      size_t ie = i, je = j;
      while (ie < a.size() && std::isdigit(static_cast<unsigned char>(a[ie]))) ++ie;
      while (je < b.size() && std::isdigit(static_cast<unsigned char>(b[je]))) ++je;
      std::string na = a.substr(i, ie - i), nb = b.substr(j, je - j);
      na.erase(0, std::min(na.find_first_not_of('0'), na.size()));
      nb.erase(0, std::min(nb.find_first_not_of('0'), nb.size()));
      if (na.size() != nb.size()) return na.size() < nb.size();
      if (na != nb) return na < nb;
      i = ie;
      j = je;
    } else {
      if (a[i] != b[j]) return static_cast<unsigned char>(a[i]) < static_cast<unsigned char>(b[j]);
      ++i;
      ++j;
    }
  }
  return a.size() - i < b.size() - j;
}

// The serial log's last lines, for failure messages.
std::string serial_tail(const std::string &serial) {
  std::vector<std::string> lines;
  size_t pos = 0;
  while (pos < serial.size()) {
    size_t nl = serial.find('\n', pos);
    if (nl == std::string::npos) nl = serial.size();
    std::string line = serial.substr(pos, nl - pos);
    if (!line.empty()) lines.push_back(line);
    pos = nl + 1;
  }
  if (lines.empty()) return "(no serial output)";
  std::string out;
  for (size_t i = lines.size() > k_serial_tail_lines ? lines.size() - k_serial_tail_lines : 0; i < lines.size(); ++i)
    out += "\n  | " + lines[i];
  return "last serial lines:" + out;
}

// A regular-file node whose bytes are the host file `path`.
Node host_file_node(const std::string &path, uint32_t mode, const std::string &origin) {
  std::error_code ec;
  uint64_t size = fs::file_size(path, ec);
  if (ec) throw SystemError(path, "cannot read: " + ec.message());
  Node n;
  n.type = NodeType::regular;
  n.mode = mode;
  n.size = size;
  n.content_path = path;
  n.origin = origin;
  return n;
}

// Writes WORK/initrd.gz: init, bin/busybox, qemu_fw_cfg.ko, empty dev/proc/sys.
std::string build_initrd(const std::string &work, const std::string &busybox, const std::string &module,
                         const std::string &where) {
  ContentStaging staging(work + "/staging");
  // The module goes through KernelModules so that its .modinfo is checked and it is decompressed
  // exactly as the image builder does it.
  std::string module_file = fs::path(module).filename().string();
  const std::string release = "capture";
  FsTree kernel_tree;
  std::string module_tree_dir = "lib/modules/" + release + "/" + k_module_dir;
  kernel_tree.ensure_directory(module_tree_dir, module);
  kernel_tree.add(module_tree_dir + "/" + module_file, host_file_node(module, 0644, module));
  KernelModules modules(kernel_tree, release, module);
  std::vector<KernelModule> resolved = modules.resolve({k_module_name}, where);
  if (resolved.size() != 1)
    throw InputError(where, module + " needs other modules first (" + std::to_string(resolved.size() - 1) +
                                "); the capture guest loads qemu_fw_cfg alone");
  StagedContent ko = modules.uncompressed(resolved.front(), staging);

  ElfDependencies deps = read_elf_dependencies(busybox, busybox);
  if (!deps.interpreter.empty() || !deps.needed.empty())
    throw InputError(where + ": busybox", busybox + " is dynamically linked (interpreter " + deps.interpreter +
                                              "); the capture guest needs a static one (Debian: busybox-static)");

  FsTree tree;
  for (const char *dir : {"bin", "dev", "proc", "sys"}) tree.ensure_directory(dir, "capture guest");
  tree.add("bin/busybox", host_file_node(busybox, 0755, busybox));
  tree.add("init", staged_file_node(staging.put(capture_init_script()), 0755, "capture guest /init"));
  tree.add(std::string(k_module_name) + ".ko", staged_file_node(ko, 0644, module));

  std::string path = work + "/initrd.gz";
  std::error_code ec;
  fs::remove(path, ec);
  FileSink sink(path);
  Compression gzip;
  gzip.kind = CompressionKind::gzip;
  write_initramfs(tree, 0, gzip, sink);
  return path;
}

} // namespace

std::string capture_cpu_model(const VmShape &shape) {
  std::string model = k_cpu_model;
  uint32_t bits = qemu_min_phys_bits(shape, k_default_phys_bits, k_default_hole64);
  if (bits > k_max_phys_bits)
    throw InputError("the VM shape", "RAM above 4 GiB plus the 64-bit PCI hole need more than " +
                                         std::to_string(k_max_phys_bits) + " physical address bits (QEMU's limit)");
  // With more address bits, 1 GiB pages: OVMF maps the whole physical address space, and with 2 MiB
  // pages that takes longer than any timeout under TCG. Neither CPU property changes the tables
  // (captured with and without them: same bytes).
  if (bits != k_default_phys_bits) model += ",phys-bits=" + std::to_string(bits) + ",pdpe1gb=on";
  // An APIC ID of 255 or more needs a CPU with x2APIC (QEMU 9.0+ hw/intc/apic_common.c
  // apic_common_set_id: "APIC ID %d requires x2APIC feature in CPU"); qemu64 has none. The tables
  // do not depend on it (captured with and without it: same bytes).
  if (shape.cpus > k_max_xapic_cpus) model += ",x2apic=on";
  return model;
}

std::vector<std::string> qemu_shape_args(const VmShape &shape, const std::string &scratch_dir) {
  ShapeArgs a = shape_args(shape, scratch_dir);
  std::vector<std::string> argv = {
      "-machine", a.machine, "-smp", std::to_string(a.cpus), "-m", std::to_string(a.memory >> 20) + "M"};
  for (const RamBackend &r : a.ram)
    if (r.id != k_ram_backend_id)
      argv.insert(argv.end(),
                  {"-object", "memory-backend-ram,id=" + r.id + ",size=" + std::to_string(r.size >> 20) + "M"});
  argv.insert(argv.end(), a.rest.begin(), a.rest.end());
  return argv;
}

std::string kernel_release_of(const std::string &kernel_path) {
  std::string name = fs::path(kernel_path).filename().string();
  const std::string prefix = "vmlinuz-";
  if (name.size() <= prefix.size() || name.compare(0, prefix.size(), prefix) != 0) return "";
  return name.substr(prefix.size());
}

std::string find_fw_cfg_module(const std::string &kernel_path, const std::string &modules_dir) {
  std::string release = kernel_release_of(kernel_path);
  if (release.empty() || release == "." || release == "..") return "";
  for (const char *suffix : {".ko", ".ko.xz", ".ko.zst"}) {
    std::string p = modules_dir + "/" + release + "/" + k_module_dir + "/" + k_module_name + suffix;
    std::error_code ec;
    if (fs::is_regular_file(p, ec)) return p;
  }
  return "";
}

std::string default_capture_kernel(const std::string &boot_dir, const std::string &modules_dir) {
  std::vector<std::string> kernels;
  std::error_code ec;
  for (fs::directory_iterator it(boot_dir, ec), end; !ec && it != end; it.increment(ec))
    if (!kernel_release_of(it->path().string()).empty()) kernels.push_back(it->path().string());
  std::sort(kernels.begin(), kernels.end(), [](const std::string &a, const std::string &b) {
    return version_less(kernel_release_of(a), kernel_release_of(b));
  });
  for (auto it = kernels.rbegin(); it != kernels.rend(); ++it)
    if (!find_fw_cfg_module(*it, modules_dir).empty()) return *it;
  throw InputError("--kernel", "no " + boot_dir + "/vmlinuz-RELEASE has a " + modules_dir + "/RELEASE/" + k_module_dir +
                                   "/" + k_module_name + ".ko[.xz|.zst] (kernels: " +
                                   (kernels.empty() ? std::string("none") : join(kernels, ", ")) +
                                   "); pass --kernel and its module");
}

std::string capture_init_script() {
  std::string s = "#!/bin/busybox sh\n"
                  "# mrforge acpi capture: dump QEMU's ACPI fw_cfg files and power off.\n"
                  "/bin/busybox mount -t proc proc /proc\n"
                  "/bin/busybox mount -t sysfs sysfs /sys\n"
                  "echo 1 > /proc/sys/kernel/printk\n"
                  "echo 'MRFORGE-INIT: start'\n"
                  "if ! /bin/busybox insmod /qemu_fw_cfg.ko; then\n"
                  "  echo 'MRFORGE-INIT: FATAL: insmod qemu_fw_cfg.ko failed'\n"
                  "  /bin/busybox poweroff -f\n"
                  "fi\n"
                  "for n in etc/table-loader etc/acpi/rsdp etc/acpi/tables; do\n"
                  "  f=/sys/firmware/qemu_fw_cfg/by_name/$n/raw\n"
                  "  if [ -r \"$f\" ]; then\n"
                  "    echo \"MRFORGE-CHECK-BEGIN fw_cfg/$n\"\n"
                  "    /bin/busybox base64 \"$f\"\n"
                  "    echo \"MRFORGE-CHECK-END fw_cfg/$n\"\n"
                  "  else\n"
                  "    echo \"MRFORGE-CHECK: missing fw_cfg/$n\"\n"
                  "  fi\n"
                  "done\n"
                  "echo 'MRFORGE-CHECK: done'\n"
                  "echo 'MRFORGE-READY acpi-capture'\n"
                  "/bin/busybox poweroff -f\n";
  return s;
}

std::string qemu_version(const std::string &qemu, const std::string &data_dir) {
  std::error_code ec;
  if (qemu.empty()) throw InputError("--qemu", "the QEMU program name is empty");
  if (qemu.find('/') != std::string::npos && (!fs::is_regular_file(qemu, ec) || ::access(qemu.c_str(), X_OK) != 0))
    throw InputError("--qemu", "'" + qemu + "' is not an executable file (give the path of qemu-system-x86_64)");
  std::vector<std::string> argv = {qemu};
  if (!data_dir.empty()) {
    if (!fs::is_directory(data_dir, ec))
      throw InputError("--qemu-data",
                       "'" + data_dir + "' is not a directory (QEMU's data folder, PREFIX/usr/share/qemu)");
    argv.insert(argv.end(), {"-L", data_dir});
  }
  argv.push_back("--version");
  ProcessOptions options;
  options.timeout = k_version_timeout;
  ProcessResult r;
  try {
    r = run_process(argv, options);
  } catch (const SystemError &e) {
    throw HostError(qemu, std::string("cannot run QEMU: ") + e.what());
  }
  if (!r.success())
    throw HostError(qemu,
                    "`--version` failed (" + r.describe() + "): " + (r.stderr_data + r.stdout_data).substr(0, 500));
  size_t at = r.stdout_data.find(k_version_banner);
  std::string version;
  if (at != std::string::npos)
    for (size_t i = at + std::strlen(k_version_banner);
         i < r.stdout_data.size() &&
         (std::isdigit(static_cast<unsigned char>(r.stdout_data[i])) || r.stdout_data[i] == '.');
         ++i)
      version += r.stdout_data[i];
  if (version.empty() || !std::isdigit(static_cast<unsigned char>(version.front())) || version.back() == '.' ||
      version.find('.') == std::string::npos)
    throw HostError(qemu, "`--version` printed no \"" + std::string(k_version_banner) +
                              "X.Y.Z\" line: " + r.stdout_data.substr(0, 200));
  return version;
}

void check_capture_profile(const AcpiProfile &profile, const std::string &version) {
  // "10.0.2" -> "10.0": a profile names a QEMU release line.
  size_t dot = version.find('.');
  const std::string line = version.substr(0, dot == std::string::npos ? dot : version.find('.', dot + 1));
  const std::string what = "profile " + profile.name;
  if (profile.confidential)
    throw InputError(what, "describes a confidential (TDX) guest, and capture starts a plain q35 machine: give "
                           "--profile NAME of a q35 profile of QEMU " +
                               line);
  if (line != profile.qemu_version)
    throw InputError(what, "the QEMU that would run is QEMU " + version + ", but " + profile.name + " describes QEMU " +
                               profile.qemu_version +
                               ": its captures would be stored under the wrong profile. Give --profile NAME of a "
                               "q35 profile of QEMU " +
                               line + ", or --qemu a QEMU " + profile.qemu_version);
}

// A system failure once the inputs are checked is the host's (QEMU, the scratch folder): HostError, exit 3.
AcpiCapture capture_acpi(const AcpiCaptureSettings &settings) try {
  auto progress = [&](const std::string &s) {
    if (settings.progress) settings.progress(s);
  };
  std::error_code ec;
  if (settings.work_dir.empty() || !fs::is_directory(settings.work_dir, ec))
    throw InputError("work directory", "'" + settings.work_dir + "' is not a directory");
  if (settings.accel != "tcg" && settings.accel != "kvm")
    throw InputError("--accel", "expected tcg or kvm, got '" + settings.accel + "'");
  const AcpiProfile profile =
      load_acpi_profile(settings.shape.profile.empty() ? std::string(k_capture_profile) : settings.shape.profile);
  validate_acpi_shape(settings.shape, profile); // the machine type's max_cpus, memory, ...
  if (settings.accel == "tcg" && settings.shape.cpus > k_max_xapic_cpus && !profile.tcg_x2apic)
    throw InputError("cpus", std::to_string(settings.shape.cpus) + " vCPUs need APIC IDs from 255 on, which QEMU " +
                                 profile.qemu_version +
                                 " starts only with KVM's in-kernel irqchip (QEMU before 9.0 emulates no x2APIC "
                                 "under TCG; profile " +
                                 profile.name + " has no tcg_x2apic); use --accel kvm");
  const std::string version = qemu_version(settings.qemu, settings.qemu_data_dir);
  check_capture_profile(profile, version);
  progress("capture: QEMU " + version + " (" + settings.qemu + ")");
  const std::string work = fs::absolute(settings.work_dir).lexically_normal().string();
  ShapeArgs args = shape_args(settings.shape, work + "/backends");

  std::string kernel = settings.kernel.empty() ? default_capture_kernel() : settings.kernel;
  if (!fs::is_regular_file(kernel, ec)) throw InputError("--kernel", "'" + kernel + "' is not a readable file");
  std::string module = settings.module.empty() ? find_fw_cfg_module(kernel) : settings.module;
  if (module.empty())
    throw InputError("--kernel", "no qemu_fw_cfg module for " + kernel + " (looked for /lib/modules/" +
                                     kernel_release_of(kernel) + "/" + k_module_dir + "/" + k_module_name +
                                     ".ko[.xz|.zst]); pass a kernel whose modules are installed");
  if (!fs::is_regular_file(module, ec)) throw InputError("module", "'" + module + "' is not a readable file");
  if (!fs::is_regular_file(settings.busybox, ec))
    throw InputError("busybox", "'" + settings.busybox + "' is not a file (Debian: apt-get install busybox-static)");

  progress("capture: building the guest initramfs (busybox, " + fs::path(module).filename().string() + ")");
  std::string initrd = build_initrd(work, settings.busybox, module, "capture guest");

  std::string boot_dir = work + "/boot";
  create_directory(boot_dir);
  BootSettings boot;
  boot.firmware = settings.firmware;
  boot.kernel = kernel;
  boot.initrd = initrd;
  boot.cmdline = k_cmdline;
  boot.cpus = args.cpus;
  boot.memory = args.memory;
  boot.tpm = false;
  boot.timeout = settings.timeout;
  boot.work_dir = boot_dir;
  boot.progress = settings.progress;
  boot.qemu = settings.qemu;
  boot.qemu_data_dir = settings.qemu_data_dir;
  // Sparse, shared file-backed RAM: not charged to the host's commit limit (a 64 GiB guest on a
  // smaller host), and untouched pages never exist. One file per backend (per NUMA node).
  std::vector<std::string> ram_files;
  if (args.ram.size() == 1 && args.ram[0].id == k_ram_backend_id)
    boot.machine = args.machine + ",memory-backend=" + k_ram_backend_id;
  else
    boot.machine = args.machine;
  boot.accel = settings.accel;
  boot.cpu = settings.cpu.empty() ? capture_cpu_model(settings.shape) : settings.cpu;
  boot.max_cpus = profile.max_cpus; // checked above, with the TCG limit
  for (const RamBackend &r : args.ram) {
    ram_files.push_back(work + "/guest-ram-" + r.id);
    boot.extra_args.insert(boot.extra_args.end(),
                           {"-object", "memory-backend-file,id=" + r.id + ",size=" + std::to_string(r.size >> 20) +
                                           "M,mem-path=" + qemu_escape(ram_files.back()) + ",share=on"});
  }
  boot.extra_args.insert(boot.extra_args.end(), args.rest.begin(), args.rest.end());
  progress("capture: -machine " + args.machine + " -cpu " + boot.cpu + " -smp " + std::to_string(args.cpus) + " -m " +
           std::to_string(args.memory >> 20) + "M" +
           (args.rest.empty() ? std::string() : " + " + std::to_string(args.rest.size()) + " device arguments"));
  for (const std::string &f : ram_files) fs::remove(f, ec); // a fresh, all-zero RAM file for every boot
  BootCapture cap = boot_image(boot);
  for (const std::string &f : ram_files) fs::remove(f, ec);

  std::vector<std::string> problems = cap.failures;
  for (const char *name : k_blob_names)
    if (!cap.blobs.count(name))
      problems.push_back(std::string("the guest did not dump ") + name +
                         (std::find(cap.missing.begin(), cap.missing.end(), name) != cap.missing.end()
                              ? " (not in /sys/firmware/qemu_fw_cfg/by_name)"
                              : ""));
  if (!problems.empty()) {
    throw SystemError(settings.qemu, "ACPI capture failed: " + join(problems, "; ") + "\n" + serial_tail(cap.serial));
  }
  auto bytes = [&](const char *name) {
    const std::string &s = cap.blobs.at(name);
    return Bytes(s.begin(), s.end());
  };
  AcpiBlobs blobs{bytes(k_blob_names[0]), bytes(k_blob_names[1]), bytes(k_blob_names[2])};
  // QEMU's blobs: 128-byte loader commands, an RSDP starting "RSD PTR ", a non-empty table blob.
  // Anything else means the dump was mangled on the way.
  static const char k_rsdp_signature[] = "RSD PTR ";
  if (blobs.table_loader.empty() || blobs.table_loader.size() % 128 != 0 || blobs.rsdp.size() < 20 ||
      !std::equal(k_rsdp_signature, k_rsdp_signature + 8, blobs.rsdp.begin()) || blobs.tables.empty())
    throw SystemError(settings.qemu, "ACPI capture: the dumped blobs are not QEMU's (table-loader " +
                                         std::to_string(blobs.table_loader.size()) + " bytes, rsdp " +
                                         std::to_string(blobs.rsdp.size()) + " bytes, tables " +
                                         std::to_string(blobs.tables.size()) + " bytes)");
  char secs[32];
  std::snprintf(secs, sizeof secs, "%.1f", cap.seconds);
  progress(std::string("capture: done in ") + secs + " s (table-loader " + std::to_string(blobs.table_loader.size()) +
           ", rsdp " + std::to_string(blobs.rsdp.size()) + ", tables " + std::to_string(blobs.tables.size()) +
           " bytes)");
  return AcpiCapture{std::move(blobs), version};
} catch (const HostError &) {
  throw;
} catch (const SystemError &e) {
  throw HostError("cannot capture", e.what());
}

} // namespace mrforge::builder
