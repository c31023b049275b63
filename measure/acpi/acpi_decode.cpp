// Decoding QEMU's ACPI fw_cfg blobs (see acpi_decode.hpp).
//
// etc/acpi/tables: tables back to back from offset 0, then zero padding (QEMU pads to 128 KiB,
//   hw/i386/acpi-build.c acpi_align_size). The FACS has no standard header, only Signature and
//   Length (ACPI 6.5 5.2.10); every other table starts with the 36-byte System Description Table
//   Header (ACPI 6.5 5.2.6). Fixed layouts decoded here: FADT (5.2.9), MADT (5.2.12; entry types
//   0, 1, 2, 3, 4, 9, 0xA), SRAT (5.2.16; types 0, 1, 2), MCFG (PCI Firmware spec 3.2 4.1.2), HPET
//   (IA-PC HPET spec 3.2.4), WAET (Microsoft WAET spec), RSDT (5.2.7), XSDT (5.2.8). Other tables:
//   header only.
// DSDT/SSDT: the AML term list (ACPI 6.5 chapter 20) walked for named objects: Scope, Device,
//   Processor, PowerResource, ThermalZone, Method (body opaque), Name, Alias, Mutex, Event,
//   External, OperationRegion, Field/IndexField/BankField and their named field units; If/Else at
//   namespace level. An opcode outside that set ends its term list's walk with an "Opaque" object
//   covering the rest of the list (named objects are not created by other opcodes there in QEMU's
//   AML). Malformed encodings (a package length past its container, a bad NameSeg) are errors.
// etc/table-loader: 128-byte BiosLinkerLoaderEntry commands (QEMU hw/acpi/bios-linker-loader.c):
//   1 ALLOCATE, 2 ADD_POINTER, 3 ADD_CHECKSUM, 4 WRITE_POINTER; the first all-zero command starts
//   the padding.
// etc/acpi/rsdp: the RSDP (ACPI 6.5 5.2.5.3), 20 bytes (revision 0) or 36.
#include <measure/acpi/acpi_decode.hpp>
#include <measure/acpi/aml_opcodes.hpp>

#include <measure/util/errors.hpp>
#include <measure/util/reader.hpp>
#include <measure/util/strings.hpp>

#include <algorithm>
#include <cstdio>
#include <limits>
#include <map>
#include <optional>
#include <set>

namespace mrforge {

namespace {

constexpr const char *k_tables_blob = "etc/acpi/tables";
constexpr const char *k_rsdp_blob = "etc/acpi/rsdp";
constexpr const char *k_loader_blob = "etc/table-loader";

constexpr size_t k_header_size = 36;       // ACPI 6.5 5.2.6 System Description Table Header
constexpr size_t k_facs_min_size = 8;      // Signature + Length (QEMU's FACS is 64 bytes)
constexpr size_t k_max_tables = 1024;      // cap on the tables walk
constexpr size_t k_max_entries = 1u << 16; // cap on MADT/SRAT/MCFG/RSDT entries per table
constexpr uint32_t k_max_aml_depth = 64;   // cap on AML nesting
constexpr size_t k_max_aml_objects = 1u << 20;
constexpr size_t k_loader_command_size = 128; // sizeof(BiosLinkerLoaderEntry)
constexpr size_t k_loader_file_size = 56;     // BIOS_LINKER_LOADER_FILESZ = FW_CFG_MAX_FILE_PATH
constexpr size_t k_diff_hex_bytes = 8;        // bytes shown for a difference not inside a field

// ---------------------------------------------------------------------------------------------
// Formatting

std::string hex_width(uint64_t v, size_t bytes) {
  char buf[24];
  std::snprintf(buf, sizeof buf, "0x%0*llx", static_cast<int>(bytes * 2), static_cast<unsigned long long>(v));
  return buf;
}

std::string quoted(ByteView b) {
  std::string s = "\"";
  for (uint8_t c : b) {
    if (c == '"' || c == '\\') {
      s += '\\';
      s += static_cast<char>(c);
    } else if (c >= 0x20 && c <= 0x7E) {
      s += static_cast<char>(c);
    } else {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\x%02x", c);
      s += buf;
    }
  }
  return s + "\"";
}

std::string hex_bytes(ByteView data, size_t pos, size_t max) {
  if (pos >= data.size()) return "(end)";
  std::string s;
  size_t n = std::min(max, data.size() - pos);
  for (size_t i = 0; i < n; ++i) {
    char buf[4];
    std::snprintf(buf, sizeof buf, "%02x", data[pos + i]);
    if (!s.empty()) s += ' ';
    s += buf;
  }
  return s;
}

uint32_t u32_offset(uint64_t v) { return static_cast<uint32_t>(v); } // blobs are checked to be < 4 GiB

// ---------------------------------------------------------------------------------------------
// Fields

// Appends fields read from one table (or command) through a bounds-checked reader whose absolute
// offsets are blob offsets.
class FieldSink {
public:
  FieldSink(const Reader &r, std::vector<AcpiField> &out, std::string prefix)
      : m_r(r), m_out(out), m_prefix(std::move(prefix)) {}

  uint64_t num(const std::string &name, size_t pos, size_t size) {
    ByteView b = bytes(name, pos, size);
    uint64_t v = 0;
    for (size_t i = 0; i < size; ++i) v |= static_cast<uint64_t>(b[i]) << (8 * i);
    add(name, pos, size, hex_width(v, size));
    return v;
  }
  std::string text(const std::string &name, size_t pos, size_t size) {
    ByteView b = bytes(name, pos, size);
    add(name, pos, size, quoted(b));
    return std::string(b.begin(), b.end());
  }
  // A Generic Address Structure (ACPI 6.5 5.2.3.2), as its five subfields.
  void gas(const std::string &name, size_t pos) {
    bytes(name, pos, 12);
    num(name + ".SpaceId", pos, 1);
    num(name + ".BitWidth", pos + 1, 1);
    num(name + ".BitOffset", pos + 2, 1);
    num(name + ".AccessSize", pos + 3, 1);
    num(name + ".Address", pos + 4, 8);
  }
  void add(const std::string &name, size_t pos, size_t size, std::string value) {
    m_out.push_back({m_prefix + name, u32_offset(m_r.absolute(pos)), static_cast<uint32_t>(size), std::move(value)});
  }
  const std::string &prefix() const { return m_prefix; }

private:
  ByteView bytes(const std::string &name, size_t pos, size_t size) {
    if (pos > m_r.size() || size > m_r.size() - pos)
      m_r.fail_at(std::min(pos, m_r.size()), m_prefix + name + " (" + std::to_string(size) +
                                                 " bytes) lies past the end (" + std::to_string(m_r.size()) +
                                                 " bytes)");
    return m_r.view(pos, size, "field");
  }

