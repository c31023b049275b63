// The initramfs /init script. See initramfs_init.hpp for the protocol; the script follows the one
// proven to boot in the issue 5 prototype (busybox 1.35 sh, Debian's 6.12 kernel, dmsetup without
// udev).
#include <builder/guest/initramfs_init.hpp>

namespace mrforge::builder {

namespace {

// Notes on the shell: `set -f` because the command line is split unquoted; sysctl files are read
// with cat, not `read` (the kernel answers EOF to reads at a non-zero offset, which is how busybox's
// `read` builtin reads, byte by byte); numbers are refused
// with leading zeros (sh arithmetic would read them as octal); `fail` runs in the main shell only
// (never in a pipeline or $(...)), so its `exit` after poweroff ends init, and the kernel panics
// instead of carrying on if poweroff ever returned.
constexpr const char *k_script = R"MRFORGE(#!/bin/sh
# /init of an mrforge initramfs (busybox sh). It creates the dm-verity root device from the
# kernel command line, mounts it read-only, optionally dumps attestation inputs (mrforge.check=1,
# or the fw_cfg file opt/org.mrforge/check) and switches to the root's /sbin/init. On any failure
# it prints a FATAL line and powers off; it never starts a shell.
export PATH=/usr/sbin:/usr/bin:/sbin:/bin
umask 022
set -f

fail() {
  echo "MRFORGE-INIT: FATAL: $*" > /dev/console
  sleep 1
  poweroff -f
  exit 1
}
say() {
  echo "MRFORGE-INIT: $*" > /dev/console
}

mount -t devtmpfs devtmpfs /dev || fail "mount devtmpfs on /dev"
exec < /dev/null > /dev/console 2>&1
say start
mount -t proc proc /proc || fail "mount proc on /proc"
mount -t sysfs sysfs /sys || fail "mount sysfs on /sys"

# Kernel modules, in order; a trailing '?' marks an optional one.
while read -r m; do
  case $m in
    '') ;;
    *'?')
      m=${m%'?'}
      insmod "/lib/modules/$m.ko" 2> /dev/null || say "optional module $m not loaded"
      ;;
    *)
      insmod "/lib/modules/$m.ko" || fail "insmod $m"
      ;;
  esac
done < /etc/mrforge/modules

ROOTHASH=
SALT=
DATABLOCKS=
HASHSTART=
ROOTFS=
ROOTDEV=/dev/vda
CHECK=0
CMDLINE=$(cat /proc/cmdline) || fail "read /proc/cmdline"
for w in $CMDLINE; do
  case $w in
    mrforge.roothash=*) ROOTHASH=${w#*=} ;;
    mrforge.salt=*) SALT=${w#*=} ;;
    mrforge.datablocks=*) DATABLOCKS=${w#*=} ;;
    mrforge.hashstart=*) HASHSTART=${w#*=} ;;
    mrforge.rootfs=*) ROOTFS=${w#*=} ;;
    mrforge.rootdev=*) ROOTDEV=${w#*=} ;;
    mrforge.check=*) CHECK=${w#*=} ;;
  esac
done
# Check mode can also come from the host, for images whose command line is sealed in what the
# firmware measures (a UKI): QEMU's -fw_cfg name=opt/org.mrforge/check,string=1.
FWCHECK=/sys/firmware/qemu_fw_cfg/by_name/opt/org.mrforge/check/raw
if [ -r $FWCHECK ]; then
  CHECK=$(cat $FWCHECK) || fail "read $FWCHECK"
fi

is_hex() {
  case $1 in '' | *[!0-9a-fA-F]*) return 1 ;; esac
  return 0
}
# Decimal without leading zeros, at most 15 digits (so that N * 8 cannot overflow).
is_number() {
  case $1 in '' | *[!0-9]* | 0?*) return 1 ;; esac
  [ ${#1} -le 15 ]
}
is_hex "$ROOTHASH" && [ ${#ROOTHASH} -eq 64 ] || fail "mrforge.roothash= must be 64 hex digits (got '$ROOTHASH')"
[ "$SALT" = - ] || is_hex "$SALT" || fail "mrforge.salt= must be hex digits or '-' (got '$SALT')"
is_number "$DATABLOCKS" && [ "$DATABLOCKS" != 0 ] || fail "mrforge.datablocks= must be a positive number (got '$DATABLOCKS')"
is_number "$HASHSTART" || fail "mrforge.hashstart= must be a number (got '$HASHSTART')"
case $ROOTFS in
  erofs | squashfs) ;;
  *) fail "mrforge.rootfs= must be erofs or squashfs (got '$ROOTFS')" ;;
esac
case $ROOTDEV in
  /dev/?*) ;;
  *) fail "mrforge.rootdev= must be a path under /dev (got '$ROOTDEV')" ;;
