#include "test_support.hpp"

#include <measure/engine/authenticode.hpp>
#include <measure/formats/pe.hpp>
#include <measure/formats/setup_header.hpp>
#include <measure/util/hash.hpp>

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include <openssl/asn1.h>
#include <openssl/objects.h>
#include <openssl/pkcs7.h>

#include <fstream>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>

using namespace mrforge;

namespace {

// The messageDigest of the Authenticode signature in a signed PE: WIN_CERTIFICATE (u32 dwLength,
// u16 wRevision, u16 wCertificateType = 2 PKCS_SIGNED_DATA) at the certificate table, then a
// PKCS#7 SignedData whose content (type SpcIndirectDataContent, 1.3.6.1.4.1.311.2.1.4) is
// SEQUENCE { SpcAttributeTypeAndOptionalValue, DigestInfo SEQUENCE { AlgorithmIdentifier,
// OCTET STRING digest } }. Decoded with OpenSSL's ASN.1 parsers, no fixed offsets.
struct SignedDigest {
  int digest_nid = NID_undef;
  Bytes digest;
};

struct Pkcs7Free {
  void operator()(PKCS7 *p) const { PKCS7_free(p); }
};
struct SequenceFree {
  void operator()(ASN1_SEQUENCE_ANY *s) const { sk_ASN1_TYPE_pop_free(s, ASN1_TYPE_free); }
};
using SequencePtr = std::unique_ptr<ASN1_SEQUENCE_ANY, SequenceFree>;

SequencePtr decode_sequence(const ASN1_TYPE *t) {
  REQUIRE(t != nullptr);
  REQUIRE(ASN1_TYPE_get(t) == V_ASN1_SEQUENCE);
  const unsigned char *p = t->value.sequence->data;
  SequencePtr seq(d2i_ASN1_SEQUENCE_ANY(nullptr, &p, t->value.sequence->length));
  REQUIRE(seq != nullptr);
  return seq;
}

SignedDigest signed_digest(const Bytes &image, const PeImage &pe) {
  const auto table = certificate_table(pe);
  REQUIRE(table);
  REQUIRE(table->size > 8);
  const uint8_t *cert = image.data() + table->offset;
  const uint32_t length =
      uint32_t{cert[0]} | uint32_t{cert[1]} << 8 | uint32_t{cert[2]} << 16 | uint32_t{cert[3]} << 24;
  const uint16_t revision = static_cast<uint16_t>(cert[4] | cert[5] << 8);
  const uint16_t type = static_cast<uint16_t>(cert[6] | cert[7] << 8);
  REQUIRE(length <= table->size);
  CHECK(revision == 0x0200);
  REQUIRE(type == 0x0002); // WIN_CERT_TYPE_PKCS_SIGNED_DATA

  const unsigned char *p = cert + 8;
  std::unique_ptr<PKCS7, Pkcs7Free> p7(d2i_PKCS7(nullptr, &p, static_cast<long>(length - 8)));
  REQUIRE(p7 != nullptr);
  REQUIRE(PKCS7_type_is_signed(p7.get()));
  PKCS7 *content = p7->d.sign->contents;
  REQUIRE(content != nullptr);
  char oid[64];
  OBJ_obj2txt(oid, sizeof oid, content->type, 1);
  REQUIRE(std::string(oid) == "1.3.6.1.4.1.311.2.1.4"); // SPC_INDIRECT_DATA_OBJID

  SequencePtr indirect = decode_sequence(content->d.other);
  REQUIRE(sk_ASN1_TYPE_num(indirect.get()) == 2);
  SequencePtr digest_info = decode_sequence(sk_ASN1_TYPE_value(indirect.get(), 1));
  REQUIRE(sk_ASN1_TYPE_num(digest_info.get()) == 2);
  SequencePtr algorithm = decode_sequence(sk_ASN1_TYPE_value(digest_info.get(), 0));
  const ASN1_TYPE *alg_oid = sk_ASN1_TYPE_value(algorithm.get(), 0);
  REQUIRE(ASN1_TYPE_get(alg_oid) == V_ASN1_OBJECT);
  const ASN1_TYPE *digest = sk_ASN1_TYPE_value(digest_info.get(), 1);
  REQUIRE(ASN1_TYPE_get(digest) == V_ASN1_OCTET_STRING);

  SignedDigest out;
  out.digest_nid = OBJ_obj2nid(alg_oid->value.object);
  const ASN1_OCTET_STRING *octets = digest->value.octet_string;
  out.digest.assign(octets->data, octets->data + octets->length);
  return out;
}

void put16(Bytes &b, size_t pos, uint16_t v) {
  b.at(pos) = static_cast<uint8_t>(v);
  b.at(pos + 1) = static_cast<uint8_t>(v >> 8);
}
void put32(Bytes &b, size_t pos, uint32_t v) {
  for (size_t i = 0; i < 4; ++i) b.at(pos + i) = static_cast<uint8_t>(v >> (8 * i));
}

// A minimal PE32+ image (layout as in pe_test.cpp): headers [0, 0x200) with CheckSum at 0x98 and
// the certificate-table entry at 0xE8; two sections listed out of file order: ".data" raw
// [0x300, 0x400) first, ".text" raw [0x200, 0x300) second; `trailing` bytes after 0x400.
Bytes two_section_pe(size_t trailing) {
  Bytes b(0x400 + trailing, 0);
  b[0] = 'M';
  b[1] = 'Z';
  put32(b, 0x3C, 0x40);
  b[0x40] = 'P';
  b[0x41] = 'E';
  put16(b, 0x44, 0x8664);
  put16(b, 0x46, 2);
  put16(b, 0x54, 0xF0);
  put16(b, 0x58, 0x20B);
  put32(b, 0x58 + 56, 0x3000);
  put32(b, 0x58 + 60, 0x200);
  put16(b, 0x58 + 68, 10);
  put32(b, 0x58 + 108, 16);
  const size_t s0 = 0x148, s1 = 0x170;
  put32(b, s0 + 16, 0x100); // .data: SizeOfRawData 0x100 at 0x300
  put32(b, s0 + 20, 0x300);
  put32(b, s1 + 16, 0x100); // .text: SizeOfRawData 0x100 at 0x200
  put32(b, s1 + 20, 0x200);
  for (size_t i = 0x1A0; i < b.size(); ++i) b[i] = static_cast<uint8_t>(i * 13 + 1);
  put32(b, 0x98, 0xDEADBEEF); // a CheckSum, excluded from the hash
  return b;
}

Bytes concat_sha256(const Bytes &b, std::initializer_list<std::pair<size_t, size_t>> ranges) {
  Hasher h(HashAlgorithm::sha256);
  for (const auto &[begin, end] : ranges) h.update(ByteView(b.data() + begin, end - begin));
  return h.finish();
}

} // namespace

