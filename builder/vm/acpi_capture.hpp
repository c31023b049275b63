// Capturing QEMU's real ACPI blobs for a VM shape: boot the local QEMU (q35, TCG) with OVMF, a
// kernel and a tiny initramfs (busybox + the kernel's qemu_fw_cfg module) whose init prints
// /sys/firmware/qemu_fw_cfg/by_name/etc/{table-loader,acpi/rsdp,acpi/tables}/raw on the serial
// console (qemu_boot's MRFORGE-CHECK dump protocol) and powers off. The blobs are read as the
// guest sees them: after OVMF has programmed the platform, which is what OVMF measures.
#pragma once

#include <measure/acpi/acpi_blobs.hpp>
#include <measure/acpi/acpi_profile.hpp>
#include <measure/acpi/vm_shape.hpp>

#include <chrono>
#include <functional>
#include <string>
#include <vector>

namespace mrforge::builder {

// The ACPI profile a capture is stored under when the shape names none: the QEMU installed here
// (Debian bookworm's 7.2). Another QEMU (--qemu) needs a profile of its own version.
constexpr const char *k_capture_profile = "qemu-7.2-q35";

// The QEMU arguments that give `shape` (machine options, -smp, -m, -global, the NUMA nodes and
// expanders, one -device per root-bus device in order, with the -drive/-netdev/-fsdev each needs).
// Placeholder backends are created under `scratch_dir` (a small raw disk file, a directory for 9p).
// Throws InputError for shapes the local QEMU cannot start (a GPU or NVSwitch behind a root port,
// a NUMA layout validate_numa_layout refuses, vhost-vsock without /dev/vhost-vsock), naming the
// device or field.
//
// The list, exactly (i, j, k count devices of one kind from 0; root ports count from 1, those on
// expanders first):
//   -machine q35,smm=on|off,hpet=on|off,pic=on|off  -smp N  -m <MiB>M
//   with NUMA nodes (numa_layout), per node n in order:
//     -object memory-backend-ram,id=mem<n>,size=<MiB>M   (capture_acpi uses memory-backend-file,
//                                                         sparse and shared, same id and size)
//   [-global ICH9-LPC.acpi-pci-hotplug-with-bridge-support=off]   (pci_hotplug false)
//   [-global q35-pcihost.pci-hole64-size=<bytes>]                 (pci_hole64_size set)
//   per node: -numa node,nodeid=<n>[,cpus=A[-B]],memdev=mem<n>
//   per node with an expander (the k-th expander):
//     -device pxb-pcie,id=pcie.node<n>,bus=pcie.0,addr=<hex 0x10+k>,numa_node=<n>,bus_nr=<B>
//     per root port on it: -device pcie-root-port,id=rp<p>,bus=pcie.node<n>,chassis=<p>,addr=<hex slot>
//   then per root-bus device, in shape order (with ",bus=pcie.0" appended to each -device when
//   there are expanders, which QEMU would otherwise pick):
//     virtio-blk:     -drive file=S/disk<i>.raw,if=none,id=disk<i>,format=raw,readonly=on
//                     -device virtio-blk-pci,drive=disk<i>
//     virtio-net:     -netdev user,id=net<j>  -device virtio-net-pci,netdev=net<j>
//     vhost-vsock:    -device vhost-vsock-pci,guest-cid=<3+k>
//     virtio-9p:      -fsdev local,id=fs<k>,path=S/9p,security_model=none,readonly=on
//                     -device virtio-9p-pci,fsdev=fs<k>,mount_tag=share<k>
//     pcie-root-port: -device pcie-root-port,id=rp<n>,chassis=<n>
// (S = scratch_dir made absolute, with QEMU's ',' -> ',,' escaping.) The profile is not looked at
// here (check_capture_profile matches it to the QEMU; capture_acpi checks its max_cpus); cpus at
// least 1; memory whole MiB.
std::vector<std::string> qemu_shape_args(const VmShape &shape, const std::string &scratch_dir);

// The -cpu capture uses: QEMU's default model qemu64 (dstack's reference tooling uses it too), with
// phys-bits raised above QEMU's default 40 only when the shape's highest guest address needs it
// (QEMU 7.2 refuses to start otherwise: "phys-bits too low"). That address follows QEMU 7.2's
// pc_memory_init / pc_pci_hole64_start: RAM above 4 GiB (RAM minus 2 GiB when RAM >= 2.75 GiB),
// rounded up to 1 GiB, plus the 64-bit hole (default 32 GiB); qemu64 is an AMD CPU, so when that
// reaches the HyperTransport hole (0xFD00000000) the RAM above 4 GiB moves to 1 TiB first
// (enforce_amd_1tb_hole). With raised phys-bits, 1 GiB pages too (pdpe1gb=on), or OVMF spends
// minutes mapping the address space. E.g. 4 GiB + a 16 TiB hole: "qemu64,phys-bits=45,pdpe1gb=on".
// More than 255 vCPUs (APIC IDs from 255 on): x2apic=on too, which QEMU 9.0+ needs for them under
// TCG, e.g. "qemu64,x2apic=on" for 288.
std::string capture_cpu_model(const VmShape &shape);

struct AcpiCaptureSettings {
  VmShape shape;
  std::string firmware = "/usr/share/OVMF/OVMF_CODE.fd"; // -bios
  std::string kernel;   // default: the newest /boot/vmlinuz-* that has a qemu_fw_cfg module
  std::string work_dir; // scratch, caller-owned, must exist
  std::chrono::seconds timeout{300};
  std::function<void(const std::string &)> progress;
  std::string qemu = "qemu-system-x86_64"; // a path, or a name in the fixed PATH
  std::string qemu_data_dir;               // -L DIR when not empty (BootSettings::qemu_data_dir)
  // Added by helper 1:
  std::string module;                   // default: KERNEL's qemu_fw_cfg.ko[.xz|.zst] (find_fw_cfg_module)
  std::string busybox = "/bin/busybox"; // a static busybox (Debian's busybox-static)
  // "tcg" (default) or "kvm". QEMU before 9.0 starts more than 255 vCPUs only with KVM's in-kernel
  // irqchip: capture_acpi refuses cpus > 255 under TCG with an InputError saying so unless the
  // profile has tcg_x2apic (QEMU 9.0+, which then runs with -cpu ...,x2apic=on).
  std::string accel = "tcg";
  std::string cpu; // -cpu; default capture_cpu_model(shape)
};

// The kernel release of a "vmlinuz-RELEASE" path ("" if the file name is not of that form).
std::string kernel_release_of(const std::string &kernel_path);

// KERNEL's fw_cfg module: MODULES_DIR/RELEASE/kernel/drivers/firmware/qemu_fw_cfg.ko[.xz|.zst],
// or "" if there is none.
std::string find_fw_cfg_module(const std::string &kernel_path, const std::string &modules_dir = "/lib/modules");

// The newest BOOT_DIR/vmlinuz-RELEASE (releases compared as version strings: digit runs as
// numbers) whose fw_cfg module exists. Throws InputError listing the kernels looked at if none has.
std::string default_capture_kernel(const std::string &boot_dir = "/boot",
                                   const std::string &modules_dir = "/lib/modules");

// The tiny guest's /init (busybox sh): mounts proc and sysfs, silences kernel console messages
// (printk level 1, so they cannot split the base64 lines), loads /qemu_fw_cfg.ko, dumps the
// three blobs between MRFORGE-CHECK-BEGIN/END fw_cfg/etc/... lines, prints "MRFORGE-CHECK: done"
// and "MRFORGE-READY acpi-capture", and powers off.
std::string capture_init_script();

// The version `QEMU [-L DATA_DIR] --version` prints: "10.0.2" from "QEMU emulator version 10.0.2
// (Debian 1:10.0.2+ds-2+deb13u1~bpo12+1)". Throws InputError naming --qemu when a path (anything
// with a '/') is not an executable file, HostError when QEMU cannot run or prints no version.
std::string qemu_version(const std::string &qemu, const std::string &data_dir = "");

// Throws InputError unless `profile` describes the QEMU that captures: a plain q35 machine (not a
// confidential profile) of the same QEMU release (major.minor of `version` equal to
// profile.qemu_version), so that blobs are never stored under another QEMU's profile.
void check_capture_profile(const AcpiProfile &profile, const std::string &version);

struct AcpiCapture {
  AcpiBlobs blobs;
  std::string qemu_version; // qemu_version() of the QEMU that ran
};

// Checks the shape against its profile (k_capture_profile when it names none:
// validate_acpi_shape, and the TCG vCPU limit above), runs qemu_version() and
// check_capture_profile(), then boots and returns the three blobs. Guest RAM is a sparse file-backed memory backend in
// work_dir
// (-object memory-backend-file,share=on), so shapes larger than the host's RAM (64 GiB) start: the
// guest touches only a few MiB, and the ACPI tables depend on the size only. Throws InputError (shape, settings,
// missing kernel, module or busybox), HostError (QEMU missing or failing, a timeout, a blob missing from the dump)
// with the serial log's last lines.
AcpiCapture capture_acpi(const AcpiCaptureSettings &settings);

} // namespace mrforge::builder
