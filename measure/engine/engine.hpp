// The measure engine: turns a platform profile, an OVMF variant and the inputs (firmware, kernel,
// initrd, command line, VM shape, ACPI blobs, or any component digest supplied directly) into
// the ordered expected event list, RTMR0-2 folded from it, and MRTD from the firmware.
#pragma once

#include <measure/acpi/acpi_digests.hpp>
#include <measure/engine/profile.hpp>
#include <measure/formats/event.hpp>

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace mrforge {

// Component digests a user may supply instead of the binaries (an auditor may hold only
// published digests).
enum class DigestSlot { td_hob, cfv, acpi_loader, acpi_rsdp, acpi_tables, kernel, cmdline, initrd };
const char *digest_slot_name(DigestSlot s); // "td-hob", "cfv", "acpi-loader", ...
std::optional<DigestSlot> digest_slot_from_name(const std::string &name);
std::string digest_slot_names(); // "td-hob, cfv, ..." for help and errors

struct NamedBytes {
  NamedBytes() = default;
  NamedBytes(ByteView b, std::string n, std::string p = {}) : bytes(b), name(std::move(n)), path(std::move(p)) {}
  ByteView bytes;
  std::string name; // how outputs name it (event sources, inputs): a file name, never a host path
  std::string path; // how errors name it (the path as the user gave it); empty: `name`
  const std::string &error_source() const { return path.empty() ? name : path; }
};

// Booting a GPT disk's EFI system partition instead of QEMU's -kernel: the disk (its GPT is
// measured), what OVMF loads from the ESP, and the pcie.0 slots of the VM's virtio-blk disks in PCI
// order (one boot option each; the first is the boot disk).
//  - boot: uki: the UKI (its sections give the kernel, initrd and command line);
//  - boot: shim-grub: shim, GRUB and grub.cfg; the kernel and initrd GRUB loads from the ESP are
//    MeasureInputs::kernel and initrd.
struct ShimGrubFiles {
  NamedBytes shim, grub, grub_cfg;
};

struct DiskBootInputs {
  NamedBytes disk;
  std::optional<NamedBytes> uki;
  std::optional<ShimGrubFiles> shim_grub;
  std::vector<unsigned> disk_slots;
  const char *path_name() const { return uki ? "uki" : "shim-grub"; }
};

struct MeasureInputs {
  std::optional<NamedBytes> firmware;
  std::optional<NamedBytes> kernel;
  std::optional<NamedBytes> initrd;
  std::optional<uint64_t> initrd_size; // needed for the header patch when only the initrd digest is supplied
  std::string cmdline;
  uint32_t cpus = 0;
  uint64_t memory = 0; // bytes
  std::optional<AcpiDigests> acpi;
  std::string acpi_origin; // e.g. the --acpi-tables directory
  std::map<DigestSlot, Sha384> supplied;
  // Where a supplied digest comes from, for the event's source ("tdx_measurement
  // image.kernel_authenticode"); absent: "supplied digest (--digest NAME)".
  std::map<DigestSlot, std::string> supplied_origin;
  // When set: a disk boot (the profile's uki_events or shim_grub_events). For a UKI, kernel,
  // initrd and cmdline stay unset (they are its sections).
  std::optional<DiskBootInputs> disk_boot;
};

struct Measurement {
  std::optional<Sha384> mrtd;                              // absent when no firmware file was given
  std::vector<Event> events;                               // in log order
  RtmrValues rtmr{};                                       // folded from events (rtmr3 stays zero: it is runtime)
  std::vector<std::pair<std::string, std::string>> inputs; // every input that fed the result
};

// Largest guest memory accepted (64 TiB: beyond any host the profiles describe).
constexpr uint64_t k_max_memory = 64ull << 40;

// Parses a size (size_text.hpp: "2G", "2048M", "2GiB", "512m", "0x80000000", "4096" bytes) that is a
// whole number of 4 KiB pages, not zero and at most k_max_memory. Throws InputError naming `what`.
uint64_t parse_memory_size(const std::string &text, const std::string &what = "--memory");

// Throws InputError when an input needed by the profile is missing or unacceptable (naming the
// option to give), FormatError when a supplied binary is malformed.
Measurement measure(const PlatformProfile &profile, const OvmfVariant &ovmf, const MeasureInputs &in);

// The profile's event steps for this boot: events, uki_events or shim_grub_events. Throws
// InputError when the profile does not describe the boot path.
const std::vector<EventStep> &event_steps_for(const PlatformProfile &profile, const MeasureInputs &in);

// The kernel's RTMR1 digest as measure() computes it from in.kernel (Authenticode, after QEMU's
// setup-header patch for in.memory when the profile says QEMU patches it), and its source text.
// Throws InputError when the kernel or an input of the patch is missing, FormatError for a
// malformed kernel.
std::pair<Sha384, std::string> kernel_event_digest(const PlatformProfile &profile, const MeasureInputs &in);

} // namespace mrforge