TEST_CASE("The SHA-256 Authenticode of Debian's signed 6.12 kernel equals the digest it was signed with",
          "[authenticode]") {
  const Bytes kernel = test::read(test::debian_kernel_612());
  const PeImage pe = parse_pe(kernel, "vmlinuz");
  REQUIRE(has_signature(pe));
  const SignedDigest signed_with = signed_digest(kernel, pe);
  REQUIRE(signed_with.digest_nid == NID_sha256);
  CHECK(to_hex(authenticode(kernel, pe, HashAlgorithm::sha256)) == to_hex(signed_with.digest));
}

TEST_CASE("The flashbots UKI's Authenticode SHA-256 is the value its upstream tests assert", "[authenticode]") {
  std::ifstream in(test::vector_path("tool_test_expectations.json"));
  const nlohmann::json expectations = nlohmann::json::parse(in);
  const std::string expected = expectations.at("flashbots/measured-boot measure/authentihash_test.go (ceeb7afa)")
                                   .at("uki.efi authenticode sha256")
                                   .get<std::string>();
  const Bytes uki = test::read(test::vector_path("flashbots-measured-boot/uki.efi"));
  const PeImage pe = parse_pe(uki, "uki.efi");
  CHECK_FALSE(has_signature(pe));
  CHECK_FALSE(certificate_table(pe));
  CHECK(to_hex(authenticode(uki, pe, HashAlgorithm::sha256)) == expected);
}

TEST_CASE("Authenticode hashes exactly edk2's ranges: headers without CheckSum and cert entry, sections in file "
          "order, trailing data without the certificate table, no padding",
          "[authenticode]") {
  SECTION("unsigned, with 5 trailing bytes (file size not a multiple of 8: nothing is padded)") {
    const Bytes b = two_section_pe(5);
    const PeImage pe = parse_pe(b, "test.efi");
    // SUM_OF_BYTES_HASHED = 0x200 + 0x100 + 0x100 = 0x400; trailing [0x400, 0x405).
    CHECK(authenticode(b, pe, HashAlgorithm::sha256) ==
          concat_sha256(b, {{0, 0x98}, {0x9C, 0xE8}, {0xF0, 0x200}, {0x200, 0x300}, {0x300, 0x405}}));
  }
  SECTION("signed: the certificate table at the end is left out") {
    Bytes b = two_section_pe(0x40);
    put32(b, 0xE8, 0x420); // certificate table [0x420, 0x440)
    put32(b, 0xEC, 0x20);
    const PeImage pe = parse_pe(b, "test.efi");
    REQUIRE(has_signature(pe));
    CHECK(certificate_table(pe)->offset == 0x420);
    CHECK(certificate_table(pe)->size == 0x20);
    const Bytes digest = authenticode(b, pe, HashAlgorithm::sha256);
    CHECK(digest == concat_sha256(b, {{0, 0x98}, {0x9C, 0xE8}, {0xF0, 0x200}, {0x200, 0x420}}));

    // CheckSum and the certificate bytes do not change the digest; any other byte does.
    Bytes changed = b;
    put32(changed, 0x98, 0x12345678);
    changed[0x430] ^= 0xFF;
    CHECK(authenticode(changed, parse_pe(changed, "test.efi"), HashAlgorithm::sha256) == digest);
    changed[0x410] ^= 0xFF;
    CHECK(authenticode(changed, parse_pe(changed, "test.efi"), HashAlgorithm::sha256) != digest);
  }
}