  const Reader &m_r;
  std::vector<AcpiField> &m_out;
  std::string m_prefix;
};

// ---------------------------------------------------------------------------------------------
// Fixed tables

void decode_header(FieldSink &f) {
  f.text("Signature", 0, 4);
  f.num("Length", 4, 4);
  f.num("Revision", 8, 1);
  f.num("Checksum", 9, 1);
  f.text("OEMID", 10, 6);
  f.text("OEMTableID", 16, 8);
  f.num("OEMRevision", 24, 4);
  f.text("CreatorID", 28, 4);
  f.num("CreatorRevision", 32, 4);
}

void decode_facs(FieldSink &f, size_t length) {
  f.text("Signature", 0, 4);
  f.num("Length", 4, 4);
  struct Item {
    const char *name;
    size_t pos, size;
  };
  // ACPI 6.5 Table 5.14; fields decoded as far as the FACS reaches.
  static const Item k_items[] = {{"HardwareSignature", 8, 4},
                                 {"FirmwareWakingVector", 12, 4},
                                 {"GlobalLock", 16, 4},
                                 {"Flags", 20, 4},
                                 {"X_FirmwareWakingVector", 24, 8},
                                 {"Version", 32, 1},
                                 {"OSPMFlags", 36, 4}};
  for (const Item &i : k_items)
    if (i.pos + i.size <= length) f.num(i.name, i.pos, i.size);
}

void decode_fadt(FieldSink &f, size_t length) {
  struct Item {
    const char *name;
    size_t pos, size; // size 12 = Generic Address Structure
  };
  // ACPI 6.5 Table 5.9. A field is decoded when the table (its revision's length) includes it.
  static const Item k_items[] = {{"FIRMWARE_CTRL", 36, 4},
                                 {"DSDT", 40, 4},
                                 {"INT_MODEL", 44, 1},
                                 {"Preferred_PM_Profile", 45, 1},
                                 {"SCI_INT", 46, 2},
                                 {"SMI_CMD", 48, 4},
                                 {"ACPI_ENABLE", 52, 1},
                                 {"ACPI_DISABLE", 53, 1},
                                 {"S4BIOS_REQ", 54, 1},
                                 {"PSTATE_CNT", 55, 1},
                                 {"PM1a_EVT_BLK", 56, 4},
                                 {"PM1b_EVT_BLK", 60, 4},
                                 {"PM1a_CNT_BLK", 64, 4},
                                 {"PM1b_CNT_BLK", 68, 4},
                                 {"PM2_CNT_BLK", 72, 4},
                                 {"PM_TMR_BLK", 76, 4},
                                 {"GPE0_BLK", 80, 4},
                                 {"GPE1_BLK", 84, 4},
                                 {"PM1_EVT_LEN", 88, 1},
                                 {"PM1_CNT_LEN", 89, 1},
                                 {"PM2_CNT_LEN", 90, 1},
                                 {"PM_TMR_LEN", 91, 1},
                                 {"GPE0_BLK_LEN", 92, 1},
                                 {"GPE1_BLK_LEN", 93, 1},
                                 {"GPE1_BASE", 94, 1},
                                 {"CST_CNT", 95, 1},
                                 {"P_LVL2_LAT", 96, 2},
                                 {"P_LVL3_LAT", 98, 2},
                                 {"FLUSH_SIZE", 100, 2},
                                 {"FLUSH_STRIDE", 102, 2},
                                 {"DUTY_OFFSET", 104, 1},
                                 {"DUTY_WIDTH", 105, 1},
                                 {"DAY_ALRM", 106, 1},
                                 {"MON_ALRM", 107, 1},
                                 {"CENTURY", 108, 1},
                                 {"IAPC_BOOT_ARCH", 109, 2},
                                 {"Reserved", 111, 1},
                                 {"Flags", 112, 4},
                                 {"RESET_REG", 116, 12},
                                 {"RESET_VALUE", 128, 1},
                                 {"ARM_BOOT_ARCH", 129, 2},
                                 {"FADT_Minor_Version", 131, 1},
                                 {"X_FIRMWARE_CTRL", 132, 8},
                                 {"X_DSDT", 140, 8},
                                 {"X_PM1a_EVT_BLK", 148, 12},
                                 {"X_PM1b_EVT_BLK", 160, 12},
                                 {"X_PM1a_CNT_BLK", 172, 12},
                                 {"X_PM1b_CNT_BLK", 184, 12},
                                 {"X_PM2_CNT_BLK", 196, 12},
                                 {"X_PM_TMR_BLK", 208, 12},
                                 {"X_GPE0_BLK", 220, 12},
                                 {"X_GPE1_BLK", 232, 12},
                                 {"SLEEP_CONTROL_REG", 244, 12},
                                 {"SLEEP_STATUS_REG", 256, 12},
                                 {"Hypervisor_Vendor_Identity", 268, 8}};
  for (const Item &i : k_items) {
    if (i.pos + i.size > length) break;
    if (i.size == 12)
      f.gas(i.name, i.pos);
    else
      f.num(i.name, i.pos, i.size);
  }
}

// Walks the {type u8, length u8} entries of an MADT or SRAT from pos to the table's end.
template <typename Decode> void walk_entries(const Reader &t, FieldSink &f, size_t pos, Decode decode) {
  size_t count = 0;
  while (pos < t.size()) {
    if (count == k_max_entries) t.fail_at(pos, f.prefix() + "more than " + std::to_string(k_max_entries) + " entries");
    if (t.size() - pos < 2) t.fail_at(pos, f.prefix() + "entry header truncated");
    uint8_t type = t.view(pos, 1, "entry type")[0];
    uint8_t len = t.view(pos + 1, 1, "entry length")[0];
    if (len < 2 || len > t.size() - pos)
      t.fail_at(pos + 1, f.prefix() + "entry[" + std::to_string(count) + "] length " + std::to_string(len) +
                             " does not fit the table");
    const std::string e = "entry[" + std::to_string(count) + "].";
    f.num(e + "Type", pos, 1);
    f.num(e + "Length", pos + 1, 1);
    decode(e, pos, type, len);
    pos += len;
    ++count;
  }
}

void require_entry_length(const Reader &t, const FieldSink &f, size_t pos, const std::string &e, const char *what,
                          uint8_t len, uint8_t expected) {
  if (len != expected)
    t.fail_at(pos + 1, f.prefix() + e + "Length: a " + what + " entry has " + std::to_string(expected) +
                           " bytes, this one " + std::to_string(len));
}

void decode_madt(const Reader &t, FieldSink &f) {
  f.num("LocalApicAddress", 36, 4);
  f.num("Flags", 40, 4);
  walk_entries(t, f, 44, [&](const std::string &e, size_t p, uint8_t type, uint8_t len) {
    switch (type) {
    case 0: // Processor Local APIC
      require_entry_length(t, f, p, e, "Processor Local APIC", len, 8);
      f.num(e + "ACPI_Processor_UID", p + 2, 1);
      f.num(e + "APIC_ID", p + 3, 1);
      f.num(e + "Flags", p + 4, 4);
      break;
    case 1: // I/O APIC
      require_entry_length(t, f, p, e, "I/O APIC", len, 12);
      f.num(e + "IOAPIC_ID", p + 2, 1);
      f.num(e + "Reserved", p + 3, 1);
      f.num(e + "Address", p + 4, 4);
      f.num(e + "GSI_Base", p + 8, 4);
      break;
    case 2: // Interrupt Source Override
      require_entry_length(t, f, p, e, "Interrupt Source Override", len, 10);
      f.num(e + "Bus", p + 2, 1);
      f.num(e + "Source", p + 3, 1);
      f.num(e + "GSI", p + 4, 4);
      f.num(e + "Flags", p + 8, 2);
      break;
    case 3: // NMI Source
      require_entry_length(t, f, p, e, "NMI Source", len, 8);
      f.num(e + "Flags", p + 2, 2);
      f.num(e + "GSI", p + 4, 4);
      break;
    case 4: // Local APIC NMI
      require_entry_length(t, f, p, e, "Local APIC NMI", len, 6);
      f.num(e + "ACPI_Processor_UID", p + 2, 1);
      f.num(e + "Flags", p + 3, 2);
      f.num(e + "LINT", p + 5, 1);
      break;
    case 9: // Processor Local x2APIC
      require_entry_length(t, f, p, e, "Processor Local x2APIC", len, 16);
      f.num(e + "Reserved", p + 2, 2);
      f.num(e + "X2APIC_ID", p + 4, 4);
      f.num(e + "Flags", p + 8, 4);
      f.num(e + "ACPI_Processor_UID", p + 12, 4);
      break;
    case 0xA: // Local x2APIC NMI
      require_entry_length(t, f, p, e, "Local x2APIC NMI", len, 12);
      f.num(e + "Flags", p + 2, 2);
      f.num(e + "ACPI_Processor_UID", p + 4, 4);
      f.num(e + "LINT", p + 8, 1);
      f.num(e + "Reserved", p + 9, 3);
      break;
    default: // other entry types: type and length only
      break;
    }
  });
}

void decode_srat(const Reader &t, FieldSink &f) {
  f.num("Reserved1", 36, 4);
  f.num("Reserved2", 40, 8);
  walk_entries(t, f, 48, [&](const std::string &e, size_t p, uint8_t type, uint8_t len) {
    switch (type) {
    case 0: // Processor Local APIC/SAPIC Affinity
      require_entry_length(t, f, p, e, "Processor Local APIC Affinity", len, 16);
      f.num(e + "ProximityDomain_7_0", p + 2, 1);
      f.num(e + "APIC_ID", p + 3, 1);
      f.num(e + "Flags", p + 4, 4);
      f.num(e + "Local_SAPIC_EID", p + 8, 1);
      f.num(e + "ProximityDomain_31_8", p + 9, 3);
      f.num(e + "ClockDomain", p + 12, 4);
      break;
    case 1: // Memory Affinity
      require_entry_length(t, f, p, e, "Memory Affinity", len, 40);
      f.num(e + "ProximityDomain", p + 2, 4);
      f.num(e + "Reserved1", p + 6, 2);
      f.num(e + "BaseAddress", p + 8, 8);
      f.num(e + "Length", p + 16, 8);
      f.num(e + "Reserved2", p + 24, 4);
      f.num(e + "Flags", p + 28, 4);
      f.num(e + "Reserved3", p + 32, 8);
      break;
    case 2: // Processor Local x2APIC Affinity
      require_entry_length(t, f, p, e, "Processor Local x2APIC Affinity", len, 24);
      f.num(e + "Reserved1", p + 2, 2);
      f.num(e + "ProximityDomain", p + 4, 4);
      f.num(e + "X2APIC_ID", p + 8, 4);
      f.num(e + "Flags", p + 12, 4);
      f.num(e + "ClockDomain", p + 16, 4);
      f.num(e + "Reserved2", p + 20, 4);
      break;
    default: break;
    }
  });
}

// Tables whose body is an array of fixed-size entries after a fixed part.
void decode_array(const Reader &t, FieldSink &f, size_t start, size_t entry_size, const char *what,
                  void (*entry)(FieldSink &, const std::string &, size_t)) {
  if (t.size() < start || (t.size() - start) % entry_size != 0)
    t.fail_at(std::min(start, t.size()), f.prefix() + "the body after offset " + std::to_string(start) +
                                             " is not a whole number of " + std::to_string(entry_size) + "-byte " +
                                             what);
  size_t n = (t.size() - start) / entry_size;
  if (n > k_max_entries) t.fail_at(start, f.prefix() + "more than " + std::to_string(k_max_entries) + " entries");
  for (size_t i = 0; i < n; ++i) entry(f, "entry[" + std::to_string(i) + "]", start + i * entry_size);
}

void decode_table_body(const Reader &t, FieldSink &f, const std::string &sig) {
  if (sig == "FACP") {
    decode_fadt(f, t.size());
  } else if (sig == "APIC") {
    decode_madt(t, f);
  } else if (sig == "SRAT") {
    decode_srat(t, f);
  } else if (sig == "MCFG") {
    f.num("Reserved", 36, 8);
    decode_array(t, f, 44, 16, "allocation entries", [](FieldSink &s, const std::string &e, size_t p) {
      s.num(e + ".BaseAddress", p, 8);
      s.num(e + ".Segment", p + 8, 2);
      s.num(e + ".StartBus", p + 10, 1);
      s.num(e + ".EndBus", p + 11, 1);
      s.num(e + ".Reserved", p + 12, 4);
    });
  } else if (sig == "HPET") {
    f.num("EventTimerBlockID", 36, 4);
    f.gas("BaseAddress", 40);
    f.num("HPETNumber", 52, 1);
    f.num("MinimumTick", 53, 2);
    f.num("PageProtection", 55, 1);
  } else if (sig == "WAET") {
    f.num("EmulatedDeviceFlags", 36, 4);
  } else if (sig == "RSDT") {
    decode_array(t, f, 36, 4, "pointers", [](FieldSink &s, const std::string &e, size_t p) { s.num(e, p, 4); });
  } else if (sig == "XSDT") {
    decode_array(t, f, 36, 8, "pointers", [](FieldSink &s, const std::string &e, size_t p) { s.num(e, p, 8); });
  }
}

// ---------------------------------------------------------------------------------------------
// AML

bool is_lead_name_char(uint8_t c) { return (c >= 'A' && c <= 'Z') || c == '_'; }
bool is_name_char(uint8_t c) { return is_lead_name_char(c) || (c >= '0' && c <= '9'); }

// "S08_" -> "S08", "_SB_" -> "_SB", "____" -> "_" (as iasl prints NameSegs).
std::string display_seg(const std::string &seg) {
  size_t n = seg.size();
  while (n > 1 && seg[n - 1] == '_') --n;
  return seg.substr(0, n);
}

std::string path_text(const std::vector<std::string> &segs) { return "\\" + join(segs, ".", display_seg); }

struct NameString {
  bool root = false;
  size_t parents = 0;
  std::vector<std::string> segs;
};

using aml::ExtOp;
using aml::FieldElement;
using aml::Op;

class AmlWalker {
public:
  AmlWalker(const Reader &table, std::vector<AmlObject> &out, std::string what)
      : m_r(table), m_out(out), m_what(std::move(what)) {}

