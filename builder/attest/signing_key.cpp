// Key generation, loading and raw signatures with OpenSSL 3's EVP API. Ed25519 signs the message
// itself (RFC 8032 PureEdDSA: deterministic); ECDSA P-256 signs its SHA-256 and gives a DER
// ECDSA-Sig-Value (RFC 5480/X9.62). Files are PEM: PKCS#8 "PRIVATE KEY" (unencrypted) and
// SubjectPublicKeyInfo "PUBLIC KEY". The key id is the hex SHA-256 of the DER SubjectPublicKeyInfo.
#include <builder/attest/signing_key.hpp>
#include <builder/system/output_dir.hpp>

#include <measure/util/errors.hpp>
#include <measure/util/hash.hpp>
#include <measure/util/mapped_file.hpp>
#include <measure/util/strings.hpp>
#include <measure/util/unique_fd.hpp>

#include <openssl/bio.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>
#include <utility>
#include <vector>

namespace mrforge::builder {

void EvpPkeyFree::operator()(EVP_PKEY *k) const { EVP_PKEY_free(k); }

namespace {

// A key file is a few hundred bytes; anything far larger is not one.
constexpr size_t k_max_key_file = limits::k_key_file.max_size;

struct BioFree {
  void operator()(BIO *b) const { BIO_free(b); }
};
using BioPtr = std::unique_ptr<BIO, BioFree>;
struct MdCtxFree {
  void operator()(EVP_MD_CTX *c) const { EVP_MD_CTX_free(c); }
};
using MdCtxPtr = std::unique_ptr<EVP_MD_CTX, MdCtxFree>;

// A string that is wiped when it goes out of scope (private key PEM text).
struct SecretText {
  std::string text;
  SecretText() = default;
  SecretText(SecretText &&other) noexcept : text(std::move(other.text)) { other.text.clear(); }
  SecretText(const SecretText &) = delete;
  SecretText &operator=(const SecretText &) = delete;
  SecretText &operator=(SecretText &&) = delete;
  ~SecretText() {
    if (!text.empty()) OPENSSL_cleanse(text.data(), text.size());
  }
};

std::string errno_text() { return std::strerror(errno); }

// The queued OpenSSL errors as one line (never key material: OpenSSL's messages name functions
// and reasons), and the queue emptied.
std::string openssl_errors() {
  std::vector<std::string> errors;
  while (unsigned long e = ERR_get_error()) {
    char buf[256];
    ERR_error_string_n(e, buf, sizeof buf);
    errors.emplace_back(buf);
  }
  return errors.empty() ? "no OpenSSL error recorded" : join(errors, "; ");
}

std::string mode_octal(mode_t mode) {
  char buf[16];
  std::snprintf(buf, sizeof buf, "%04o", static_cast<unsigned>(mode & 07777));
  return buf;
}

// A PEM passphrase callback that refuses instead of prompting on the terminal.
int no_passphrase(char *, int, int, void *) { return -1; }

// --- key files ----------------------------------------------------------------------------

struct KeyFile {
  SecretText content;
  mode_t mode = 0;
};

// Reads a (small) key file. Nothing of it is printed: callers only look at its PEM labels.
KeyFile read_key_file(const std::string &path) {
  // Checked before a byte is read: a regular file (never a FIFO or device) of at most 64 KiB.
  InputFile input = InputFile::open(path, limits::k_key_file);
  struct stat st {};
  if (::fstat(input.fd(), &st) != 0) throw SystemError(path, "fstat failed: " + errno_text());
  KeyFile file;
  file.mode = st.st_mode;
  std::string &text = file.content.text;
  text.resize(k_max_key_file + 1);
  size_t got = 0;
  while (got < text.size()) {
    ssize_t n = ::read(input.fd(), text.data() + got, text.size() - got);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) throw SystemError(path, "cannot read: " + errno_text());
    if (n == 0) break;
    got += static_cast<size_t>(n);
  }
  if (got > k_max_key_file) throw InputError(path, "is too large to be a PEM key file");
  text.resize(got);
  return file;
}

// The labels of the PEM blocks ("PRIVATE KEY", "PUBLIC KEY", ...) in order, for messages.
// Labels are printable ASCII by RFC 7468; anything else is shown as '?', and long ones cut.
std::vector<std::string> pem_labels(const std::string &text) {
  static const std::string begin = "-----BEGIN ";
  std::vector<std::string> labels;
  size_t pos = 0;
  while ((pos = text.find(begin, pos)) != std::string::npos) {
    bool line_start = pos == 0 || text[pos - 1] == '\n' || text[pos - 1] == '\r';
    size_t start = pos + begin.size();
    size_t end = text.find("-----", start);
    size_t eol = text.find('\n', start);
    pos = start;
    if (!line_start || end == std::string::npos || (eol != std::string::npos && eol < end)) continue;
    std::string label = text.substr(start, std::min<size_t>(end - start, 40));
    for (char &c : label)
      if (c < 0x20 || c > 0x7e) c = '?';
    labels.push_back(label);
  }
  return labels;
}

bool has_label(const std::vector<std::string> &labels, const std::string &label) {
  return std::find(labels.begin(), labels.end(), label) != labels.end();
}

bool is_private_label(const std::string &label) {
  return label == "PRIVATE KEY" || label == "EC PRIVATE KEY" || label == "RSA PRIVATE KEY" ||
         label == "DSA PRIVATE KEY" || label == "ENCRYPTED PRIVATE KEY" || label == "OPENSSH PRIVATE KEY";
}

std::string quoted_labels(const std::vector<std::string> &labels) {
  return join(labels, ", ", [](const std::string &l) { return "'-----BEGIN " + l + "-----'"; });
}

bool is_public_label(const std::string &label) { return label == "PUBLIC KEY" || label == "RSA PUBLIC KEY"; }

// OpenSSL's PEM readers take the first key block and ignore the rest, so a file with two keys
// would sign or verify with whichever comes first, unseen. A key file holds exactly one key
// (other blocks, such as EC PARAMETERS or a certificate, may accompany it).
void require_one_key(const std::vector<std::string> &labels, const std::string &path) {
  std::vector<std::string> keys;
  for (const auto &l : labels)
    if (is_private_label(l) || is_public_label(l)) keys.push_back(l);
  if (keys.size() > 1)
    throw InputError(path, "holds " + std::to_string(keys.size()) + " keys (" + quoted_labels(keys) +
                               "); a key file must hold exactly one, so that it is clear which key signs or verifies");
}

// The supported type of a loaded key, or InputError naming what the file holds.
KeyType supported_type(EVP_PKEY *pkey, const std::string &path) {
  if (EVP_PKEY_is_a(pkey, "ED25519")) return KeyType::ed25519;
  if (EVP_PKEY_is_a(pkey, "EC")) {
    char group[80] = {};
    size_t len = 0;
    if (EVP_PKEY_get_group_name(pkey, group, sizeof group, &len) != 1) {
      ERR_clear_error();
      throw InputError(path, "holds an EC key with explicit curve parameters; mrforge signs with Ed25519 or ECDSA "
                             "P-256 (named curve prime256v1) keys");
    }
    std::string curve(group, std::min(len, sizeof group));
    if (curve == "prime256v1" || curve == "P-256" || curve == "secp256r1") return KeyType::ecdsa_p256;
    throw InputError(path, "holds an EC key on curve " + curve +
                               "; mrforge signs with Ed25519 or ECDSA P-256 (prime256v1) keys (see mrforge keygen)");
  }
  const char *name = EVP_PKEY_get0_type_name(pkey);
  std::string type = name != nullptr ? name : "unknown";
  throw InputError(path, "holds an " + type + " key (" + std::to_string(EVP_PKEY_get_bits(pkey)) +
                             " bits); mrforge signs with Ed25519 or ECDSA P-256 keys (see mrforge keygen)");
}

std::string keyid_of(EVP_PKEY *pkey) {
  int len = i2d_PUBKEY(pkey, nullptr);
  if (len <= 0) throw Error("OpenSSL cannot encode the public key: " + openssl_errors());
  std::vector<uint8_t> der(static_cast<size_t>(len));
  unsigned char *p = der.data();
  if (i2d_PUBKEY(pkey, &p) != len) throw Error("OpenSSL cannot encode the public key: " + openssl_errors());
  return to_hex(sha256(ByteView(der)));
}

SigningKey make_key(EvpPkeyPtr pkey, const std::string &path) {
  SigningKey key;
  key.type = supported_type(pkey.get(), path);
  key.keyid = keyid_of(pkey.get());
  key.pkey = std::move(pkey);
  key.path = path;
  return key;
}

// Writes `content` to a new file PATH with `mode`: into a temporary file beside it (mkostemp:
// O_CREAT|O_EXCL, mode 0600 from the start, so the content is never readable by others and no
// symlink is followed), then link()ed to PATH, which fails rather than replace an existing file
// (or symlink). Throws InputError if PATH exists, SystemError otherwise.
void write_new_file(const std::string &path, const std::string &content, mode_t mode) {
  std::string temp = path + ".tmp-XXXXXX";
  UniqueFd fd(::mkostemp(temp.data(), O_CLOEXEC));
  if (fd.get() < 0) throw SystemError(path, "cannot create a temporary file beside it: " + errno_text());
  InterruptCleanup on_interrupt(temp, InterruptCleanup::Kind::file);
  auto fail = [&](const std::string &what) {
    std::string why = errno_text();
    ::unlink(temp.c_str());
    throw SystemError(path, what + ": " + why);
  };
  size_t done = 0;
  while (done < content.size()) {
    ssize_t n = ::write(fd.get(), content.data() + done, content.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) fail("cannot write");
    done += static_cast<size_t>(n);
  }
  if (::fchmod(fd.get(), mode) != 0) fail("cannot set the mode");
  if (::fsync(fd.get()) != 0) fail("cannot write");
  if (::close(fd.release()) != 0) fail("cannot write");
  if (::link(temp.c_str(), path.c_str()) != 0) {
    int err = errno;
    ::unlink(temp.c_str());
    if (err == EEXIST) throw InputError(path, "already exists; mrforge keygen never overwrites a key file");
    errno = err;
    throw SystemError(path, "cannot create: " + errno_text());
  }
  ::unlink(temp.c_str());
}

bool path_exists(const std::string &path) {
  struct stat st {};
  return ::lstat(path.c_str(), &st) == 0;
}

} // namespace

