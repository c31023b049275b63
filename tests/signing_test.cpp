// Signing keys, base64, DSSE envelopes and the keygen / sign / verify-signature commands. The
// independent checks use other implementations: coreutils' base64, `openssl pkeyutl` / `openssl
// dgst` over a pre-authentication encoding that a Python script builds from the envelope, and
// Debian's python3-securesystemslib (run with /usr/bin/python3, not a pyenv interpreter).
#include "support/guest_fixture.hpp"
#include "test_support.hpp"

#include <builder/attest/dsse.hpp>
#include <builder/attest/signing_key.hpp>
#include <measure/util/base64.hpp>
#include <measure/util/errors.hpp>
#include <measure/util/hash.hpp>

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <random>
#include <sstream>
#include <sys/stat.h>

namespace fs = std::filesystem;
using namespace mrforge;
using namespace mrforge::builder;
using namespace mrforge::test;

namespace {

std::vector<uint8_t> bytes_of(const std::string &s) { return {s.begin(), s.end()}; }
std::string text_of(const std::vector<uint8_t> &b) { return {b.begin(), b.end()}; }

unsigned file_mode(const std::string &path) {
  struct stat st {};
  REQUIRE(::stat(path.c_str(), &st) == 0);
  return st.st_mode & 07777;
}

std::vector<uint8_t> random_bytes(size_t n, unsigned seed) {
  std::mt19937 rng(seed);
  std::vector<uint8_t> out(n);
  for (auto &b : out) b = static_cast<uint8_t>(rng());
  return out;
}

void write_bytes(const std::string &path, const std::vector<uint8_t> &bytes) { write_text(path, text_of(bytes)); }

const std::vector<KeyType> k_key_types = {KeyType::ed25519, KeyType::ecdsa_p256};

// Builds the pre-authentication encoding from an envelope file with Python's json and base64
// (not our code) and writes it and the first signature for openssl.
constexpr const char *k_extract_pae_py = R"(
import base64, json, sys
env = json.load(open(sys.argv[1]))
payload = base64.b64decode(env["payload"], validate=True)
ptype = env["payloadType"].encode("utf-8")
open(sys.argv[2], "wb").write(b"DSSEv1 %d %s %d %s" % (len(ptype), ptype, len(payload), payload))
open(sys.argv[3], "wb").write(base64.b64decode(env["signatures"][0]["sig"], validate=True))
)";

// Verifies an envelope file with securesystemslib's SSlibKey (Debian's python3-securesystemslib
// 0.26 has no DSSE module, so the PAE is built here, per protocol.md).
constexpr const char *k_sslib_verify_py = R"(
import base64, json, sys
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519
from securesystemslib import exceptions
from securesystemslib.signer import SSlibKey, Signature
env = json.load(open(sys.argv[1]))
pem = open(sys.argv[2], "rb").read()
payload = base64.b64decode(env["payload"], validate=True)
ptype = env["payloadType"].encode("utf-8")
pae = b"DSSEv1 %d %s %d %s" % (len(ptype), ptype, len(payload), payload)
keyid = env["signatures"][0]["keyid"]
pub = serialization.load_pem_public_key(pem)
if isinstance(pub, ed25519.Ed25519PublicKey):
    raw = pub.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    key = SSlibKey(keyid, "ed25519", "ed25519", {"public": raw.hex()})
else:
    key = SSlibKey(keyid, "ecdsa", "ecdsa-sha2-nistp256", {"public": pem.decode()})
verified = 0
for s in env["signatures"]:
    try:
        key.verify_signature(Signature(keyid, base64.b64decode(s["sig"], validate=True).hex()), pae)
        verified += 1
    except exceptions.UnverifiedSignatureError:
        pass
print("securesystemslib: VERIFIED" if verified else "securesystemslib: NOT VERIFIED")
sys.exit(0 if verified else 1)
)";

// `openssl` verifying ENVELOPE with PUB over a PAE file made by Python. Returns openssl's result.
ShellResult openssl_verify(const TempDir &dir, const std::string &envelope, const std::string &pub, KeyType type) {
  write_text(dir / "extract_pae.py", k_extract_pae_py);
  std::string pae = dir / "openssl.pae", sig = dir / "openssl.sig";
  ShellResult py = run_shell("/usr/bin/python3 " + shell_quote(dir / "extract_pae.py") + " " + shell_quote(envelope) +
                             " " + shell_quote(pae) + " " + shell_quote(sig));
  REQUIRE(py.exit_code == 0);
  if (type == KeyType::ed25519)
    return run_shell("openssl pkeyutl -verify -pubin -inkey " + shell_quote(pub) + " -rawin -in " + shell_quote(pae) +
                     " -sigfile " + shell_quote(sig));
  return run_shell("openssl dgst -sha256 -verify " + shell_quote(pub) + " -signature " + shell_quote(sig) + " " +
                   shell_quote(pae));
}

ShellResult sslib_verify(const TempDir &dir, const std::string &envelope, const std::string &pub) {
  write_text(dir / "sslib_verify.py", k_sslib_verify_py);
  return run_shell("/usr/bin/python3 " + shell_quote(dir / "sslib_verify.py") + " " + shell_quote(envelope) + " " +
                   shell_quote(pub));
}

// The envelope JSON with `edit` applied to its parsed form.
template <typename F> std::string edited(const std::string &envelope_text, F &&edit) {
  nlohmann::ordered_json j = nlohmann::ordered_json::parse(envelope_text);
  edit(j);
  return j.dump(2) + "\n";
}

