// Linux x86 boot protocol setup header (Documentation/arch/x86/boot.rst, "The Real-Mode Kernel
// Header"), and QEMU's patch of it.
//
// A bzImage starts with the real-mode setup: (setup_sects + 1) 512-byte sectors (setup_sects 0
// means 4). The header sits at 0x1F1; "HdrS" at 0x202 and the u16 protocol version at 0x206 mark
// boot protocol 2.00 and later; later versions append fields (each listed with its version in
// setup_header.hpp). A bzImage is protocol >= 2.00 with LOADED_HIGH (loadflags bit 0): its
// protected-mode kernel loads at 1 MiB. Anything else (a zImage, an ELF vmlinux, a multiboot
// kernel) is rejected: QEMU would boot those through other paths that never carry an EFI stub,
// so they cannot be the EFI application OVMF measures.
//
// QEMU's patch (x86_load_linux() in hw/i386/x86.c, moved to hw/i386/x86-common.c in 2024) writes
// type_of_loader, loadflags|CAN_USE_HEAP, heap_end_ptr, the command line address, vid_mode for
// vga=, and with an initrd ramdisk_image/ramdisk_size; for protocol 2.00/2.01 it places the command
// line below 0x9A000 and uses the old 0xA33F command-line protocol at 0x20. Every rule below cites
// the QEMU line it follows.
#include <measure/formats/setup_header.hpp>

#include <measure/util/errors.hpp>
#include <measure/util/reader.hpp>

#include <stdexcept>

