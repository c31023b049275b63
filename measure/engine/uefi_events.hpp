// Digests of the events that OVMF and the Linux EFI stub log with fixed structure: UEFI variable
// events, boot load options, separators, EFI action strings, and the kernel command line and
// initrd tagged events. The *contents* (which variables, which load option) are firmware facts
// that come from the OVMF variant file; this module only knows the encodings.
#pragma once

#include <measure/formats/guid.hpp>
#include <measure/util/bytes.hpp>
#include <measure/util/hash.hpp>

#include <cstdint>
#include <string>
#include <string_view>

namespace mrforge {

// UEFI_VARIABLE_DATA (UEFI spec / TCG PFP 10.4.4): VariableName GUID || u64 UnicodeNameLength
// (characters, no NUL) || u64 VariableDataLength || UTF-16LE name || data. The name must be ASCII.
Bytes uefi_variable_data(const Guid &vendor, std::string_view name, ByteView data);

// EFI_LOAD_OPTION (UEFI spec 3.1.3): u32 Attributes || u16 FilePathListLength || NUL-terminated
// UTF-16LE Description || device path || optional data. Description must be ASCII.
Bytes efi_load_option(uint32_t attributes, std::string_view description, ByteView device_path);

// Device path of a file in a firmware volume: MEDIA_PIWG_FW_VOL (4/7, FV name GUID) ||
// MEDIA_PIWG_FW_FILE (4/6, file GUID) || END_ENTIRE (0x7F/0xFF), as OVMF's boot manager builds for
// UiApp (PI spec vol. 2, 8.2/8.3; UEFI spec 10.3.5).
Bytes fv_file_device_path(const Guid &fv, const Guid &file);

// EV_SEPARATOR as OVMF logs it: SHA-384 of a 4-byte zero value (TCG PFP 3.3.2.2).
Sha384 separator_digest();

// EV_EFI_ACTION: SHA-384 of the ASCII string, no NUL (TCG PFP 10.4.3).
Sha384 action_digest(std::string_view action);

// What the Linux EFI stub measures for the command line (EV_EVENT_TAG, LOADED_IMAGE::LoadOptions):
// the command line OVMF passed, i.e. `cmdline` plus " initrd=initrd" when QEMU passed an initrd,
// with every *byte* widened to 16 bits (OVMF's QemuLoadKernelImage converts the fw_cfg bytes
// one by one, so UTF-8 is not decoded), plus a 16-bit NUL.
Bytes linux_cmdline_load_options(std::string_view cmdline, bool has_initrd);
Sha384 cmdline_digest(std::string_view cmdline, bool has_initrd);

} // namespace mrforge
