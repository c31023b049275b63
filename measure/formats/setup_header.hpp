// The Linux x86 boot protocol setup header of a bzImage, and the patch QEMU applies to it before
// serving the kernel to the firmware over fw_cfg. See setup_header.cpp for the format.
#pragma once

#include <measure/formats/memory_layout.hpp>
#include <measure/util/bytes.hpp>

#include <cstdint>
#include <optional>
#include <string>

namespace mrforge {

// Fields of the setup header (Documentation/arch/x86/boot.rst). A field that the kernel's
// protocol version predates reads as 0.
struct SetupHeader {
  uint64_t file_size = 0;
  uint8_t setup_sects = 0;         // 0x1F1, as stored (0 means 4)
  uint32_t setup_size = 0;         // bytes of real-mode setup incl. the boot sector: (sects + 1) * 512
  uint16_t vid_mode = 0;           // 0x1FA
  uint16_t boot_flag = 0;          // 0x1FE, 0xAA55 in real kernels (not required, QEMU ignores it)
  uint16_t protocol = 0;           // 0x206, e.g. 0x20f for 2.15
  uint8_t type_of_loader = 0;      // 0x210
  uint8_t loadflags = 0;           // 0x211
  uint32_t ramdisk_image = 0;      // 0x218
  uint32_t ramdisk_size = 0;       // 0x21C
  uint16_t heap_end_ptr = 0;       // 0x224 (2.01+)
  uint32_t cmd_line_ptr = 0;       // 0x228 (2.02+)
  uint32_t initrd_addr_max = 0;    // 0x22C (2.03+)
  uint32_t kernel_alignment = 0;   // 0x230 (2.05+)
  uint8_t relocatable_kernel = 0;  // 0x234 (2.05+)
  uint8_t min_alignment = 0;       // 0x235 (2.10+)
  uint16_t xloadflags = 0;         // 0x236 (2.12+)
  uint32_t cmdline_size = 0;       // 0x238 (2.06+)
  uint32_t payload_offset = 0;     // 0x248 (2.08+)
  uint32_t payload_length = 0;     // 0x24C (2.08+)
  uint64_t pref_address = 0;       // 0x258 (2.10+)
  uint32_t init_size = 0;          // 0x260 (2.10+)
  uint32_t handover_offset = 0;    // 0x264 (2.11+)
  uint32_t kernel_info_offset = 0; // 0x268 (2.15+)
  std::string kernel_version;      // the string kernel_version (0x20E) points at; empty if none

  bool can_be_loaded_above_4g() const;
};

// Parses the setup header of a bzImage: "HdrS" at 0x202, boot protocol 2.00 or later, LOADED_HIGH
// set, and a setup area that fits in the file. Throws FormatError{source, offset} otherwise, e.g.
// "not a bzImage: no "HdrS" setup header signature at 0x202".
SetupHeader parse_setup_header(ByteView kernel, const std::string &source);

// QEMU's ACPI/BIOS data reservation below the top of low RAM (hw/i386/pc.c pc_machine_class_init:
// acpi_data_size = 0x20000 + 0x8000, "BIOS ACPI tables: 128K. Other BIOS datastructures: ... 32K").
// pc-i440fx-2.0 and older machine types use 0x10000.
constexpr uint64_t k_qemu_acpi_data_size = 0x28000;

// What QEMU's x86_load_linux() needs to patch the setup header.
struct QemuPatchInput {
  uint64_t memory_bytes = 0;           // guest RAM (-m)
  std::optional<uint64_t> initrd_size; // -initrd file size, if any
  std::string cmdline;                 // -append (only vga= matters for protocol >= 2.02)
  MemoryLayout layout = k_q35_memory_layout;
  uint64_t acpi_data_size = k_qemu_acpi_data_size;
};

// The header values QEMU writes (each optional is absent when QEMU leaves that field alone).
struct QemuSetupPatch {
  uint8_t type_of_loader = 0;                 // 0x210 = 0xB0
  uint8_t loadflags = 0;                      // 0x211, with CAN_USE_HEAP for protocol >= 2.01
  std::optional<uint16_t> heap_end_ptr;       // 0x224 (2.01+)
  std::optional<uint32_t> cmd_line_ptr;       // 0x228 (2.02+)
  std::optional<uint16_t> old_cmdline_offset; // 0x22, with magic 0xA33F at 0x20 (2.00, 2.01)
  std::optional<uint16_t> vid_mode;           // 0x1FA, from vga=
  uint32_t initrd_max = 0;                    // highest initrd address QEMU allows
  std::optional<uint32_t> ramdisk_image;      // 0x218, with an initrd
  std::optional<uint32_t> ramdisk_size;       // 0x21C, with an initrd
};

// The vid_mode QEMU derives from the first "vga=" in the command line (a plain substring search,
// so "xvga=1" counts too): normal 0xFFFF, ext 0xFFFE, ask 0xFFFD, else a C number (decimal,
// 0x hex, 0 octal) ending the string or followed by a space, stored as its low 16 bits.
// nullopt without "vga=". Throws InputError("kernel command line", ...) where QEMU exits with
// "invalid 'vga=' kernel parameter", and for negative numbers (QEMU versions differ on those).
std::optional<uint16_t> qemu_vga_mode(const std::string &cmdline);

// The patch QEMU (hw/i386/x86.c, later x86-common.c, x86_load_linux; up to 10.1 for confidential
// guests) applies to the setup header. Throws InputError where QEMU refuses to start: an initrd
// that does not fit below initrd_max ("initrd is too large"), an invalid vga=, a command line with
// a NUL byte, or RAM too small or a layout with more than 4 GiB of low RAM.
QemuSetupPatch qemu_setup_patch(const SetupHeader &header, const QemuPatchInput &in);

// A copy of `kernel` with qemu_setup_patch() applied: the bytes OVMF receives over fw_cfg and
// measures. `header` must be parse_setup_header() of `kernel` (std::invalid_argument otherwise).
Bytes qemu_patched_kernel(ByteView kernel, const SetupHeader &header, const QemuPatchInput &in);

// The first `length` bytes of qemu_patched_kernel(kernel, header, in), without copying the rest:
// QEMU's patch only touches the setup header, so a caller can hash the patched head and the rest of
// the kernel straight from `kernel`. `length` must be at least 0x22C (the end of the patched
// fields; every setup area is longer) and at most the kernel's size (std::invalid_argument otherwise).
Bytes qemu_patched_head(ByteView kernel, const SetupHeader &header, const QemuPatchInput &in, size_t length);

} // namespace mrforge
