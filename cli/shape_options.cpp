// The VM-shape options: registration with CLI11 and turning them into a VmShape (file or dstack
// vm_config first, then every option given overrides it).
#include <cli/shape_options.hpp>

#include <measure/documents/request_assembly.hpp>
#include <measure/documents/vm_shape_file.hpp>
#include <measure/util/errors.hpp>

#include <ostream>

namespace mrforge::cli {

namespace {

// An on|off option stored in an optional<bool>.
void add_switch(CLI::App &cmd, const std::string &name, std::optional<bool> &target, const std::string &help) {
  cmd.add_option_function<std::string>(
         name, [&target](const std::string &v) { target = v == "on"; }, help)
      ->type_name("on|off")
      ->check(CLI::IsMember({"on", "off"}).description(""));
}

} // namespace

bool ShapeOptions::any_given() const {
  return !shape_file.empty() || !dstack_vm_config.empty() || !profile.empty() || cpus || !memory.empty() || pic ||
         smm || hpet || pci_hotplug || !pci_hole64_size.empty() || !devices.empty() || hugepages || !gpu_bars.empty() ||
         !nvswitch_bars.empty();
}

void add_shape_options(CLI::App &cmd, ShapeOptions &o, const std::string &profile_option, bool size_options) {
  const std::string group = "VM shape";
  auto in_group = [&](CLI::Option *opt) { opt->group(group); };
  in_group(cmd.add_option("--shape", o.shape_file,
                          "VM shape file (YAML or JSON, kind: VmShape); the options below override it")
               ->type_name("FILE"));
  in_group(cmd.add_option("--dstack-vm-config", o.dstack_vm_config,
                          "dstack vm_config JSON, or an attestation document with a \"vm_config\" field "
                          "(sets the profile from qemu_version and dstack's device layout)")
               ->type_name("FILE"));
  in_group(cmd.add_option(profile_option, o.profile, "ACPI profile name (qemu-7.2-q35, qemu-8.2-tdx, ...) or file")
               ->type_name("NAME|FILE"));
  if (size_options) {
    in_group(cmd.add_option("--cpus", o.cpus, "number of vCPUs (-smp N)")
                 ->type_name("N")
                 ->check(CLI::Range(uint32_t{1}, k_max_shape_cpus)));
    in_group(
        cmd.add_option("--memory", o.memory, "guest RAM (-m), e.g. 2G, 2560M, 0x80000000 or bytes")->type_name("SIZE"));
  }
  add_switch(cmd, "--pic", o.pic, "legacy PIC (-machine pic=on|off; QEMU default on)");
  add_switch(cmd, "--smm", o.smm, "system management mode (-machine smm=on|off; default on)");
  add_switch(cmd, "--hpet", o.hpet, "HPET (-machine hpet=on|off; default on)");
  add_switch(cmd, "--pci-hotplug", o.pci_hotplug,
             "ACPI PCI hotplug with bridge support (ICH9-LPC.acpi-pci-hotplug-with-bridge-support; default on)");
  for (const char *name : {"--pic", "--smm", "--hpet", "--pci-hotplug"}) cmd.get_option(name)->group(group);
  in_group(cmd.add_option("--pci-hole64-size", o.pci_hole64_size,
                          "64-bit PCI hole (-global q35-pcihost.pci-hole64-size; QEMU default 32G)")
               ->type_name("SIZE"));
  in_group(cmd.add_option("--device", o.devices,
                          "a device on the root PCI bus, repeatable, in QEMU command-line order: virtio-blk, "
                          "virtio-net, vhost-vsock, virtio-9p, pcie-root-port[:gpu|:nvswitch|:testdev][(BARS)]; "
                          "replaces the file's device list")
               ->type_name("KIND[:BEHIND]")
               ->multi_option_policy(CLI::MultiOptionPolicy::TakeAll)
               ->expected(1));
  in_group(cmd.add_flag("--hugepages", o.hugepages, "dstack's hugepage layout (a NUMA node, SRAT)"));
  in_group(cmd.add_option("--gpu-bars", o.gpu_bars,
                          "the BARs of each GPU behind a root port (lspci -vv on the host), for the windows OVMF "
                          "gives an expander's root ports: e.g. mem32=16M,pref64=128G,pref64=32M (types io, "
                          "mem32, pref32, mem64, pref64, rom)")
               ->type_name("TYPE=SIZE,..."));
  in_group(cmd.add_option("--nvswitch-bars", o.nvswitch_bars, "the same for each NVSwitch behind a root port")
               ->type_name("TYPE=SIZE,..."));
}

namespace {

// --gpu-bars / --nvswitch-bars: the BARs of every such device that has none in the shape.
void apply_bars(VmShape &s, RootPortChild child, const std::string &text, const std::string &option) {
  if (text.empty()) return;
  const std::vector<PciBar> bars = parse_pci_bar_list(text, option);
  size_t given = 0;
  auto fill = [&](PciDevice &d) {
    if (d.kind != PciDeviceKind::pcie_root_port || d.behind != child || !d.bars.empty()) return;
    d.bars = bars;
    std::string problem = device_bars_problem(d);
    if (!problem.empty()) throw InputError(option, problem);
    ++given;
  };
  for (PciDevice &d : s.devices) fill(d);
  for (NumaNode &n : s.numa_nodes)
    for (PciDevice &d : n.pxb_devices) fill(d);
  if (!given)
    throw InputError(option, std::string("the shape has no pcie-root-port:") + root_port_child_name(child) +
                                 " without BARs of its own to give them to");
}

} // namespace

VmShape shape_from_options(const ShapeOptions &o) {
  if (!o.shape_file.empty() && !o.dstack_vm_config.empty())
    throw InputError("--shape", "give either --shape or --dstack-vm-config, not both");
  VmShape s;
  std::string origin;
  if (!o.shape_file.empty()) {
    s = load_vm_shape(o.shape_file);
    origin = "--shape " + file_label(o.shape_file);
  } else if (!o.dstack_vm_config.empty()) {
    s = load_dstack_vm_config(o.dstack_vm_config, o.profile);
    origin = "--dstack-vm-config " + file_label(o.dstack_vm_config);
  } else {
    if (!o.cpus || o.memory.empty())
      throw InputError(!o.cpus ? "--cpus" : "--memory", "give --cpus and --memory, or --shape FILE");
    origin = "options";
  }

  std::vector<std::string> overrides;
  auto note = [&](const char *name) { overrides.emplace_back(name); };
  if (!o.profile.empty()) {
    s.profile = o.profile;
    note("profile");
  }
  if (o.cpus) {
    // CLI11 checks the range already; a ShapeOptions filled in by code is checked here.
    s.cpus = parse_cpu_count(std::to_string(*o.cpus), "--cpus");
    note("--cpus");
  }
  if (!o.memory.empty()) {
    s.memory = parse_vm_memory(o.memory, "--memory");
    note("--memory");
  }
  auto apply = [&](const std::optional<bool> &v, bool &field, const char *name) {
    if (!v) return;
    field = *v;
    note(name);
  };
  apply(o.pic, s.pic, "--pic");
  apply(o.smm, s.smm, "--smm");
  apply(o.hpet, s.hpet, "--hpet");
  apply(o.pci_hotplug, s.pci_hotplug, "--pci-hotplug");
  if (!o.pci_hole64_size.empty()) {
    s.pci_hole64_size = parse_size(o.pci_hole64_size, "--pci-hole64-size");
    note("--pci-hole64-size");
  }
  if (!o.devices.empty()) {
    if (o.devices.size() > k_max_shape_devices)
      throw InputError("--device",
                       std::to_string(o.devices.size()) + " devices; a shape holds at most " +
                           std::to_string(k_max_shape_devices) +
                           " (30 on the root bus, 32 GPU root ports that --hugepages moves onto an expander)");
    s.devices.clear();
    for (const std::string &spec : o.devices) s.devices.push_back(parse_pci_device_spec(spec, "--device " + spec));
    note("--device");
  }
  if (o.hugepages) {
    s.hugepages = true;
    note("--hugepages");
  }
  apply_bars(s, RootPortChild::gpu, o.gpu_bars, "--gpu-bars");
  if (!o.gpu_bars.empty()) note("--gpu-bars");
  apply_bars(s, RootPortChild::nvswitch, o.nvswitch_bars, "--nvswitch-bars");
  if (!o.nvswitch_bars.empty()) note("--nvswitch-bars");
  if (origin != "options" && !overrides.empty()) {
    origin += " with";
    for (const std::string &n : overrides) origin += " " + n;
  }
  for (size_t i = 0; i < s.notes.size(); ++i) origin += (i == 0 ? " (" : "; ") + s.notes[i];
  if (!s.notes.empty()) origin += ")";
  s.origin = origin;
  return s;
}

void print_shape_notes(const VmShape &shape, std::ostream &out) {
  for (const std::string &n : shape.notes) out << "mrforge: note: " << n << "\n";
}

} // namespace mrforge::cli