  void walk() { term_list(k_header_size, m_r.size(), {}, 0); }

private:
  uint8_t byte(size_t pos, size_t end) const {
    if (pos >= end) m_r.fail_at(pos, m_what + ": AML truncated (object runs past its enclosing package)");
    return m_r.view(pos, 1, "AML byte")[0];
  }

  // PkgLength (ACPI 6.5 20.2.4): returns {value, encoded size}.
  std::pair<size_t, size_t> pkg_length(size_t pos, size_t end) const {
    uint8_t lead = byte(pos, end);
    size_t follow = lead >> 6;
    if (follow == 0) return {lead & 0x3Fu, 1};
    if (lead & 0x30) m_r.fail_at(pos, m_what + ": bad AML package length (bits 4-5 of a multi-byte lead byte are set)");
    size_t v = lead & 0x0Fu;
    for (size_t i = 0; i < follow; ++i) v |= static_cast<size_t>(byte(pos + 1 + i, end)) << (4 + 8 * i);
    return {v, 1 + follow};
  }

  // The end of a package whose PkgLength starts at pos; must lie within end.
  size_t package_end(size_t pos, size_t end) const {
    auto [len, n] = pkg_length(pos, end);
    if (len < n || len > end - pos)
      m_r.fail_at(pos, m_what + ": bad AML package length " + std::to_string(len) + " (the enclosing package has " +
                           std::to_string(end - pos) + " bytes left)");
    return pos + len;
  }

  std::string name_seg(size_t pos, size_t end) const {
    std::string s;
    for (size_t i = 0; i < 4; ++i) {
      uint8_t c = byte(pos + i, end);
      if (i == 0 ? !is_lead_name_char(c) : !is_name_char(c))
        m_r.fail_at(pos + i, m_what + ": bad AML NameSeg character " + hex_width(c, 1));
      s += static_cast<char>(c);
    }
    return s;
  }

  // NameString (ACPI 6.5 20.2.2). Returns the name and moves pos past it.
  NameString name_string(size_t &pos, size_t end) const {
    NameString n;
    uint8_t c = byte(pos, end);
    if (c == '\\') {
      n.root = true;
      ++pos;
    } else {
      while (byte(pos, end) == '^') {
        ++n.parents;
        ++pos;
      }
    }
    c = byte(pos, end);
    size_t count = 0;
    if (c == aml::byte(Op::zero)) { // NullName
      ++pos;
      return n;
    } else if (c == aml::byte(Op::dual_name_prefix)) {
      count = 2;
      ++pos;
    } else if (c == aml::byte(Op::multi_name_prefix)) { // SegCount
      count = byte(pos + 1, end);
      pos += 2;
    } else {
      count = 1;
    }
    for (size_t i = 0; i < count; ++i) {
      n.segs.push_back(name_seg(pos, end));
      pos += 4;
    }
    return n;
  }

