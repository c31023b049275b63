// DSSE v1 (https://github.com/secure-systems-lab/dsse: protocol.md, envelope.md). The signature
// is over PAE(type, payload) = "DSSEv1" SP LEN(type) SP type SP LEN(payload) SP payload, LEN the
// decimal byte count without leading zeros. The JSON envelope carries the payload and each
// signature in base64; envelope.md allows the standard or the URL-safe alphabet and verifiers
// must accept both. keyid is an unauthenticated hint that only narrows which key to try.
#include <builder/attest/dsse.hpp>
#include <measure/util/base64.hpp>
#include <measure/util/strings.hpp>

#include <measure/documents/json_text.hpp>
#include <measure/util/errors.hpp>
#include <measure/util/mapped_file.hpp>

#include <nlohmann/json.hpp>

#include <algorithm>
#include <set>

namespace mrforge::builder {

namespace {

using Json = nlohmann::json;

// More signatures than anyone uses on one statement; a cap so that a hostile envelope cannot
// make us try a million.
constexpr size_t k_max_signatures = 64;

// envelope.md: either alphabet (one per string), padded as the encoders we know write it.
constexpr Base64Options k_envelope_base64{Base64Alphabet::either, Base64Padding::required};

std::string json_type(const Json &j) {
  switch (j.type()) {
  case Json::value_t::null: return "null";
  case Json::value_t::object: return "an object";
  case Json::value_t::array: return "an array";
  case Json::value_t::string: return "a string";
  case Json::value_t::boolean: return "a boolean";
  case Json::value_t::number_integer:
  case Json::value_t::number_unsigned:
  case Json::value_t::number_float: return "a number";
  default: return "not a JSON value";
  }
}

const Json &field(const Json &object, const char *name, Json::value_t type, const std::string &where,
                  const char *expected) {
  auto it = object.find(name);
  if (it == object.end())
    throw InputError(where + ": " + name, "missing; a DSSE envelope has payload, payloadType and signatures");
  if (it->type() != type) throw InputError(where + ": " + name, "is " + json_type(*it) + ", expected " + expected);
  return *it;
}

// An untrusted keyid for a message: printable ASCII only, at most 80 characters.
std::string printable_keyid(const std::string &keyid) {
  std::string out;
  for (char c : keyid.substr(0, 80)) out += (c >= 0x20 && c <= 0x7e) ? c : '?';
  return keyid.size() > 80 ? out + "..." : out;
}

} // namespace

std::vector<uint8_t> dsse_pae(const std::string &payload_type, const std::vector<uint8_t> &payload) {
  std::string head =
      "DSSEv1 " + std::to_string(payload_type.size()) + " " + payload_type + " " + std::to_string(payload.size()) + " ";
  std::vector<uint8_t> pae(head.begin(), head.end());
  pae.insert(pae.end(), payload.begin(), payload.end());
  return pae;
}

DsseEnvelope sign_envelope(const std::string &payload_type, std::vector<uint8_t> payload, const SigningKey &key) {
  DsseEnvelope env;
  env.payload_type = payload_type;
  env.payload = std::move(payload);
  env.signatures.push_back({key.keyid, sign_message(key, dsse_pae(env.payload_type, env.payload))});
  return env;
}

std::string envelope_json(const DsseEnvelope &envelope) {
  nlohmann::ordered_json j;
  j["payload"] = base64_encode(envelope.payload);
  j["payloadType"] = envelope.payload_type;
  j["signatures"] = nlohmann::ordered_json::array();
  for (const auto &s : envelope.signatures) {
    nlohmann::ordered_json sig;
    if (!s.keyid.empty()) sig["keyid"] = s.keyid; // envelope.md: empty fields may be omitted
    sig["sig"] = base64_encode(s.sig);
    j["signatures"].push_back(sig);
  }
  return j.dump(2) + "\n";
}

DsseEnvelope parse_envelope(const std::string &text, const std::string &path) {
  // A key given twice would let two readers of one envelope see different payloads (the JSON
  // RFC leaves duplicates undefined): refused while parsing.
  std::vector<std::set<std::string>> keys_seen;
  auto reject_duplicates = [&](int, Json::parse_event_t event, Json &parsed) {
    if (event == Json::parse_event_t::object_start) keys_seen.emplace_back();
    if (event == Json::parse_event_t::object_end && !keys_seen.empty()) keys_seen.pop_back();
    if (event == Json::parse_event_t::key && !keys_seen.empty() &&
        !keys_seen.back().insert(parsed.get<std::string>()).second)
      throw InputError(path, "the key \"" + parsed.get<std::string>().substr(0, 64) +
                                 "\" appears twice in one object; a DSSE envelope must be unambiguous");
    return true;
  };
  Json j = parse_json_text(text, path, reject_duplicates);
  if (!j.is_object())
    throw InputError(path, "is not a DSSE envelope: the top level is " + json_type(j) + ", expected an object");

  DsseEnvelope env;
  env.payload =
      base64_decode(field(j, "payload", Json::value_t::string, path, "a base64 string").get_ref<const std::string &>(),
                    path + ": payload", k_envelope_base64);
  env.payload_type = field(j, "payloadType", Json::value_t::string, path, "a string").get_ref<const std::string &>();
  const Json &sigs = field(j, "signatures", Json::value_t::array, path, "an array");
  if (sigs.size() > k_max_signatures)
    throw InputError(path + ": signatures",
                     "has " + std::to_string(sigs.size()) + " entries, more than " + std::to_string(k_max_signatures));
  for (size_t i = 0; i < sigs.size(); ++i) {
    std::string where = path + ": signatures[" + std::to_string(i) + "]";
    if (!sigs[i].is_object()) throw InputError(where, "is " + json_type(sigs[i]) + ", expected an object");
    DsseSignature s;
    auto keyid = sigs[i].find("keyid"); // optional (protocol.md: KEYID is an optional hint)
    if (keyid != sigs[i].end()) {
      if (!keyid->is_string()) throw InputError(where + ".keyid", "is " + json_type(*keyid) + ", expected a string");
      s.keyid = keyid->get<std::string>();
    }
    auto sig = sigs[i].find("sig");
    if (sig == sigs[i].end()) throw InputError(where + ".sig", "missing");
    if (!sig->is_string()) throw InputError(where + ".sig", "is " + json_type(*sig) + ", expected a base64 string");
    s.sig = base64_decode(sig->get_ref<const std::string &>(), where + ".sig", k_envelope_base64);
    env.signatures.push_back(std::move(s));
  }
  return env;
}

DsseEnvelope read_envelope(const std::string &path) {
  Bytes bytes = read_file(path, limits::k_json_document);
  return parse_envelope(std::string(bytes.begin(), bytes.end()), path);
}

DsseVerification verify_envelope(const DsseEnvelope &envelope, const SigningKey &key) {
  DsseVerification result;
  if (envelope.signatures.empty()) {
    result.message = "the envelope has no signatures";
    return result;
  }
  std::vector<uint8_t> pae = dsse_pae(envelope.payload_type, envelope.payload);
  std::vector<std::string> others;
  bool tried = false;
  for (const auto &s : envelope.signatures) {
    if (!s.keyid.empty() && s.keyid != key.keyid) {
      std::string id = printable_keyid(s.keyid);
      if (std::find(others.begin(), others.end(), id) == others.end()) others.push_back(id);
      continue;
    }
    tried = true;
    if (verify_message(key, pae, s.sig)) {
      result.ok = true;
      result.keyid = key.keyid;
      return result;
    }
  }
  if (tried)
    result.message = "the signature by key " + key.keyid +
                     " does not verify (the payload, its type or the "
                     "signature was changed, or it was signed by another key)";
  else
    result.message = "no signature by key " + key.keyid + " (the envelope is signed by " + join(others, ", ") + ")";
  return result;
}

} // namespace mrforge::builder