namespace mrforge {

namespace {

// Offsets and constants of boot.rst "The Real-Mode Kernel Header" / arch/x86/include/uapi/asm/bootparam.h.
constexpr size_t k_setup_sects = 0x1F1;
constexpr size_t k_vid_mode = 0x1FA;
constexpr size_t k_boot_flag = 0x1FE;
constexpr size_t k_header_magic = 0x202;
constexpr uint32_t k_header_magic_value = 0x53726448; // "HdrS"
constexpr size_t k_version = 0x206;
constexpr size_t k_kernel_version = 0x20E;
constexpr size_t k_type_of_loader = 0x210;
constexpr size_t k_loadflags = 0x211;
constexpr size_t k_ramdisk_image = 0x218;
constexpr size_t k_ramdisk_size = 0x21C;
constexpr size_t k_heap_end_ptr = 0x224;
constexpr size_t k_cmd_line_ptr = 0x228;
constexpr size_t k_initrd_addr_max = 0x22C;
constexpr size_t k_kernel_alignment = 0x230;
constexpr size_t k_relocatable_kernel = 0x234;
constexpr size_t k_min_alignment = 0x235;
constexpr size_t k_xloadflags = 0x236;
constexpr size_t k_cmdline_size = 0x238;
constexpr size_t k_payload_offset = 0x248;
constexpr size_t k_payload_length = 0x24C;
constexpr size_t k_pref_address = 0x258;
constexpr size_t k_init_size = 0x260;
constexpr size_t k_handover_offset = 0x264;
constexpr size_t k_kernel_info_offset = 0x268;
// Old command-line protocol (boot.rst "The Old Command Line Protocol"): magic at 0x20, offset at 0x22.
constexpr size_t k_old_cmdline_magic = 0x20;
constexpr size_t k_old_cmdline_offset = 0x22;
constexpr uint16_t k_old_cmdline_magic_value = 0xA33F;
// End of the last field QEMU's patch writes (cmd_line_ptr, 0x228..0x22B).
constexpr size_t k_patched_header_end = k_cmd_line_ptr + 4;

constexpr size_t k_sector_size = 512;
constexpr uint8_t k_default_setup_sects = 4;               // "If this field is 0, the real value is 4."
constexpr uint8_t k_loaded_high = 0x01;                    // loadflags LOADED_HIGH
constexpr uint8_t k_can_use_heap = 0x80;                   // loadflags CAN_USE_HEAP
constexpr uint16_t k_xlf_can_be_loaded_above_4g = 1u << 1; // xloadflags XLF_CAN_BE_LOADED_ABOVE_4G
// kernel_version is an offset from 0x200 (boot.rst field "kernel_version").
constexpr size_t k_kernel_version_base = 0x200;
// Longest version string we accept (Debian's is about 120 bytes).
constexpr size_t k_max_kernel_version_length = 1024;

// Boot protocol versions at which fields appear.
constexpr uint16_t k_protocol_2_00 = 0x200, k_protocol_2_01 = 0x201, k_protocol_2_02 = 0x202, k_protocol_2_03 = 0x203,
                   k_protocol_2_05 = 0x205, k_protocol_2_06 = 0x206, k_protocol_2_08 = 0x208, k_protocol_2_10 = 0x20A,
                   k_protocol_2_11 = 0x20B, k_protocol_2_12 = 0x20C, k_protocol_2_15 = 0x20F;

// QEMU x86_load_linux() constants.
constexpr uint8_t k_qemu_loader_type = 0xB0;                   // "High nybble = B reserved for QEMU"
constexpr uint64_t k_qemu_real_addr_high = 0x10000;            // "High and recent kernel": real_addr
constexpr uint64_t k_qemu_cmdline_addr_high = 0x20000;         // ... cmdline_addr
constexpr uint64_t k_qemu_real_addr_low = 0x90000;             // "High but ancient kernel" (< 2.02)
constexpr uint64_t k_qemu_cmdline_top_low = 0x9A000;           // cmdline_addr = 0x9a000 - cmdline_size
constexpr uint64_t k_qemu_heap_gap = 0x200;                    // heap_end_ptr = cmdline - real - 0x200
constexpr uint32_t k_qemu_initrd_max_old = 0x37FFFFFF;         // protocol < 2.03
constexpr uint64_t k_qemu_initrd_align_mask = ~uint64_t{4095}; // initrd_addr & ~4095
constexpr uint64_t k_four_gib = 0x100000000ull;
// vga= keywords (QEMU; also Linux NORMAL_VGA, EXTENDED_VGA, ASK_VGA).
constexpr uint16_t k_vga_normal = 0xFFFF, k_vga_ext = 0xFFFE, k_vga_ask = 0xFFFD;

template <typename T> T le_at(const Reader &r, size_t pos, const char *what) {
  ByteView b = r.view(pos, sizeof(T), what);
  T v = 0;
  for (size_t i = 0; i < sizeof(T); ++i) v = static_cast<T>(v | (static_cast<T>(b[i]) << (8 * i)));
  return v;
}

void store_le16(Bytes &b, size_t pos, uint16_t v) {
  b.at(pos) = static_cast<uint8_t>(v);
  b.at(pos + 1) = static_cast<uint8_t>(v >> 8);
}

void store_le32(Bytes &b, size_t pos, uint32_t v) {
  for (size_t i = 0; i < 4; ++i) b.at(pos + i) = static_cast<uint8_t>(v >> (8 * i));
}

bool is_c_space(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\v' || c == '\f' || c == '\r'; }

int digit_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'z') return c - 'a' + 10;
  if (c >= 'A' && c <= 'Z') return c - 'A' + 10;
  return 99;
}

bool starts_with(const std::string &s, size_t pos, const char *prefix) {
  return s.compare(pos, std::char_traits<char>::length(prefix), prefix) == 0;
}

const std::string k_cmdline_input = "kernel command line";

} // namespace

bool SetupHeader::can_be_loaded_above_4g() const {
  return protocol >= k_protocol_2_12 && (xloadflags & k_xlf_can_be_loaded_above_4g) != 0;
}