std::string flip_bit(const std::string &b64, size_t i) {
  std::vector<uint8_t> bytes = base64_decode(b64, "test");
  bytes[i] ^= static_cast<uint8_t>(1u << (i % 8));
  return base64_encode(bytes);
}

// Positions to tamper with: the first, the last and `n` spread between.
std::vector<size_t> spread(size_t size, size_t n) {
  std::vector<size_t> out = {0, size - 1};
  for (size_t k = 1; k <= n; ++k) out.push_back(size * k / (n + 1));
  return out;
}

} // namespace

// --- base64 -------------------------------------------------------------------------------

TEST_CASE("base64 agrees with coreutils, across the encoder's and decoder's chunks", "[signing]") {
  // (The RFC 4648 vectors, in every mode, are in base64_test.)
  // Every length up to 100, and one longer than the encoder's and decoder's chunks, against
  // coreutils' base64.
  TempDir dir("h1-b64");
  for (size_t n : std::vector<size_t>{1, 2, 3, 4, 5, 31, 32, 33, 64, 99, 100, 49151, 49152, 49153, 200003}) {
    std::vector<uint8_t> data = random_bytes(n, static_cast<unsigned>(n));
    write_bytes(dir / "in", data);
    ShellResult r = run_shell("base64 -w0 " + shell_quote(dir / "in"));
    REQUIRE(r.exit_code == 0);
    CHECK(base64_encode(data) == r.out);
    CHECK(base64_decode(r.out, "coreutils") == data);
  }
}

TEST_CASE("base64 decoding refuses anything but the canonical encoding", "[signing]") {
  struct Case {
    std::string text;
    std::string message;
  };
  const std::vector<Case> cases = {
      {"Zg=", "length 3 is not a multiple of 4"},
      {"Zm9vYg==\n", "byte 0x0a at offset 8"},              // a final newline
      {"Zm9v\nYg==", "byte 0x0a at offset 4"},              // a line break inside
      {" Zm9", "byte 0x20 at offset 0"},                    // leading space (EVP_DecodeBlock would skip it)
      {"Zm8=Zm8=", "'=' at offset 3"},                      // padding in the middle
      {"====", "'=' at offset 0"},                          // only padding
      {"Z===", "'=' at offset 1"},                          // three padding characters
      {"Zh==", "non-zero padding bits in 'h' at offset 1"}, // 'h' = 100001: the low 4 bits are not 0
      {"Zm9=", "non-zero padding bits in '9' at offset 2"}, // '9' = 111101: the low 2 bits are not 0
      {"Zm9-", "'-' at offset 3"},                          // URL-safe alphabet in the strict decoder
      {"Zm\xc3\xa9", "byte 0xc3 at offset 2"},              // non-ASCII
  };
  for (const auto &c : cases) {
    INFO(c.text);
    std::string m = error_message([&] { base64_decode(c.text, "field"); });
    CHECK_THAT(m, Catch::Contains("field: ") && Catch::Contains(c.message));
  }
  // DSSE verifiers accept the URL-safe alphabet too (padded), but not a mix of the two.
  constexpr Base64Options k_either{Base64Alphabet::either, Base64Padding::required};
  CHECK(base64_decode("-_-_Pj8=", "x", k_either) == std::vector<uint8_t>{0xfb, 0xff, 0xbf, 0x3e, 0x3f});
  CHECK(base64_decode("+/+/Pj8=", "x", k_either) == std::vector<uint8_t>{0xfb, 0xff, 0xbf, 0x3e, 0x3f});
  CHECK_THAT(error_message([&] { base64_decode("-/+_Pj8=", "x", k_either); }),
             Catch::Contains("mixes the standard and the URL-safe alphabet"));
}

// --- PAE ----------------------------------------------------------------------------------

TEST_CASE("the pre-authentication encoding is the DSSE protocol's", "[signing]") {
  // protocol.md, "Test Vectors".
  CHECK(text_of(dsse_pae("http://example.com/HelloWorld", bytes_of("hello world"))) ==
        "DSSEv1 29 http://example.com/HelloWorld 11 hello world");
  // An empty body still ends with the space after its length.
  CHECK(text_of(dsse_pae("application/vnd.in-toto+json", {})) == "DSSEv1 28 application/vnd.in-toto+json 0 ");
  // LEN counts bytes: "ä" is two bytes in UTF-8, so these 28 characters are 29 bytes.
  CHECK(text_of(dsse_pae("application/vnd.ex\xc3\xa4mple+json", bytes_of("{}"))) ==
        "DSSEv1 29 application/vnd.ex\xc3\xa4mple+json 2 {}");
  // Binary payload bytes pass through untouched.
  std::vector<uint8_t> binary = {0x00, 0x20, 0xff, 0x0a};
  std::vector<uint8_t> expected = bytes_of("DSSEv1 1 t 4 ");
  expected.insert(expected.end(), binary.begin(), binary.end());
  CHECK(dsse_pae("t", binary) == expected);
}

// --- keys ---------------------------------------------------------------------------------

