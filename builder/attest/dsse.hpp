// DSSE envelopes (https://github.com/secure-systems-lab/dsse, protocol v1): the signature covers
// the pre-authentication encoding PAE(type, payload) =
//   "DSSEv1" SP LEN(type) SP type SP LEN(payload) SP payload
// with LEN the decimal byte count. The JSON form is
//   {"payload": BASE64, "payloadType": TYPE, "signatures": [{"keyid": ID, "sig": BASE64}]}.
#pragma once

#include <builder/attest/signing_key.hpp>

#include <cstdint>
#include <string>
#include <vector>

namespace mrforge::builder {

constexpr const char *k_in_toto_payload_type = "application/vnd.in-toto+json";

struct DsseSignature {
  std::string keyid;
  std::vector<uint8_t> sig;
};

struct DsseEnvelope {
  std::string payload_type;
  std::vector<uint8_t> payload;
  std::vector<DsseSignature> signatures;
};

std::vector<uint8_t> dsse_pae(const std::string &payload_type, const std::vector<uint8_t> &payload);

DsseEnvelope sign_envelope(const std::string &payload_type, std::vector<uint8_t> payload, const SigningKey &key);

// The JSON text (keys in the order above, two-space indent, final newline).
std::string envelope_json(const DsseEnvelope &envelope);

// Strict: throws FormatError(path, byte offset, ...) for text that is not JSON (a truncated
// envelope: the offset is where the text ends), InputError(path + ": field", ...) for
// missing/mistyped fields or bad base64, InputError(path, ...) for a key given twice in one
// object. Base64 may use the standard or the URL-safe alphabet (DSSE requires verifiers to accept
// both), padded and canonical. Unknown extra fields are ignored; keyid is optional.
DsseEnvelope parse_envelope(const std::string &text, const std::string &path);
DsseEnvelope read_envelope(const std::string &path); // reads the file, then parse_envelope

// The signature check over the PAE with `key`. Signatures whose keyid differs from the key's are
// skipped (an empty keyid is tried). Does not throw for bad signatures.
struct DsseVerification {
  bool ok = false;
  std::string keyid;   // of the signature that verified
  std::string message; // why not: "no signature by key <id>", "signature by <id> does not verify"
};
DsseVerification verify_envelope(const DsseEnvelope &envelope, const SigningKey &key);

} // namespace mrforge::builder