SetupHeader parse_setup_header(ByteView kernel, const std::string &source) {
  Reader r(kernel, source);
  SetupHeader h;
  h.file_size = kernel.size();
  if (kernel.size() < k_header_magic + 4 || le_at<uint32_t>(r, k_header_magic, "HdrS") != k_header_magic_value)
    r.fail_at(std::min(kernel.size(), k_header_magic), "not a bzImage: no \"HdrS\" setup header signature at 0x202");
  h.protocol = le_at<uint16_t>(r, k_version, "boot protocol version");
  if (h.protocol < k_protocol_2_00)
    r.fail_at(k_version, "not a bzImage: boot protocol " + hex_u64(h.protocol) + " predates 2.00");
  h.setup_sects = le_at<uint8_t>(r, k_setup_sects, "setup_sects");
  const size_t sects = h.setup_sects == 0 ? k_default_setup_sects : h.setup_sects;
  h.setup_size = static_cast<uint32_t>((sects + 1) * k_sector_size); // at most 256 * 512
  // QEMU: "if (setup_size > kernel_size) invalid kernel header". setup_size >= 1 KiB covers every
  // header field read below (the last ends at 0x26C).
  if (h.setup_size > kernel.size())
    r.fail_at(k_setup_sects, "setup_sects " + std::to_string(h.setup_sects) + " gives a setup area of " +
                                 hex_u64(h.setup_size) + " bytes, more than the file's " + hex_u64(kernel.size()));
  h.vid_mode = le_at<uint16_t>(r, k_vid_mode, "vid_mode");
  h.boot_flag = le_at<uint16_t>(r, k_boot_flag, "boot_flag");
  h.type_of_loader = le_at<uint8_t>(r, k_type_of_loader, "type_of_loader");
  h.loadflags = le_at<uint8_t>(r, k_loadflags, "loadflags");
  if ((h.loadflags & k_loaded_high) == 0)
    r.fail_at(k_loadflags, "not a bzImage: loadflags LOADED_HIGH is clear (a zImage loaded low)");
  h.ramdisk_image = le_at<uint32_t>(r, k_ramdisk_image, "ramdisk_image");
  h.ramdisk_size = le_at<uint32_t>(r, k_ramdisk_size, "ramdisk_size");
  if (h.protocol >= k_protocol_2_01) h.heap_end_ptr = le_at<uint16_t>(r, k_heap_end_ptr, "heap_end_ptr");
  if (h.protocol >= k_protocol_2_02) h.cmd_line_ptr = le_at<uint32_t>(r, k_cmd_line_ptr, "cmd_line_ptr");
  if (h.protocol >= k_protocol_2_03) h.initrd_addr_max = le_at<uint32_t>(r, k_initrd_addr_max, "initrd_addr_max");
  if (h.protocol >= k_protocol_2_05) {
    h.kernel_alignment = le_at<uint32_t>(r, k_kernel_alignment, "kernel_alignment");
    h.relocatable_kernel = le_at<uint8_t>(r, k_relocatable_kernel, "relocatable_kernel");
  }
  if (h.protocol >= k_protocol_2_06) h.cmdline_size = le_at<uint32_t>(r, k_cmdline_size, "cmdline_size");
  if (h.protocol >= k_protocol_2_08) {
    h.payload_offset = le_at<uint32_t>(r, k_payload_offset, "payload_offset");
    h.payload_length = le_at<uint32_t>(r, k_payload_length, "payload_length");
  }
  if (h.protocol >= k_protocol_2_10) {
    h.min_alignment = le_at<uint8_t>(r, k_min_alignment, "min_alignment");
    h.pref_address = le_at<uint64_t>(r, k_pref_address, "pref_address");
    h.init_size = le_at<uint32_t>(r, k_init_size, "init_size");
  }
  if (h.protocol >= k_protocol_2_11) h.handover_offset = le_at<uint32_t>(r, k_handover_offset, "handover_offset");
  if (h.protocol >= k_protocol_2_12) h.xloadflags = le_at<uint16_t>(r, k_xloadflags, "xloadflags");
  if (h.protocol >= k_protocol_2_15)
    h.kernel_info_offset = le_at<uint32_t>(r, k_kernel_info_offset, "kernel_info_offset");

  // kernel_version: offset - 0x200 of a NUL-terminated string inside the setup area.
  const uint16_t version_ptr = le_at<uint16_t>(r, k_kernel_version, "kernel_version");
  if (version_ptr != 0) {
    const size_t start = k_kernel_version_base + version_ptr;
    if (start >= h.setup_size)
      r.fail_at(k_kernel_version, "kernel_version string at " + hex_u64(start) + " lies outside the setup area (" +
                                      hex_u64(h.setup_size) + " bytes)");
    const size_t limit = std::min<size_t>(h.setup_size - start, k_max_kernel_version_length);
    ByteView text = r.view(start, limit, "kernel_version string");
    size_t n = 0;
    while (n < text.size() && text[n] != 0) ++n;
    if (n == text.size())
      r.fail_at(start, "kernel_version string has no NUL within " + std::to_string(limit) + " bytes");
    h.kernel_version.assign(text.begin(), text.begin() + n);
  }
  return h;
}