  std::vector<std::string> resolve(const NameString &n, const std::vector<std::string> &scope, size_t at) const {
    std::vector<std::string> p;
    if (!n.root) {
      if (n.parents > scope.size())
        m_r.fail_at(at, m_what + ": AML name goes " + std::to_string(n.parents) + " levels up from " +
                            path_text(scope) + ", above the root");
      p.assign(scope.begin(), scope.end() - static_cast<std::ptrdiff_t>(n.parents));
    }
    p.insert(p.end(), n.segs.begin(), n.segs.end());
    return p;
  }

  size_t record(const std::string &path, const char *kind, size_t start, size_t end, uint32_t depth) {
    if (m_out.size() == k_max_aml_objects)
      m_r.fail_at(start, m_what + ": more than " + std::to_string(k_max_aml_objects) + " AML objects");
    m_out.push_back({path, kind, u32_offset(m_r.absolute(start)), static_cast<uint32_t>(end - start), depth});
    return m_out.size() - 1;
  }

  static bool starts_name(uint8_t c) {
    return is_lead_name_char(c) || c == '\\' || c == '^' || c == aml::byte(Op::dual_name_prefix) ||
           c == aml::byte(Op::multi_name_prefix);
  }

  // A DataRefObject or simple TermArg: constants, strings, buffers, packages, names, locals,
  // args, and logical operators over those. Returns the end, or nothing for anything else.
  std::optional<size_t> term_arg(size_t pos, size_t end, uint32_t nesting) const {
    if (nesting > k_max_aml_depth) m_r.fail_at(pos, m_what + ": AML expression nested too deeply");
    const uint8_t c = byte(pos, end);
    switch (static_cast<Op>(c)) {
    case Op::zero:
    case Op::one:
    case Op::ones: return pos + 1;
    case Op::byte_prefix: byte(pos + 1, end); return pos + 2;
    case Op::word_prefix: byte(pos + 2, end); return pos + 3;
    case Op::dword_prefix: byte(pos + 4, end); return pos + 5;
    case Op::qword_prefix: byte(pos + 8, end); return pos + 9;
    case Op::string_prefix: { // AsciiCharList NullChar
      size_t p = pos + 1;
      while (byte(p, end) != 0) ++p;
      return p + 1;
    }
    case Op::buffer: // PkgLength ...
    case Op::package:
    case Op::var_package: return package_end(pos + 1, end);
    case Op::ext_prefix:
      if (byte(pos + 1, end) == aml::byte(ExtOp::revision)) return pos + 2;
      return std::nullopt;
    case Op::lnot: // Operand
      return term_arg(pos + 1, end, nesting + 1);
    case Op::land:
    case Op::lor:
    case Op::lequal:
    case Op::lgreater:
    case Op::lless: { // Operand Operand
      auto a = term_arg(pos + 1, end, nesting + 1);
      if (!a) return std::nullopt;
      return term_arg(*a, end, nesting + 1);
    }
    default:
      if (c >= aml::byte(Op::local0) && c <= aml::byte(Op::arg6)) return pos + 1; // Local0-7, Arg0-6
      if (starts_name(c)) {
        size_t p = pos;
        name_string(p, end);
        return p;
      }
      return std::nullopt;
    }
  }

  // FieldList (ACPI 6.5 20.2.5.2): named field units are created in the current scope.
  void field_list(size_t pos, size_t end, const std::vector<std::string> &scope, uint32_t depth) {
    while (pos < end) {
      uint8_t c = byte(pos, end);
      if (c == aml::byte(FieldElement::reserved)) { // PkgLength (a bit count, not a range)
        pos += 1 + pkg_length(pos + 1, end).second;
      } else if (c == aml::byte(FieldElement::access)) { // AccessType AccessAttrib
        byte(pos + 2, end);
        pos += 3;
      } else if (c == aml::byte(FieldElement::extended_access)) { // AccessType ExtendedAccessAttrib AccessLength
        byte(pos + 3, end);
        pos += 4;
      } else if (c == aml::byte(FieldElement::connect)) { // NameString or BufferData
        if (byte(pos + 1, end) == aml::byte(Op::buffer)) {
          pos = package_end(pos + 2, end);
        } else {
          ++pos;
          name_string(pos, end);
        }
      } else if (is_lead_name_char(c)) { // NamedField: NameSeg PkgLength (bit count)
        std::string seg = name_seg(pos, end);
        size_t n = pkg_length(pos + 4, end).second;
        std::vector<std::string> p = scope;
        p.push_back(seg);
        record(path_text(p), "FieldUnit", pos, pos + 4 + n, depth);
        pos += 4 + n;
      } else {
        record(path_text(scope), "Opaque", pos, end, depth);
        return;
      }
    }
    if (pos > end) m_r.fail_at(end, m_what + ": AML field list runs past its package");
  }

