// The UEFI variable store in an OVMF image's configuration firmware volume (CFV, the VARS part of
// a unified OVMF.fd): which non-volatile variables the firmware starts with. Secure Boot keys
// (PK, KEK, db, dbx) enrolled at build time live here, so the store is evidence of what OVMF
// will measure for them.
//
// Layout (edk2 MdePkg/Include/Pi/PiFirmwareVolume.h, MdeModulePkg/Include/Guid/VariableFormat.h):
//   EFI_FIRMWARE_VOLUME_HEADER: ZeroVector[16], FileSystemGuid (gEfiSystemNvDataFvGuid),
//     u64 FvLength, "_FVH", u32 Attributes, u16 HeaderLength, u16 Checksum, u16 ExtHeaderOffset,
//     u8 Reserved, u8 Revision, block map
//   VARIABLE_STORE_HEADER at HeaderLength: Signature GUID (gEfiAuthenticatedVariableGuid, or
//     gEfiVariableGuid for stores without authenticated variables), u32 Size, u8 Format (0x5a),
//     u8 State (0xfe), u16 + u32 reserved
//   variables, each 4-byte aligned, until the first header whose StartId is not 0x55aa:
//     authenticated: u16 StartId, u8 State, u8 Reserved, u32 Attributes, u64 MonotonicCount,
//       EFI_TIME TimeStamp (16), u32 PubKeyIndex, u32 NameSize, u32 DataSize, VendorGuid (16),
//       then the UTF-16LE name (NameSize bytes, NUL-terminated) and the data
//     plain: u16 StartId, u8 State, u8 Reserved, u32 Attributes, u32 NameSize, u32 DataSize,
//       VendorGuid (16), name, data
// A variable is live when State is VAR_ADDED (0x3f) or VAR_ADDED & VAR_IN_DELETED_TRANSITION
// (0x3e); deleted ones (State 0x3d / 0x3c and below) are skipped (Variable.c IsValidVariableHeader
// and the State checks of FindVariableEx).
#pragma once

#include <measure/formats/guid.hpp>
#include <measure/util/bytes.hpp>

#include <string>
#include <vector>

namespace mrforge {

struct StoredVariable {
  std::string name; // ASCII (a name with other characters is kept with '?' for each)
  Guid vendor;
  uint32_t attributes = 0;
  Bytes data;
};

struct VariableStore {
  bool authenticated = false;
  std::vector<StoredVariable> variables; // live ones, in store order

  // The live variable with this name and vendor, or nullptr.
  const StoredVariable *find(const std::string &name, const Guid &vendor) const;
};

// Parses the variable store of a CFV section (`cfv`: its raw bytes; `source` and `base` locate it
// in the firmware file for errors). Throws FormatError{source, offset} when the volume or store
// header is malformed or a variable runs past the store.
VariableStore parse_variable_store(ByteView cfv, const std::string &source, uint64_t base);

} // namespace mrforge
