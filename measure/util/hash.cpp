#include <measure/util/errors.hpp>
#include <measure/util/hash.hpp>

#include <openssl/evp.h>

namespace mrforge {

struct Hasher::Ctx {
  EVP_MD_CTX *ctx = nullptr;
  ~Ctx() { EVP_MD_CTX_free(ctx); }
};

size_t digest_size(HashAlgorithm alg) { return alg == HashAlgorithm::sha256 ? 32 : 48; }
const char *hash_name(HashAlgorithm alg) { return alg == HashAlgorithm::sha256 ? "sha256" : "sha384"; }

Hasher::Hasher(HashAlgorithm alg) : m_ctx(std::make_unique<Ctx>()), m_alg(alg) {
  m_ctx->ctx = EVP_MD_CTX_new();
  const EVP_MD *md = alg == HashAlgorithm::sha256 ? EVP_sha256() : EVP_sha384();
  if (!m_ctx->ctx || EVP_DigestInit_ex(m_ctx->ctx, md, nullptr) != 1) throw Error("OpenSSL: cannot start a digest");
}
Hasher::~Hasher() = default;
Hasher::Hasher(Hasher &&) noexcept = default;
Hasher &Hasher::operator=(Hasher &&) noexcept = default;

Hasher &Hasher::update(ByteView data) {
  if (!data.empty() && EVP_DigestUpdate(m_ctx->ctx, data.data(), data.size()) != 1)
    throw Error("OpenSSL: digest update failed");
  return *this;
}

Bytes Hasher::finish() {
  Bytes out(digest_size(m_alg));
  unsigned int n = 0;
  if (EVP_DigestFinal_ex(m_ctx->ctx, out.data(), &n) != 1 || n != out.size())
    throw Error("OpenSSL: digest final failed");
  return out;
}

Sha384 to_sha384(const Bytes &d) {
  if (d.size() != 48) throw Error("internal: SHA-384 digest of wrong size");
  Sha384 out;
  std::copy(d.begin(), d.end(), out.begin());
  return out;
}

Sha384 sha384(ByteView data) { return to_sha384(Hasher(HashAlgorithm::sha384).update(data).finish()); }

std::optional<Bytes> digest_by_name(const char *openssl_name, ByteView data) {
  const EVP_MD *md = EVP_get_digestbyname(openssl_name);
  if (!md) return std::nullopt;
  Bytes out(static_cast<size_t>(EVP_MD_get_size(md)));
  unsigned int n = 0;
  const void *bytes = data.empty() ? static_cast<const void *>("") : data.data();
  if (EVP_Digest(bytes, data.size(), out.data(), &n, md, nullptr) != 1 || n != out.size())
    throw Error(std::string("OpenSSL: ") + openssl_name + " digest failed");
  return out;
}

Sha256 sha256(ByteView data) {
  Bytes d = Hasher(HashAlgorithm::sha256).update(data).finish();
  Sha256 out;
  std::copy(d.begin(), d.end(), out.begin());
  return out;
}

std::string to_hex(ByteView data) {
  static const char k_digits[] = "0123456789abcdef";
  std::string s;
  s.reserve(data.size() * 2);
  for (uint8_t b : data) {
    s.push_back(k_digits[b >> 4]);
    s.push_back(k_digits[b & 15]);
  }
  return s;
}

namespace {
int nibble(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}
} // namespace

bool is_lower_hex(std::string_view s, size_t digits) {
  return s.size() == digits && s.find_first_not_of("0123456789abcdef") == std::string_view::npos;
}

bool is_sha256_digest(std::string_view digest) {
  return digest.substr(0, 7) == "sha256:" && is_lower_hex(digest.substr(7), 64);
}

Bytes from_hex(std::string_view hex, const std::string &what) {
  if (hex.size() % 2)
    throw InputError(what, "hex string has an odd number of digits (" + std::to_string(hex.size()) + ")");
  Bytes out(hex.size() / 2);
  for (size_t i = 0; i < out.size(); ++i) {
    int hi = nibble(hex[2 * i]), lo = nibble(hex[2 * i + 1]);
    if (hi < 0 || lo < 0)
      throw InputError(what, "not a hex digit at position " + std::to_string(hi < 0 ? 2 * i : 2 * i + 1));
    out[i] = static_cast<uint8_t>(hi << 4 | lo);
  }
  return out;
}

Sha384 sha384_from_hex(std::string_view hex, const std::string &what) {
  Bytes b = from_hex(hex, what);
  if (b.size() != 48) throw InputError(what, "a SHA-384 digest has 96 hex digits, got " + std::to_string(hex.size()));
  return to_sha384(b);
}

void extend(Sha384 &mr, const Sha384 &digest) {
  mr = to_sha384(Hasher(HashAlgorithm::sha384)
                     .update(ByteView(mr.data(), mr.size()))
                     .update(ByteView(digest.data(), digest.size()))
                     .finish());
}

} // namespace mrforge
