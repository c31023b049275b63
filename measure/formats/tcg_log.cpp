// TCG2 crypto-agile event log parser (TCG PC Client Platform Firmware Profile 1.06, section 10.2):
//
//   header event, TCG_PCClientPCREvent (SHA-1 format):
//     u32 pcrIndex (0), u32 eventType (EV_NO_ACTION), u8 digest[20] (zero), u32 eventSize,
//     TCG_EfiSpecIDEvent: "Spec ID Event03\0", u32 platformClass, u8 specVersionMinor,
//     u8 specVersionMajor, u8 specErrata, u8 uintnSize, u32 numberOfAlgorithms,
//     {u16 algorithmId, u16 digestSize}[numberOfAlgorithms], u8 vendorInfoSize, vendorInfo
//   then TCG_PCR_EVENT2 records:
//     u32 pcrIndex, u32 eventType, TPML_DIGEST_VALUES {u32 count, {u16 hashAlg, digest}[count]},
//     u32 eventSize, u8 event[eventSize]
//
// "All events in this event log use all hashing algorithms defined here" (the Spec ID event), so
// every record must carry each listed algorithm exactly once; digest sizes come from that table.
// CCEL data (the log the ACPI CCEL table points at; TDX GHCI / UEFI 2.10 section 38.4) uses the
// same format with the MR index instead of the PCR index. Logs are handed over in a fixed-size
// buffer: the unused tail is all 0x00 or all 0xFF.
#include <measure/formats/tcg_log.hpp>

#include <measure/util/errors.hpp>
#include <measure/util/reader.hpp>
#include <measure/util/strings.hpp>

#include <algorithm>
#include <cstring>