TEST_CASE("generated key pairs of both types sign and verify, with the documented files and key id", "[signing]") {
  TempDir dir("h1-keys");
  for (KeyType type : k_key_types) {
    INFO(key_type_name(type));
    std::string prefix = dir / key_type_name(type);
    std::string keyid = generate_key_pair(type, prefix + ".key", prefix + ".pub");
    CHECK(file_mode(prefix + ".key") == 0600);
    CHECK(file_mode(prefix + ".pub") == 0644);
    CHECK_THAT(read_text(prefix + ".key"), Catch::StartsWith("-----BEGIN PRIVATE KEY-----\n"));
    CHECK_THAT(read_text(prefix + ".pub"), Catch::StartsWith("-----BEGIN PUBLIC KEY-----\n"));
    // openssl agrees on the type, and the key id is the sha256 of the DER SubjectPublicKeyInfo.
    ShellResult text = run_shell("openssl pkey -in " + shell_quote(prefix + ".key") + " -noout -text");
    REQUIRE(text.exit_code == 0);
    CHECK_THAT(text.out, Catch::Contains(type == KeyType::ed25519 ? "ED25519 Private-Key" : "NIST CURVE: P-256"));
    ShellResult der = run_shell("openssl pkey -pubin -in " + shell_quote(prefix + ".pub") +
                                " -outform DER | sha256sum | cut -d' ' -f1");
    REQUIRE(der.exit_code == 0);
    CHECK(keyid + "\n" == der.out);

    SigningKey priv = load_private_key(prefix + ".key");
    SigningKey pub = load_public_key(prefix + ".pub");
    CHECK(priv.type == type);
    CHECK(pub.type == type);
    CHECK(priv.keyid == keyid);
    CHECK(pub.keyid == keyid);

    std::vector<uint8_t> message = bytes_of("DSSEv1 1 t 5 hello");
    std::vector<uint8_t> sig = sign_message(priv, message);
    CHECK(verify_message(pub, message, sig));
    std::vector<uint8_t> other = message;
    other.back() ^= 1;
    CHECK_FALSE(verify_message(pub, other, sig));
    // Bad signature bytes are a failed check, never an exception.
    for (const auto &bad : std::vector<std::vector<uint8_t>>{{}, {0x30}, std::vector<uint8_t>(200, 0x30)})
      CHECK_FALSE(verify_message(pub, message, bad));
    if (type == KeyType::ed25519) {
      CHECK(sig.size() == 64);
      CHECK(sign_message(priv, message) == sig); // RFC 8032: deterministic
      // openssl signs the same message with the same key to the same bytes.
      write_bytes(dir / "msg", message);
      ShellResult r = run_shell("openssl pkeyutl -sign -inkey " + shell_quote(prefix + ".key") + " -rawin -in " +
                                shell_quote(dir / "msg") + " -out " + shell_quote(dir / "msg.sig"));
      REQUIRE(r.exit_code == 0);
      CHECK(test::read(dir / "msg.sig") == sig);
    } else {
      CHECK(verify_message(pub, message, sign_message(priv, message))); // random k: different, also valid
    }
  }
}

TEST_CASE("keygen never overwrites a file and never prints the private key", "[signing]") {
  TempDir dir("h1-keygen");
  // Through the CLI, under umask 000: the modes are still 0600 / 0644.
  ShellResult r = run_mrforge_cli({"keygen", "-o", dir / "ci", "--json"}, "umask 000 &&");
  REQUIRE(r.exit_code == 0);
  nlohmann::json j = nlohmann::json::parse(r.out);
  CHECK(j["type"] == "ed25519");
  CHECK(j["private_key"] == dir / "ci.key");
  CHECK(j["public_key"] == dir / "ci.pub");
  CHECK(j["keyid"] == load_public_key(dir / "ci.pub").keyid);
  CHECK(file_mode(dir / "ci.key") == 0600);
  CHECK(file_mode(dir / "ci.pub") == 0644);
  ShellResult text = run_mrforge_cli({"keygen", "--type", "ecdsa-p256", "-o", dir / "ec"});
  REQUIRE(text.exit_code == 0);
  CHECK_THAT(text.out, Catch::Contains(load_public_key(dir / "ec.pub").keyid));
  // No line of the base64 body of either private key appears in what keygen printed.
  for (const std::string &key : {dir / "ci.key", dir / "ec.key"}) {
    std::string body = read_text(key);
    size_t pos = 0;
    while (pos < body.size()) {
      size_t eol = body.find('\n', pos);
      std::string line = body.substr(pos, eol - pos);
      pos = eol == std::string::npos ? body.size() : eol + 1;
      if (line.empty() || line[0] == '-') continue;
      CHECK(r.out.find(line.substr(0, 16)) == std::string::npos);
      CHECK(text.out.find(line.substr(0, 16)) == std::string::npos);
    }
  }
  // An existing PREFIX.pub or PREFIX.key: an error naming it, and nothing changes.
  write_text(dir / "taken.pub", "keep me\n");
  ShellResult taken = run_mrforge_cli({"keygen", "-o", dir / "taken"});
  CHECK(taken.exit_code == 2);
  CHECK_THAT(taken.err, Catch::Contains(dir / "taken.pub") && Catch::Contains("already exists"));
  CHECK(read_text(dir / "taken.pub") == "keep me\n");
  CHECK_FALSE(fs::exists(dir / "taken.key"));
  std::string before = read_text(dir / "ci.key");
  ShellResult again = run_mrforge_cli({"keygen", "-o", dir / "ci"});
  CHECK(again.exit_code == 2);
  CHECK_THAT(again.err, Catch::Contains(dir / "ci.key") && Catch::Contains("already exists"));
  CHECK(read_text(dir / "ci.key") == before);
  // A dangling symlink in the way is not followed either.
  fs::create_symlink(dir / "elsewhere", dir / "link.key");
  CHECK(run_mrforge_cli({"keygen", "-o", dir / "link"}).exit_code == 2);
  CHECK_FALSE(fs::exists(dir / "elsewhere"));
  // No temporary files are left behind.
  for (const auto &e : fs::directory_iterator(dir.path()))
    CHECK(e.path().filename().string().find(".tmp-") == std::string::npos);
}

