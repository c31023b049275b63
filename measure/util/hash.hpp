// SHA-2 digests through OpenSSL's EVP interface, and hex encoding of digests.
#pragma once

#include <measure/util/bytes.hpp>

#include <array>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

namespace mrforge {

using Sha384 = std::array<uint8_t, 48>;
using Sha256 = std::array<uint8_t, 32>;

enum class HashAlgorithm { sha256, sha384 };

size_t digest_size(HashAlgorithm alg);
const char *hash_name(HashAlgorithm alg); // "sha256", "sha384"

// Streaming hasher (RAII over EVP_MD_CTX). Throws mrforge::Error if OpenSSL fails.
class Hasher {
public:
  explicit Hasher(HashAlgorithm alg);
  ~Hasher();
  Hasher(Hasher &&) noexcept;
  Hasher &operator=(Hasher &&) noexcept;
  Hasher(const Hasher &) = delete;
  Hasher &operator=(const Hasher &) = delete;

  Hasher &update(ByteView data);
  Hasher &update(const uint8_t *data, size_t size) { return update(ByteView(data, size)); }
  // Returns the digest (digest_size() bytes); the hasher may not be updated afterwards.
  Bytes finish();
  HashAlgorithm algorithm() const { return m_alg; }

private:
  struct Ctx;
  std::unique_ptr<Ctx> m_ctx;
  HashAlgorithm m_alg;
};

Sha384 sha384(ByteView data);
// The digest of data under the OpenSSL digest called `openssl_name` ("SHA1", "SHA512", "SM3",
// "SHA3-256", ...), or nullopt when this OpenSSL does not provide it. Throws mrforge::Error if
// OpenSSL fails otherwise.
std::optional<Bytes> digest_by_name(const char *openssl_name, ByteView data);
Sha256 sha256(ByteView data);
Sha384 to_sha384(const Bytes &digest); // digest must be 48 bytes

// Lowercase hex.
std::string to_hex(ByteView data);
template <size_t N> std::string to_hex(const std::array<uint8_t, N> &d) { return to_hex(ByteView(d.data(), N)); }
// Whether `s` is exactly `digits` lower-case hex digits (digests as mrforge writes and records them).
bool is_lower_hex(std::string_view s, size_t digits);
// Whether `digest` is "sha256:" and 64 lower-case hex digits (an OCI content digest).
bool is_sha256_digest(std::string_view digest);
// Accepts upper or lower case; throws InputError naming `what` on bad characters or odd length.
Bytes from_hex(std::string_view hex, const std::string &what);
// A 48-byte SHA-384 digest in hex; throws InputError naming `what` otherwise.
Sha384 sha384_from_hex(std::string_view hex, const std::string &what);

// RTMR extend: SHA384(mr || digest).
void extend(Sha384 &mr, const Sha384 &digest);

} // namespace mrforge