namespace mrforge {

namespace {

struct EventTypeName {
  uint32_t type;
  const char *name;
};

// PFP 1.06 table 9 ("Events"); EV_IPL / EV_IPL_PARTITION_DATA are deprecated there but still
// logged by grub and shim (type 0xd in the vectors).
constexpr EventTypeName k_event_type_names[] = {
    {0x00000000, "EV_PREBOOT_CERT"},
    {0x00000001, "EV_POST_CODE"},
    {0x00000002, "EV_UNUSED"},
    {0x00000003, "EV_NO_ACTION"},
    {0x00000004, "EV_SEPARATOR"},
    {0x00000005, "EV_ACTION"},
    {0x00000006, "EV_EVENT_TAG"},
    {0x00000007, "EV_S_CRTM_CONTENTS"},
    {0x00000008, "EV_S_CRTM_VERSION"},
    {0x00000009, "EV_CPU_MICROCODE"},
    {0x0000000A, "EV_PLATFORM_CONFIG_FLAGS"},
    {0x0000000B, "EV_TABLE_OF_DEVICES"},
    {0x0000000C, "EV_COMPACT_HASH"},
    {0x0000000D, "EV_IPL"},
    {0x0000000E, "EV_IPL_PARTITION_DATA"},
    {0x0000000F, "EV_NONHOST_CODE"},
    {0x00000010, "EV_NONHOST_CONFIG"},
    {0x00000011, "EV_NONHOST_INFO"},
    {0x00000012, "EV_OMIT_BOOT_DEVICE_EVENTS"},
    {0x00000013, "EV_POST_CODE2"},
    {0x80000001, "EV_EFI_VARIABLE_DRIVER_CONFIG"},
    {0x80000002, "EV_EFI_VARIABLE_BOOT"},
    {0x80000003, "EV_EFI_BOOT_SERVICES_APPLICATION"},
    {0x80000004, "EV_EFI_BOOT_SERVICES_DRIVER"},
    {0x80000005, "EV_EFI_RUNTIME_SERVICES_DRIVER"},
    {0x80000006, "EV_EFI_GPT_EVENT"},
    {0x80000007, "EV_EFI_ACTION"},
    {0x80000008, "EV_EFI_PLATFORM_FIRMWARE_BLOB"},
    {0x80000009, "EV_EFI_HANDOFF_TABLES"},
    {0x8000000A, "EV_EFI_PLATFORM_FIRMWARE_BLOB2"},
    {0x8000000B, "EV_EFI_HANDOFF_TABLES2"},
    {0x8000000C, "EV_EFI_VARIABLE_BOOT2"},
    {0x8000000D, "EV_EFI_GPT_EVENT2"},
    {0x80000010, "EV_EFI_HCRTM_EVENT"},
    {0x800000E0, "EV_EFI_VARIABLE_AUTHORITY"},
    {0x800000E1, "EV_EFI_SPDM_FIRMWARE_BLOB"},
    {0x800000E2, "EV_EFI_SPDM_FIRMWARE_CONFIG"},
    {0x800000E3, "EV_EFI_SPDM_DEVICE_POLICY"},
    {0x800000E4, "EV_EFI_SPDM_DEVICE_AUTHORITY"},
};

struct AlgorithmName {
  uint16_t id;
  const char *name;
};

// TCG Algorithm Registry, hash algorithms seen in event logs.
constexpr AlgorithmName k_algorithm_names[] = {
    {k_tpm_alg_sha1, "sha1"},     {k_tpm_alg_sha256, "sha256"},   {k_tpm_alg_sha384, "sha384"},
    {k_tpm_alg_sha512, "sha512"}, {k_tpm_alg_sm3_256, "sm3_256"}, {0x0027, "sha3_256"},
    {0x0028, "sha3_384"},         {0x0029, "sha3_512"},
};

// "Spec ID Event03" with its NUL terminator (PFP 1.06 section 10.4.5.1).
constexpr char k_spec_id_signature[] = "Spec ID Event03";
constexpr size_t k_sha1_digest_size = 20;

std::string algorithm_label(uint16_t alg) {
  const char *name = tcg_algorithm_name(alg);
  return name ? std::string(name) + " (" + hex_u64(alg) + ")" : "algorithm " + hex_u64(alg);
}

std::string event_label(size_t number, uint32_t type) {
  const char *name = tcg_event_type_name(type);
  return "event " + std::to_string(number) + " (" + (name ? std::string(name) : "type " + hex_u64(type)) + ")";
}

// True if every byte from r.pos() on equals fill.
bool rest_is(const Reader &r, uint8_t fill) {
  ByteView rest = r.view(r.pos(), r.remaining(), "padding");
  return std::all_of(rest.begin(), rest.end(), [fill](uint8_t b) { return b == fill; });
}

void parse_spec_id_event(Reader r, TcgLog &log) {
  r.expect(ByteView(reinterpret_cast<const uint8_t *>(k_spec_id_signature), sizeof k_spec_id_signature),
           "Spec ID event signature (expected \"Spec ID Event03\": not a crypto-agile log)");
  log.platform_class = r.read_le<uint32_t>();
  log.spec_version_minor = r.read_le<uint8_t>();
  log.spec_version_major = r.read_le<uint8_t>();
  log.spec_errata = r.read_le<uint8_t>();
  size_t uintn_at = r.pos();
  log.uintn_size = r.read_le<uint8_t>();
  if (log.uintn_size != 1 && log.uintn_size != 2)
    r.fail_at(uintn_at, "Spec ID event: uintnSize " + std::to_string(log.uintn_size) + " is neither 1 nor 2");
  size_t count_at = r.pos();
  uint32_t count = r.read_le<uint32_t>();
  if (count == 0 || count > k_max_spec_id_algorithms)
    r.fail_at(count_at, "Spec ID event: " + std::to_string(count) + " algorithms (expected 1 to " +
                            std::to_string(k_max_spec_id_algorithms) + ")");
  for (uint32_t i = 0; i < count; ++i) {
    size_t at = r.pos();
    SpecIdAlgorithm a;
    a.id = r.read_le<uint16_t>();
    a.digest_size = r.read_le<uint16_t>();
    if (a.digest_size == 0 || a.digest_size > k_max_tcg_digest_size)
      r.fail_at(at, "Spec ID event: " + algorithm_label(a.id) + " has digest size " + std::to_string(a.digest_size));
    for (const SpecIdAlgorithm &b : log.algorithms)
      if (b.id == a.id) r.fail_at(at, "Spec ID event: " + algorithm_label(a.id) + " is listed twice");
    log.algorithms.push_back(a);
  }
  uint8_t vendor_size = r.read_le<uint8_t>();
  log.vendor_info = r.read_bytes(vendor_size).to_bytes();
  if (r.remaining() != 0) r.fail("Spec ID event: " + std::to_string(r.remaining()) + " bytes after the vendor info");
}

// Quirk: PFP 1.06 puts the header event in PCR 0. OVMF's TdTcg2Dxe writes CCEL records with the
// MR index (PCR 0 -> MR index 1 = RTMR0) and applies that mapping to the header event too, so
// every OVMF CCEL in the vectors starts with index 1; td-shim writes 0. Both are accepted.
bool is_valid_header_index(uint32_t index) { return index == 0 || index == 1; }

// The header event (TCG_PCClientPCREvent, SHA-1 format); returns with r after it.
void parse_header_event(Reader &r, TcgLog &log) {
  uint32_t index = r.read_le<uint32_t>();
  if (!is_valid_header_index(index))
    r.fail_at(0, "header event: index " + std::to_string(index) + " (expected 0, or 1 in an OVMF CCEL)");
  uint32_t type = r.read_le<uint32_t>();
  if (type != k_ev_no_action)
    r.fail_at(4, "header event: type " + hex_u64(type) + " (expected EV_NO_ACTION: not a crypto-agile log)");
  ByteView digest = r.read_bytes(k_sha1_digest_size);
  if (!std::all_of(digest.begin(), digest.end(), [](uint8_t b) { return b == 0; }))
    r.fail_at(8, "header event: digest is not all zero");
  size_t size_at = r.pos();
  uint32_t size = r.read_le<uint32_t>();
  if (size > r.remaining())
    r.fail_at(size_at, "header event: size " + std::to_string(size) + " exceeds the " + std::to_string(r.remaining()) +
                           " bytes left");
  parse_spec_id_event(r.sub(r.pos(), size, "Spec ID event"), log);
  r.skip(size);
}

LogEvent parse_event(Reader &r, const TcgLog &log, size_t number) {
  LogEvent e;
  e.offset = r.pos();
  e.index = r.read_le<uint32_t>();
  e.type = r.read_le<uint32_t>();
  std::string label = event_label(number, e.type);
  size_t count_at = r.pos();
  uint32_t count = r.read_le<uint32_t>();
  if (count != log.algorithms.size())
    r.fail_at(count_at, label + ": " + std::to_string(count) + " digests, but the Spec ID event lists " +
                            std::to_string(log.algorithms.size()) + " algorithms");
  for (uint32_t i = 0; i < count; ++i) {
    size_t at = r.pos();
    uint16_t alg = r.read_le<uint16_t>();
    auto spec = std::find_if(log.algorithms.begin(), log.algorithms.end(),
                             [alg](const SpecIdAlgorithm &a) { return a.id == alg; });
    if (spec == log.algorithms.end())
      r.fail_at(at, label + ": " + algorithm_label(alg) + " is not listed in the Spec ID event");
    if (e.find(alg)) r.fail_at(at, label + ": " + algorithm_label(alg) + " appears twice");
    e.digests.push_back({alg, r.read_bytes(spec->digest_size).to_bytes()});
  }
  size_t size_at = r.pos();
  uint32_t size = r.read_le<uint32_t>();
  if (size > k_max_tcg_event_size)
    r.fail_at(size_at, label + ": event size " + std::to_string(size) + " exceeds the cap of " +
                           std::to_string(k_max_tcg_event_size));
  if (size > r.remaining())
    r.fail_at(size_at, label + ": event size " + std::to_string(size) + " exceeds the " +
                           std::to_string(r.remaining()) + " bytes left (truncated log)");
  e.data = r.read_bytes(size).to_bytes();
  return e;
}

} // namespace

const char *tcg_algorithm_name(uint16_t algorithm) {
  for (const AlgorithmName &a : k_algorithm_names)
    if (a.id == algorithm) return a.name;
  return nullptr;
}

const char *tcg_event_type_name(uint32_t type) {
  for (const EventTypeName &e : k_event_type_names)
    if (e.type == type) return e.name;
  return nullptr;
}

std::optional<uint32_t> tcg_event_type_from_name(std::string_view name) {
  for (const EventTypeName &e : k_event_type_names)
    if (name == e.name) return e.type;
  return std::nullopt;
}

const Bytes *LogEvent::find(uint16_t alg) const {
  for (const LogDigest &d : digests)
    if (d.algorithm == alg) return &d.digest;
  return nullptr;
}

bool TcgLog::has_algorithm(uint16_t alg) const {
  return std::any_of(algorithms.begin(), algorithms.end(), [alg](const SpecIdAlgorithm &a) { return a.id == alg; });
}

TcgLog parse_tcg_log(ByteView data, const std::string &source) {
  TcgLog log;
  log.source = source;
  Reader r(data, source);
  parse_header_event(r, log);
  while (r.remaining() != 0) {
    // The unused tail of the log buffer (CCEL "Log Area Minimum Length"); padding can only
    // start at a record boundary and must run to the end.
    if (rest_is(r, 0x00) || rest_is(r, 0xFF)) break;
    if (log.events.size() == k_max_tcg_events) r.fail("more than " + std::to_string(k_max_tcg_events) + " events");
    log.events.push_back(parse_event(r, log, log.events.size() + 1));
  }
  log.log_bytes = r.pos();
  return log;
}

std::array<Sha384, 4> replay_rtmrs(const TcgLog &log) {
  if (!log.has_algorithm(k_tpm_alg_sha384)) {
    std::string algs = join(log.algorithms, ", ", [](const SpecIdAlgorithm &a) { return algorithm_label(a.id); });
    throw FormatError(log.source, 0,
                      "the log has no SHA-384 digests (its Spec ID event lists " + algs +
                          "), so it cannot be replayed into TDX RTMRs");
  }
  std::array<Sha384, 4> rtmr{};
  for (size_t i = 0; i < log.events.size(); ++i) {
    const LogEvent &e = log.events[i];
    if (e.type == k_ev_no_action) continue;
    if (e.index == 0 || e.index > 4)
      throw FormatError(log.source, e.offset,
                        event_label(i + 1, e.type) + ": MR index " + std::to_string(e.index) +
                            " is not an RTMR (CCEL uses 1 = RTMR0 .. 4 = RTMR3)");
    const Bytes *digest = e.find(k_tpm_alg_sha384);
    // parse_tcg_log guarantees every record carries every Spec ID algorithm at its size.
    if (!digest || digest->size() != 48)
      throw FormatError(log.source, e.offset, event_label(i + 1, e.type) + ": no SHA-384 digest");
    extend(rtmr[e.index - 1], to_sha384(*digest));
  }
  return rtmr;
}

} // namespace mrforge
