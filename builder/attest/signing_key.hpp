// Signing keys for DSSE envelopes: Ed25519 (the default: deterministic signatures) or ECDSA
// P-256 (signatures over SHA-256, DER-encoded), in PEM (PKCS#8 private keys, SubjectPublicKeyInfo
// public keys). Private keys are written with mode 0600 and refused when group or others may
// read them; their bytes are never printed.
#pragma once

#include <memory>
#include <string>
#include <vector>

typedef struct evp_pkey_st EVP_PKEY;

namespace mrforge::builder {

enum class KeyType { ed25519, ecdsa_p256 };

const char *key_type_name(KeyType t); // "ed25519", "ecdsa-p256"

struct EvpPkeyFree {
  void operator()(EVP_PKEY *k) const;
};
using EvpPkeyPtr = std::unique_ptr<EVP_PKEY, EvpPkeyFree>;

// A loaded key (private or public).
struct SigningKey {
  KeyType type = KeyType::ed25519;
  EvpPkeyPtr pkey;
  std::string keyid; // hex sha256 of the DER SubjectPublicKeyInfo: the DSSE keyid
  std::string path;  // where it was read from, for messages
};

// Writes PRIVATE (mode 0600, created exclusively: an existing file is an error) and PUBLIC
// (0644) atomically. Returns the keyid. Throws InputError (existing file, unknown type),
// SystemError.
std::string generate_key_pair(KeyType type, const std::string &private_path, const std::string &public_path);

// Throws InputError naming the file: unreadable, group/other-readable private key (says
// `chmod 600`), not PEM, a public key given where a private one is needed (or the reverse), a
// key type other than Ed25519 / ECDSA P-256 (names the type found).
SigningKey load_private_key(const std::string &path);
SigningKey load_public_key(const std::string &path);

// The signature over `message` (Ed25519: pure; ECDSA: SHA-256, DER) and its check. verify()
// returns false for a wrong signature and never throws for bad signature bytes.
std::vector<uint8_t> sign_message(const SigningKey &key, const std::vector<uint8_t> &message);
bool verify_message(const SigningKey &key, const std::vector<uint8_t> &message, const std::vector<uint8_t> &signature);

} // namespace mrforge::builder
