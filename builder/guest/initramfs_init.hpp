// The initramfs's /init (a POSIX sh script for busybox) and the serial protocol a boot check
// relies on. Every marker is a whole line written to /dev/console (the serial port with
// console=ttyS0):
//
//   MRFORGE-INIT: start
//   MRFORGE-INIT: optional module NAME not loaded        (informational)
//   MRFORGE-INIT: verity root mounted: ROOTHASH
//   MRFORGE-CHECK-BEGIN NAME / base64 lines / MRFORGE-CHECK-END NAME   (check mode, per source)
//   MRFORGE-CHECK: missing NAME                                        (check mode, absent source)
//   MRFORGE-CHECK: done                                                (check mode)
//   MRFORGE-INIT: switch_root
//   MRFORGE-INIT: FATAL: WHAT FAILED          (then `sleep 1; poweroff -f`; never a shell)
//
// Kernel command line (dotted names, so the kernel passes none of them to init's environment):
//   mrforge.roothash=HEX mrforge.salt=HEX|- mrforge.datablocks=N mrforge.hashstart=N
//   mrforge.rootfs=erofs|squashfs [mrforge.rootdev=/dev/vda] [mrforge.check=1]
// The verity device is data and hash tree on one device, 4096-byte blocks, sha256:
//   0 <N*8> verity 1 DEV DEV 4096 4096 N HASHSTART sha256 ROOTHASH SALT
// created with `DM_DISABLE_UDEV=1 dmsetup create root --readonly` (no udev in the initramfs).
//
// Check mode dumps, in this order: tpm-event-log (securityfs tpm0/binary_bios_measurements),
// ccel (/sys/firmware/acpi/tables/data/CCEL, TDX), fw_cfg/etc/table-loader, fw_cfg/etc/acpi/rsdp
// and fw_cfg/etc/acpi/tables (/sys/firmware/qemu_fw_cfg/by_name/.../raw, needs qemu_fw_cfg).
// While it dumps, the console log level is lowered to 1 so that kernel messages do not land
// between the base64 lines; it is restored afterwards.
//
// The module load order is read from /etc/mrforge/modules: one name per line, loaded with
// `insmod /lib/modules/NAME.ko`; a trailing '?' marks a module whose failure is not fatal.
#pragma once

#include <string>
#include <vector>

namespace mrforge::builder {

// The script text (starts with "#!/bin/sh").
const char *initramfs_init_script();

// The busybox applets /init runs, installed as symlinks bin/NAME -> busybox. Sorted.
std::vector<std::string> initramfs_busybox_applets();

// Where /init finds its inputs inside the initramfs.
constexpr const char *k_initramfs_module_list = "etc/mrforge/modules";
constexpr const char *k_initramfs_module_dir = "lib/modules";

} // namespace mrforge::builder