  // Walks a TermList [pos, end) in scope; depth is the objects' nesting level.
  void term_list(size_t pos, size_t end, const std::vector<std::string> &scope, uint32_t depth) {
    if (depth > k_max_aml_depth)
      m_r.fail_at(pos, m_what + ": AML nested deeper than " + std::to_string(k_max_aml_depth) + " levels");
    while (pos < end) {
      const size_t start = pos;
      const Op op = static_cast<Op>(byte(pos, end));
      const ExtOp ext = op == Op::ext_prefix ? static_cast<ExtOp>(byte(pos + 1, end)) : ExtOp{};
      const bool extended = op == Op::ext_prefix;
      if (op == Op::scope || (extended && (ext == ExtOp::device || ext == ExtOp::processor ||
                                           ext == ExtOp::power_resource || ext == ExtOp::thermal_zone))) {
        // Scope / Device / Processor / PowerResource / ThermalZone: PkgLength NameString [fixed] TermList
        const char *kind = op == Op::scope ? aml::object_kind(op) : aml::object_kind(ext);
        size_t p = start + (op == Op::scope ? 1 : 2);
        const size_t obj_end = package_end(p, end);
        p += pkg_length(p, end).second;
        const size_t name_at = p;
        std::vector<std::string> path = resolve(name_string(p, obj_end), scope, name_at);
        if (extended && ext == ExtOp::processor) p += 6;      // ProcID u8, PblkAddr u32, PblkLen u8
        if (extended && ext == ExtOp::power_resource) p += 3; // SystemLevel u8, ResourceOrder u16
        if (p > obj_end) m_r.fail_at(start, m_what + ": AML " + kind + " " + path_text(path) + " is truncated");
        record(path_text(path), kind, start, obj_end, depth);
        term_list(p, obj_end, path, depth + 1);
        pos = obj_end;
      } else if (op == Op::method) { // PkgLength NameString MethodFlags TermList (opaque)
        const size_t obj_end = package_end(start + 1, end);
        size_t p = start + 1 + pkg_length(start + 1, end).second;
        std::vector<std::string> path = resolve(name_string(p, obj_end), scope, start);
        byte(p, obj_end); // MethodFlags
        record(path_text(path), aml::object_kind(op), start, obj_end, depth);
        pos = obj_end;
      } else if (op == Op::name) { // NameString DataRefObject
        size_t p = start + 1;
        std::vector<std::string> path = resolve(name_string(p, end), scope, start);
        std::optional<size_t> data_end = term_arg(p, end, 0);
        if (!data_end) return opaque(start, end, scope, depth);
        record(path_text(path), aml::object_kind(op), start, *data_end, depth);
        pos = *data_end;
      } else if (op == Op::alias) { // NameString(source) NameString(alias)
        size_t p = start + 1;
        name_string(p, end);
        std::vector<std::string> path = resolve(name_string(p, end), scope, start);
        record(path_text(path), aml::object_kind(op), start, p, depth);
        pos = p;
      } else if (op == Op::external) { // NameString ObjectType ArgumentCount
        size_t p = start + 1;
        std::vector<std::string> path = resolve(name_string(p, end), scope, start);
        byte(p + 1, end);
        record(path_text(path), aml::object_kind(op), start, p + 2, depth);
        pos = p + 2;
      } else if (extended &&
                 (ext == ExtOp::mutex || ext == ExtOp::event)) { // Mutex: NameString SyncFlags; Event: NameString
        size_t p = start + 2;
        std::vector<std::string> path = resolve(name_string(p, end), scope, start);
        if (ext == ExtOp::mutex) {
          byte(p, end);
          ++p;
        }
        record(path_text(path), aml::object_kind(ext), start, p, depth);
        pos = p;
      } else if (extended && ext == ExtOp::operation_region) { // NameString RegionSpace Offset Length
        size_t p = start + 2;
        std::vector<std::string> path = resolve(name_string(p, end), scope, start);
        byte(p, end);
        std::optional<size_t> a = term_arg(p + 1, end, 0);
        std::optional<size_t> b = a ? term_arg(*a, end, 0) : std::nullopt;
        if (!b) return opaque(start, end, scope, depth);
        record(path_text(path), aml::object_kind(ext), start, *b, depth);
        pos = *b;
      } else if (extended && (ext == ExtOp::field || ext == ExtOp::index_field || ext == ExtOp::bank_field)) {
        // Field: PkgLength NameString FieldFlags FieldList; IndexField: two NameStrings;
        // BankField: two NameStrings and a BankValue TermArg.
        const size_t obj_end = package_end(start + 2, end);
        size_t p = start + 2 + pkg_length(start + 2, end).second;
        std::vector<std::string> path = resolve(name_string(p, obj_end), scope, start);
        record(path_text(path), aml::object_kind(ext), start, obj_end, depth);
        if (ext != ExtOp::field) name_string(p, obj_end);
        std::optional<size_t> q = p;
        if (ext == ExtOp::bank_field) q = term_arg(p, obj_end, 0);
        if (q) {
          byte(*q, obj_end); // FieldFlags
          field_list(*q + 1, obj_end, scope, depth + 1);
        }
        pos = obj_end;
      } else if (op == Op::if_) { // PkgLength Predicate TermList (declarations go to the enclosing scope)
        const size_t obj_end = package_end(start + 1, end);
        size_t p = start + 1 + pkg_length(start + 1, end).second;
        record(path_text(scope), aml::object_kind(op), start, obj_end, depth);
        std::optional<size_t> body = term_arg(p, obj_end, 0);
        if (body)
          term_list(*body, obj_end, scope, depth + 1);
        else
          opaque(p, obj_end, scope, depth + 1);
        pos = obj_end;
      } else if (op == Op::else_) { // PkgLength TermList
        const size_t obj_end = package_end(start + 1, end);
        record(path_text(scope), aml::object_kind(op), start, obj_end, depth);
        term_list(start + 1 + pkg_length(start + 1, end).second, obj_end, scope, depth + 1);
        pos = obj_end;
      } else if (op == Op::noop) {
        pos = start + 1;
      } else {
        return opaque(start, end, scope, depth);
      }
    }
  }

  // An opcode this walker does not follow: the rest of the term list is one opaque region.
  void opaque(size_t start, size_t end, const std::vector<std::string> &scope, uint32_t depth) {
    if (start < end) record(path_text(scope), "Opaque", start, end, depth);
  }