const char *key_type_name(KeyType t) {
  switch (t) {
  case KeyType::ed25519: return "ed25519";
  case KeyType::ecdsa_p256: return "ecdsa-p256";
  }
  return "unknown";
}

std::string generate_key_pair(KeyType type, const std::string &private_path, const std::string &public_path) {
  if (private_path == public_path)
    throw InputError(private_path, "the private and the public key need different file names");
  for (const auto &p : {private_path, public_path})
    if (path_exists(p)) throw InputError(p, "already exists; mrforge keygen never overwrites a key file");

  EvpPkeyPtr pkey(type == KeyType::ed25519 ? EVP_PKEY_Q_keygen(nullptr, nullptr, "ED25519")
                                           : EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-256"));
  if (!pkey) throw Error("OpenSSL cannot generate a " + std::string(key_type_name(type)) + " key: " + openssl_errors());

  SecretText private_pem;
  {
    BioPtr bio(BIO_new(BIO_s_secmem()));
    if (!bio || PEM_write_bio_PrivateKey(bio.get(), pkey.get(), nullptr, nullptr, 0, nullptr, nullptr) != 1)
      throw Error("OpenSSL cannot encode the private key: " + openssl_errors());
    char *data = nullptr;
    long len = BIO_get_mem_data(bio.get(), &data);
    private_pem.text.assign(data, static_cast<size_t>(len));
  }
  std::string public_pem;
  {
    BioPtr bio(BIO_new(BIO_s_mem()));
    if (!bio || PEM_write_bio_PUBKEY(bio.get(), pkey.get()) != 1)
      throw Error("OpenSSL cannot encode the public key: " + openssl_errors());
    char *data = nullptr;
    long len = BIO_get_mem_data(bio.get(), &data);
    public_pem.assign(data, static_cast<size_t>(len));
  }
  std::string keyid = keyid_of(pkey.get());

  write_new_file(private_path, private_pem.text, 0600);
  try {
    write_new_file(public_path, public_pem, 0644);
  } catch (...) {
    ::unlink(private_path.c_str()); // created just now by us: do not leave half a key pair
    throw;
  }
  return keyid;
}

SigningKey load_private_key(const std::string &path) {
  KeyFile file = read_key_file(path);
  const SecretText &content = file.content;
  const std::string what = "; expected a PEM private key (Ed25519 or ECDSA P-256, as mrforge keygen writes)";
  if (content.text.empty()) throw InputError(path, "is empty" + what);
  std::vector<std::string> labels = pem_labels(content.text);
  if (labels.empty()) throw InputError(path, "is not PEM (no '-----BEGIN' line)" + what);
  bool any_private = std::any_of(labels.begin(), labels.end(), is_private_label);
  if (!any_private) {
    if (has_label(labels, "PUBLIC KEY") || has_label(labels, "RSA PUBLIC KEY"))
      throw InputError(path, "holds a public key, not a private key; signing needs the private key (the .key file "
                             "of mrforge keygen)");
    throw InputError(path, "holds " + quoted_labels(labels) + ", not a private key" + what);
  }
  require_one_key(labels, path);
  if (has_label(labels, "OPENSSH PRIVATE KEY") && !has_label(labels, "PRIVATE KEY"))
    throw InputError(path, "holds an OpenSSH-format private key" + what + " (PKCS#8)");
  if (has_label(labels, "ENCRYPTED PRIVATE KEY") && !has_label(labels, "PRIVATE KEY"))
    throw InputError(path, "holds a passphrase-protected private key; mrforge needs an unencrypted PKCS#8 key (keep "
                           "it mode 0600, or decrypt a copy with openssl pkey)");
  // Like ssh: a private key that group or others may read is refused (checked on the opened
  // file, so a rename between check and read cannot swap it).
  if ((file.mode & 077) != 0)
    throw InputError(path,
                     "mode " + mode_octal(file.mode) + " lets other users read the private key; run chmod 600 " + path);

  BioPtr bio(BIO_new_mem_buf(content.text.data(), static_cast<int>(content.text.size())));
  if (!bio) throw Error("OpenSSL: BIO_new_mem_buf failed");
  EvpPkeyPtr pkey(PEM_read_bio_PrivateKey(bio.get(), nullptr, no_passphrase, nullptr));
  if (!pkey) {
    ERR_clear_error();
    throw InputError(path, "holds a private key block that OpenSSL cannot decode (truncated or corrupt PEM)");
  }
  return make_key(std::move(pkey), path);
}

SigningKey load_public_key(const std::string &path) {
  KeyFile file = read_key_file(path);
  const SecretText &content = file.content;
  const std::string what = "; expected a PEM public key (Ed25519 or ECDSA P-256, the .pub file of mrforge keygen)";
  if (content.text.empty()) throw InputError(path, "is empty" + what);
  std::vector<std::string> labels = pem_labels(content.text);
  if (labels.empty()) throw InputError(path, "is not PEM (no '-----BEGIN' line)" + what);
  if (!has_label(labels, "PUBLIC KEY")) {
    if (std::any_of(labels.begin(), labels.end(), is_private_label))
      throw InputError(path, "holds a private key, not a public key; verifying needs the public key (the .pub file "
                             "of mrforge keygen). Keep the private key secret");
    if (has_label(labels, "RSA PUBLIC KEY"))
      throw InputError(path, "holds an RSA public key; mrforge verifies Ed25519 or ECDSA P-256 signatures");
    if (has_label(labels, "CERTIFICATE"))
      throw InputError(path, "holds a certificate; give its public key (openssl x509 -pubkey -noout -in " + path + ")");
    throw InputError(path, "holds " + quoted_labels(labels) + ", not a public key" + what);
  }
  require_one_key(labels, path);
  BioPtr bio(BIO_new_mem_buf(content.text.data(), static_cast<int>(content.text.size())));
  if (!bio) throw Error("OpenSSL: BIO_new_mem_buf failed");
  EvpPkeyPtr pkey(PEM_read_bio_PUBKEY(bio.get(), nullptr, no_passphrase, nullptr));
  if (!pkey) {
    ERR_clear_error();
    throw InputError(path, "holds a PUBLIC KEY block that OpenSSL cannot decode (truncated or corrupt PEM)");
  }
  return make_key(std::move(pkey), path);
}

std::vector<uint8_t> sign_message(const SigningKey &key, const std::vector<uint8_t> &message) {
  MdCtxPtr ctx(EVP_MD_CTX_new());
  const EVP_MD *md = key.type == KeyType::ed25519 ? nullptr : EVP_sha256();
  size_t len = 0;
  if (!ctx || EVP_DigestSignInit(ctx.get(), nullptr, md, nullptr, key.pkey.get()) != 1 ||
      EVP_DigestSign(ctx.get(), nullptr, &len, message.data(), message.size()) != 1)
    throw Error(key.path + ": OpenSSL cannot sign with this key: " + openssl_errors());
  std::vector<uint8_t> sig(len);
  if (EVP_DigestSign(ctx.get(), sig.data(), &len, message.data(), message.size()) != 1)
    throw Error(key.path + ": OpenSSL cannot sign with this key: " + openssl_errors());
  sig.resize(len); // an ECDSA DER signature may be shorter than the maximum
  return sig;
}

bool verify_message(const SigningKey &key, const std::vector<uint8_t> &message, const std::vector<uint8_t> &signature) {
  MdCtxPtr ctx(EVP_MD_CTX_new());
  const EVP_MD *md = key.type == KeyType::ed25519 ? nullptr : EVP_sha256();
  bool ok = ctx && EVP_DigestVerifyInit(ctx.get(), nullptr, md, nullptr, key.pkey.get()) == 1 &&
            EVP_DigestVerify(ctx.get(), signature.data(), signature.size(), message.data(), message.size()) == 1;
  ERR_clear_error(); // a bad signature (or bad DER) leaves errors queued; they are not ours to report
  return ok;
}

} // namespace mrforge::builder
