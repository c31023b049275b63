// Reading attestation inputs (see attestation_inputs.hpp for the formats). Sources followed:
//   - dstack cc-eventlog src/tdx.rs (TdxEvent: imr 0-based, event_type, digest, event,
//     event_payload; runtime event v1 digest) and dstack-attest src/attestation.rs (legacy SCALE
//     VersionedAttestation::V0 { Attestation { quote: AttestationQuote, runtime_events,
//     report_data: [u8; 64], config: String, report: () } }), Dstack-TEE/dstack;
//   - SCALE codec: compact lengths (low two bits select 1, 2, 4 bytes or big-integer mode);
//   - Linux IMA ASCII runtime measurement list (security/integrity/ima/ima_fs.c);
//   - trustee az-tdx-vtpm evidence ({tpm_quote, hcl_report, td_quote}) and the az-tdx-vtpm
//     crate's bincode vTPM quote {signature: Vec<u8>, message: Vec<u8>, pcrs: Vec<[u8; 32]>}.
#include <measure/documents/attestation_inputs.hpp>

#include <measure/documents/json_text.hpp>
#include <measure/util/base64.hpp>
#include <measure/util/errors.hpp>
#include <measure/util/reader.hpp>
#include <measure/util/size_text.hpp>
#include <measure/util/terminal_text.hpp>

#include <nlohmann/json.hpp>

#include <cstdint>
#include <limits>
#include <optional>
#include <utility>