esac
case $CHECK in
  0 | 1) ;;
  *) fail "mrforge.check= must be 0 or 1 (got '$CHECK')" ;;
esac

i=0
while [ ! -b "$ROOTDEV" ]; do
  i=$((i + 1))
  [ $i -le 100 ] || fail "root device $ROOTDEV did not appear within 10 s"
  sleep 0.1
done

TABLE="0 $((DATABLOCKS * 8)) verity 1 $ROOTDEV $ROOTDEV 4096 4096 $DATABLOCKS $HASHSTART sha256 $ROOTHASH $SALT"
DM_DISABLE_UDEV=1 dmsetup create root --readonly --table "$TABLE" || fail "dmsetup create root (table: $TABLE)"
[ -b /dev/mapper/root ] || fail "/dev/mapper/root missing after dmsetup create"
mount -t "$ROOTFS" -o ro /dev/mapper/root /newroot || fail "mount $ROOTFS from /dev/mapper/root (wrong root hash or corrupted image?)"
[ -L /newroot/sbin/init ] || [ -x /newroot/sbin/init ] || fail "/sbin/init missing on the root file system"
say "verity root mounted: $ROOTHASH"

# Check mode: one source as base64 between markers, or a "missing" line.
dump() {
  if [ ! -e "$2" ]; then
    echo "MRFORGE-CHECK: missing $1"
    return 0
  fi
  base64 "$2" > /tmp/check.b64 || fail "cannot read $2 ($1)"
  echo "MRFORGE-CHECK-BEGIN $1"
  cat /tmp/check.b64
  echo "MRFORGE-CHECK-END $1"
}
if [ "$CHECK" = 1 ]; then
  mount -t securityfs securityfs /sys/kernel/security 2> /dev/null
  PRINTK=$(cat /proc/sys/kernel/printk) || fail "read /proc/sys/kernel/printk"
  set -- $PRINTK
  LOGLEVEL=$1
  echo 1 > /proc/sys/kernel/printk
  dump tpm-event-log /sys/kernel/security/tpm0/binary_bios_measurements
  dump ccel /sys/firmware/acpi/tables/data/CCEL
  for n in etc/table-loader etc/acpi/rsdp etc/acpi/tables; do
    dump "fw_cfg/$n" "/sys/firmware/qemu_fw_cfg/by_name/$n/raw"
  done
  echo "$LOGLEVEL" > /proc/sys/kernel/printk
  echo "MRFORGE-CHECK: done"
  umount /sys/kernel/security 2> /dev/null
fi

say switch_root
umount /sys || fail "umount /sys"
umount /proc || fail "umount /proc"
[ -d /newroot/dev ] || fail "no /dev directory on the root file system"
mount --move /dev /newroot/dev || fail "mount --move /dev /newroot/dev"
exec switch_root /newroot /sbin/init
)MRFORGE";

} // namespace

const char *initramfs_init_script() { return k_script; }

std::vector<std::string> initramfs_busybox_applets() {
  return {"[", "base64", "cat", "echo", "insmod", "mount", "poweroff", "sh", "sleep", "switch_root", "test", "umount"};
}

} // namespace mrforge::builder