TEST_CASE("wrong key files are refused with messages that name the file and what it holds", "[signing]") {
  TempDir dir("h1-badkeys");
  generate_key_pair(KeyType::ed25519, dir / "good.key", dir / "good.pub");
  REQUIRE(run_shell("cd " + shell_quote(dir.path()) +
                    " && openssl genrsa -out rsa.key 2048 2>/dev/null && chmod 600 rsa.key"
                    " && openssl rsa -in rsa.key -pubout -out rsa.pub 2>/dev/null"
                    " && openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-384 -out p384.key && chmod 600 "
                    "p384.key && openssl pkey -in p384.key -pubout -out p384.pub"
                    " && openssl genpkey -algorithm ED448 -out ed448.key && chmod 600 ed448.key"
                    " && openssl genpkey -algorithm ED25519 -out enc.key -aes-128-cbc -pass pass:secret"
                    " && chmod 600 enc.key")
              .exit_code == 0);
  std::string good_key_text = read_text(dir / "good.key");
  write_text(dir / "empty.key", "");
  write_text(dir / "garbage.key", "this is not a key\n");
  write_text(dir / "truncated.key", good_key_text.substr(0, good_key_text.size() / 2));
  write_text(dir / "open.key", good_key_text);
  for (const char *f : {"empty.key", "garbage.key", "truncated.key"}) fs::permissions(dir / f, fs::perms(0600));
  fs::permissions(dir / "open.key", fs::perms(0644));
  fs::copy_file(dir / "good.key", dir / "group.key");
  fs::permissions(dir / "group.key", fs::perms(0640));
  // Two keys in one file: OpenSSL's PEM readers take the first and ignore the second.
  generate_key_pair(KeyType::ecdsa_p256, dir / "other.key", dir / "other.pub");
  write_text(dir / "two.key", read_text(dir / "other.key") + good_key_text);
  write_text(dir / "with-pub.key", good_key_text + read_text(dir / "good.pub"));
  write_text(dir / "two.pub", read_text(dir / "good.pub") + read_text(dir / "other.pub"));
  for (const char *f : {"two.key", "with-pub.key"}) fs::permissions(dir / f, fs::perms(0600));

  struct Case {
    std::string file;
    std::string message;
  };
  const std::vector<Case> private_cases = {
      {"open.key", "mode 0644 lets other users read the private key; run chmod 600 " + dir / "open.key"},
      {"group.key", "mode 0640 lets other users read the private key; run chmod 600"},
      {"rsa.key", "holds an RSA key (2048 bits); mrforge signs with Ed25519 or ECDSA P-256 keys"},
      {"p384.key", "holds an EC key on curve secp384r1"},
      {"ed448.key", "holds an ED448 key"},
      {"good.pub", "holds a public key, not a private key"},
      {"enc.key", "passphrase-protected"},
      {"empty.key", "is empty"},
      {"garbage.key", "is not PEM"},
      {"truncated.key", "cannot decode"},
      {"missing.key", "cannot open: No such file or directory"},
      {"two.key", "holds 2 keys ('-----BEGIN PRIVATE KEY-----', '-----BEGIN PRIVATE KEY-----'); a key file must "
                  "hold exactly one"},
      {"with-pub.key", "holds 2 keys ('-----BEGIN PRIVATE KEY-----', '-----BEGIN PUBLIC KEY-----')"},
  };
  for (const auto &c : private_cases) {
    INFO(c.file);
    std::string path = dir / c.file;
    CHECK_THAT(error_message([&] { load_private_key(path); }),
               Catch::StartsWith(path + ": ") && Catch::Contains(c.message));
    // The command fails on the key before it looks at the output directory.
    ShellResult r = run_mrforge_cli({"sign", "--key", path, dir / "no-such-output"});
    CHECK(r.exit_code == 2);
    CHECK_THAT(r.err, Catch::Contains(path + ": ") && Catch::Contains(c.message));
    CHECK(r.err.find(good_key_text.substr(28, 20)) == std::string::npos); // no key bytes in messages
  }
  const std::vector<Case> public_cases = {
      {"good.key", "holds a private key, not a public key"},
      {"rsa.pub", "holds an RSA key (2048 bits)"},
      {"p384.pub", "holds an EC key on curve secp384r1"},
      {"empty.key", "is empty"},
      {"garbage.key", "is not PEM"},
      {"two.pub", "holds 2 keys ('-----BEGIN PUBLIC KEY-----', '-----BEGIN PUBLIC KEY-----'); a key file must hold "
                  "exactly one"},
  };
  for (const auto &c : public_cases) {
    INFO(c.file);
    std::string path = dir / c.file;
    CHECK_THAT(error_message([&] { load_public_key(path); }),
               Catch::StartsWith(path + ": ") && Catch::Contains(c.message));
    ShellResult r = run_mrforge_cli({"verify-signature", "--pub", path, dir / "no-such.intoto.json"});
    CHECK(r.exit_code == 2);
    CHECK_THAT(r.err, Catch::Contains(path + ": ") && Catch::Contains(c.message));
  }
}

// --- envelopes ----------------------------------------------------------------------------