std::optional<uint16_t> qemu_vga_mode(const std::string &cmdline) {
  // QEMU: vmode = strstr(kernel_cmdline, "vga="); keywords by strncmp prefix; else
  // qemu_strtoui(vmode, &end, 0, &video_mode) and "ret != 0 || (*end && *end != ' ')" is an error;
  // stw_le_p(header + 0x1fa, video_mode) keeps the low 16 bits.
  const size_t at = cmdline.find("vga=");
  if (at == std::string::npos) return std::nullopt;
  size_t i = at + 4;
  if (starts_with(cmdline, i, "normal")) return k_vga_normal;
  if (starts_with(cmdline, i, "ext")) return k_vga_ext;
  if (starts_with(cmdline, i, "ask")) return k_vga_ask;
  const auto invalid = [&](const std::string &why) {
    return InputError(k_cmdline_input, "invalid 'vga=' parameter (QEMU refuses it): " + why);
  };
  // strtoull(base 0): leading C-locale white space, an optional sign, "0x" hex, "0" octal.
  while (i < cmdline.size() && is_c_space(cmdline[i])) ++i;
  if (i < cmdline.size() && cmdline[i] == '+')
    ++i;
  else if (i < cmdline.size() && cmdline[i] == '-')
    throw InputError(k_cmdline_input, "negative 'vga=' value: QEMU versions convert it differently");
  unsigned base = 10;
  if (i < cmdline.size() && cmdline[i] == '0') {
    if (i + 2 < cmdline.size() && (cmdline[i + 1] == 'x' || cmdline[i + 1] == 'X') &&
        digit_value(cmdline[i + 2]) < 16) {
      base = 16;
      i += 2;
    } else {
      base = 8;
    }
  }
  const size_t digits_start = i;
  uint64_t value = 0;
  for (; i < cmdline.size() && static_cast<unsigned>(digit_value(cmdline[i])) < base; ++i) {
    value = value * base + static_cast<unsigned>(digit_value(cmdline[i]));
    if (value > UINT32_MAX) throw invalid("the number does not fit in 32 bits");
  }
  if (i == digits_start) throw invalid("no number");
  if (i < cmdline.size() && cmdline[i] != ' ')
    throw invalid("the number is followed by '" + std::string(1, cmdline[i]) + "'");
  return static_cast<uint16_t>(value);
}

