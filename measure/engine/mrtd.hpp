// MRTD: the measurement the TDX module builds while the host adds the firmware's pages to a TD,
// computed from the firmware's validated TDVF sections; and the CFV digest that firmware measures
// into RTMR0. See mrtd.cpp for the block stream.
#pragma once

#include <measure/formats/firmware.hpp>
#include <measure/util/bytes.hpp>
#include <measure/util/hash.hpp>

namespace mrforge {

// The order in which the host adds and measures pages, a property of the host's QEMU/KVM.
enum class PageOrder {
  single_pass, // per page: MEM.PAGE.ADD, then its MR.EXTENDs (upstream KVM/QEMU >= 9.0, Google Cloud)
  two_pass,    // per section: all MEM.PAGE.ADDs, then all MR.EXTENDs (QEMU 8.x TDX builds)
};

// "single-pass", "two-pass".
const char *page_order_name(PageOrder order);

// MRTD of a TD started from the firmware `fw` whose metadata parse_firmware(fw, ...) gave `image`.
// Throws mrforge::Error if `image` was parsed from a file of another size or OpenSSL fails, and
// FormatError if a section's data lies outside `fw`; never for an image parse_firmware(fw) gave.
Sha384 compute_mrtd(ByteView fw, const FirmwareImage &image, PageOrder order);

// SHA-384 of the raw bytes of the image's CFV section (OVMF's EV_EFI_PLATFORM_FIRMWARE_BLOB2 event
// in RTMR0). Throws InputError("firmware") if the image has no CFV section, FormatError as compute_mrtd.
Sha384 cfv_digest(ByteView fw, const FirmwareImage &image);

} // namespace mrforge