TEST_CASE("envelopes of both key types verify with openssl and securesystemslib, and their JSON round-trips",
          "[signing]") {
  TempDir dir("h1-env");
  for (KeyType type : k_key_types) {
    INFO(key_type_name(type));
    std::string prefix = dir / key_type_name(type);
    generate_key_pair(type, prefix + ".key", prefix + ".pub");
    SigningKey priv = load_private_key(prefix + ".key");
    SigningKey pub = load_public_key(prefix + ".pub");
    std::vector<uint8_t> payload = bytes_of(R"({"_type":"https://in-toto.io/Statement/v1","subject":[]})");
    DsseEnvelope env = sign_envelope(k_in_toto_payload_type, payload, priv);
    REQUIRE(env.signatures.size() == 1);
    CHECK(env.signatures[0].keyid == priv.keyid);
    std::string json = envelope_json(env);
    write_text(prefix + ".intoto.json", json);

    // The documented layout: these keys in this order, base64 fields, a final newline.
    nlohmann::ordered_json j = nlohmann::ordered_json::parse(json);
    std::vector<std::string> keys;
    for (auto it = j.begin(); it != j.end(); ++it) keys.push_back(it.key());
    CHECK(keys == std::vector<std::string>{"payload", "payloadType", "signatures"});
    CHECK(j["payloadType"] == "application/vnd.in-toto+json");
    CHECK(j["signatures"][0]["keyid"] == priv.keyid);
    CHECK(json.back() == '\n');

    DsseEnvelope parsed = read_envelope(prefix + ".intoto.json");
    CHECK(parsed.payload == payload);
    CHECK(parsed.payload_type == k_in_toto_payload_type);
    REQUIRE(parsed.signatures.size() == 1);
    CHECK(parsed.signatures[0].sig == env.signatures[0].sig);
    DsseVerification v = verify_envelope(parsed, pub);
    CHECK(v.ok);
    CHECK(v.keyid == pub.keyid);

    ShellResult o = openssl_verify(dir, prefix + ".intoto.json", prefix + ".pub", type);
    CHECK(o.exit_code == 0);
    CHECK_THAT(o.out, Catch::Contains("Verified"));
    ShellResult s = sslib_verify(dir, prefix + ".intoto.json", prefix + ".pub");
    CHECK(s.exit_code == 0);
    CHECK_THAT(s.out, Catch::Contains("securesystemslib: VERIFIED"));

    // Both independent verifiers reject a changed payload (so they are really checking).
    std::string tampered =
        edited(json, [](auto &e) { e["payload"] = flip_bit(e["payload"].template get<std::string>(), 3); });
    write_text(prefix + ".tampered.json", tampered);
    CHECK(openssl_verify(dir, prefix + ".tampered.json", prefix + ".pub", type).exit_code != 0);
    CHECK(sslib_verify(dir, prefix + ".tampered.json", prefix + ".pub").exit_code != 0);
    CHECK_FALSE(verify_envelope(read_envelope(prefix + ".tampered.json"), pub).ok);
  }
}

TEST_CASE("a flipped bit anywhere in the payload or the signature, or another payload type, fails verification",
          "[signing]") {
  TempDir dir("h1-tamper");
  // A payload of realistic size: a statement-like JSON with several subjects.
  std::string text = R"({"_type":"https://in-toto.io/Statement/v1","subject":[)";
  for (int i = 0; i < 8; ++i)
    text += std::string(i ? "," : "") + R"({"name":"file)" + std::to_string(i) + R"(","digest":{"sha256":")" +
            to_hex(sha256(ByteView(bytes_of(std::to_string(i))))) + R"("}})";
  text += R"(],"predicateType":"https://mrforge.dev/attestation/tdx-measurements/v1","predicate":{}})";
  std::vector<uint8_t> payload = bytes_of(text);
  for (KeyType type : k_key_types) {
    INFO(key_type_name(type));
    std::string prefix = dir / key_type_name(type);
    generate_key_pair(type, prefix + ".key", prefix + ".pub");
    SigningKey pub = load_public_key(prefix + ".pub");
    DsseEnvelope env = sign_envelope(k_in_toto_payload_type, payload, load_private_key(prefix + ".key"));
    REQUIRE(verify_envelope(env, pub).ok);
    size_t failures = 0;
    for (size_t i = 0; i < payload.size(); ++i) {
      for (unsigned bit : {0u, 7u, static_cast<unsigned>(i % 8)}) {
        DsseEnvelope t = env;
        t.payload[i] ^= static_cast<uint8_t>(1u << bit);
        failures += verify_envelope(t, pub).ok ? 0u : 1u;
      }
    }
    CHECK(failures == payload.size() * 3);
    failures = 0;
    const std::vector<uint8_t> &sig = env.signatures[0].sig;
    for (size_t i = 0; i < sig.size(); ++i) {
      for (unsigned bit = 0; bit < 8; ++bit) {
        DsseEnvelope t = env;
        t.signatures[0].sig[i] ^= static_cast<uint8_t>(1u << bit);
        failures += verify_envelope(t, pub).ok ? 0u : 1u;
      }
    }
    CHECK(failures == sig.size() * 8);
    // A truncated or extended signature, another payload type, a payload with a byte more or less.
    DsseEnvelope t = env;
    t.signatures[0].sig.pop_back();
    CHECK_FALSE(verify_envelope(t, pub).ok);
    t = env;
    t.signatures[0].sig.push_back(0);
    CHECK_FALSE(verify_envelope(t, pub).ok);
    for (const char *type_name : {"application/vnd.in-toto+jsoN", "application/json", "", "http://example.com/x"}) {
      t = env;
      t.payload_type = type_name;
      CHECK_FALSE(verify_envelope(t, pub).ok);
    }
    t = env;
    t.payload.push_back(' ');
    CHECK_FALSE(verify_envelope(t, pub).ok);
    t = env;
    t.payload.pop_back();
    CHECK_FALSE(verify_envelope(t, pub).ok);
    // Another key's signature, and no signature at all.
    std::string other = dir / (std::string("other-") + key_type_name(type));
    generate_key_pair(type, other + ".key", other + ".pub");
    DsseVerification wrong_key = verify_envelope(env, load_public_key(other + ".pub"));
    CHECK_FALSE(wrong_key.ok);
    CHECK_THAT(wrong_key.message, Catch::Contains("no signature by key") && Catch::Contains(pub.keyid));
    t = env;
    t.signatures[0].keyid.clear(); // keyid is optional: then the key is tried, and it fails
    CHECK_FALSE(verify_envelope(t, load_public_key(other + ".pub")).ok);
    CHECK(verify_envelope(t, pub).ok);
    t.signatures.clear();
    CHECK_THAT(verify_envelope(t, pub).message, Catch::Contains("no signatures"));
  }
}