QemuSetupPatch qemu_setup_patch(const SetupHeader &header, const QemuPatchInput &in) {
  if (in.cmdline.find('\0') != std::string::npos)
    throw InputError(k_cmdline_input, "contains a NUL byte (QEMU would cut it there)");
  QemuSetupPatch p;

  // Command line placement: "High and recent kernel" (>= 2.02) vs "High but ancient kernel".
  // (parse_setup_header only accepts LOADED_HIGH kernels with protocol >= 2.00, so the "Low
  // kernel" branch cannot occur.) cmdline_size = (strlen(kernel_cmdline) + 16) & ~15.
  uint64_t real_addr = k_qemu_real_addr_high;
  uint64_t cmdline_addr = k_qemu_cmdline_addr_high;
  if (header.protocol < k_protocol_2_02) {
    const uint64_t cmdline_size = (uint64_t{in.cmdline.size()} + 16) & ~uint64_t{15};
    real_addr = k_qemu_real_addr_low;
    cmdline_addr = k_qemu_cmdline_top_low - cmdline_size; // hwaddr arithmetic, as QEMU
    p.old_cmdline_offset = static_cast<uint16_t>(cmdline_addr - real_addr);
  } else {
    p.cmd_line_ptr = static_cast<uint32_t>(cmdline_addr);
  }

  // Highest initrd address: XLF_CAN_BE_LOADED_ABOVE_4G (2.12+) -> UINT32_MAX; 2.03+ ->
  // initrd_addr_max; else 0x37ffffff; then "if (initrd_max >= below_4g_mem_size - acpi_data_size)
  // initrd_max = below_4g_mem_size - acpi_data_size - 1".
  uint32_t initrd_max = k_qemu_initrd_max_old;
  if (header.can_be_loaded_above_4g())
    initrd_max = UINT32_MAX;
  else if (header.protocol >= k_protocol_2_03)
    initrd_max = header.initrd_addr_max;
  const uint64_t below_4g = in.layout.low_memory(in.memory_bytes);
  if (below_4g > k_four_gib)
    throw InputError("memory layout", hex_u64(below_4g) + " bytes of RAM below 4 GiB is impossible");
  if (below_4g <= in.acpi_data_size)
    throw InputError("memory", hex_u64(in.memory_bytes) + " bytes of RAM leave no room above QEMU's ACPI data (" +
                                   hex_u64(in.acpi_data_size) + " bytes)");
  if (initrd_max >= below_4g - in.acpi_data_size) initrd_max = static_cast<uint32_t>(below_4g - in.acpi_data_size - 1);
  p.initrd_max = initrd_max;

  p.vid_mode = qemu_vga_mode(in.cmdline);
  p.type_of_loader = k_qemu_loader_type; // protocol >= 2.00
  p.loadflags = header.loadflags;
  if (header.protocol >= k_protocol_2_01) {
    p.loadflags = static_cast<uint8_t>(p.loadflags | k_can_use_heap);
    p.heap_end_ptr = static_cast<uint16_t>(cmdline_addr - real_addr - k_qemu_heap_gap);
  }

  if (in.initrd_size) {
    // "if (initrd_size >= initrd_max) { initrd is too large, cannot support. }"
    if (*in.initrd_size >= initrd_max)
      throw InputError("initrd", "initrd is too large: " + std::to_string(*in.initrd_size) +
                                     " bytes, QEMU needs it below initrd_max " + hex_u64(initrd_max) + " with " +
                                     std::to_string(in.memory_bytes >> 20) + " MiB of RAM");
    p.ramdisk_image = static_cast<uint32_t>((initrd_max - *in.initrd_size) & k_qemu_initrd_align_mask);
    p.ramdisk_size = static_cast<uint32_t>(*in.initrd_size);
  }
  return p;
}

Bytes qemu_patched_head(ByteView kernel, const SetupHeader &header, const QemuPatchInput &in, size_t length) {
  if (kernel.size() != header.file_size || kernel.size() < header.setup_size)
    throw std::invalid_argument("qemu_patched_kernel: the kernel is not the one its SetupHeader was parsed from");
  // Every field QEMU writes ends by 0x22C, inside the setup area (at least 1 KiB, checked by
  // parse_setup_header); a head shorter than that could not hold the patch.
  if (length < k_patched_header_end || length > kernel.size())
    throw std::invalid_argument("qemu_patched_head: the head must cover the patched fields and lie inside the kernel");
  const QemuSetupPatch p = qemu_setup_patch(header, in);
  Bytes out(kernel.begin(), kernel.begin() + length);
  out.at(k_type_of_loader) = p.type_of_loader;
  out.at(k_loadflags) = p.loadflags;
  if (p.heap_end_ptr) store_le16(out, k_heap_end_ptr, *p.heap_end_ptr);
  if (p.cmd_line_ptr) store_le32(out, k_cmd_line_ptr, *p.cmd_line_ptr);
  if (p.old_cmdline_offset) {
    store_le16(out, k_old_cmdline_magic, k_old_cmdline_magic_value);
    store_le16(out, k_old_cmdline_offset, *p.old_cmdline_offset);
  }
  if (p.vid_mode) store_le16(out, k_vid_mode, *p.vid_mode);
  if (p.ramdisk_image) store_le32(out, k_ramdisk_image, *p.ramdisk_image);
  if (p.ramdisk_size) store_le32(out, k_ramdisk_size, *p.ramdisk_size);
  return out;
}

Bytes qemu_patched_kernel(ByteView kernel, const SetupHeader &header, const QemuPatchInput &in) {
  return qemu_patched_head(kernel, header, in, kernel.size());
}

} // namespace mrforge
