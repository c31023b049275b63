// Decoding of TCG event data for humans (`mrforge eventlog show`): the inverse of the encodings
// in uefi_events.hpp, plus the other structures firmware, shim, grub, td-shim, the Linux EFI stub
// and dstack log. Formats: TCG PC Client Platform Firmware Profile (PFP) 1.06, section 10.4
// (UEFI_VARIABLE_DATA, UEFI_IMAGE_LOAD_EVENT, UEFI_PLATFORM_FIRMWARE_BLOB(2),
// UEFI_HANDOFF_TABLE_POINTERS(2), UEFI_GPT_DATA, TCG_PCClientTaggedEvent); UEFI 2.10 sections 3.1.3
// (EFI_LOAD_OPTION), 10.3 (device path nodes), 32.4.1 (EFI_SIGNATURE_LIST).
// Display only: nothing here feeds a measurement or a verdict.
#pragma once

#include <measure/util/bytes.hpp>

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace mrforge {

struct DecodedEvent {
  std::string summary; // one line, printable ASCII, e.g. "SecureBoot (8be4df61-...) = 00"
  // Ordered (name, value) pairs with the details, each value printable ASCII.
  std::vector<std::pair<std::string, std::string>> fields;
};

// Decodes the event data of a TCG event of `type` for display. `source` and `offset` (absolute
// offset of data[0] within source) locate problems in messages. Never throws on any input bytes:
// data that does not follow its format yields the summary "undecodable <structure>: <FormatError
// message>" and a "hex" field with (a prefix of) the bytes. Unknown types show the length and a
// hex prefix. Text taken from the data is escaped (\xNN) so the result is always printable.
DecodedEvent decode_event_data(uint32_t type, ByteView data, const std::string &source, uint64_t offset);

} // namespace mrforge