TEST_CASE("malformed envelopes are refused naming the file, the offset or the field", "[signing]") {
  TempDir dir("h1-badenv");
  generate_key_pair(KeyType::ed25519, dir / "k.key", dir / "k.pub");
  DsseEnvelope env = sign_envelope(k_in_toto_payload_type, bytes_of("{\"a\":1}"), load_private_key(dir / "k.key"));
  const std::string json = envelope_json(env);

  // Truncated at every length: a FormatError at the end of what is there (the last byte is the
  // newline after the closing brace, so only shorter cuts are truncations).
  for (size_t n = 0; n + 1 < json.size(); ++n) {
    INFO("cut at " << n);
    try {
      parse_envelope(json.substr(0, n), "env.json");
      FAIL("parsed a truncated envelope");
    } catch (const FormatError &e) {
      CHECK(e.source() == "env.json");
      CHECK(e.offset() == n);
      CHECK_THAT(e.what(), Catch::Contains("truncated"));
    }
  }
  // The same through the CLI, for a few lengths: exit 2 and a message naming file and offset.
  for (size_t n : {size_t(0), size_t(1), json.size() / 3, json.size() / 2, json.size() - 2}) {
    std::string path = dir / ("cut" + std::to_string(n) + ".json");
    write_text(path, json.substr(0, n));
    ShellResult r = run_mrforge_cli({"verify-signature", "--pub", dir / "k.pub", path});
    INFO(r.err);
    CHECK(r.exit_code == 2);
    char offset[32];
    std::snprintf(offset, sizeof offset, "+0x%zx: ", n);
    CHECK_THAT(r.err, Catch::Contains(path + offset) && Catch::Contains("truncated"));
  }

  struct Case {
    std::string name;
    std::string text;
    std::string message;
  };
  std::string sig = base64_encode(env.signatures[0].sig);
  std::string payload = base64_encode(env.payload);
  auto envelope = [&](const std::string &fields) { return "{" + fields + "}"; };
  std::string good_sigs = R"("signatures":[{"keyid":"x","sig":")" + sig + "\"}]";
  const std::vector<Case> cases = {
      {"array", "[1,2]", "the top level is an array, expected an object"},
      {"no-payload", envelope(R"("payloadType":"t",)" + good_sigs), ": payload: missing"},
      {"no-type", envelope(R"("payload":")" + payload + "\"," + good_sigs), ": payloadType: missing"},
      {"no-sigs", envelope(R"("payload":")" + payload + R"(","payloadType":"t")"), ": signatures: missing"},
      {"number-payload", envelope(R"("payload":5,"payloadType":"t",)" + good_sigs),
       ": payload: is a number, expected a base64 string"},
      {"sigs-object", envelope(R"("payload":")" + payload + R"(","payloadType":"t","signatures":{})"),
       ": signatures: is an object, expected an array"},
      {"sig-missing", envelope(R"("payload":")" + payload + R"(","payloadType":"t","signatures":[{"keyid":"x"}])"),
       ": signatures[0].sig: missing"},
      {"keyid-number",
       envelope(R"("payload":")" + payload + R"(","payloadType":"t","signatures":[{"keyid":1,"sig":")" + sig + "\"}]"),
       ": signatures[0].keyid: is a number, expected a string"},
      {"payload-not-base64", envelope(R"("payload":"not base64!","payloadType":"t",)" + good_sigs),
       ": payload: not base64: byte 0x20 at offset 3"},
      {"sig-not-base64",
       envelope(R"("payload":")" + payload + R"(","payloadType":"t","signatures":[{"sig":"QUJD\nRA=="}])"),
       ": signatures[0].sig: not base64: byte 0x0a at offset 4"},
      {"duplicate", envelope(R"("payload":")" + payload + R"(","payload":"","payloadType":"t",)" + good_sigs),
       "the key \"payload\" appears twice"},
      {"not-json", "{\"payload\": nope}", "not valid JSON"},
  };
  for (const auto &c : cases) {
    INFO(c.name);
    std::string path = dir / (c.name + ".json");
    write_text(path, c.text);
    CHECK_THAT(error_message([&] { read_envelope(path); }), Catch::StartsWith(path) && Catch::Contains(c.message));
    ShellResult r = run_mrforge_cli({"verify-signature", "--pub", dir / "k.pub", path});
    CHECK(r.exit_code == 2);
    CHECK_THAT(r.err, Catch::Contains(path) && Catch::Contains(c.message));
  }
  // Unknown extra fields are fine (and not covered by the signature, so they change nothing).
  std::string extra = edited(json, [](auto &e) {
    e["comment"] = "added later";
    e["signatures"][0]["extra"] = true;
  });
  DsseEnvelope with_extra = parse_envelope(extra, "extra.json");
  CHECK(verify_envelope(with_extra, load_public_key(dir / "k.pub")).ok);
  // The URL-safe alphabet is accepted, as DSSE requires of verifiers.
  std::string url_safe = edited(json, [](auto &e) {
    for (auto *field : {&e["payload"], &e["signatures"][0]["sig"]}) {
      std::string s = field->template get<std::string>();
      for (char &c : s) c = c == '+' ? '-' : c == '/' ? '_' : c;
      *field = s;
    }
  });
  CHECK(verify_envelope(parse_envelope(url_safe, "url.json"), load_public_key(dir / "k.pub")).ok);
  // A missing envelope file.
  ShellResult missing = run_mrforge_cli({"verify-signature", "--pub", dir / "k.pub", dir / "absent.json"});
  CHECK(missing.exit_code == 2);
  CHECK_THAT(missing.err, Catch::Contains(dir / "absent.json"));
}