namespace mrforge {

namespace {

using Json = nlohmann::json;

// dstack's runtime event type (cc-eventlog DSTACK_RUNTIME_EVENT_TYPE), extended into RTMR3.
// Caps (ours): events in a JSON or SCALE log, entries in an IMA list.
constexpr size_t k_max_json_events = 1000000;
constexpr size_t k_max_ima_entries = 1000000;
// dstack-attest MAX_ATTESTATION_BYTES.
constexpr size_t k_max_attestation_bytes = 10u << 20;
// TPM_GENERATED_VALUE, the first four bytes of every TPMS_ATTEST (TPM 2.0 part 2, 6.2).
constexpr uint8_t k_tpm_generated_value[4] = {0xff, 0x54, 0x43, 0x47};

bool is_space(uint8_t c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f'; }

int hex_value(uint8_t c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

size_t first_non_space(ByteView b) {
  size_t p = 0;
  while (p < b.size() && is_space(b[p])) ++p;
  return p;
}

std::string char_name(uint8_t c) {
  if (c >= 0x20 && c < 0x7f) return std::string("'") + static_cast<char>(c) + "'";
  return "byte " + hex_u64(c);
}

// Hex text: whitespace anywhere, one optional leading "0x". Offsets are into `text`.
Bytes decode_hex_text(ByteView text, const std::string &source) {
  size_t p = first_non_space(text);
  if (text.size() - p >= 2 && text[p] == '0' && (text[p + 1] == 'x' || text[p + 1] == 'X')) p += 2;
  Bytes out;
  out.reserve(text.size() / 2);
  int high = -1;
  size_t high_pos = 0;
  for (; p < text.size(); ++p) {
    uint8_t c = text[p];
    if (is_space(c)) continue;
    int v = hex_value(c);
    if (v < 0) throw FormatError(source, p, "hex text: " + char_name(c) + " is not a hex digit");
    if (high < 0) {
      high = v;
      high_pos = p;
    } else {
      out.push_back(static_cast<uint8_t>((high << 4) | v));
      high = -1;
    }
  }
  if (high >= 0) throw FormatError(source, high_pos, "hex text: odd number of hex digits (a lone digit here)");
  if (out.empty()) throw FormatError(source, 0, "hex text: no hex digits");
  return out;
}

enum class InputKind { binary, hex_text, json };

InputKind classify(ByteView file, const std::string &source) {
  size_t p = first_non_space(file);
  if (p == file.size()) throw FormatError(source, 0, "empty input");
  uint8_t c = file[p];
  if (c == '{' || c == '[') return InputKind::json;
  if (hex_value(c) >= 0) return InputKind::hex_text;
  // Leading whitespace then something else: text that is neither JSON nor hex; let the hex
  // decoder name the offending character.
  return p > 0 ? InputKind::hex_text : InputKind::binary;
}

std::string field_source(const std::string &source, const std::string &field) { return source + ":" + field; }

const Json &string_field(const Json &doc, const char *field, const std::string &source) {
  const Json &v = doc.at(field);
  if (!v.is_string()) throw FormatError(source, 0, std::string("field \"") + field + "\" is not a string");
  return v;
}

// --- SCALE (dstack legacy attestation) ---------------------------------------------------

size_t scale_compact(Reader &r, const char *what) {
  size_t pos = r.pos();
  uint8_t b0 = r.read_le<uint8_t>();
  uint64_t v = 0;
  switch (b0 & 3u) {
  case 0: v = b0 >> 2; break;
  case 1: v = static_cast<uint64_t>(b0 | (static_cast<uint32_t>(r.read_le<uint8_t>()) << 8)) >> 2; break;
  case 2: {
    uint32_t rest = static_cast<uint32_t>(r.read_le<uint8_t>()) | (static_cast<uint32_t>(r.read_le<uint16_t>()) << 8);
    v = ((static_cast<uint64_t>(rest) << 8) | b0) >> 2;
    break;
  }
  default: r.fail_at(pos, std::string(what) + ": SCALE big-integer length (larger than 2^30)");
  }
  if (v > r.remaining())
    r.fail_at(pos, std::string(what) + ": length " + std::to_string(v) + " exceeds the " +
                       std::to_string(r.remaining()) + " bytes left");
  return static_cast<size_t>(v);
}

Bytes scale_bytes(Reader &r, const char *what) { return r.read_bytes(scale_compact(r, what)).to_bytes(); }

std::string scale_string(Reader &r, const char *what) {
  ByteView b = r.read_bytes(scale_compact(r, what));
  return std::string(b.begin(), b.end());
}

// One event as a dstack log gives it, before validation.
struct RawEvent {
  uint64_t imr = 0;
  uint32_t type = 0;
  Bytes digest; // empty: not given
  std::string name;
  Bytes payload;
};

struct DstackAttestation {
  Bytes quote;
  std::vector<RawEvent> events;
};

DstackAttestation parse_dstack_attestation(ByteView data, const std::string &source) {
  Reader r(data, source);
  if (data.size() > k_max_attestation_bytes)
    r.fail("attestation of " + std::to_string(data.size()) + " bytes exceeds dstack's 10 MiB limit");
  uint8_t wire = r.read_le<uint8_t>();
  if (wire != 0x00) {
    bool msgpack_map = (wire >= 0x80 && wire <= 0x8f) || wire == 0xde || wire == 0xdf;
    r.fail_at(0, msgpack_map ? "a V1 (msgpack) dstack attestation: only the legacy SCALE V0 form is read"
                             : "unknown attestation wire format " + hex_u64(wire) + " (expected 0x0: SCALE V0)");
  }
  uint8_t variant = r.read_le<uint8_t>();
  if (variant != 0)
    r.fail_at(1,
              "attestation quote variant " + std::to_string(variant) +
                  " (1 dstack-gcp-tdx, 2 nitro-enclave, 3 amd-sev-snp, 4 aws-nitro-tpm): only dstack-tdx (0) is read");
  DstackAttestation out;
  out.quote = scale_bytes(r, "quote");
  size_t count = scale_compact(r, "event_log");
  if (count > k_max_json_events) r.fail("event_log: more than " + std::to_string(k_max_json_events) + " events");
  for (size_t i = 0; i < count; ++i) {
    RawEvent e;
    e.imr = r.read_le<uint32_t>();
    e.type = r.read_le<uint32_t>();
    e.digest = scale_bytes(r, "event digest");
    e.name = scale_string(r, "event name");
    e.payload = scale_bytes(r, "event payload");
    out.events.push_back(std::move(e));
  }
  size_t runtime = scale_compact(r, "runtime_events");
  for (size_t i = 0; i < runtime; ++i) {
    scale_string(r, "runtime event name");
    scale_bytes(r, "runtime event payload");
  }
  r.read_bytes(64); // report_data
  scale_string(r, "config");
  if (r.remaining() != 0) r.fail("trailing bytes after the attestation");
  return out;
}

// --- dstack JSON events -------------------------------------------------------------------

RawEvent raw_event_from_json(const Json &j, size_t i, const std::string &source) {
  std::string at = "event " + std::to_string(i) + ": ";
  if (!j.is_object()) throw FormatError(source, 0, at + "not a JSON object");
  auto need = [&](const char *f) -> const Json & {
    auto it = j.find(f);
    if (it == j.end()) throw FormatError(source, 0, at + "missing field \"" + f + "\"");
    return *it;
  };
  auto u32 = [&](const char *f) -> uint64_t {
    const Json &v = need(f);
    if (!v.is_number_unsigned() || v.get<uint64_t>() > std::numeric_limits<uint32_t>::max())
      throw FormatError(source, 0, at + "\"" + f + "\" is not an unsigned 32-bit integer");
    return v.get<uint64_t>();
  };
  auto str = [&](const char *f, bool required) -> std::string {
    auto it = j.find(f);
    if (it == j.end()) {
      if (required) throw FormatError(source, 0, at + "missing field \"" + f + "\"");
      return {};
    }
    if (!it->is_string()) throw FormatError(source, 0, at + "\"" + f + "\" is not a string");
    return it->get<std::string>();
  };
  auto hex = [&](const char *f, bool required) -> Bytes {
    std::string s = str(f, required);
    if (s.empty()) return {};
    return decode_hex_text(ByteView::of(s), source + ": " + at + f);
  };
  auto version = j.find("version");
  if (version != j.end() && !(version->is_number_unsigned() && version->get<uint64_t>() == 1))
    throw FormatError(source, 0,
                      at + "runtime event version " + version->dump() +
                          ": only version 1 digests, SHA384(type:name:payload), are supported");
  RawEvent e;
  e.imr = u32("imr");
  e.type = static_cast<uint32_t>(u32("event_type"));
  e.digest = hex("digest", false); // dstack: #[serde(default)]
  e.name = str("event", true);
  e.payload = hex("event_payload", true);
  return e;
}

LoggedEvent logged_from_raw(const RawEvent &raw, size_t i, const std::string &origin, const std::string &source) {
  std::string at = "event " + std::to_string(i);
  if (!raw.name.empty()) at += " (\"" + echoed(raw.name) + "\")";
  if (raw.imr > 3) throw FormatError(source, 0, at + ": imr " + std::to_string(raw.imr) + " is not an RTMR (0..3)");
  if (!raw.digest.empty() && raw.digest.size() != 48)
    throw FormatError(source, 0,
                      at + ": digest is " + std::to_string(raw.digest.size()) + " bytes, expected 48 (SHA-384)");
  LoggedEvent le;
  le.index = i;
  le.reg = static_cast<Register>(raw.imr);
  le.type = raw.type;
  le.data = raw.payload;
  le.name = raw.name;
  le.origin = origin;
  if (raw.type == k_dstack_runtime_event_type) {
    Sha384 computed = dstack_runtime_event_digest(raw.type, raw.name, raw.payload);
    if (!raw.digest.empty() && to_sha384(raw.digest) != computed)
      throw FormatError(source, 0,
                        at + ": the log gives digest " + to_hex(raw.digest) + " but SHA384(type:name:payload) is " +
                            to_hex(computed));
    le.digest = computed;
    le.data_check = {DataCheck::verified, "digest recomputed as SHA384(type:name:payload)"};
  } else {
    if (raw.digest.empty())
      throw FormatError(source, 0, at + ": no digest (only dstack runtime events, type 0x08000001, can be recomputed)");
    le.digest = to_sha384(raw.digest);
    le.data_check = check_event_data(raw.type, raw.payload, {LogDigest{k_tpm_alg_sha384, raw.digest}});
  }
  return le;
}

EventLog event_log_from_json_array(const Json &arr, const std::string &source) {
  if (!arr.is_array()) throw FormatError(source, 0, "event log: expected a JSON array of events");
  if (arr.size() > k_max_json_events)
    throw FormatError(source, 0, "event log: more than " + std::to_string(k_max_json_events) + " events");
  EventLog log;
  log.source = source;
  log.format = "dstack-json";
  for (size_t i = 0; i < arr.size(); ++i)
    log.events.push_back(logged_from_raw(raw_event_from_json(arr[i], i, source), i, "dstack-json", source));
  return log;
}

EventLog event_log_from_attestation(const DstackAttestation &a, const std::string &source) {
  EventLog log;
  log.source = source;
  log.format = "dstack-attestation";
  for (size_t i = 0; i < a.events.size(); ++i)
    log.events.push_back(logged_from_raw(a.events[i], i, "dstack-attestation", source));
  return log;
}

DstackAttestation attestation_field(const Json &doc, const std::string &source) {
  std::string src = field_source(source, "attestation");
  const Json &v = string_field(doc, "attestation", source);
  Bytes bytes = decode_hex_text(ByteView::of(v.get_ref<const std::string &>()), src);
  return parse_dstack_attestation(bytes, src + " (hex-decoded)");
}

// --- Azure --------------------------------------------------------------------------------

Bytes td_quote_field(const Json &doc, const std::string &source) {
  std::string src = field_source(source, "td_quote");
  const Json &v = doc.at("td_quote");
  // base64url or base64 (one of them), padding optional: serde's Base64UrlUnpadded in
  // az-tdx-vtpm evidence; trustee's vectors are padded.
  if (v.is_string())
    return base64_decode(v.get_ref<const std::string &>(), src, {Base64Alphabet::either, Base64Padding::optional});
  if (!v.is_array()) throw FormatError(src, 0, "expected a byte array or a base64 string");
  Bytes out;
  for (size_t i = 0; i < v.size(); ++i) {
    if (!v[i].is_number_unsigned() || v[i].get<uint64_t>() > 255)
      throw FormatError(src, 0, "element " + std::to_string(i) + " is not a byte (0..255)");
    out.push_back(static_cast<uint8_t>(v[i].get<uint64_t>()));
  }
  return out;
}

// The az-tdx-vtpm crate's vTPM quote as bincode: u64 length + signature, u64 length + message
// (a TPMS_ATTEST, starting with TPM_GENERATED_VALUE), u64 count + 32-byte PCRs, nothing after.
bool is_azure_vtpm_quote(ByteView file) {
  Reader r(file, "");
  try {
    r.read_bytes(static_cast<size_t>(std::min<uint64_t>(r.read_le<uint64_t>(), r.remaining() + 1)));
    uint64_t msg_len = r.read_le<uint64_t>();
    if (msg_len < 4 || msg_len > r.remaining()) return false;
    ByteView msg = r.read_bytes(static_cast<size_t>(msg_len));
    if (!(msg.unchecked_sub(0, 4) == ByteView(k_tpm_generated_value, 4))) return false;
    uint64_t pcrs = r.read_le<uint64_t>();
    return pcrs <= 24 && r.remaining() == pcrs * 32;
  } catch (const FormatError &) {
    return false; // too short for the shape: not a vTPM quote
  }
}

// IMA extends a register with 0xFF..FF where the template hash is all zero (a measurement
// violation: ima_add_violation() logs a zero digest, ima_pcr_extend() extends ones instead).
Sha384 ima_extended_digest(const Sha384 &template_hash) {
  for (uint8_t b : template_hash)
    if (b != 0) return template_hash;
  Sha384 ones;
  ones.fill(0xff);
  return ones;
}

} // namespace

Bytes quote_bytes_from_input(ByteView file, const std::string &source) {
  switch (classify(file, source)) {
  case InputKind::hex_text: return decode_hex_text(file, source);
  case InputKind::binary:
    if (is_azure_vtpm_quote(file))
      throw FormatError(source, 0,
                        "this is an Azure vTPM quote (TPM 2.0 signature, TPMS_ATTEST, PCRs), not a TDX quote: the TD "
                        "quote is the \"td_quote\" of the Azure evidence (trustee az-tdx-vtpm td-quote.bin)");
    return file.to_bytes();
  case InputKind::json: break;
  }
  Json doc = parse_json_text(file, source);
  if (doc.is_array())
    throw FormatError(source, 0, "a JSON array (an event log?), expected a document with a \"quote\" field");
  if (!doc.is_object()) throw FormatError(source, 0, "expected a JSON object with a \"quote\" field");
  // dstack-verifier: when "attestation" is present, the top-level quote/event_log are ignored.
  if (doc.contains("attestation")) return attestation_field(doc, source).quote;
  if (doc.contains("quote")) {
    const Json &v = string_field(doc, "quote", source);
    return decode_hex_text(ByteView::of(v.get_ref<const std::string &>()), field_source(source, "quote"));
  }
  if (doc.contains("td_quote")) return td_quote_field(doc, source);
  throw FormatError(source, 0,
                    "JSON document without a quote: expected \"quote\" (hex, dstack GetQuote), \"attestation\" "
                    "(hex, dstack attestation) or \"td_quote\" (Azure TDX evidence)");
}

EventLog event_log_from_input(ByteView file, const std::string &source) {
  switch (classify(file, source)) {
  case InputKind::hex_text: {
    std::string decoded = source + " (hex-decoded)";
    return event_log_from_ccel(parse_tcg_log(decode_hex_text(file, source), decoded));
  }
  case InputKind::binary: return event_log_from_ccel(parse_tcg_log(file, source));
  case InputKind::json: break;
  }
  Json doc = parse_json_text(file, source);
  if (doc.is_array()) return event_log_from_json_array(doc, source);
  if (!doc.is_object()) throw FormatError(source, 0, "expected a JSON array of events or a JSON object");
  if (doc.contains("attestation")) {
    EventLog log = event_log_from_attestation(attestation_field(doc, source), field_source(source, "attestation"));
    return log;
  }
  if (doc.contains("event_log")) {
    std::string src = field_source(source, "event_log");
    const Json &v = doc.at("event_log");
    if (v.is_string())
      return event_log_from_json_array(parse_json_text(ByteView::of(v.get_ref<const std::string &>()), src), src);
    return event_log_from_json_array(v, src);
  }
  throw FormatError(source, 0,
                    "JSON document without an event log: expected an array of {imr, event_type, digest, event, "
                    "event_payload}, or an object with \"event_log\" or \"attestation\"");
}

std::vector<LoggedEvent> ima_events(ByteView file, const std::string &source) {
  std::vector<LoggedEvent> out;
  size_t pos = 0;
  size_t entry = 0;
  while (pos < file.size()) {
    size_t end = pos;
    while (end < file.size() && file[end] != '\n') ++end;
    // Fields of [pos, end), with their offsets.
    std::vector<std::pair<size_t, std::string>> fields;
    for (size_t p = pos; p < end;) {
      if (file[p] == ' ' || file[p] == '\t' || file[p] == '\r') {
        ++p;
        continue;
      }
      size_t s = p;
      while (p < end && file[p] != ' ' && file[p] != '\t' && file[p] != '\r') ++p;
      fields.emplace_back(s, std::string(file.begin() + s, file.begin() + p));
    }
    if (!fields.empty()) {
      if (entry >= k_max_ima_entries)
        throw FormatError(source, pos, "more than " + std::to_string(k_max_ima_entries) + " IMA entries");
      if (fields.size() < 4)
        throw FormatError(source, pos, "IMA entry: expected \"<pcr> <template-hash> <template> <data...>\"");
      const auto &[pcr_at, pcr] = fields[0];
      if (pcr.size() > 2 || pcr.find_first_not_of("0123456789") != std::string::npos)
        throw FormatError(source, pcr_at, "IMA entry: register \"" + pcr + "\" is not a number");
      unsigned reg = static_cast<unsigned>(parse_unsigned(pcr).value_or(0)); // one or two digits, checked above
      if (reg > 3)
        throw FormatError(source, pcr_at,
                          "IMA entry: register " + pcr + " is not an RTMR (0..3); a list measured into a TPM PCR");
      const auto &[hash_at, hash] = fields[1];
      Bytes digest = decode_hex_text(ByteView::of(hash), source + "+" + hex_u64(hash_at) + " template hash");
      if (digest.size() != 48)
        throw FormatError(source, hash_at,
                          "IMA entry: template hash is " + std::to_string(digest.size()) +
                              " bytes, expected 48 (SHA-384; a 20-byte hash is a TPM SHA-1 list)");
      LoggedEvent le;
      le.index = entry++;
      le.offset = pos;
      le.reg = static_cast<Register>(reg);
      le.type = 0; // IMA entries have no TCG event type
      le.digest = ima_extended_digest(to_sha384(digest));
      le.data = Bytes(file.begin() + pos, file.begin() + end);
      // The file name: the fifth field of every template (ima, ima-ng, ima-sig, ima-buf); the
      // signature or buffer of ima-sig and ima-buf come after it.
      le.name = fields.size() > 4 ? fields[4].second : fields.back().second;
      le.origin = "ima";
      std::vector<std::string_view> texts;
      for (const auto &f : fields) texts.emplace_back(f.second);
      le.data_check = check_ima_entry(texts);
      out.push_back(std::move(le));
    }
    pos = end < file.size() ? end + 1 : end;
  }
  return out;
}

std::vector<std::string> quote_notes(const TdQuote &q) {
  std::vector<std::string> notes;
  if (q.td_attributes & 1u)
    notes.push_back("DEBUG TD (TDATTRIBUTES bit 0): the host can read and change its memory and registers; its "
                    "measurements say nothing about what runs in it");
  bool all_zero = true;
  for (const Sha384 &r : q.rtmr)
    for (uint8_t b : r)
      if (b != 0) all_zero = false;
  if (all_zero)
    notes.push_back("RTMR0-3 are all zero: nothing was measured into the RTMRs. A TD behind a paravisor (e.g. an "
                    "Azure TDX VM) measures its boot into the paravisor's vTPM PCRs instead: check the vTPM quote "
                    "and its TCG log; the TD quote only vouches for the paravisor (MRTD) and its HCL report");
  if (q.body_type == k_quote_body_td15)
    notes.push_back("TD 1.5 report body: also carries TEE_TCB_SVN2 " + to_hex(q.tee_tcb_svn2) + " and MRSERVICETD " +
                    to_hex(q.mrservicetd));
  if (q.padding_bytes != 0)
    notes.push_back(std::to_string(q.padding_bytes) + " zero bytes follow the quote's " +
                    std::to_string(q.quote_bytes) + " (a fixed-size buffer's fill, not part of the quote): ignored");
  if (q.version == 0)
    notes.push_back("a raw TDREPORT: its MAC can only be checked on the machine that made it (parsing is not "
                    "attestation)");
  else
    notes.push_back("signature chain not checked (parsing is not attestation): verify the quote with Intel DCAP "
                    "collateral");
  return notes;
}

} // namespace mrforge