TEST_CASE("Authenticode SHA-384 of the kernel is 48 bytes and agrees with a one-shot hash of the same ranges",
          "[authenticode]") {
  const Bytes kernel = test::read(test::debian_kernel_612());
  const PeImage pe = parse_pe(kernel, "vmlinuz");
  const Bytes digest = authenticode(kernel, pe, HashAlgorithm::sha384);
  REQUIRE(digest.size() == 48);
  // The kernel's sections are contiguous from SizeOfHeaders to the certificate table, so the
  // hashed bytes are the file without CheckSum, the cert entry and the certificate table.
  Bytes flat;
  const size_t cks = static_cast<size_t>(pe.checksum_offset), entry = static_cast<size_t>(*pe.cert_dir_entry_offset);
  flat.insert(flat.end(), kernel.begin(), kernel.begin() + static_cast<long>(cks));
  flat.insert(flat.end(), kernel.begin() + static_cast<long>(cks + 4), kernel.begin() + static_cast<long>(entry));
  flat.insert(flat.end(), kernel.begin() + static_cast<long>(entry + 8), kernel.begin() + pe.cert_table_offset);
  const Sha384 one_shot = sha384(flat);
  CHECK(to_hex(digest) == to_hex(one_shot));
}

TEST_CASE("A kernel's patched first page and the rest of the file give the Authenticode of the whole patched copy",
          "[authenticode]") {
  const Bytes kernel = test::read(test::debian_kernel_612());
  const SetupHeader header = parse_setup_header(kernel, "vmlinuz");
  struct Case {
    uint64_t memory;
    std::optional<uint64_t> initrd;
    std::string cmdline;
  };
  for (const Case &c : {Case{2ull << 30, 0x1234567, "console=hvc0"}, Case{8ull << 30, std::nullopt, "vga=ext"}}) {
    QemuPatchInput in;
    in.memory_bytes = c.memory;
    in.initrd_size = c.initrd;
    in.cmdline = c.cmdline;
    const Bytes whole = qemu_patched_kernel(kernel, header, in);
    const PeImage whole_pe = parse_pe(whole, "vmlinuz");
    const Bytes head = qemu_patched_head(kernel, header, in, 4096);
    CHECK(head == Bytes(whole.begin(), whole.begin() + 4096));
    const std::optional<PeImage> pe = parse_pe_head(head, kernel.size(), "vmlinuz");
    REQUIRE(pe);
    CHECK(pe->size_of_headers == whole_pe.size_of_headers);
    CHECK(pe->checksum_offset == whole_pe.checksum_offset);
    CHECK(pe->cert_table_size == whole_pe.cert_table_size);
    REQUIRE(pe->sections.size() == whole_pe.sections.size());
    for (size_t i = 0; i < pe->sections.size(); ++i) {
      CHECK(pe->sections[i].raw_offset == whole_pe.sections[i].raw_offset);
      CHECK(pe->sections[i].raw_size == whole_pe.sections[i].raw_size);
    }
    for (HashAlgorithm alg : {HashAlgorithm::sha384, HashAlgorithm::sha256})
      CHECK(to_hex(authenticode(head, kernel, *pe, alg)) == to_hex(authenticode(whole, whole_pe, alg)));
  }
}

TEST_CASE("parse_pe_head gives up when the headers reach beyond the head or do not parse", "[authenticode]") {
  const Bytes kernel = test::read(test::debian_kernel_612());
  const PeImage whole = parse_pe(kernel, "vmlinuz");
  REQUIRE(whole.size_of_headers > 1024);
  // A head shorter than SizeOfHeaders: the whole file decides.
  CHECK_FALSE(parse_pe_head(ByteView(kernel.data(), 1024), kernel.size(), "vmlinuz"));
  // The whole file as the head is parse_pe.
  const std::optional<PeImage> all = parse_pe_head(kernel, kernel.size(), "vmlinuz");
  REQUIRE(all);
  CHECK(all->size_of_headers == whole.size_of_headers);
  // A malformed head: no result, so that the caller's parse of the whole file reports the error.
  Bytes broken(kernel.begin(), kernel.begin() + 4096);
  broken[0] = 'X';
  CHECK_FALSE(parse_pe_head(broken, kernel.size(), "vmlinuz"));
  CHECK_THROWS_AS(parse_pe_head(kernel, kernel.size() - 1, "vmlinuz"), std::invalid_argument);
  // The head must hold the fields QEMU patches.
  const SetupHeader header = parse_setup_header(kernel, "vmlinuz");
  QemuPatchInput in;
  in.memory_bytes = 2ull << 30;
  CHECK_THROWS_AS(qemu_patched_head(kernel, header, in, 0x200), std::invalid_argument);
}