// --- the commands on a real build output ----------------------------------------------------

TEST_CASE("keygen, sign and verify-signature on the bundled guest's output, checked by other implementations",
          "[signing][network]") {
  const test::PublishedGuest &g = test::published_guest();
  TempDir dir("h1-flow");
  for (KeyType type : k_key_types) {
    INFO(key_type_name(type));
    std::string prefix = dir / key_type_name(type);
    REQUIRE(run_mrforge_cli({"keygen", "--type", key_type_name(type), "-o", prefix}).exit_code == 0);
    std::string envelope = prefix + ".intoto.json";
    ShellResult s = run_mrforge_cli({"sign", "--key", prefix + ".key", g.out, "-o", envelope, "--json"});
    INFO(s.err);
    REQUIRE(s.exit_code == 0);
    nlohmann::json sj = nlohmann::json::parse(s.out);
    CHECK(sj["envelope"] == envelope);
    CHECK(sj["keyid"] == load_public_key(prefix + ".pub").keyid);
    CHECK(sj["predicate_type"] == "https://mrforge.dev/attestation/tdx-measurements/v1");
    // The payload's sha256 as printed, recomputed by sha256sum from Python's base64 decoding.
    ShellResult digest =
        run_shell("/usr/bin/python3 -c 'import base64,json,sys; "
                  "sys.stdout.buffer.write(base64.b64decode(json.load(open(sys.argv[1]))[\"payload\"]))' " +
                  shell_quote(envelope) + " | sha256sum | cut -d' ' -f1");
    CHECK(sj["payload_sha256"].get<std::string>() + "\n" == digest.out);
    // The subjects are every artifact listed in sha256sum.txt (same names, same digests).
    nlohmann::json statement = nlohmann::json::parse(text_of(read_envelope(envelope).payload));
    std::map<std::string, std::string> listed;
    std::istringstream sums(read_text(g.out + "/sha256sum.txt"));
    for (std::string hex, name; sums >> hex >> name;) listed[name] = hex;
    std::map<std::string, std::string> subjects;
    for (const auto &sub : statement["subject"]) subjects[sub["name"]] = sub["digest"]["sha256"];
    CHECK(sj["subjects"] == subjects.size());
    for (const auto &[name, hex] : listed) CHECK(subjects[name] == hex);

    ShellResult o = openssl_verify(dir, envelope, prefix + ".pub", type);
    CHECK(o.exit_code == 0);
    ShellResult ss = sslib_verify(dir, envelope, prefix + ".pub");
    CHECK(ss.exit_code == 0);
    CHECK_THAT(ss.out, Catch::Contains("VERIFIED"));

    ShellResult v = run_mrforge_cli({"verify-signature", "--pub", prefix + ".pub", envelope, "--artifacts", g.out});
    INFO(v.out << v.err);
    CHECK(v.exit_code == 0);
    CHECK_THAT(v.out, Catch::Contains("RESULT: OK") && Catch::Contains("MRTD") && Catch::Contains("RTMR2"));
    ShellResult vj = run_mrforge_cli({"verify-signature", "--pub", prefix + ".pub", envelope, "--json"});
    REQUIRE(vj.exit_code == 0);
    nlohmann::json vjj = nlohmann::json::parse(vj.out);
    CHECK(vjj["result"] == "ok");
    CHECK(vjj["statement"]["subjects"].size() == subjects.size());
    CHECK_FALSE(vjj["statement"]["shapes"].empty());
  }

  // Ed25519: two signings give byte-identical envelopes; the default path is beside OUT.
  std::string key = dir / "ed25519.key";
  TempDir copies("h1-copy");
  std::string out = copies / "guest";
  fs::copy(g.out, out, fs::copy_options::recursive);
  REQUIRE(run_mrforge_cli({"sign", "--key", key, out + "/"}).exit_code == 0);
  REQUIRE(fs::exists(out + ".intoto.json"));
  std::string first = read_text(out + ".intoto.json");
  REQUIRE(run_mrforge_cli({"sign", "--key", key, out, "-o", copies / "second.intoto.json"}).exit_code == 0);
  CHECK(read_text(copies / "second.intoto.json") == first);
  CHECK(read_text(dir / "ed25519.intoto.json") == first); // signed from the original directory
  // Not inside the output directory.
  ShellResult inside = run_mrforge_cli({"sign", "--key", key, out, "-o", out + "/x.intoto.json"});
  CHECK(inside.exit_code == 2);
  CHECK_FALSE(fs::exists(out + "/x.intoto.json"));

  // One changed byte in rootfs.img of a copy: --artifacts fails naming it.
  {
    std::fstream f(out + "/rootfs.img", std::ios::in | std::ios::out | std::ios::binary);
    f.seekg(4096);
    char c = 0;
    f.read(&c, 1);
    c = static_cast<char>(c ^ 0x01);
    f.seekp(4096);
    f.write(&c, 1);
  }
  ShellResult bad =
      run_mrforge_cli({"verify-signature", "--pub", dir / "ed25519.pub", out + ".intoto.json", "--artifacts", out});
  CHECK(bad.exit_code == 4);
  CHECK_THAT(bad.out, Catch::Contains("rootfs.img"));
  ShellResult bad_json = run_mrforge_cli(
      {"verify-signature", "--pub", dir / "ed25519.pub", out + ".intoto.json", "--artifacts", out, "--json"});
  CHECK(bad_json.exit_code == 4);
  nlohmann::json bj = nlohmann::json::parse(bad_json.out);
  REQUIRE(bj["artifacts"]["problems"].size() == 1);
  CHECK_THAT(bj["artifacts"]["problems"][0].get<std::string>(), Catch::Contains("rootfs.img"));
}

