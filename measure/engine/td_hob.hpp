// The TD HOB: the list of UEFI Hand-Off Blocks that QEMU writes into the firmware's TD_HOB section
// to describe the TD's memory, and that OVMF measures as the first RTMR0 event
// (EV_EFI_HANDOFF_TABLES2). It depends on the TDVF sections and the RAM size. See td_hob.cpp.
#pragma once

#include <measure/formats/firmware.hpp>
#include <measure/formats/memory_layout.hpp>
#include <measure/util/bytes.hpp>
#include <measure/util/hash.hpp>

#include <cstdint>
#include <string>
#include <vector>

namespace mrforge {

// The HOB list as measured: the PHIT HOB and one resource descriptor HOB per RAM range, without
// the end-of-list HOB. `sections` are the firmware's validated TDVF sections, `memory_bytes` the
// guest's RAM (QEMU -m), `layout` how the platform splits RAM around the 32-bit PCI hole, `source`
// the firmware's name for messages. Throws InputError("memory size", ...) for a RAM size QEMU
// would not use or that cannot hold the TD_HOB and TempMem sections, InputError("memory layout",
// ...) for an inconsistent layout, and InputError(source, ...) for firmware QEMU cannot build a TD
// HOB for (no TD_HOB section, overlapping sections, section types QEMU does not support, a list
// that overflows the TD_HOB section).
Bytes build_td_hob(const std::vector<TdvfSection> &sections, uint64_t memory_bytes, const MemoryLayout &layout,
                   const std::string &source = "firmware");

// SHA-384 of build_td_hob(...): the RTMR0 TD HOB event digest. Throws as build_td_hob.
Sha384 td_hob_digest(const std::vector<TdvfSection> &sections, uint64_t memory_bytes, const MemoryLayout &layout,
                     const std::string &source = "firmware");

} // namespace mrforge
