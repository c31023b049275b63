// dstack's TdHobWitnessV1: the firmware's TD_HOB and TempMem sections (the memory QEMU accepts
// for the TD before OVMF runs), as much of the TDVF as the TD HOB depends on, in the `td_hob`
// field of measurement.tdx.cbor (Dstack-TEE/dstack at 312dc605: dstack-mr/src/tdvf.rs
// td_hob_witness_v1, read back by dstack-mr/src/tdx.rs measure_td_hob_from_witness_data).
// Unsigned LEB128 numbers, in 4 KiB pages:
//   base_page, td_hob_page - base_page, range_count,
//   range_count x (start_page - base_page, page_count)
// with the ranges sorted by start, not overlapping, not empty; base_page is the first range's
// start and the TD_HOB section is the range that starts at td_hob_page (the others are TempMem).
// mrforge turns the witness back into TDVF sections and computes the TD HOB with its own engine
// (td_hob.hpp), for the platform's memory layout.
#pragma once

#include <measure/formats/firmware.hpp>
#include <measure/util/bytes.hpp>

#include <string>
#include <vector>

namespace mrforge {

// The sections a witness describes, sorted by address: the TD_HOB section and TempMem sections
// (raw_size 0, attributes 0). Throws FormatError{source, offset} for a number longer than 64
// bits, cut off or not in its shortest form (dstack writes the shortest), more ranges than bytes remain, an empty,
// overlapping or unsorted range, an address past 2^52, no range starting at the TD HOB page, or bytes after the last
// range.
std::vector<TdvfSection> parse_td_hob_witness(ByteView witness, const std::string &source);

// The witness of a firmware's TDVF sections (its TD_HOB and TempMem sections), as dstack writes
// it. Throws InputError(source, ...) when there is no TD_HOB section or more than one, a section
// is empty or not page-aligned, or sections overlap.
Bytes td_hob_witness(const std::vector<TdvfSection> &sections, const std::string &source);

} // namespace mrforge