  const Reader &m_r;
  std::vector<AmlObject> &m_out;
  std::string m_what;
};

// ---------------------------------------------------------------------------------------------
// Blobs

void check_size(ByteView b, const char *source) {
  if (b.size() > std::numeric_limits<uint32_t>::max())
    throw FormatError(source, 0, "blob larger than 4 GiB (" + std::to_string(b.size()) + " bytes)");
}

// The zero padding after the last table starts where a signature would be all zero bytes.
bool starts_padding(ByteView blob, size_t pos) {
  for (size_t i = pos; i < blob.size() && i < pos + 4; ++i)
    if (blob[i] != 0) return false;
  return true;
}

std::string table_label(const std::string &sig, std::map<std::string, int> &seen) {
  int n = ++seen[sig];
  return n == 1 ? sig : sig + "#" + std::to_string(n);
}

std::vector<DecodedTable> decode_tables(ByteView blob, uint32_t &used) {
  Reader r(blob, k_tables_blob);
  std::vector<DecodedTable> tables;
  std::map<std::string, int> seen;
  size_t pos = 0;
  while (pos < blob.size()) {
    if (starts_padding(blob, pos)) break;
    if (tables.size() == k_max_tables) r.fail_at(pos, "more than " + std::to_string(k_max_tables) + " tables");
    if (blob.size() - pos < k_facs_min_size)
      r.fail_at(pos, "table header truncated (" + std::to_string(blob.size() - pos) + " bytes left)");
    ByteView sigb = r.view(pos, 4, "signature");
    std::string sig(sigb.begin(), sigb.end());
    for (char c : sig)
      if (c < 0x20 || c > 0x7E) r.fail_at(pos, "table signature " + quoted(sigb) + " is not printable");
    const bool facs = sig == "FACS";
    const uint32_t length = r.peek_le<uint32_t>(pos + 4);
    const size_t min = facs ? k_facs_min_size : k_header_size;
    if (length < min)
      r.fail_at(pos + 4, sig + " length " + std::to_string(length) + " is shorter than its header (" +
                             std::to_string(min) + ")");
    if (length > blob.size() - pos)
      r.fail_at(pos + 4, sig + " length " + std::to_string(length) + " runs past the end of the blob (" +
                             std::to_string(blob.size() - pos) + " bytes left)");
    Reader t = r.sub(pos, length, "table");
    DecodedTable d;
    d.signature = sig;
    d.offset = u32_offset(pos);
    d.length = length;
    const std::string label = table_label(sig, seen);
    FieldSink f(t, d.fields, label + ".");
    if (facs) {
      decode_facs(f, length);
    } else {
      decode_header(f);
      decode_table_body(t, f, sig);
      if (sig == "DSDT" || sig == "SSDT") AmlWalker(t, d.objects, label).walk();
    }
    std::stable_sort(d.fields.begin(), d.fields.end(),
                     [](const AcpiField &x, const AcpiField &y) { return x.offset < y.offset; });
    tables.push_back(std::move(d));
    pos += length;
  }
  used = u32_offset(pos);
  for (size_t i = pos; i < blob.size(); ++i)
    if (blob[i] != 0)
      r.fail_at(i, "non-zero byte " + hex_width(blob[i], 1) + " in the padding after the last table (offset " +
                       hex_u64(pos) + ")");
  return tables;
}

std::vector<AcpiField> decode_rsdp(ByteView blob) {
  Reader r(blob, k_rsdp_blob);
  r.expect(ByteView::of("RSD PTR "), "RSDP signature (expected \"RSD PTR \")");
  if (blob.size() != 20 && blob.size() != 36)
    r.fail_at(0, "an RSDP has 20 (ACPI 1.0) or 36 bytes, this one " + std::to_string(blob.size()));
  std::vector<AcpiField> out;
  FieldSink f(r, out, "RSDP.");
  f.text("Signature", 0, 8);
  f.num("Checksum", 8, 1);
  f.text("OEMID", 9, 6);
  f.num("Revision", 15, 1);
  f.num("RsdtAddress", 16, 4);
  if (blob.size() == 36) {
    f.num("Length", 20, 4);
    f.num("XsdtAddress", 24, 8);
    f.num("ExtendedChecksum", 32, 1);
    f.num("Reserved", 33, 3);
  }
  return out;
}

// The decoded field of a blob that a loader command points into ("FACP.DSDT"), if known.
std::string target_name(const DecodedAcpi &d, const std::string &file, uint64_t offset) {
  const std::vector<AcpiField> *fields = nullptr;
  if (file == k_rsdp_blob) {
    fields = &d.rsdp;
  } else if (file == k_tables_blob) {
    for (const DecodedTable &t : d.tables)
      if (offset >= t.offset && offset - t.offset < t.length) fields = &t.fields;
  }
  if (!fields) return {};
  for (const AcpiField &f : *fields)
    if (offset >= f.offset && offset - f.offset < f.size) return f.name;
  return {};
}

std::string file_name(const Reader &c, FieldSink &f, const std::string &name, size_t pos) {
  ByteView b = c.view(pos, k_loader_file_size, "file name");
  size_t n = 0;
  while (n < b.size() && b[n] != 0) ++n;
  if (n == b.size()) c.fail_at(pos, f.prefix() + name + ": file name is not NUL-terminated within 56 bytes");
  if (n == 0) c.fail_at(pos, f.prefix() + name + ": empty file name");
  std::string s(b.begin(), b.begin() + static_cast<std::ptrdiff_t>(n));
  f.add(name, pos, k_loader_file_size, quoted(b.unchecked_sub(0, n)));
  return s;
}

// Size of a blob a loader command names, when it is one of the three we have.
std::optional<size_t> known_size(const AcpiBlobs &blobs, const std::string &file) {
  if (file == k_tables_blob) return blobs.tables.size();
  if (file == k_rsdp_blob) return blobs.rsdp.size();
  return std::nullopt;
}

void check_range(const Reader &c, size_t at, const AcpiBlobs &blobs, const std::string &file, uint64_t offset,
                 uint64_t size, const std::string &what) {
  std::optional<size_t> n = known_size(blobs, file);
  if (n && (offset > *n || size > *n - offset))
    c.fail_at(at, what + " [" + hex_u64(offset) + ", +" + hex_u64(size) + ") lies outside " + file + " (" +
                      hex_u64(*n) + " bytes)");
}

std::vector<LoaderCommand> decode_loader(const AcpiBlobs &blobs, const DecodedAcpi &d) {
  ByteView blob = blobs.table_loader;
  Reader r(blob, k_loader_blob);
  if (blob.size() % k_loader_command_size != 0)
    r.fail_at(blob.size() - blob.size() % k_loader_command_size,
              "table-loader must be a whole number of 128-byte commands, has " + std::to_string(blob.size()) +
                  " bytes");
  std::vector<LoaderCommand> out;
  bool padding = false;
  for (size_t pos = 0; pos < blob.size(); pos += k_loader_command_size) {
    Reader c = r.sub(pos, k_loader_command_size, "loader command");
    const uint32_t index = static_cast<uint32_t>(pos / k_loader_command_size);
    const uint32_t command = c.peek_le<uint32_t>(0);
    if (padding || command == 0) {
      for (size_t i = 0; i < k_loader_command_size; ++i)
        if (c.view(i, 1, "padding")[0] != 0)
          c.fail_at(i, "loader[" + std::to_string(index) + "]: non-zero byte after the end of the commands");
      padding = true;
      continue;
    }
    LoaderCommand lc;
    lc.index = index;
    FieldSink f(c, lc.fields, "loader[" + std::to_string(index) + "].");
    f.num("command", 0, 4);
    auto where = [&](const std::string &file, uint64_t off) {
      std::string t = target_name(d, file, off);
      return t.empty() ? std::string() : " (" + t + ")";
    };
    switch (command) {
    case 1: { // ALLOCATE file[56] align u32 zone u8
      std::string file = file_name(c, f, "file", 4);
      uint64_t align = f.num("align", 60, 4);
      uint64_t zone = f.num("zone", 64, 1);
      if (zone != 1 && zone != 2)
        c.fail_at(64, f.prefix() + "zone: " + std::to_string(zone) + " is neither 1 (HIGH) nor 2 (FSEG)");
      if (align == 0 || (align & (align - 1)) != 0)
        c.fail_at(60, f.prefix() + "align: " + std::to_string(align) + " is not a power of two");
      lc.text = "ALLOCATE " + file + " align " + std::to_string(align) + " zone " + (zone == 1 ? "HIGH" : "FSEG");
      break;
    }
    case 2: { // ADD_POINTER dest_file[56] src_file[56] offset u32 size u8
      std::string dest = file_name(c, f, "dest_file", 4);
      std::string src = file_name(c, f, "src_file", 60);
      uint64_t offset = f.num("offset", 116, 4);
      uint64_t size = f.num("size", 120, 1);
      if (size != 1 && size != 2 && size != 4 && size != 8)
        c.fail_at(120, f.prefix() + "size: " + std::to_string(size) + " is not 1, 2, 4 or 8");
      check_range(c, 116, blobs, dest, offset, size, f.prefix() + "pointer");
      lc.text = "ADD_POINTER " + dest + "[" + hex_u64(offset) + "] += &" + src + " (" + std::to_string(size) +
                " bytes)" + where(dest, offset);
      break;
    }
    case 3: { // ADD_CHECKSUM file[56] offset u32 start u32 length u32
      std::string file = file_name(c, f, "file", 4);
      uint64_t offset = f.num("offset", 60, 4);
      uint64_t start = f.num("start", 64, 4);
      uint64_t length = f.num("length", 68, 4);
      check_range(c, 60, blobs, file, offset, 1, f.prefix() + "checksum byte");
      check_range(c, 64, blobs, file, start, length, f.prefix() + "checksummed range");
      lc.text = "ADD_CHECKSUM " + file + "[" + hex_u64(offset) + "] over [" + hex_u64(start) + ", +" + hex_u64(length) +
                ")" + where(file, offset);
      break;
    }
    case 4: { // WRITE_POINTER dest_file[56] src_file[56] dst_offset u32 src_offset u32 size u8
      std::string dest = file_name(c, f, "dest_file", 4);
      std::string src = file_name(c, f, "src_file", 60);
      uint64_t dst_offset = f.num("dst_offset", 116, 4);
      uint64_t src_offset = f.num("src_offset", 120, 4);
      uint64_t size = f.num("size", 124, 1);
      if (size != 1 && size != 2 && size != 4 && size != 8)
        c.fail_at(124, f.prefix() + "size: " + std::to_string(size) + " is not 1, 2, 4 or 8");
      check_range(c, 120, blobs, src, src_offset, 1, f.prefix() + "source offset");
      lc.text = "WRITE_POINTER " + dest + "[" + hex_u64(dst_offset) + "] = &" + src + "[" + hex_u64(src_offset) +
                "] (" + std::to_string(size) + " bytes)" + where(src, src_offset);
      break;
    }
    default:
      c.fail_at(0, "loader[" + std::to_string(index) + "]: unknown command " + std::to_string(command) +
                       " (QEMU's are 1 ALLOCATE, 2 ADD_POINTER, 3 ADD_CHECKSUM, 4 WRITE_POINTER)");
    }
    out.push_back(std::move(lc));
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// Listing

std::string pad(std::string s, size_t width) {
  if (s.size() < width) s += std::string(width - s.size(), ' ');
  return s;
}

const AcpiField *find_field(const std::vector<AcpiField> &fields, const std::string &suffix) {
  for (const AcpiField &f : fields)
    if (f.name.size() >= suffix.size() && f.name.compare(f.name.size() - suffix.size(), suffix.size(), suffix) == 0)
      return &f;
  return nullptr;
}

std::string field_value(const std::vector<AcpiField> &fields, const std::string &suffix) {
  const AcpiField *f = find_field(fields, suffix);
  return f ? f->value : std::string();
}

void list_fields(std::string &out, const std::vector<AcpiField> &fields) {
  for (const AcpiField &f : fields)
    out += "  " + pad(hex_width(f.offset, 4), 12) + pad(std::to_string(f.size), 4) + pad(f.name, 40) + " " + f.value +
           "\n";
}

// ---------------------------------------------------------------------------------------------
// Diff

// The innermost AML object containing a blob offset (objects are in byte order, parents first).
const AmlObject *innermost(const std::vector<AmlObject> &objects, uint64_t offset) {
  const AmlObject *best = nullptr;
  for (const AmlObject &o : objects)
    if (offset >= o.offset && offset - o.offset < o.length) best = &o;
  return best;
}

const AcpiField *field_at(const std::vector<AcpiField> &fields, uint64_t offset) {
  for (const AcpiField &f : fields)
    if (offset >= f.offset && offset - f.offset < f.size) return &f;
  return nullptr;
}

const AcpiField *field_named(const std::vector<AcpiField> &fields, const std::string &name) {
  for (const AcpiField &f : fields)
    if (f.name == name) return &f;
  return nullptr;
}

// Compares [a_base, a_base+n) of A with [b_base, b_base+n) of B byte by byte and reports each
// differing field once (named as in A, B's value from its field of the same name), and the first
// differing byte that no field covers.
void diff_region(const std::string &blob, ByteView a, ByteView b, size_t a_base, size_t b_base, size_t n,
                 const std::vector<AcpiField> &fa, const std::vector<AcpiField> &fb, const std::string &label,
                 const std::set<std::string> &skip, std::vector<AcpiDifference> &out) {
  bool raw_reported = false;
  for (size_t i = 0; i < n; ++i) {
    if (a[a_base + i] == b[b_base + i]) continue;
    const AcpiField *f = field_at(fa, a_base + i);
    if (f) {
      const AcpiField *g = field_named(fb, f->name);
      if (!skip.count(f->name))
        out.push_back({blob, f->name, u32_offset(a_base + i), f->value,
                       g ? g->value : hex_bytes(b, b_base + (f->offset - a_base), f->size)});
      i = f->offset - a_base + f->size - 1;
    } else if (!raw_reported) {
      raw_reported = true;
      out.push_back({blob, label + "+" + hex_u64(i), u32_offset(a_base + i), hex_bytes(a, a_base + i, k_diff_hex_bytes),
                     hex_bytes(b, b_base + i, k_diff_hex_bytes)});
    }
  }
}

// Whether a blob offset lies in the PkgLength of an object with one (a container that grew or
// shrank changes there first): opcode (1 byte, or 2 after ExtOpPrefix 0x5B), then the PkgLength
// whose lead byte's bits 6-7 count its follow bytes (ACPI 6.5 20.2.4).
bool in_package_length(ByteView blob, const AmlObject &o, uint64_t offset) {
  static const std::set<std::string> k_with_package{"Scope",       "Device", "Processor", "PowerResource",
                                                    "ThermalZone", "Method", "Field",     "IndexField",
                                                    "BankField",   "If",     "Else"};
  if (!k_with_package.count(o.kind) || o.length < 3) return false;
  const size_t at = o.offset + (blob[o.offset] == aml::byte(aml::Op::ext_prefix) ? 2u : 1u);
  const size_t n = 1u + (blob[at] >> 6);
  return offset >= at && offset < at + n;
}

std::string object_text(const AmlObject &o) { return o.kind + " " + o.path; }

// AML objects keyed by kind, path and occurrence (a Scope may be opened more than once).
std::map<std::string, const AmlObject *> object_keys(const std::vector<AmlObject> &objects,
                                                     std::vector<std::string> &order) {
  std::map<std::string, const AmlObject *> m;
  std::map<std::string, int> seen;
  for (const AmlObject &o : objects) {
    std::string k = object_text(o);
    int n = ++seen[k];
    if (n > 1) k += "#" + std::to_string(n);
    m[k] = &o;
    order.push_back(k);
  }
  return m;
}

bool has_child(const std::vector<AmlObject> &objects, const AmlObject &o) {
  const AmlObject *next = &o + 1;
  return next < objects.data() + objects.size() && next->depth > o.depth && next->offset < o.offset + o.length;
}

void diff_aml(ByteView a, ByteView b, const DecodedTable &ta, const DecodedTable &tb, const std::string &label,
              std::vector<AcpiDifference> &out) {
  const size_t n = std::min(ta.length, tb.length);
  size_t d = k_header_size;
  while (d < n && a[ta.offset + d] == b[tb.offset + d]) ++d;
  if (d == n && ta.length == tb.length) return;
  // The first differing byte, named by the innermost object on each side.
  const AmlObject *oa = innermost(ta.objects, ta.offset + d);
  const AmlObject *ob = innermost(tb.objects, tb.offset + d);
  std::string where = label + " " + (oa ? oa->path : std::string("(no AML object)"));
  std::string first_a = oa ? oa->path : std::string();
  if (oa && in_package_length(a, *oa, ta.offset + d)) where += " (package length)";
  if ((ob ? ob->path : std::string()) != first_a)
    where += " (B: " + (ob ? ob->path : std::string("no AML object")) + ")";
  out.push_back({k_tables_blob, where, u32_offset(ta.offset + d), hex_bytes(a, ta.offset + d, k_diff_hex_bytes),
                 hex_bytes(b, tb.offset + d, k_diff_hex_bytes)});
  // Then objects present on one side only, and leaf objects whose bytes differ.
  std::vector<std::string> order_a, order_b;
  auto ka = object_keys(ta.objects, order_a);
  auto kb = object_keys(tb.objects, order_b);
  std::vector<std::string> gone_prefix;
  auto under_reported = [&](const std::string &path) {
    for (const std::string &p : gone_prefix)
      if (path.size() > p.size() && path.compare(0, p.size(), p) == 0 && path[p.size()] == '.') return true;
    return false;
  };
  for (const std::string &k : order_a) {
    const AmlObject &o = *ka.at(k);
    auto it = kb.find(k);
    if (it == kb.end()) {
      if (under_reported(o.path)) continue;
      gone_prefix.push_back(o.path);
      out.push_back({k_tables_blob, label + " " + object_text(o), o.offset,
                     "present (" + std::to_string(o.length) + " bytes)", "absent"});
      continue;
    }
    const AmlObject &p = *it->second;
    if (has_child(ta.objects, o) || o.path == first_a) continue;
    ByteView va = a.unchecked_sub(o.offset, o.length), vb = b.unchecked_sub(p.offset, p.length);
    if (va == vb) continue;
    size_t i = 0;
    while (i < va.size() && i < vb.size() && va[i] == vb[i]) ++i;
    out.push_back({k_tables_blob, label + " " + object_text(o), u32_offset(o.offset + i),
                   hex_bytes(a, o.offset + i, k_diff_hex_bytes) + " (" + std::to_string(o.length) + " bytes)",
                   hex_bytes(b, p.offset + i, k_diff_hex_bytes) + " (" + std::to_string(p.length) + " bytes)"});
  }
  gone_prefix.clear();
  for (const std::string &k : order_b) {
    if (ka.count(k)) continue;
    const AmlObject &o = *kb.at(k);
    if (under_reported(o.path)) continue;
    gone_prefix.push_back(o.path);
    out.push_back({k_tables_blob, label + " " + object_text(o), o.offset, "absent",
                   "present (" + std::to_string(o.length) + " bytes, at B+" + hex_u64(o.offset) + ")"});
  }
}

std::vector<std::string> table_labels(const std::vector<DecodedTable> &tables) {
  std::vector<std::string> labels;
  std::map<std::string, int> seen;
  for (const DecodedTable &t : tables) labels.push_back(table_label(t.signature, seen));
  return labels;
}

void diff_tables(ByteView a, ByteView b, const DecodedAcpi &da, const DecodedAcpi &db,
                 std::vector<AcpiDifference> &out) {
  if (a.size() != b.size())
    out.push_back({k_tables_blob, "size", u32_offset(std::min(a.size(), b.size())), std::to_string(a.size()),
                   std::to_string(b.size())});
  const std::vector<std::string> la = table_labels(da.tables), lb = table_labels(db.tables);
  auto index_of = [](const std::vector<std::string> &labels, const std::string &l) -> std::optional<size_t> {
    for (size_t i = 0; i < labels.size(); ++i)
      if (labels[i] == l) return i;
    return std::nullopt;
  };
  // The layout first: tables on one side only, lengths, moves.
  std::vector<std::pair<size_t, size_t>> pairs;
  std::set<std::string> length_reported;
  for (size_t i = 0; i < la.size(); ++i) {
    const DecodedTable &t = da.tables[i];
    std::optional<size_t> j = index_of(lb, la[i]);
    if (!j) {
      out.push_back({k_tables_blob, la[i], t.offset,
                     "at " + hex_u64(t.offset) + ", " + std::to_string(t.length) + " bytes", "absent"});
      continue;
    }
    const DecodedTable &u = db.tables[*j];
    pairs.emplace_back(i, *j);
    if (t.length != u.length) {
      out.push_back(
          {k_tables_blob, la[i] + " length", t.offset + 4, std::to_string(t.length), std::to_string(u.length)});
      length_reported.insert(la[i] + ".Length");
    } else if (t.offset != u.offset) {
      out.push_back({k_tables_blob, la[i] + " offset", t.offset, hex_u64(t.offset), hex_u64(u.offset)});
    }
  }
  for (size_t j = 0; j < lb.size(); ++j)
    if (!index_of(la, lb[j])) {
      const DecodedTable &u = db.tables[j];
      out.push_back({k_tables_blob, lb[j], u.offset, "absent",
                     "at " + hex_u64(u.offset) + ", " + std::to_string(u.length) + " bytes"});
    }
  // Then each table's content, in A's order.
  for (auto [i, j] : pairs) {
    const DecodedTable &t = da.tables[i], &u = db.tables[j];
    const bool aml = t.signature == "DSDT" || t.signature == "SSDT";
    const size_t n = aml ? std::min<size_t>(k_header_size, std::min(t.length, u.length)) : std::min(t.length, u.length);
    diff_region(k_tables_blob, a, b, t.offset, u.offset, n, t.fields, u.fields, la[i], length_reported, out);
    if (aml)
      diff_aml(a, b, t, u, la[i], out);
    else if (t.length != u.length) {
      // Fields only one side has (a longer MADT): name the first of them.
      const DecodedTable &longer = t.length > u.length ? t : u;
      const AcpiField *f = field_at(longer.fields, longer.offset + n);
      std::string name = f ? f->name : la[i] + "+" + hex_u64(n);
      std::string present = f ? f->value : "present";
      out.push_back({k_tables_blob, name + " (and after)",
                     u32_offset(t.length > u.length ? t.offset + n : u.offset + n),
                     t.length > u.length ? present : "absent", t.length > u.length ? "absent" : present});
    }
  }
}

void diff_loader(const AcpiBlobs &a, const AcpiBlobs &b, const DecodedAcpi &da, const DecodedAcpi &db,
                 std::vector<AcpiDifference> &out) {
  const size_t na = da.loader.size(), nb = db.loader.size();
  if (a.table_loader.size() != b.table_loader.size())
    out.push_back({k_loader_blob, "size", u32_offset(std::min(a.table_loader.size(), b.table_loader.size())),
                   std::to_string(a.table_loader.size()), std::to_string(b.table_loader.size())});
  if (na != nb)
    out.push_back({k_loader_blob, "commands", u32_offset(std::min(na, nb) * k_loader_command_size), std::to_string(na),
                   std::to_string(nb)});
  for (size_t i = 0; i < std::min(na, nb); ++i) {
    const LoaderCommand &x = da.loader[i], &y = db.loader[i];
    const size_t base = i * k_loader_command_size;
    diff_region(k_loader_blob, a.table_loader, b.table_loader, base, base, k_loader_command_size, x.fields, y.fields,
                "loader[" + std::to_string(i) + "]", {}, out);
  }
  for (size_t i = std::min(na, nb); i < std::max(na, nb); ++i) {
    const bool in_a = i < na;
    const std::string text = in_a ? da.loader[i].text : db.loader[i].text;
    out.push_back({k_loader_blob, "loader[" + std::to_string(i) + "]", u32_offset(i * k_loader_command_size),
                   in_a ? text : "absent", in_a ? "absent" : text});
  }
}

} // namespace

DecodedAcpi decode_acpi(const AcpiBlobs &blobs) {
  check_size(blobs.tables, k_tables_blob);
  check_size(blobs.rsdp, k_rsdp_blob);
  check_size(blobs.table_loader, k_loader_blob);
  DecodedAcpi d;
  d.tables = decode_tables(blobs.tables, d.tables_used);
  d.rsdp = decode_rsdp(blobs.rsdp);
  d.loader = decode_loader(blobs, d);
  return d;
}

std::string acpi_listing(const DecodedAcpi &d) {
  std::string out = "etc/acpi/tables: " + std::to_string(d.tables.size()) + " tables, " +
                    std::to_string(d.tables_used) + " bytes before the padding\n";
  for (const DecodedTable &t : d.tables) {
    std::string line = "  " + pad(t.signature, 6) + pad(hex_width(t.offset, 4), 12) + std::to_string(t.length);
    if (t.signature != "FACS")
      line = pad(line, 27) + "rev " + field_value(t.fields, ".Revision") + "  " + field_value(t.fields, ".OEMID") +
             " " + field_value(t.fields, ".OEMTableID") + " oem rev " + field_value(t.fields, ".OEMRevision") +
             "  creator " + field_value(t.fields, ".CreatorID") + " " + field_value(t.fields, ".CreatorRevision");
    out += line + "\n";
  }
  out += "etc/table-loader: " + std::to_string(d.loader.size()) + " commands\n";
  for (const LoaderCommand &c : d.loader) out += "  [" + std::to_string(c.index) + "] " + c.text + "\n";
  out += "etc/acpi/rsdp\n";
  list_fields(out, d.rsdp);
  for (const DecodedTable &t : d.tables) {
    out += "\n" + t.signature + " at " + hex_u64(t.offset) + ", " + std::to_string(t.length) + " bytes\n";
    list_fields(out, t.fields);
    if (!t.objects.empty()) {
      out += "  AML objects (offset, length, kind, path):\n";
      for (const AmlObject &o : t.objects)
        out += "  " + pad(hex_width(o.offset, 4), 12) + pad(std::to_string(o.length), 7) +
               std::string(2 * static_cast<size_t>(o.depth), ' ') + pad(o.kind, 16) + o.path + "\n";
    }
  }
  return out;
}

std::vector<AcpiDifference> diff_acpi(const AcpiBlobs &a, const AcpiBlobs &b) {
  return diff_acpi(a, decode_acpi(a), b, decode_acpi(b));
}

std::vector<AcpiDifference> diff_acpi(const AcpiBlobs &a, const DecodedAcpi &da, const AcpiBlobs &b,
                                      const DecodedAcpi &db) {
  std::vector<AcpiDifference> out;
  diff_tables(a.tables, b.tables, da, db, out);
  if (a.rsdp.size() != b.rsdp.size())
    out.push_back({k_rsdp_blob, "size", u32_offset(std::min(a.rsdp.size(), b.rsdp.size())),
                   std::to_string(a.rsdp.size()), std::to_string(b.rsdp.size())});
  diff_region(k_rsdp_blob, a.rsdp, b.rsdp, 0, 0, std::min(a.rsdp.size(), b.rsdp.size()), da.rsdp, db.rsdp, "RSDP", {},
              out);
  diff_loader(a, b, da, db, out);
  return out;
}

} // namespace mrforge
