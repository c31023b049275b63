// Reading VM shapes: a shape file (YAML or JSON, strict) and dstack's `vm_config` JSON as dstack
// hosts publish it (the `vm_config` field of its attestation documents), and writing a shape back
// as YAML. Kept apart from the engine because it uses yaml-cpp.
//
// Shape file (every key optional except cpus and memory; unknown keys are errors):
//   apiVersion: mrforge/v1
//   kind: VmShape
//   profile: qemu-7.2-q35
//   cpus: 4
//   memory: 2560M            # bytes, or a number with K/M/G/T (binary units)
//   pic: true
//   smm: true
//   hpet: true
//   pci_hotplug: true
//   pci_hole64_size: 16T
//   hugepages: false         # dstack's layout: one NUMA node (+ an expander for GPU root ports)
//   numa_nodes:              # an explicit NUMA layout instead (vm_shape.hpp numa_layout)
//     - cpus: 2              # vCPUs 0-1 (nodes take the vCPUs in order; 0 = memory only)
//       memory: 2G           # the node's memory backend
//       pxb_bus: 5           # optional: a pxb-pcie expander with bus_nr 5 on this node
//       pxb_devices:         # pcie-root-ports on the expander (slots 0, 1, ...)
//         - {kind: pcie-root-port, behind: gpu}
//   devices:                 # root-bus devices in QEMU command-line order
//     - virtio-blk
//     - virtio-net
//     - {kind: pcie-root-port, behind: gpu}
#pragma once

