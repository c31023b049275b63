// Attestation inputs as users hand them to `mrforge eventlog|quote|verify`: a quote or an event
// log as binary, as hex text, or inside a dstack JSON document, and an IMA ASCII measurement
// list. Everything is turned into the shapes the engine reads (quote bytes for parse_td_quote,
// an EventLog for replay). Formats accepted:
//   - hex text: hex digits and whitespace, optionally one leading "0x";
//   - dstack GetQuote / quote-report JSON: {"quote": hex, "event_log": JSON string or array of
//     {imr, event_type, digest, event, event_payload}} (dstack cc-eventlog TdxEvent, imr 0..3 =
//     RTMR0..3);
//   - dstack attestation JSON: {"attestation": hex of a legacy SCALE VersionedAttestation::V0
//     holding AttestationQuote::DstackTdx {quote, event_log}} (dstack-attest attestation.rs);
//   - Azure TDX evidence JSON (trustee az-tdx-vtpm): {"td_quote": byte array or base64url}.
// Errors: FormatError{source, offset}. Offsets inside a JSON string field are counted from the
// start of that string and the source reads "<file>:<field>".
#pragma once

#include <measure/formats/event_log.hpp>
#include <measure/formats/quote.hpp>
#include <measure/util/bytes.hpp>

#include <string>
#include <vector>

namespace mrforge {

// The quote bytes of a binary quote, hex text of one, or a JSON document (fields "quote",
// "attestation", "td_quote"). The bytes are not parsed: pass them to parse_td_quote. Throws
// FormatError on bad JSON (at its byte offset), a JSON document with none of those fields, a bad
// hex character (at its offset), a malformed attestation, or an Azure vTPM quote (which is not a
// TD quote; the message says where the TD quote is).
Bytes quote_bytes_from_input(ByteView file, const std::string &source);

// An event log from a binary TCG2/CCEL log, hex text of one, a dstack JSON event log (a JSON
// array), or a dstack JSON document with "event_log" or "attestation". RTMR3 runtime events
// (type 0x08000001) get their digest recomputed (dstack_runtime_event_digest); a given non-empty
// digest that differs is an error. Throws FormatError on anything malformed: bad JSON, missing
// or mistyped fields, imr outside 0..3, a digest that is not 48 bytes, bad hex, a log without
// SHA-384 digests (e.g. SM3).
EventLog event_log_from_input(ByteView file, const std::string &source);

// The entries of an IMA ASCII measurement list ("<pcr> <template-hash> <template> <fields...>"),
// one event per line, extending RTMR<pcr> (IMA on TDX numbers the RTMRs 0..3: cc-trusted-api's
// boot_aggregate line says 2 and extends RTMR2) with the SHA-384 template hash. Throws
// FormatError at the offending line on a register outside 0..3, a hash that is not SHA-384
// (a TPM IMA list), or a malformed line.
std::vector<LoggedEvent> ima_events(ByteView file, const std::string &source);

// Notes for a person reading the quote: debug TD, all-zero RTMRs, TD 1.5 fields, and that the
// signature chain is not checked. Never throws.
std::vector<std::string> quote_notes(const TdQuote &q);

} // namespace mrforge