TEST_CASE("verify-signature fails with exit 4 on a tampered payload, signature, subject digest or payload type",
          "[signing][network]") {
  const test::PublishedGuest &g = test::published_guest();
  TempDir dir("h1-cli-tamper");
  generate_key_pair(KeyType::ed25519, dir / "k.key", dir / "k.pub");
  std::string envelope = dir / "good.intoto.json";
  REQUIRE(run_mrforge_cli({"sign", "--key", dir / "k.key", g.out, "-o", envelope}).exit_code == 0);
  const std::string json = read_text(envelope);
  REQUIRE(run_mrforge_cli({"verify-signature", "--pub", dir / "k.pub", envelope}).exit_code == 0);
  SigningKey pub = load_public_key(dir / "k.pub");
  DsseEnvelope env = read_envelope(envelope);

  // Every byte of the real statement, in the library (fast).
  size_t failures = 0;
  for (size_t i = 0; i < env.payload.size(); ++i) {
    DsseEnvelope t = env;
    t.payload[i] ^= static_cast<uint8_t>(1u << (i % 8));
    failures += verify_envelope(t, pub).ok ? 0u : 1u;
  }
  CHECK(failures == env.payload.size());

  auto expect_rejected = [&](const std::string &name, const std::string &text) {
    std::string path = dir / (name + ".json");
    write_text(path, text);
    ShellResult r = run_mrforge_cli({"verify-signature", "--pub", dir / "k.pub", path});
    INFO(name << ": " << r.out << r.err);
    CHECK(r.exit_code == 4);
    CHECK_THAT(r.err, Catch::Contains(path + ": signature does not verify"));
  };
  // A spread of positions through the CLI (first, last and between).
  for (size_t i : spread(env.payload.size(), 12))
    expect_rejected("payload" + std::to_string(i), edited(json, [i](auto &e) {
                      e["payload"] = flip_bit(e["payload"].template get<std::string>(), i);
                    }));
  for (size_t i : spread(env.signatures[0].sig.size(), 6))
    expect_rejected("sig" + std::to_string(i), edited(json, [i](auto &e) {
                      e["signatures"][0]["sig"] = flip_bit(e["signatures"][0]["sig"].template get<std::string>(), i);
                    }));
  // Each subject's digest changed in the statement, re-encoded with the old signature.
  nlohmann::ordered_json statement = nlohmann::ordered_json::parse(text_of(env.payload));
  REQUIRE(text_of(env.payload) == statement.dump()); // re-encoding alone changes nothing
  for (size_t k = 0; k < statement["subject"].size(); ++k) {
    nlohmann::ordered_json changed = statement;
    std::string hex = changed["subject"][k]["digest"]["sha256"].get<std::string>();
    hex[0] = hex[0] == '0' ? '1' : '0';
    changed["subject"][k]["digest"]["sha256"] = hex;
    std::string payload = base64_encode(bytes_of(changed.dump()));
    expect_rejected("subject" + std::to_string(k), edited(json, [&](auto &e) { e["payload"] = payload; }));
  }
  expect_rejected("type", edited(json, [](auto &e) { e["payloadType"] = "application/vnd.in-toto+jsoN"; }));
  // A correctly signed envelope whose payload type is not in-toto: refused as bad input.
  DsseEnvelope other = sign_envelope("application/vnd.example+json", env.payload, load_private_key(dir / "k.key"));
  write_text(dir / "other-type.json", envelope_json(other));
  ShellResult r = run_mrforge_cli({"verify-signature", "--pub", dir / "k.pub", dir / "other-type.json"});
  CHECK(r.exit_code == 2);
  CHECK_THAT(r.err, Catch::Contains("payloadType") && Catch::Contains("application/vnd.example+json"));
}
