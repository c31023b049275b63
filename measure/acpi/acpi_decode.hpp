// Decoding QEMU's three ACPI blobs for people and for comparisons: the tables blob split into
// tables (header fields, the fixed tables' fields, MADT/SRAT entries, and for DSDT/SSDT the AML
// namespace objects with their byte ranges), the table-loader commands and the RSDP; and the
// first difference between two sets of blobs named by table, field or AML object.
#pragma once

#include <measure/acpi/acpi_blobs.hpp>

#include <cstdint>
#include <string>
#include <vector>

namespace mrforge {

struct AcpiField {
  std::string name;    // "FACP.SMI_CMD", "APIC.entry[3].APIC_ID", "RSDP.RsdtAddress", "loader[4].offset"
  uint32_t offset = 0; // in its blob
  uint32_t size = 0;
  std::string value; // as text ("0x000000b2", "\"BOCHS \"")
};

// A named AML object: Scope, Device, Method, Name, OperationRegion, Field unit, Processor, ...
struct AmlObject {
  std::string path;    // "\\_SB.PCI0.S08._ADR"
  std::string kind;    // "Device", "Method", "Name", ...
  uint32_t offset = 0; // in the tables blob
  uint32_t length = 0; // the whole object, opcode to end
  uint32_t depth = 0;  // nesting below the table's top-level term list (0 = top level)
};

struct DecodedTable {
  std::string signature;
  uint32_t offset = 0; // in the tables blob
  uint32_t length = 0;
  std::vector<AcpiField> fields;  // header and body fields, in byte order
  std::vector<AmlObject> objects; // DSDT/SSDT only, in byte order (parents before children)
};

struct LoaderCommand {
  uint32_t index = 0;
  std::string text; // "ALLOCATE etc/acpi/tables align 64 zone HIGH"
  std::vector<AcpiField> fields;
};

struct DecodedAcpi {
  std::vector<DecodedTable> tables;
  std::vector<LoaderCommand> loader;
  std::vector<AcpiField> rsdp;
  uint32_t tables_used = 0; // bytes before the zero padding
};

// Throws FormatError naming the blob and offset for malformed input (truncated table, length
// past the blob, bad loader command, bad AML package length).
DecodedAcpi decode_acpi(const AcpiBlobs &blobs);

// A human-readable listing: one line per table (signature, offset, length, revision, OEM ids),
// loader commands, RSDP, then the tables' fields and the DSDT's objects indented by depth.
std::string acpi_listing(const DecodedAcpi &decoded);

struct AcpiDifference {
  std::string blob;    // "etc/acpi/tables", "etc/acpi/rsdp", "etc/table-loader"
  std::string where;   // table + field or AML path: "DSDT \\_SB.PCI0._CRS", "FACP.Flags", "loader[7].offset", "size"
  uint32_t offset = 0; // first differing byte in the blob (A's blob; B's for what only B has)
  std::string a, b;    // the values (field values, or a few bytes of hex)
};

// Differences in blob order (tables, rsdp, loader), the first one first. Within a table the
// innermost named object or field containing the first differing byte is named; tables present
// on one side only, and different table layouts (a table moved), are reported as such. Empty when
// the blobs are identical. Decodes both sides first: throws FormatError as decode_acpi does.
std::vector<AcpiDifference> diff_acpi(const AcpiBlobs &a, const AcpiBlobs &b);
// The same for blobs the caller has decoded already (da = decode_acpi(a), db = decode_acpi(b)).
std::vector<AcpiDifference> diff_acpi(const AcpiBlobs &a, const DecodedAcpi &da, const AcpiBlobs &b,
                                      const DecodedAcpi &db);

} // namespace mrforge
