// Decoding of TCG event data for display. Every structure is walked with Reader, which throws
// FormatError on anything out of bounds; decode_event_data catches exactly that and reports the
// event as undecodable. Every walk advances and has a named cap (k_max_*).
#include <measure/formats/event_decode.hpp>
#include <measure/formats/event_log.hpp>

#include <measure/formats/event.hpp>
#include <measure/formats/guid.hpp>
#include <measure/formats/tcg_log.hpp>
#include <measure/util/errors.hpp>
#include <measure/util/hash.hpp>
#include <measure/util/reader.hpp>
#include <measure/util/strings.hpp>

#include <cstdio>
#include <optional>
#include <string_view>

namespace mrforge {

namespace {

// Caps (ours): generous for real logs, bounded for hostile ones.
constexpr size_t k_hex_prefix_bytes = 64;        // bytes shown in "hex" fields
constexpr size_t k_max_device_path_nodes = 256;  // nodes per device path
constexpr size_t k_max_listed_entries = 64;      // tables, partitions, signature lists shown one by one
constexpr size_t k_max_signature_lists = 4096;   // EFI_SIGNATURE_LISTs walked per variable
constexpr size_t k_max_handoff_tables = 4096;    // EFI_CONFIGURATION_TABLE entries
constexpr size_t k_max_gpt_partitions = 4096;    // GPT partition entries
constexpr size_t k_small_value_bytes = 16;       // variable data shown inline in the summary
constexpr size_t k_max_summary_text_chars = 160; // text shown in a summary before "..."

// Event types (PFP 1.06 table 9) beyond those of event.hpp and tcg_log.hpp.
constexpr uint32_t k_ev_post_code = 0x00000001;
constexpr uint32_t k_ev_s_crtm_contents = 0x00000007;
constexpr uint32_t k_ev_s_crtm_version = 0x00000008;
constexpr uint32_t k_ev_cpu_microcode = 0x00000009;
constexpr uint32_t k_ev_ipl_partition_data = 0x0000000E;
constexpr uint32_t k_ev_nonhost_info = 0x00000011;
constexpr uint32_t k_ev_compact_hash = 0x0000000C;
constexpr uint32_t k_ev_omit_boot_device_events = 0x00000012;
// dstack's runtime events (RTMR3), see event_log.hpp.

// Tagged event ids of the Linux EFI stub: event.hpp (event_tag).
// CoCo attestation-agent event log entries ("AAEL" read as a little-endian u32, guest-components).
constexpr uint32_t k_tag_coco_aael = 0x4141454C;

// Device path node types (UEFI 2.10, 10.3.1).
constexpr uint8_t k_dp_hardware = 0x01;
constexpr uint8_t k_dp_acpi = 0x02;
constexpr uint8_t k_dp_messaging = 0x03;
constexpr uint8_t k_dp_media = 0x04;
constexpr uint8_t k_dp_bios = 0x05;
constexpr uint8_t k_dp_end = 0x7F;
constexpr uint8_t k_dp_end_entire = 0xFF;
constexpr uint8_t k_dp_end_instance = 0x01;
// EISA ids of ACPI device path nodes (UEFI 10.3.3: EISA_PNP_ID(0x0A03) etc.).
constexpr uint32_t k_eisa_pci_root = 0x0A0341D0;
constexpr uint32_t k_eisa_pcie_root = 0x0A0841D0;

struct KnownGuid {
  const char *guid;
  const char *name;
};
// Sources: UEFI 2.10 (global variable, image security database, certificate types), shim
// (shim lock), edk2 OvmfPkg.dec / MdeModulePkg.dec, Linux include/linux/efi.h.
constexpr KnownGuid k_known_guids[] = {
    {"8be4df61-93ca-11d2-aa0d-00e098032b8c", "EFI global variable"},
    {"d719b2cb-3d3a-4596-a3bc-dad00e67656f", "image security database"},
    {"605dab50-e046-4300-abb6-3dd810dd8b23", "shim lock"},
    {"93bb96af-b9f2-4eb8-9462-e0ba74564236", "OVMF TdxTable (TD HOB)"},
    {"a5c059a1-94e4-4aa7-87b5-ab155c2bf072", "EFI_CERT_X509"},
    {"c1c41626-504c-4092-aca9-41f936934328", "EFI_CERT_SHA256"},
    {"77fa9abd-0359-4d32-bd60-28f4e78f784b", "Microsoft"},
    {"7cb8bdc9-f8eb-4f34-aaea-3ee4af6516a1", "OVMF DXE firmware volume"},
    {"462caa21-7614-4503-836e-8ab6f4662331", "UiApp"},
    {"1428f772-b64a-441e-b8c3-9ebdd7f893c7", "QEMU kernel loader file system"},
    {"5568e427-68fc-4f3d-ac74-ca555231cc68", "Linux initrd media"},
    {"8868e871-e4f1-11d3-bc22-0080c73c8881", "ACPI 2.0 table"},
    {"eb9d2d30-2d88-11d3-9a16-0090273fc14d", "ACPI 1.0 table"},
    {"eb9d2d31-2d88-11d3-9a16-0090273fc14d", "SMBIOS table"},
    {"f2fd1544-9794-4a2c-992e-e5bbcf20e394", "SMBIOS3 table"},
    {"7739f24c-93d7-11d4-9a3a-0090273fc14d", "HOB list"},
};

std::string hex_byte(uint8_t b) {
  char buf[8];
  std::snprintf(buf, sizeof buf, "%02x", b);
  return buf;
}

std::string hex_u32(uint32_t v) { return hex_u64(v); }

bool is_text_byte(uint8_t c) { return (c >= 0x20 && c < 0x7F) || c == '\t' || c == '\n' || c == '\r'; }

// Escapes a byte or CHAR16 for display: printable ASCII as is, \t \n \r, else \xNN or \uNNNN.
void append_escaped(std::string &out, uint32_t c) {
  if (c >= 0x20 && c < 0x7F) {
    out.push_back(static_cast<char>(c));
  } else if (c == '\t') {
    out += "\\t";
  } else if (c == '\n') {
    out += "\\n";
  } else if (c == '\r') {
    out += "\\r";
  } else {
    char buf[12];
    if (c <= 0xFF)
      std::snprintf(buf, sizeof buf, "\\x%02x", c);
    else
      std::snprintf(buf, sizeof buf, "\\u%04x", c);
    out += buf;
  }
}

std::string escaped(ByteView b) {
  std::string out;
  for (uint8_t c : b) append_escaped(out, c);
  return out;
}

std::string shorten(const std::string &s) {
  if (s.size() <= k_max_summary_text_chars) return s;
  return s.substr(0, k_max_summary_text_chars) + "...";
}

std::string hex_prefix(ByteView b) {
  if (b.size() <= k_hex_prefix_bytes) return to_hex(b);
  return to_hex(b.unchecked_sub(0, k_hex_prefix_bytes)) + "...";
}

std::string bytes_word(uint64_t n) { return std::to_string(n) + (n == 1 ? " byte" : " bytes"); }

std::string guid_text(const Guid &g) {
  std::string s = g.str();
  for (const KnownGuid &k : k_known_guids)
    if (s == k.guid) return s + " (" + k.name + ")";
  return s;
}

Guid read_guid(Reader &r) { return Guid::from_bytes(r.read_bytes(16)); }

// A UTF-16LE string of `chars` CHAR16s, each shown narrowed when < 0x80, else escaped.
std::string utf16_text(ByteView b) {
  std::string out;
  for (size_t i = 0; i + 1 < b.size(); i += 2) append_escaped(out, static_cast<uint32_t>(b[i] | (b[i + 1] << 8)));
  return out;
}

// Reads a NUL-terminated UTF-16LE string within r (the NUL is consumed); throws if no NUL.
std::string read_utf16z(Reader &r, const char *what) {
  size_t start = r.pos();
  while (true) {
    if (r.remaining() < 2) r.fail_at(start, std::string(what) + " has no NUL terminator");
    if (r.read_le<uint16_t>() == 0) break;
  }
  return utf16_text(r.data().unchecked_sub(start, r.pos() - 2 - start));
}

// Text found in event data: ASCII (up to the first NUL) or UTF-16LE with only ASCII characters.
struct Text {
  std::string text; // escaped
  const char *encoding = "ASCII";
  size_t trailing = 0; // non-zero bytes after the terminating NUL (grub logs one stray byte)
};

std::optional<Text> as_utf16_ascii(ByteView b) {
  if (b.size() < 4 || b.size() % 2 != 0) return std::nullopt;
  size_t i = 0;
  std::string out;
  for (; i + 1 < b.size(); i += 2) {
    if (b[i + 1] != 0) return std::nullopt;
    if (b[i] == 0) break;
    if (!is_text_byte(b[i])) return std::nullopt;
    append_escaped(out, b[i]);
  }
  if (out.empty()) return std::nullopt;
  for (size_t j = i; j < b.size(); ++j)
    if (b[j] != 0) return std::nullopt;
  Text t;
  t.text = out;
  t.encoding = "UTF-16LE";
  return t;
}

std::optional<Text> as_text(ByteView b) {
  if (auto t = as_utf16_ascii(b)) return t;
  size_t n = 0;
  while (n < b.size() && b[n] != 0) ++n;
  for (size_t i = 0; i < n; ++i)
    if (!is_text_byte(b[i])) return std::nullopt;
  Text t;
  t.text = escaped(b.unchecked_sub(0, n));
  for (size_t i = n; i < b.size(); ++i)
    if (b[i] != 0) ++t.trailing;
  // Mostly binary after a short prefix is not text.
  if (t.trailing > 0 && t.trailing >= n) return std::nullopt;
  return t;
}

class Decoder {
public:
  Decoder(ByteView data, const std::string &source, uint64_t offset) : m_r(data, source, offset) {}

