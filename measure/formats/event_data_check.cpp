// Checking event data against its digests (rules and sources in event_data_check.hpp). The data is
// walked with Reader; a structure that does not parse is a mismatch where the rule needs the
// structure (firmware never logs a malformed one) and unchecked where only its shape selects the
// rule.
#include <measure/formats/event_data_check.hpp>

#include <measure/formats/event.hpp>
#include <measure/util/errors.hpp>
#include <measure/util/hash.hpp>
#include <measure/util/reader.hpp>
#include <measure/util/strings.hpp>

#include <algorithm>
#include <optional>
#include <utility>

namespace mrforge {

namespace {

// The separator error value (PFP 1.06 "Error Conditions"; tcglog-parser SeparatorEventErrorValue).
constexpr uint8_t k_separator_error[4] = {1, 0, 0, 0};

// td-shim's TdShimPlatformConfigInfoHeader: a NUL-padded descriptor and the info length.
constexpr size_t k_td_shim_descriptor = 16;
constexpr size_t k_td_shim_header = 20;

// What the digest of an event covers, when the rule is known.
struct Measured {
  Bytes bytes;         // what was hashed
  std::string rule;    // "the ASCII string", ...
  std::string missing; // empty: the whole data; else the part the digest does not cover
};

// Either what was measured, or why the data cannot be checked (unchecked) or cannot be right (mismatch).
struct Rule {
  std::optional<Measured> measured;
  DataCheck otherwise = DataCheck::unchecked;
  std::string why;
};

Rule known(ByteView bytes, std::string rule, std::string missing = {}) {
  return Rule{Measured{bytes.to_bytes(), std::move(rule), std::move(missing)}, DataCheck::unchecked, {}};
}
Rule unknown(std::string why) { return Rule{std::nullopt, DataCheck::unchecked, std::move(why)}; }
Rule malformed(std::string why) { return Rule{std::nullopt, DataCheck::mismatch, std::move(why)}; }

// OpenSSL's name for a TCG hash algorithm (TCG Algorithm Registry), nullptr if none.
const char *openssl_digest_name(uint16_t alg) {
  switch (alg) {
  case k_tpm_alg_sha1: return "SHA1";
  case k_tpm_alg_sha256: return "SHA256";
  case k_tpm_alg_sha384: return "SHA384";
  case k_tpm_alg_sha512: return "SHA512";
  case k_tpm_alg_sm3_256: return "SM3";
  case 0x0027: return "SHA3-256";
  case 0x0028: return "SHA3-384";
  case 0x0029: return "SHA3-512";
  default: return nullptr;
  }
}

std::string algorithm_label(uint16_t alg) {
  const char *name = tcg_algorithm_name(alg);
  return name ? std::string(name) : "algorithm " + hex_u64(alg);
}

// UEFI_VARIABLE_DATA (PFP 10.4.4): GUID, u64 name length (CHAR16s), u64 data length, name, data;
// nothing after. Returns the VariableData, or nullopt with why if the structure does not parse.
std::optional<ByteView> variable_data(ByteView data, std::string &why) {
  try {
    Reader r(data, "event data");
    r.skip(16);
    uint64_t name_chars = r.read_le<uint64_t>();
    uint64_t data_len = r.read_le<uint64_t>();
    if (name_chars > r.remaining() / 2) r.fail("name length exceeds the data");
    r.skip(static_cast<size_t>(name_chars) * 2);
    if (data_len != r.remaining())
      r.fail("VariableDataLength " + std::to_string(data_len) + " but " + std::to_string(r.remaining()) +
             " bytes follow the name");
    return r.read_bytes(r.remaining());
  } catch (const FormatError &e) {
    why = e.detail();
    return std::nullopt;
  }
}

Rule separator_rule(ByteView data) { return known(data, "the 4-byte separator value"); }

Rule variable_rule(uint32_t type, ByteView data) {
  if (type != event_type::k_efi_variable_boot) return known(data, "the whole UEFI_VARIABLE_DATA");
  std::string why;
  std::optional<ByteView> value = variable_data(data, why);
  if (!value) return malformed("not a well-formed UEFI_VARIABLE_DATA (" + why + ")");
  return known(*value, "the variable's data (edk2 hashes VariableData only)",
               "the variable's GUID and name are not covered by the digest");
}

Rule tagged_rule(ByteView data) {
  if (data.size() < 8) return unknown("shorter than a TCG_PCClientTaggedEvent header");
  Reader r(data, "event data");
  uint32_t id = r.read_le<uint32_t>();
  uint32_t size = r.read_le<uint32_t>();
  if (size != r.remaining())
    return unknown("not a TCG_PCClientTaggedEvent (its size field says " + std::to_string(size) + ", " +
                   std::to_string(r.remaining()) + " bytes follow), so no rule applies");
  if (id == event_tag::k_linux_load_options || id == event_tag::k_linux_initrd)
    return unknown(std::string("Linux EFI stub: the digest covers the ") +
                   (id == event_tag::k_linux_load_options ? "kernel command line" : "initrd") +
                   " itself; the data is only its description");
  return known(data, "the whole TCG_PCClientTaggedEvent");
}

// td-shim's TdShimPlatformConfigInfoHeader || info, recognised by its shape: a printable
// NUL-padded descriptor and a length that matches.
Rule platform_config_rule(ByteView data) {
  const std::string why = "the digest covers what the data names (OVMF: a QEMU fw_cfg ACPI file)";
  if (data.size() < k_td_shim_header) return unknown(why);
  size_t len = 0;
  while (len < k_td_shim_descriptor && data[len] != 0) ++len;
  if (len == 0) return unknown(why);
  for (size_t i = 0; i < k_td_shim_descriptor; ++i)
    if (i < len ? (data[i] < 0x20 || data[i] >= 0x7F) : data[i] != 0) return unknown(why);
  uint32_t info_len = Reader(data, "event data").peek_le<uint32_t>(k_td_shim_descriptor);
  if (info_len != data.size() - k_td_shim_header) return unknown(why);
  return known(data.unchecked_sub(k_td_shim_header, info_len), "td-shim's platform config info",
               "the 16-byte descriptor naming the info is not covered by the digest");
}

bool starts_with(ByteView data, std::string_view prefix) {
  return data.size() >= prefix.size() && std::equal(prefix.begin(), prefix.end(), data.begin());
}

// The text between `prefix` and the first NUL, and the count of bytes after that NUL; nullopt if
// there is no NUL.
std::optional<std::pair<ByteView, size_t>> text_after(ByteView data, std::string_view prefix) {
  const uint8_t *nul = std::find(data.begin() + prefix.size(), data.end(), uint8_t{0});
  if (nul == data.end()) return std::nullopt;
  size_t text_len = static_cast<size_t>(nul - data.begin()) - prefix.size();
  return std::make_pair(data.unchecked_sub(prefix.size(), text_len), data.size() - prefix.size() - text_len - 1);
}

Rule ipl_rule(ByteView data) {
  // Upstream grub: the text after the prefix, without its NUL; nothing after the NUL.
  for (std::string_view prefix : {"grub_cmd: ", "kernel_cmdline: ", "module_cmdline: "}) {
    if (!starts_with(data, prefix)) continue;
    auto text = text_after(data, prefix);
    if (!text || text->second != 0)
      return malformed("not grub's string event (\"" + std::string(prefix) + "\" TEXT NUL, nothing after the NUL)");
    return known(text->first, "grub's string after \"" + std::string(prefix) + "\"",
                 "the prefix and the NUL are not covered by the digest");
  }
  // Red Hat's grub2: one byte after the NUL (its length counts one more than the text and NUL).
  struct RedHat {
    std::string_view prefix;
    bool hashes_nul;
  };
  for (RedHat rh : {RedHat{"grub_cmd ", true}, RedHat{"grub_kernel_cmdline ", false}}) {
    if (!starts_with(data, rh.prefix)) continue;
    auto text = text_after(data, rh.prefix);
    if (!text || text->second > 1)
      return malformed("not Red Hat grub's string event (\"" + std::string(rh.prefix) +
                       "\" TEXT NUL and at most one byte after it)");
    ByteView hashed = rh.hashes_nul ? data.unchecked_sub(rh.prefix.size(), text->first.size() + 1) : text->first;
    return known(hashed,
                 "Red Hat grub's string after \"" + std::string(rh.prefix) + "\"" +
                     (rh.hashes_nul ? " with its NUL" : ""),
                 "the prefix and the byte after the NUL are not covered by the digest");
  }
  return unknown("the digest covers the file, image or variable the data names");
}

Rule rule_for(uint32_t type, ByteView data) {
  switch (type) {
  case event_type::k_separator: return separator_rule(data);
  case event_type::k_action:
  case event_type::k_efi_action: return known(data, "the action string");
  case event_type::k_efi_variable_driver_config:
  case event_type::k_efi_variable_boot:
  case event_type::k_efi_variable_boot2:
  case event_type::k_efi_variable_authority: return variable_rule(type, data);
  case event_type::k_efi_gpt_event: return known(data, "the whole UEFI_GPT_DATA");
  case event_type::k_event_tag: return tagged_rule(data);
  case event_type::k_platform_config_flags: return platform_config_rule(data);
  case event_type::k_ipl: return ipl_rule(data);
  case event_type::k_efi_boot_services_application:
  case event_type::k_efi_boot_services_driver:
  case event_type::k_efi_runtime_services_driver:
    return unknown("the digest is the image's Authenticode hash; the data only locates the image");
  case event_type::k_efi_platform_firmware_blob2:
  case event_type::k_efi_platform_firmware_blob:
    return unknown("the digest covers the firmware blob in memory; the data only locates it");
  case event_type::k_efi_handoff_tables2:
  case event_type::k_efi_handoff_tables:
    return unknown("the digest covers the tables in memory; the data only locates them");
  default: return unknown("no known rule ties this event type's digest to its data");
  }
}

// Every digest compared with the hash of `bytes` under its algorithm; algorithms this OpenSSL does
// not provide are listed, not compared.
struct Comparison {
  size_t checked = 0;
  std::vector<std::string> not_computed;
  std::string first_mismatch;
};

Comparison compare(const std::vector<LogDigest> &digests, ByteView bytes) {
  Comparison c;
  for (const LogDigest &d : digests) {
    const char *name = openssl_digest_name(d.algorithm);
    std::optional<Bytes> h = name ? digest_by_name(name, bytes) : std::nullopt;
    if (!h) {
      c.not_computed.push_back(algorithm_label(d.algorithm));
      continue;
    }
    ++c.checked;
    if (*h != d.digest && c.first_mismatch.empty())
      c.first_mismatch =
          algorithm_label(d.algorithm) + " of it is " + to_hex(*h) + ", the log's digest is " + to_hex(d.digest);
  }
  return c;
}

DataVerdict verdict_for(const Measured &m, const std::vector<LogDigest> &digests) {
  Comparison c = compare(digests, m.bytes);
  if (!c.first_mismatch.empty())
    return {DataCheck::mismatch,
            "data does not match digest: the digest should be of " + m.rule + "; " + c.first_mismatch};
  if (c.checked == 0)
    return {DataCheck::unchecked,
            "no digest of this record uses an algorithm this build computes (" + join(c.not_computed, ", ") + ")"};
  std::string note = "digest of " + m.rule;
  if (!m.missing.empty()) note += "; " + m.missing;
  if (!c.not_computed.empty()) note += "; not computed: " + join(c.not_computed, ", ");
  return {m.missing.empty() ? DataCheck::verified : DataCheck::partial, note};
}

// Hex without separators (the IMA list's fields), nullopt if anything else.
std::optional<Bytes> hex_bytes(std::string_view s) {
  try {
    return from_hex(s, "IMA entry");
  } catch (const InputError &) {
    return std::nullopt;
  }
}

// The template hash's algorithm by its size (the IMA list prints no name for it).
const char *ima_hash_name(size_t size) {
  switch (size) {
  case 20: return "SHA1";
  case 32: return "SHA256";
  case 48: return "SHA384";
  case 64: return "SHA512";
  default: return nullptr;
  }
}

// One template field as IMA hashes it for templates other than "ima": u32 length (little-endian,
// the x86 byte order of a TD) || bytes.
void append_field(Bytes &out, const Bytes &field) {
  uint32_t n = static_cast<uint32_t>(field.size());
  for (int i = 0; i < 4; ++i) out.push_back(static_cast<uint8_t>(n >> (8 * i)));
  out.insert(out.end(), field.begin(), field.end());
}

} // namespace

const char *data_check_name(DataCheck check) {
  switch (check) {
  case DataCheck::verified: return "verified";
  case DataCheck::partial: return "partial";
  case DataCheck::mismatch: return "mismatch";
  case DataCheck::unchecked: return "unchecked";
  }
  return "unchecked";
}

DataVerdict check_event_data(uint32_t type, ByteView data, const std::vector<LogDigest> &digests) {
  if (type == k_ev_no_action) return {DataCheck::unchecked, "EV_NO_ACTION extends nothing: its data is not measured"};
  if (digests.empty()) return {DataCheck::unchecked, "the record carries no digest"};
  if (data.empty()) return {DataCheck::unchecked, "the log carries no data for this event"};
  Rule rule = rule_for(type, data);
  if (!rule.measured)
    return {rule.otherwise,
            rule.otherwise == DataCheck::mismatch ? "data does not match digest: " + rule.why : rule.why};
  DataVerdict v = verdict_for(*rule.measured, digests);
  // An error separator: the digest is of the value 1 and the data holds unmeasured error details.
  if (type == event_type::k_separator && v.status == DataCheck::mismatch) {
    Comparison c = compare(digests, ByteView(k_separator_error, sizeof k_separator_error));
    if (c.first_mismatch.empty() && c.checked > 0)
      return {DataCheck::unchecked, "an error separator: its digest is of the error value 1, its data (error "
                                    "details) is not measured"};
  }
  return v;
}

DataVerdict check_ima_entry(const std::vector<std::string_view> &fields) {
  if (fields.size() < 4) return {DataCheck::mismatch, "data does not match digest: not an IMA entry"};
  std::optional<Bytes> hash = hex_bytes(fields[1]);
  const char *alg = hash ? ima_hash_name(hash->size()) : nullptr;
  if (!alg) return {DataCheck::unchecked, "the template hash is not a SHA-1/256/384/512 digest in hex"};
  if (std::all_of(hash->begin(), hash->end(), [](uint8_t b) { return b == 0; }))
    return {DataCheck::unchecked, "a measurement violation: IMA logs a zero template hash (and extends 0xFF..FF); "
                                  "its data is not measured"};
  std::string_view name = fields[2];
  size_t extra_min = 0, extra_max = 0; // hex fields after d-ng and n-ng
  if (name == "ima-sig") {
    extra_max = 1; // the signature is printed only when there is one
  } else if (name == "ima-buf") {
    extra_min = extra_max = 1;
  } else if (name != "ima-ng") {
    return {DataCheck::unchecked,
            "only ima-ng, ima-sig and ima-buf entries are checked; this one has another template"};
  }
  size_t extra = fields.size() < 5 ? 0 : fields.size() - 5;
  if (fields.size() < 5 || extra < extra_min || extra > extra_max)
    return {DataCheck::mismatch, "data does not match digest: not a well-formed " + std::string(name) + " entry (" +
                                     std::to_string(fields.size()) + " fields)"};
  // d-ng: "ALGO:HEX" in the list, ALGO ':' NUL digest in the template data.
  std::string_view dng = fields[3];
  size_t colon = dng.find(':');
  std::optional<Bytes> file_digest = colon == std::string_view::npos ? std::nullopt : hex_bytes(dng.substr(colon + 1));
  if (colon == 0 || !file_digest)
    return {DataCheck::mismatch, "data does not match digest: the file digest is not ALGORITHM:HEX"};
  Bytes data;
  Bytes dng_field(dng.begin(), dng.begin() + static_cast<std::ptrdiff_t>(colon) + 1);
  dng_field.push_back(0);
  dng_field.insert(dng_field.end(), file_digest->begin(), file_digest->end());
  append_field(data, dng_field);
  Bytes nng_field(fields[4].begin(), fields[4].end());
  nng_field.push_back(0);
  append_field(data, nng_field);
  if (extra_max) {
    std::optional<Bytes> bytes = extra ? hex_bytes(fields[5]) : Bytes{};
    if (!bytes) return {DataCheck::mismatch, "data does not match digest: the last field is not hex"};
    append_field(data, *bytes);
  }
  Bytes computed = *digest_by_name(alg, data);
  if (computed != *hash)
    return {DataCheck::mismatch, "data does not match digest: the template data rebuilt from the entry hashes to " +
                                     to_hex(computed) + ", the list's template hash is " + to_hex(*hash)};
  return {DataCheck::verified, std::string("template hash of the ") + std::string(name) + " template data"};
}

} // namespace mrforge
