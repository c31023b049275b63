// Booting a guest image under QEMU (TCG: KVM with `-cpu host` is not usable on these hosts) with
// a software TPM (swtpm, SHA-256 and SHA-384 PCR banks), and reading what the guest reports on its
// serial console.
//
// Serial protocol of mrforge's guest images (lines; '\r' and ANSI escape sequences are stripped
// first; a marker may follow other text on its line, since kernel messages interleave):
//   MRFORGE-INIT: start
//   MRFORGE-INIT: FATAL: <text>                     (the guest then powers off)
//   MRFORGE-INIT: verity root mounted: <roothash>
//   MRFORGE-CHECK-BEGIN <name> / base64 lines / MRFORGE-CHECK-END <name>
//       names: tpm-event-log, ccel (TDX only), fw_cfg/etc/table-loader, fw_cfg/etc/acpi/rsdp,
//       fw_cfg/etc/acpi/tables
//   MRFORGE-CHECK: missing <name>
//   MRFORGE-CHECK: done
//   MRFORGE-INIT: switch_root
//   MRFORGE-READY <text>                            (the image's own service runs)
// QEMU exits 0 whether the guest succeeded, failed in verity or panicked (panic=-1 -no-reboot),
// so success is judged from the markers only. Kernel lines reporting dm-verity corruption and
// kernel panics are recognised as failures.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <vector>

namespace mrforge::builder {

// Where a disk boot's disk goes unless a caller says otherwise: slot 1 of pcie.0, the first free one.
constexpr unsigned k_boot_disk_slot = 1;

struct BootSettings {
  std::string firmware; // OVMF.fd (-bios)
  std::string kernel;   // bzImage (-kernel)
  std::string initrd;   // optional (-initrd)
  std::string disk;     // optional: the rootfs image (virtio, raw, read-only)
  std::string cmdline;  // exactly as passed with -append
  // Instead of kernel/initrd/cmdline/disk: a bootable disk image OVMF boots from (no -kernel): a
  // virtio-blk disk, raw, read-only, placed in slot `boot_disk_slot` of pcie.0 (OVMF's boot option
  // for it names PciRoot(0x0)/Pci(slot,0x0)).
  std::string boot_disk;
  unsigned boot_disk_slot = k_boot_disk_slot;
  // Check mode through QEMU's fw_cfg (opt/org.mrforge/check = "1") rather than the command line,
  // for images whose command line is sealed in what the firmware measures (a UKI).
  bool check_by_fw_cfg = false;
  uint32_t cpus = 1;
  uint64_t memory = 1ull << 30;      // bytes; a multiple of 1 MiB
  bool tpm = true;                   // swtpm with sha256 + sha384 banks, tpm-tis
  std::chrono::seconds timeout{240}; // the whole boot, from QEMU's start to its exit
  std::string work_dir;              // scratch (serial log, QEMU and swtpm logs, TPM state); caller-owned, must exist
  // Called with "boot: ..." lines as the boot advances (firmware, EFI stub, kernel, init, ...).
  std::function<void(const std::string &)> progress;
  std::string qemu = "qemu-system-x86_64"; // programs, looked up in the fixed PATH if not absolute
  // QEMU's data folder (firmware blobs, option ROMs), passed as `-L DIR` when not empty: for a QEMU
  // unpacked into a prefix of its own (PREFIX/usr/share/qemu), whose built-in path is the system's.
  std::string qemu_data_dir;
  // The machine: -machine MACHINE -accel ACCEL -cpu CPU. `machine` may carry options
  // ("q35,smm=off,hpet=off,pic=off"); an empty `cpu` leaves QEMU's default model (qemu64).
  // QEMU 7.2 starts more than 255 vCPUs (APIC IDs >= 255, x2APIC) only with KVM's in-kernel
  // irqchip (hw/i386/x86.c, x86_cpus_init), so cpus may exceed 255 only with accel "kvm".
  std::string machine = "q35";
  std::string accel = "tcg";
  std::string cpu = "max";
  // The most vCPUs the QEMU takes with `accel` and `cpu`. 0: QEMU 7.2's q35 limits (288 with
  // "kvm", 255 with "tcg", see above). A caller that checked its own QEMU's limits sets them
  // (acpi capture: the profile's max_cpus, with x2APIC in `cpu` beyond 255 for QEMU 9.0+).
  uint32_t max_cpus = 0;
  // Appended to QEMU's command line after everything else (devices and their backends).
  std::vector<std::string> extra_args;
  std::string swtpm = "swtpm";
  std::string swtpm_setup = "swtpm_setup";
};

struct BootCapture {
  bool ready = false;
  std::string ready_line; // the text after "MRFORGE-READY "
  bool root_mounted = false;
  std::string root_hash; // from "verity root mounted: <roothash>"
  bool check_done = false;
  std::vector<std::string> missing;         // names reported by "MRFORGE-CHECK: missing <name>"
  std::vector<std::string> failures;        // FATAL lines, verity corruption, panics, bad dumps, timeouts, QEMU errors
  std::map<std::string, std::string> blobs; // decoded check-mode dumps by name
  std::string last_stage;                   // "firmware", "EFI stub", "kernel", "init", ... (furthest reached)
  std::string serial;                       // cleaned serial log
  double seconds = 0;                       // QEMU start to exit
  int qemu_pid = 0;                         // for diagnostics; both are reaped when boot_image returns
  int swtpm_pid = 0;
};

// Sets up the TPM state (swtpm_setup), starts swtpm and QEMU, follows the serial log until QEMU
// exits or the timeout passes, and parses it. QEMU and swtpm are killed (if still running) and
// reaped on every path, exceptions included. A guest failure, a timeout or a QEMU error is
// reported in BootCapture::failures, not thrown. Throws InputError for missing input files or bad
// settings; HostError (a SystemError) naming QEMU or swtpm if they cannot be started (not installed, swtpm_setup
// fails, the TPM socket never appears, QEMU exits with an error before any serial output).
BootCapture boot_image(const BootSettings &settings);

// Parses a raw serial log (pure; for tests and for boot_image). Sets everything but seconds and
// the pids.
BootCapture parse_serial_log(const std::string &raw);

// QEMU's option syntax: a ',' inside a value is written ",,".
std::string qemu_escape(const std::string &s);

// The serial log with '\r', NUL and ANSI/VT100 escape sequences removed.
std::string clean_serial_text(const std::string &raw);

} // namespace mrforge::builder
