// dstack's measurement.tdx.cbor for an image: what `dstack-mr tdx-measurement-cbor IMAGE_DIR`
// writes (Dstack-TEE/dstack at 312dc605: dstack-mr/src/tdx.rs
// tdx_os_image_measurement_for_image_dir), computed with mrforge's engine:
//   image.cmdline_sha384       the command line OVMF passes with an initrd (cmdline + " initrd=initrd")
//   image.kernel_authenticode  the kernel's RTMR1 digest for a TD of k_dstack_kernel_digest_memory
//                              bytes (QEMU's header patch above that size, and at exactly 2 GiB, is
//                              the same; dstack-mr/src/kernel.rs)
//   image.initrd_sha384        SHA-384 of the initrd
//   tdvf.ovmf                  dstack's name for the firmware's OVMF variant when the variant has one
//                              and the firmware's CFV is the one dstack assumes for it; otherwise
//                              mrforge's variant name (which dstack's tooling refuses rather than
//                              predict RTMR0 wrongly)
//   tdvf.mrtd                  MRTD for both page orders
//   tdvf.td_hob                the TD HOB witness of the firmware's TDVF sections
#pragma once

#include <measure/dstack/tdx_measurement_file.hpp>
#include <measure/engine/engine.hpp>
#include <measure/engine/profile.hpp>

#include <cstdint>

namespace mrforge {

// dstack-mr/src/kernel.rs TDX_KERNEL_HASH_STABLE_MIN_MEMORY and TDX_KERNEL_HASH_COMPAT_2G_MEMORY.
constexpr uint64_t k_dstack_kernel_digest_memory = 0xB0000000;
constexpr uint64_t k_dstack_kernel_digest_2g = 0x80000000;

// Whether the file's kernel digest holds for a TD of `memory` bytes: exactly 2 GiB or at least
// 0xB0000000 (dstack-mr/src/kernel.rs tdx_kernel_hash_uses_precomputed_high_mem).
bool dstack_kernel_digest_holds(uint64_t memory);

// The file for `in`'s firmware, kernel, initrd and command line under `profile` and `ovmf` (the
// other fields of `in` are not used). Throws InputError when the firmware, kernel or initrd is
// missing (dstack's format has no field for an image without one), what the engine throws for
// them otherwise.
TdxMeasurementFile tdx_measurement_for_image(const PlatformProfile &profile, const OvmfVariant &ovmf,
                                             const MeasureInputs &in);

} // namespace mrforge