#include <measure/acpi/vm_shape.hpp>

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace mrforge {

// Throws SystemError (unreadable), DocumentError naming file:line:column and the field (malformed,
// unknown key, bad size, unknown device kind).
VmShape load_vm_shape(const std::string &path);
VmShape parse_vm_shape(const std::string &text, const std::string &file);
std::string vm_shape_to_yaml(const VmShape &shape);

// dstack's machine for a vm_config, as dstack's verifier builds it (Dstack-TEE/dstack@312dc605:
// dstack-types/src/lib.rs VmConfig, dstack-mr/src/machine.rs, dstack-mr/src/acpi.rs,
// verifier/src/verification.rs; the citations are in vm_shape_file.cpp):
//   profile   from qemu_version: 8.2.x, 9.0.x, 9.1.x -> "qemu-8.2-tdx"; 9.2.x -> "qemu-9.2-tdx";
//             absent or null -> 9.1.0 as dstack assumes; anything else -> InputError listing these
//   cpus, memory from cpu_count, memory_size (required; memory in whole MiB as dstack passes -m)
//   pic       the field, else on for QEMU 8.x and off for 9.x (versioned_options)
//   smm off, hpet off; pci_hotplug = !hotplug_off; pci_hole64_size unset when 0; hugepages
//   devices   boot disk, num_verity_volumes disks (default 0), num_nics NICs (default 1),
//             vhost-vsock, virtio-9p for host_share_mode "" / "9p" (one more virtio-blk for
//             "vvfat" / "vhd"), the verity root disk (root_verity is always on in the verifier),
//             then pcie-root-port{gpu} per GPU and pcie-root-port{nvswitch} per NVSwitch. With
//             hugepages and GPUs dstack puts the GPU root ports behind a pxb-pcie; the shape
//             still lists them and says `hugepages`, the generator places them.
// The text is read as strict JSON (measure/documents/json_text.hpp: one document, no comments or YAML
// syntax, nothing after it; FormatError with the offset otherwise); a key given twice in one
// object is refused (InputError). Unknown fields are ignored (dstack adds fields) and not kept; a
// known field of the wrong JSON type, swtpm true (dstack refuses to measure it), an unknown
// host_share_mode or more devices than the root bus holds -> InputError naming "FILE: field".
// Defaults that change the tables and that the vm_config left to dstack (qemu_version, pic) are
// listed in VmShape::notes. `json_text` is a vm_config object, or a document whose "vm_config"
// field is an object or a string holding the JSON (as dstack serves it; errors inside it are
// reported against "FILE#vm_config", offsets inside the string).
// `explicit_profile`: the ACPI profile the caller names (--acpi-profile, --profile), which is taken
// for a qemu_version newer than the newest supported family instead of refusing it.
VmShape parse_dstack_vm_config(const std::string &json_text, const std::string &file,
                               const std::string &explicit_profile = {});
// A vm_config JSON file, or a document with a "vm_config" field.
VmShape load_dstack_vm_config(const std::string &path, const std::string &explicit_profile = {});

// A dstack qemu_version "major.minor.patch" as its three numbers (dstack's machine.rs
// parse_version_tuple: exactly three decimal parts). Throws InputError naming `what`.
std::vector<uint64_t> dstack_qemu_version(const std::string &qemu_version, const std::string &what);

// "2G", "2560M", "2147483648", "16T" -> bytes (binary units). Throws InputError naming `what`.
// Accepted: decimal bytes, 0x hex bytes, or a decimal number with one of K, M, G, T, P, E (either
// case; binary units). Rejected: empty, signs, spaces, fractions, other suffixes, overflow. (Unlike
// QEMU's -m, a plain number means bytes, not MiB.)
uint64_t parse_size(const std::string &text, const std::string &what);

// Syntactic limits of a shape; each ACPI profile checks its own, tighter ones.
constexpr uint32_t k_max_shape_cpus = 4096;
// Slots 1..30 of pcie.0: slot 0 is the q35 host bridge (hw/pci-host/q35.c, devfn 0) and slot 31
// the ICH9 LPC/SATA/SMBus functions (QEMU 7.2 include/hw/i386/ich9.h ICH9_LPC_DEV 31).
constexpr size_t k_max_root_bus_devices = 30;
// QEMU's MAX_NODES (include/system/numa.h; 128 in 7.2 and 10.0).
constexpr size_t k_max_numa_nodes = 128;
// An expander's bus has 32 slots (no host bridge function of its own on it).
constexpr size_t k_max_pxb_devices = 32;
// A shape's `devices` list: with hugepages the GPU root ports in it move onto an expander, so it
// may hold more than the root bus does; how many stay on the root bus is checked against the
// layout (validate_acpi_shape).
constexpr size_t k_max_shape_devices = k_max_root_bus_devices + k_max_pxb_devices;
// QEMU 7.2 machine_set_mem() (hw/core/machine.c) rounds -m up to a multiple of 8 KiB; q35 has no
// fixup_ram_size. We refuse sizes it would round instead of rounding silently.
constexpr uint64_t k_memory_granule = 8192;

// A memory size for -m: parse_size plus "not 0" (QEMU would take its 128 MiB default) and "a
// multiple of 8 KiB". Throws InputError naming `what`.
uint64_t parse_vm_memory(const std::string &text, const std::string &what);
void check_memory_size(uint64_t bytes, const std::string &what);
// A CPU count, decimal 1..k_max_shape_cpus. Throws InputError naming `what`.
uint32_t parse_cpu_count(const std::string &text, const std::string &what);
// "virtio-blk", "pcie-root-port", "pcie-root-port:gpu" -> device; the inverse of pci_device_spec
// (vm_shape.hpp).
// Throws InputError naming `what` and listing the known kinds.
PciDevice parse_pci_device_spec(const std::string &spec, const std::string &what);
// "mem32=16M,pref64=64G,pref64=32M": the BARs of a device behind a root port (--gpu-bars);
// InputError naming `what` when an entry is not TYPE=SIZE.
std::vector<PciBar> parse_pci_bar_list(const std::string &text, const std::string &what);

// The ACPI (and platform) profile of dstack's QEMU version "major.minor.patch": 8.0-8.2 ->
// "qemu-8.2-tdx", 9.0-9.1 -> "qemu-9.1-tdx", 9.2, 10.0, 10.1, 10.2, 11.0, 11.1 -> "qemu-X.Y-tdx".
// A version newer than the newest family (11.1) is refused, naming that family, unless
// `explicit_profile` is given: then that is returned. Older than 8.0, or a line QEMU never
// released (9.3), is refused. Throws InputError naming `what` and listing the supported versions.
std::string dstack_acpi_profile(const std::string &qemu_version, const std::string &what,
                                const std::string &explicit_profile = {});

} // namespace mrforge
