// TCG2 crypto-agile event logs and TDX CCEL data: parsed records, RTMR replay, and the TCG event
// type names. Format: TCG PC Client Platform Firmware Profile (PFP) 1.06, section 10 ("Event
// Logging"); the CCEL (ACPI "CCEL" table, UEFI 2.10 / TDX GHCI) uses the same records with the
// measurement-register index in place of the PCR index: 1 = RTMR0 .. 4 = RTMR3.
#pragma once

#include <measure/util/bytes.hpp>
#include <measure/util/hash.hpp>

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace mrforge {

// Algorithm identifiers (TCG Algorithm Registry, TPM_ALG_ID).
constexpr uint16_t k_tpm_alg_sha1 = 0x0004;
constexpr uint16_t k_tpm_alg_sha256 = 0x000B;
constexpr uint16_t k_tpm_alg_sha384 = 0x000C;
constexpr uint16_t k_tpm_alg_sha512 = 0x000D;
constexpr uint16_t k_tpm_alg_sm3_256 = 0x0012;

// Event types used by the parser itself (PFP 1.06 table 9).
constexpr uint32_t k_ev_no_action = 0x00000003;

// Caps on untrusted header fields (ours, not the TCG's; generous for real firmware and runtime
// logs, small enough that a corrupt length fails fast instead of allocating gigabytes).
constexpr size_t k_max_tcg_events = 1000000;         // TCG_PCR_EVENT2 records per log
constexpr uint32_t k_max_tcg_event_size = 16u << 20; // event data bytes per record
constexpr uint32_t k_max_spec_id_algorithms = 16;    // digest banks in the Spec ID event
constexpr uint16_t k_max_tcg_digest_size = 64;       // SHA-512 / SHA3-512

// "sha384", "sm3_256", ...; nullptr for an algorithm id it does not know.
const char *tcg_algorithm_name(uint16_t algorithm);

// The TCG name of an event type ("EV_SEPARATOR", "EV_EFI_VARIABLE_BOOT", ...) from PFP 1.06
// table 9; nullptr for a value the TCG does not define.
const char *tcg_event_type_name(uint32_t type);
// The inverse of tcg_event_type_name: the exact TCG name (case-sensitive) to its value.
std::optional<uint32_t> tcg_event_type_from_name(std::string_view name);

// One digest of a TCG_PCR_EVENT2 record (a TPMT_HA).
struct LogDigest {
  uint16_t algorithm = 0;
  Bytes digest;
};

// One TCG_PCR_EVENT2 record.
struct LogEvent {
  size_t offset = 0;  // of the record within the log
  uint32_t index = 0; // PCR index, or in CCEL the MR index (1 = RTMR0 .. 4 = RTMR3)
  uint32_t type = 0;  // event type (tcg_event_type_name)
  std::vector<LogDigest> digests;
  Bytes data; // the event data

  // The digest for algorithm alg, or nullptr if the record carries none.
  const Bytes *find(uint16_t alg) const;
};

// One entry of the Spec ID event's digest-size table.
struct SpecIdAlgorithm {
  uint16_t id = 0;
  uint16_t digest_size = 0;
};

struct TcgLog {
  std::string source; // the name given to parse_tcg_log, for error messages
  // From the "Spec ID Event03" header event (which is not part of `events`).
  uint32_t platform_class = 0;
  uint8_t spec_version_major = 0;
  uint8_t spec_version_minor = 0;
  uint8_t spec_errata = 0;
  uint8_t uintn_size = 0; // 1: UINT32, 2: UINT64
  std::vector<SpecIdAlgorithm> algorithms;
  Bytes vendor_info;

  // Every TCG_PCR_EVENT2 record after the header event, EV_NO_ACTION ones included.
  std::vector<LogEvent> events;
  // Bytes used by the header event and the records; the rest of the input is padding.
  size_t log_bytes = 0;

  bool has_algorithm(uint16_t alg) const;
};

// Parses a crypto-agile log: the SHA-1-format header event carrying "Spec ID Event03", then
// TCG_PCR_EVENT2 records until the end of the data or a padding tail (all 0x00 or all 0xFF
// from a record boundary on). Digest sizes come from the Spec ID event, so algorithms this
// code does not know still parse. Throws FormatError{source, offset} on anything else: a
// truncated record, a digest list that does not match the Spec ID event, an event larger than
// k_max_event_size, more than k_max_events records, bytes after padding.
TcgLog parse_tcg_log(ByteView data, const std::string &source);

// Replays the SHA-384 bank of a CCEL log into RTMR0..3 (each starts at 48 zero bytes and
// extends SHA384(rtmr || digest)); EV_NO_ACTION records are skipped. Throws FormatError
// {log.source, offset} if the log has no SHA-384 bank (e.g. an SM3-only Hygon CSV log), or a
// measured event names MR index 0 or one above 4 (the message names the event).
std::array<Sha384, 4> replay_rtmrs(const TcgLog &log);

} // namespace mrforge