  DecodedEvent &out() { return m_out; }
  Reader &reader() { return m_r; }

  void field(std::string name, std::string value) { m_out.fields.emplace_back(std::move(name), std::move(value)); }
  void summary(std::string s) { m_out.summary = std::move(s); }

  void hex_dump(const char *label) {
    ByteView b = m_r.data();
    summary(std::string(label) + bytes_word(b.size()));
    field("length", std::to_string(b.size()));
    if (!b.empty()) field("hex", hex_prefix(b));
  }

  // Text if the data is text, else a hex dump. `label` starts the summary.
  void text_or_hex(const std::string &label) {
    ByteView b = m_r.data();
    std::optional<Text> t = as_text(b);
    if (!t) {
      hex_dump((label.empty() ? std::string("binary, ") : label + ": binary, ").c_str());
      return;
    }
    summary((label.empty() ? std::string() : label + ": ") + "\"" + shorten(t->text) + "\"");
    field("text", t->text);
    if (std::string_view(t->encoding) != "ASCII") field("encoding", t->encoding);
    if (t->trailing > 0) field("trailing bytes after NUL", std::to_string(t->trailing));
  }

private:
  Reader m_r;
  DecodedEvent m_out;
};

// ---- device paths (UEFI 2.10, 10.3; text forms of 10.6.1.6) ----

std::string eisa_text(uint32_t hid) {
  // Compressed EISA id: 3 letters of 5 bits in the low 16 bits, product number in the high 16.
  uint32_t v = hid & 0xFFFF;
  char buf[16];
  std::snprintf(buf, sizeof buf, "%c%c%c%04X", static_cast<char>('@' + ((v >> 10) & 0x1F)),
                static_cast<char>('@' + ((v >> 5) & 0x1F)), static_cast<char>('@' + (v & 0x1F)), hid >> 16);
  return buf;
}

std::string node_text(uint8_t type, uint8_t sub, Reader &n) {
  auto u64 = [&n]() { return hex_u64(n.read_le<uint64_t>()); };
  switch (type) {
  case k_dp_hardware:
    if (sub == 0x01) {
      uint8_t function = n.read_le<uint8_t>();
      uint8_t device = n.read_le<uint8_t>();
      return "Pci(" + hex_u64(device) + "," + hex_u64(function) + ")";
    }
    if (sub == 0x03) {
      uint32_t mem_type = n.read_le<uint32_t>();
      std::string start = u64();
      return "MemoryMapped(" + hex_u32(mem_type) + "," + start + "," + u64() + ")";
    }
    if (sub == 0x04) {
      Guid g = read_guid(n);
      std::string extra = n.remaining() ? "," + to_hex(n.read_bytes(n.remaining())) : "";
      return "VenHw(" + guid_text(g) + extra + ")";
    }
    break;
  case k_dp_acpi:
    if (sub == 0x01) {
      uint32_t hid = n.read_le<uint32_t>();
      uint32_t uid = n.read_le<uint32_t>();
      if (hid == k_eisa_pci_root) return "PciRoot(" + hex_u32(uid) + ")";
      if (hid == k_eisa_pcie_root) return "PcieRoot(" + hex_u32(uid) + ")";
      return "Acpi(" + eisa_text(hid) + "," + hex_u32(uid) + ")";
    }
    break;
  case k_dp_messaging:
    if (sub == 0x02) {
      uint16_t pun = n.read_le<uint16_t>();
      return "Scsi(" + hex_u64(pun) + "," + hex_u64(n.read_le<uint16_t>()) + ")";
    }
    if (sub == 0x05) {
      uint8_t port = n.read_le<uint8_t>();
      return "USB(" + hex_u64(port) + "," + hex_u64(n.read_le<uint8_t>()) + ")";
    }
    if (sub == 0x0A) return "VenMsg(" + guid_text(read_guid(n)) + ")";
    if (sub == 0x12) {
      uint16_t hba = n.read_le<uint16_t>();
      uint16_t pm = n.read_le<uint16_t>();
      return "Sata(" + hex_u64(hba) + "," + hex_u64(pm) + "," + hex_u64(n.read_le<uint16_t>()) + ")";
    }
    if (sub == 0x17) {
      uint32_t nsid = n.read_le<uint32_t>();
      ByteView eui = n.read_bytes(8);
      return "NVMe(" + hex_u32(nsid) + "," + join(eui, "-", hex_byte) + ")";
    }
    break;
  case k_dp_media:
    if (sub == 0x01) {
      uint32_t part = n.read_le<uint32_t>();
      uint64_t start = n.read_le<uint64_t>();
      uint64_t size = n.read_le<uint64_t>();
      ByteView sig = n.read_bytes(16);
      uint8_t mbr_type = n.read_le<uint8_t>();
      uint8_t sig_type = n.read_le<uint8_t>();
      std::string s = "HD(" + std::to_string(part) + ",";
      if (sig_type == 2)
        s += "GPT," + Guid::from_bytes(sig).str();
      else if (sig_type == 1)
        s += "MBR," + hex_u64(static_cast<uint64_t>(sig[0] | (sig[1] << 8) | (sig[2] << 16)) |
                              (static_cast<uint64_t>(sig[3]) << 24));
      else
        s += std::to_string(mbr_type) + "," + std::to_string(sig_type);
      return s + "," + hex_u64(start) + "," + hex_u64(size) + ")";
    }
    if (sub == 0x02) {
      uint32_t entry = n.read_le<uint32_t>();
      std::string start = u64();
      return "CDROM(" + hex_u32(entry) + "," + start + "," + u64() + ")";
    }
    if (sub == 0x03) {
      Guid g = read_guid(n);
      std::string extra = n.remaining() ? "," + to_hex(n.read_bytes(n.remaining())) : "";
      return "VenMedia(" + guid_text(g) + extra + ")";
    }
    if (sub == 0x04) {
      // PathName: NUL-terminated UTF-16 filling the node; tolerate a missing NUL at the node end.
      ByteView name = n.read_bytes(n.remaining() & ~static_cast<size_t>(1));
      size_t len = 0;
      while (len + 1 < name.size() && (name[len] | name[len + 1]) != 0) len += 2;
      return utf16_text(name.unchecked_sub(0, len));
    }
    if (sub == 0x06) return "FvFile(" + guid_text(read_guid(n)) + ")";
    if (sub == 0x07) return "Fv(" + guid_text(read_guid(n)) + ")";
    if (sub == 0x08) {
      n.skip(4); // reserved
      std::string start = u64();
      return "Offset(" + start + "," + u64() + ")";
    }
    break;
  case k_dp_bios:
    if (sub == 0x01) {
      uint16_t dev = n.read_le<uint16_t>();
      uint16_t status = n.read_le<uint16_t>();
      return "BBS(" + hex_u64(dev) + "," + hex_u64(status) + ")";
    }
    break;
  default: break;
  }
  return "Path(" + std::to_string(type) + "," + std::to_string(sub) + "," + to_hex(n.read_bytes(n.remaining())) + ")";
}

// The text form of a device path (UEFI 10.6): nodes joined by "/", instances by ",". Stops at
// End Entire; bytes after it are noted. Throws FormatError for a node shorter than its header or
// longer than the data, and beyond k_max_device_path_nodes nodes.
std::string device_path_text(Reader r) {
  std::string out;
  bool ended = false;
  for (size_t count = 0; r.remaining() > 0; ++count) {
    if (count == k_max_device_path_nodes)
      r.fail("device path has more than " + std::to_string(k_max_device_path_nodes) + " nodes");
    size_t at = r.pos();
    uint8_t type = r.read_le<uint8_t>();
    uint8_t sub = r.read_le<uint8_t>();
    uint16_t len = r.read_le<uint16_t>();
    if (len < 4) r.fail_at(at, "device path node length " + std::to_string(len) + " is less than its 4-byte header");
    Reader node = r.sub(at + 4, len - 4u, "device path node");
    r.seek(at + len); // advances by len >= 4
    if (type == k_dp_end) {
      if (sub == k_dp_end_entire) {
        ended = true;
        break;
      }
      if (sub == k_dp_end_instance) {
        out += ",";
        continue;
      }
    }
    if (!out.empty() && out.back() != ',') out += "/";
    out += node_text(type, sub, node);
  }
  if (!ended && !out.empty()) out += " (no end node)";
  if (ended && r.remaining() > 0) out += " (+" + bytes_word(r.remaining()) + " after the end node)";
  if (out.empty()) out = "(empty device path)";
  return out;
}

// ---- UEFI variables ----

// EFI_LOAD_OPTION (UEFI 2.10, 3.1.3).
void decode_load_option(Decoder &d, Reader r, std::string &value) {
  uint32_t attributes = r.read_le<uint32_t>();
  uint16_t path_len = r.read_le<uint16_t>();
  std::string description = read_utf16z(r, "load option description");
  Reader path = r.sub(r.pos(), path_len, "load option device path");
  r.seek(r.pos() + path_len);
  std::string path_text = device_path_text(path);
  d.field("attributes", hex_u32(attributes) + ((attributes & 1) ? " (active)" : ""));
  d.field("description", description);
  d.field("device path", path_text);
  if (r.remaining() > 0) d.field("optional data", bytes_word(r.remaining()));
  value = "\"" + description + "\" " + path_text;
}

bool is_signature_database(const std::string &name) {
  return name == "PK" || name == "KEK" || name == "db" || name == "dbx" || name == "dbt" || name == "dbr";
}

// A sequence of EFI_SIGNATURE_LISTs (UEFI 2.10, 32.4.1).
void decode_signature_lists(Decoder &d, Reader r) {
  size_t lists = 0;
  for (; r.remaining() > 0; ++lists) {
    if (lists == k_max_signature_lists)
      r.fail("more than " + std::to_string(k_max_signature_lists) + " signature lists");
    size_t at = r.pos();
    Guid type = read_guid(r);
    uint32_t list_size = r.read_le<uint32_t>();
    uint32_t header_size = r.read_le<uint32_t>();
    uint32_t sig_size = r.read_le<uint32_t>();
    if (list_size < 28u || list_size - 28u < header_size)
      r.fail_at(at, "signature list size " + std::to_string(list_size) + " is smaller than its headers");
    if (sig_size < 16) r.fail_at(at, "signature size " + std::to_string(sig_size) + " is smaller than its owner GUID");
    uint32_t body = list_size - 28u - header_size;
    if (body % sig_size != 0)
      r.fail_at(at, "signature list body of " + std::to_string(body) + " bytes is not a multiple of " +
                        std::to_string(sig_size));
    Reader list = r.sub(at, list_size, "signature list");
    r.seek(at + list_size); // advances by list_size >= 28
    list.seek(28u + header_size);
    uint32_t count = body / sig_size;
    std::string owner = count ? guid_text(read_guid(list)) : "";
    if (lists < k_max_listed_entries)
      d.field("signature list " + std::to_string(lists), guid_text(type) + ", " + std::to_string(count) +
                                                             (count == 1 ? " entry" : " entries") +
                                                             (count ? ", first owner " + owner : ""));
  }
  d.field("signature lists", std::to_string(lists));
}

// UEFI_VARIABLE_DATA (PFP 10.4.4).
void decode_variable(Decoder &d, uint32_t type) {
  Reader &r = d.reader();
  Guid vendor = read_guid(r);
  uint64_t name_chars = r.read_le<uint64_t>();
  uint64_t data_len = r.read_le<uint64_t>();
  if (name_chars > r.remaining() / 2)
    r.fail("variable name of " + std::to_string(name_chars) + " characters is truncated");
  std::string name = utf16_text(r.read_bytes(static_cast<size_t>(name_chars) * 2));
  if (data_len > r.remaining())
    r.fail("variable data of " + bytes_word(data_len) + " is truncated (have " + std::to_string(r.remaining()) + ")");
  Reader data = r.sub(r.pos(), static_cast<size_t>(data_len), "variable data");
  r.seek(r.pos() + static_cast<size_t>(data_len));

  d.field("name", name);
  d.field("vendor", guid_text(vendor));
  d.field("data length", std::to_string(data_len));
  if (r.remaining() > 0) d.field("trailing bytes", std::to_string(r.remaining()));

  ByteView bytes = data.data();
  std::string value;
  bool boot_option = name.size() == 8 && name.compare(0, 4, "Boot") == 0 &&
                     name.find_first_not_of("0123456789ABCDEFabcdef", 4) == std::string::npos;
  if (type == event_type::k_efi_variable_boot && boot_option) {
    decode_load_option(d, data, value);
  } else if (type == event_type::k_efi_variable_boot && name == "BootOrder") {
    if (bytes.size() % 2 != 0) data.fail("BootOrder has an odd length " + std::to_string(bytes.size()));
    std::vector<std::string> options;
    while (data.remaining() > 0) {
      char buf[16];
      std::snprintf(buf, sizeof buf, "Boot%04X", data.read_le<uint16_t>());
      options.emplace_back(buf);
    }
    std::string list = join(options, ", ");
    d.field("boot order", list.empty() ? "(empty)" : list);
    value = list.empty() ? "(empty)" : list;
  } else if (type == event_type::k_efi_variable_driver_config && is_signature_database(name) && !bytes.empty()) {
    decode_signature_lists(d, data);
    value = bytes_word(bytes.size());
  } else if (type == event_type::k_efi_variable_authority && is_signature_database(name) && bytes.size() >= 16) {
    // EFI_SIGNATURE_DATA: owner GUID || the certificate or hash that authorized the image.
    Guid owner = read_guid(data);
    d.field("signature owner", guid_text(owner));
    d.field("signature data", bytes_word(data.remaining()));
    value = bytes_word(bytes.size());
  } else if (bytes.empty()) {
    value = "(empty)";
  } else if (bytes.size() <= k_small_value_bytes) {
    value = to_hex(bytes);
  } else if (std::optional<Text> t = as_text(bytes); t && t->trailing == 0) {
    value = "\"" + shorten(t->text) + "\"";
    d.field("text", t->text);
  } else {
    value = bytes_word(bytes.size());
    d.field("data", hex_prefix(bytes));
  }
  if (bytes.size() <= k_small_value_bytes && !bytes.empty()) d.field("data", to_hex(bytes));
  d.summary(name + " (" + vendor.str() + ") = " + value);
}

// ---- images, blobs, tables, GPT ----

// UEFI_IMAGE_LOAD_EVENT (PFP 10.4.3).
void decode_image_load(Decoder &d) {
  Reader &r = d.reader();
  uint64_t location = r.read_le<uint64_t>();
  uint64_t length = r.read_le<uint64_t>();
  uint64_t link = r.read_le<uint64_t>();
  uint64_t path_len = r.read_le<uint64_t>();
  if (path_len > r.remaining())
    r.fail("device path of " + bytes_word(path_len) + " is truncated (have " + std::to_string(r.remaining()) + ")");
  std::string path = path_len ? device_path_text(r.sub(r.pos(), static_cast<size_t>(path_len), "device path"))
                              : std::string("(no device path)");
  r.seek(r.pos() + static_cast<size_t>(path_len));
  d.field("image location", hex_u64(location));
  d.field("image length", hex_u64(length));
  d.field("link-time address", hex_u64(link));
  d.field("device path", path);
  if (r.remaining() > 0) d.field("trailing bytes", std::to_string(r.remaining()));
  d.summary(path + " (" + hex_u64(length) + " bytes at " + hex_u64(location) + ")");
}

// The u8-length-prefixed description of BLOB2 / HANDOFF_TABLES2 events (PFP 10.4.2).
std::string read_description(Reader &r) {
  uint8_t n = r.read_le<uint8_t>();
  ByteView b = r.read_bytes(n);
  size_t len = 0;
  while (len < b.size() && b[len] != 0) ++len;
  return escaped(b.unchecked_sub(0, len));
}

void decode_blob(Decoder &d, bool with_description) {
  Reader &r = d.reader();
  std::string description = with_description ? read_description(r) : std::string();
  uint64_t base = r.read_le<uint64_t>();
  uint64_t length = r.read_le<uint64_t>();
  if (with_description) d.field("description", description);
  d.field("base", hex_u64(base));
  d.field("length", hex_u64(length));
  if (r.remaining() > 0) d.field("trailing bytes", std::to_string(r.remaining()));
  d.summary((with_description ? description + ": " : std::string("firmware blob: ")) + hex_u64(length) + " bytes at " +
            hex_u64(base));
}

void decode_handoff_tables(Decoder &d, bool with_description) {
  Reader &r = d.reader();
  std::string description = with_description ? read_description(r) : std::string();
  uint64_t count = r.read_le<uint64_t>();
  if (count > k_max_handoff_tables)
    r.fail(std::to_string(count) + " handoff tables exceeds the cap of " + std::to_string(k_max_handoff_tables));
  if (count > r.remaining() / 24) r.fail(std::to_string(count) + " handoff tables are truncated");
  if (with_description) d.field("description", description);
  d.field("tables", std::to_string(count));
  std::string first;
  for (uint64_t i = 0; i < count; ++i) {
    std::string g = guid_text(read_guid(r));
    std::string entry = g + " at " + hex_u64(r.read_le<uint64_t>());
    if (i == 0) first = entry;
    if (i < k_max_listed_entries) d.field("table " + std::to_string(i), entry);
  }
  if (r.remaining() > 0) d.field("trailing bytes", std::to_string(r.remaining()));
  std::string s = with_description ? description + ": " : std::string();
  s += std::to_string(count) + (count == 1 ? " table" : " tables");
  if (count == 1) s += ", " + first;
  d.summary(s);
}

// UEFI_GPT_DATA (PFP 10.4.5): EFI_PARTITION_TABLE_HEADER (92 bytes) || u64 NumberOfPartitions ||
// EFI_PARTITION_ENTRY[NumberOfPartitions] of SizeOfPartitionEntry bytes each.
void decode_gpt(Decoder &d) {
  Reader &r = d.reader();
  constexpr size_t k_gpt_header_size = 92;
  constexpr uint32_t k_min_partition_entry = 128; // UEFI 2.10, 5.3.2
  Reader header = r.sub(0, k_gpt_header_size, "GPT header");
  r.seek(k_gpt_header_size);
  std::string signature = escaped(header.read_bytes(8));
  uint32_t revision = header.read_le<uint32_t>();
  header.seek(56);
  Guid disk = read_guid(header);
  header.seek(84);
  uint32_t entry_size = header.read_le<uint32_t>();
  uint64_t count = r.read_le<uint64_t>();
  if (count > k_max_gpt_partitions)
    r.fail(std::to_string(count) + " partitions exceeds the cap of " + std::to_string(k_max_gpt_partitions));
  if (count > 0 && entry_size < k_min_partition_entry)
    r.fail("partition entry size " + std::to_string(entry_size) + " is smaller than 128");
  if (count > 0 && count > r.remaining() / entry_size) r.fail(std::to_string(count) + " partitions are truncated");
  d.field("signature", signature);
  d.field("revision", hex_u32(revision));
  d.field("disk GUID", disk.str());
  d.field("partitions", std::to_string(count));
  for (uint64_t i = 0; i < count; ++i) {
    Reader e = r.sub(r.pos(), entry_size, "partition entry");
    r.seek(r.pos() + entry_size);
    Guid type = read_guid(e);
    e.skip(16); // unique partition GUID
    uint64_t first = e.read_le<uint64_t>();
    uint64_t last = e.read_le<uint64_t>();
    e.skip(8); // attributes
    ByteView name = e.read_bytes(72);
    size_t len = 0;
    while (len + 1 < name.size() && (name[len] | name[len + 1]) != 0) len += 2;
    if (i < k_max_listed_entries)
      d.field("partition " + std::to_string(i + 1), "\"" + utf16_text(name.unchecked_sub(0, len)) + "\" type " +
                                                        type.str() + ", LBA " + hex_u64(first) + ".." + hex_u64(last));
  }
  d.summary("GPT \"" + signature + "\", " + std::to_string(count) + (count == 1 ? " partition" : " partitions"));
}

// ---- tagged events, separators, no-action ----

// TCG_PCClientTaggedEvent (PFP 10.4.2.1 / 6.3.2.3): u32 taggedEventID || u32 size || data.
void decode_tagged(Decoder &d) {
  Reader &r = d.reader();
  ByteView all = r.data();
  // Some Linux EFI stubs logged only the description string, without the tagged-event header
  // (go-eventlog's CCEL_unpadded.data.bin: "LOADED_IMAGE::LoadOptions\0", 26 bytes).
  if (all.size() >= 8) {
    uint32_t size = r.peek_le<uint32_t>(4);
    if (size != all.size() - 8) {
      if (std::optional<Text> t = as_text(all); t && t->trailing == 0) {
        d.summary("\"" + shorten(t->text) + "\" (no tagged-event header)");
        d.field("text", t->text);
        return;
      }
    }
  }
  uint32_t id = r.read_le<uint32_t>();
  uint32_t size = r.read_le<uint32_t>();
  if (size > r.remaining())
    r.fail("tagged event data of " + bytes_word(size) + " is truncated (have " + std::to_string(r.remaining()) + ")");
  ByteView body = r.read_bytes(size);
  const char *what = id == event_tag::k_linux_load_options ? "kernel command line"
                     : id == event_tag::k_linux_initrd     ? "initrd"
                     : id == k_tag_coco_aael               ? "CoCo AAEL event"
                                                           : "tagged event";
  d.field("tag", hex_u32(id) + " (" + what + ")");
  d.field("tagged data length", std::to_string(size));
  std::string value;
  if (std::optional<Text> t = as_text(body); t && t->trailing == 0) {
    d.field("text", t->text);
    if (std::string_view(t->encoding) != "ASCII") d.field("encoding", t->encoding);
    value = "\"" + shorten(t->text) + "\"";
  } else {
    d.field("hex", hex_prefix(body));
    value = bytes_word(size);
  }
  if (id == event_tag::k_linux_load_options || id == event_tag::k_linux_initrd)
    d.field("note", "the data is the event's description; the digest covers the " + std::string(what) + " itself");
  if (r.remaining() > 0) d.field("trailing bytes", std::to_string(r.remaining()));
  d.summary(std::string(what) + ": " + value);
}

void decode_separator(Decoder &d) {
  ByteView b = d.reader().data();
  std::string v = to_hex(b);
  d.field("value", v);
  if (b.size() == 4 && (v == "00000000" || v == "ffffffff"))
    d.summary("separator " + v + (v == "ffffffff" ? " (error)" : ""));
  else
    d.summary("separator, unusual value " + hex_prefix(b) + " (" + bytes_word(b.size()) + ")");
}

void decode_no_action(Decoder &d) {
  ByteView b = d.reader().data();
  // PFP 10.4.5: EV_NO_ACTION data starts with a 16-byte NUL-padded signature.
  if (b.size() >= 16) {
    ByteView sig = b.unchecked_sub(0, 16);
    size_t len = 0;
    while (len < 16 && sig[len] != 0) ++len;
    bool text = len > 0;
    for (size_t i = 0; i < len; ++i) text = text && sig[i] >= 0x20 && sig[i] < 0x7F;
    if (text) {
      std::string s = escaped(sig.unchecked_sub(0, len));
      d.field("signature", s);
      d.field("length", std::to_string(b.size()));
      d.summary("\"" + s + "\" (" + bytes_word(b.size()) + ")");
      return;
    }
  }
  d.hex_dump("no action, ");
}

// td-shim's EV_PLATFORM_CONFIG_FLAGS data: a 16-byte NUL-padded descriptor || u32 info length ||
// info (td-shim TdShimPlatformConfigInfoHeader).
bool decode_td_shim_config(Decoder &d) {
  ByteView b = d.reader().data();
  if (b.size() < 20) return false;
  size_t len = 0;
  while (len < 16 && b[len] != 0) ++len;
  if (len == 0) return false;
  for (size_t i = 0; i < len; ++i)
    if (b[i] < 0x20 || b[i] >= 0x7F) return false;
  for (size_t i = len; i < 16; ++i)
    if (b[i] != 0) return false;
  uint32_t info_len = d.reader().peek_le<uint32_t>(16);
  if (info_len != b.size() - 20) return false;
  std::string descriptor = escaped(b.unchecked_sub(0, len));
  d.field("descriptor", descriptor);
  d.field("info length", std::to_string(info_len));
  ByteView info = b.unchecked_sub(20, info_len);
  std::optional<Text> t = as_text(info);
  if (t && t->trailing == 0 && !t->text.empty()) {
    d.field("text", t->text);
    d.summary(descriptor + ": \"" + shorten(t->text) + "\"");
  } else {
    d.field("hex", hex_prefix(info));
    d.summary(descriptor + ": " + bytes_word(info_len));
  }
  return true;
}

const char *structure_of(uint32_t type) {
  switch (type) {
  case event_type::k_efi_variable_driver_config:
  case event_type::k_efi_variable_boot:
  case event_type::k_efi_variable_authority: return "UEFI_VARIABLE_DATA";
  case event_type::k_efi_boot_services_application:
  case event_type::k_efi_boot_services_driver:
  case event_type::k_efi_runtime_services_driver: return "UEFI_IMAGE_LOAD_EVENT";
  case event_type::k_efi_platform_firmware_blob: return "UEFI_PLATFORM_FIRMWARE_BLOB";
  case event_type::k_efi_platform_firmware_blob2: return "UEFI_PLATFORM_FIRMWARE_BLOB2";
  case event_type::k_efi_handoff_tables: return "UEFI_HANDOFF_TABLE_POINTERS";
  case event_type::k_efi_handoff_tables2: return "UEFI_HANDOFF_TABLE_POINTERS2";
  case event_type::k_efi_gpt_event: return "UEFI_GPT_DATA";
  case event_type::k_event_tag: return "TCG_PCClientTaggedEvent";
  default: return "event data";
  }
}

void decode(Decoder &d, uint32_t type) {
  switch (type) {
  case event_type::k_efi_variable_driver_config:
  case event_type::k_efi_variable_boot:
  case event_type::k_efi_variable_authority: return decode_variable(d, type);
  case event_type::k_efi_boot_services_application:
  case event_type::k_efi_boot_services_driver:
  case event_type::k_efi_runtime_services_driver: return decode_image_load(d);
  case event_type::k_efi_platform_firmware_blob: return decode_blob(d, false);
  case event_type::k_efi_platform_firmware_blob2: return decode_blob(d, true);
  case event_type::k_efi_handoff_tables: return decode_handoff_tables(d, false);
  case event_type::k_efi_handoff_tables2: return decode_handoff_tables(d, true);
  case event_type::k_efi_gpt_event: return decode_gpt(d);
  case event_type::k_event_tag: return decode_tagged(d);
  case event_type::k_separator: return decode_separator(d);
  case k_ev_no_action: return decode_no_action(d);
  case event_type::k_platform_config_flags:
    if (decode_td_shim_config(d)) return;
    return d.text_or_hex("");
  case event_type::k_efi_action:
  case event_type::k_action:
  case k_ev_post_code:
  case k_ev_s_crtm_version:
  case k_ev_s_crtm_contents:
  case event_type::k_ipl:
  case k_ev_ipl_partition_data:
  case k_ev_compact_hash:
  case k_ev_nonhost_info:
  case k_ev_omit_boot_device_events:
  case k_ev_cpu_microcode:
  case k_dstack_runtime_event_type: return d.text_or_hex("");
  default: return d.hex_dump("");
  }
}

} // namespace

DecodedEvent decode_event_data(uint32_t type, ByteView data, const std::string &source, uint64_t offset) {
  Decoder d(data, source, offset);
  try {
    decode(d, type);
    return std::move(d.out());
  } catch (const FormatError &e) {
    DecodedEvent bad;
    bad.summary = std::string("undecodable ") + structure_of(type) + ": " + e.what();
    bad.fields.emplace_back("length", std::to_string(data.size()));
    bad.fields.emplace_back("hex", hex_prefix(data));
    return bad;
  }
}

} // namespace mrforge
