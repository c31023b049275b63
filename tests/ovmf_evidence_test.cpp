// The OVMF variant decided by evidence: the variable store in the CFV (Debian's VARS images with
// and without enrolled keys), the fingerprints of known builds, contradictions named on both
// sides, and unknown firmware reported as an assumption.
#include "test_support.hpp"

#include <measure/documents/profile_yaml.hpp>
#include <measure/engine/ovmf_evidence.hpp>
#include <measure/formats/firmware.hpp>
#include <measure/formats/variable_store.hpp>
#include <measure/util/errors.hpp>
#include <measure/util/hash.hpp>

#include <catch2/catch.hpp>

#include <filesystem>

using namespace mrforge;
using namespace mrforge::test;

namespace {

// Debian's Microsoft-keys VARS template (ovmf package, 128 KiB like the CFV of the unified
// OVMF.fd), spliced into the unified image: a firmware with enrolled Secure Boot keys.
const char *k_ms_vars = "/usr/share/OVMF/OVMF_VARS.ms.fd";

Bytes with_ms_vars() {
  Bytes fw = read(debian_ovmf());
  REQUIRE(std::filesystem::exists(k_ms_vars));
  Bytes vars = read(k_ms_vars);
  REQUIRE(vars.size() <= fw.size());
  std::copy(vars.begin(), vars.end(), fw.begin());
  return fw;
}

ByteView cfv_of(const Bytes &fw, FirmwareImage &image) {
  image = parse_firmware(fw, "fw");
  for (const TdvfSection &s : image.sections)
    if (s.type == TdvfSectionType::cfv) return ByteView(fw.data() + s.data_offset, s.raw_size);
  FAIL("no CFV section");
  return {};
}

uint32_t le32(const Bytes &b, size_t at) {
  return uint32_t{b[at]} | uint32_t{b[at + 1]} << 8 | uint32_t{b[at + 2]} << 16 | uint32_t{b[at + 3]} << 24;
}

std::vector<OvmfVariant> shipped() {
  std::vector<OvmfVariant> out;
  for (const std::string &n : shipped_ovmf_variants()) out.push_back(load_ovmf_variant(n));
  return out;
}

} // namespace

TEST_CASE("The CFV's variable store lists the keys a firmware starts with", "[ovmf_evidence]") {
  FirmwareImage image;
  Bytes plain = read(debian_ovmf());
  VariableStore empty = parse_variable_store(cfv_of(plain, image), "OVMF.fd", 0);
  CHECK(empty.authenticated);
  Guid global = Guid::parse("8be4df61-93ca-11d2-aa0d-00e098032b8c");
  Guid image_security = Guid::parse("d719b2cb-3d3a-4596-a3bc-dad00e67656f");
  for (const char *name : {"PK", "KEK"}) CHECK(empty.find(name, global) == nullptr);
  for (const char *name : {"db", "dbx"}) CHECK(empty.find(name, image_security) == nullptr);

  Bytes ms = with_ms_vars();
  VariableStore keys = parse_variable_store(cfv_of(ms, image), "ms", 0);
  const StoredVariable *pk = keys.find("PK", global);
  const StoredVariable *kek = keys.find("KEK", global);
  const StoredVariable *db = keys.find("db", image_security);
  const StoredVariable *dbx = keys.find("dbx", image_security);
  REQUIRE(pk);
  REQUIRE(kek);
  REQUIRE(db);
  REQUIRE(dbx);
  // Each holds EFI_SIGNATURE_LISTs whose sizes add up to the variable (UEFI 2.10 32.4.1): the
  // parser cut the data exactly. PK is one X.509 certificate (EFI_CERT_X509_GUID).
  for (const StoredVariable *v : {pk, kek, db, dbx}) {
    INFO(v->name);
    size_t at = 0, lists = 0;
    while (at + 28 <= v->data.size()) {
      uint32_t list_size = le32(v->data, at + 16);
      REQUIRE(list_size >= 28);
      at += list_size;
      ++lists;
    }
    CHECK(at == v->data.size());
    CHECK(lists >= 1);
  }
  CHECK(Guid::from_bytes(ByteView(pk->data.data(), 16)).str() == "a5c059a1-94e4-4aa7-87b5-ab155c2bf072");
  // Authenticated variables: non-volatile, boot and runtime access, time-based authenticated write.
  CHECK(pk->attributes == 0x27);

  // Truncated anywhere, the store is refused or yields a prefix of the variables; never a crash.
  ByteView cfv = cfv_of(ms, image);
  for (size_t n = 0; n < 0x1000; n += 7)
    CHECK_THROWS_AS(parse_variable_store(cfv.unchecked_sub(0, n), "ms", 0), FormatError);
}

TEST_CASE("A known firmware build decides the OVMF variant, a contradicting one is refused naming both",
          "[ovmf_evidence]") {
  std::vector<OvmfVariant> known = shipped();
  Bytes fw = read(debian_ovmf());
  NamedBytes file(fw, "OVMF.fd", debian_ovmf());
  OvmfVariant fallback = load_ovmf_variant("edk2-stable202411");

  // Identified by its sha256, over the profile's default.
  OvmfChoice c = choose_ovmf_variant(file, known, std::nullopt, fallback, "qemu-8.2-tdx");
  CHECK(c.variant.name == "debian-bookworm-2022.11");
  CHECK(c.basis == VariantBasis::identified);
  CHECK_THAT(c.reason, Catch::StartsWith("OVMF.fd (sha256 " + to_hex(sha256(fw)).substr(0, 16)) &&
                           Catch::Contains("Debian bookworm ovmf 2022.11-6+deb12u2"));
  CHECK(c.describe() == "identified: " + c.reason); // the basis is named once, in front
  // Asked for and consistent.
  OvmfChoice given = choose_ovmf_variant(
      file, known, RequestedVariant{load_ovmf_variant("debian-bookworm-2022.11"), "--ovmf-variant"}, fallback, "p");
  CHECK(given.basis == VariantBasis::given);
  CHECK_THAT(given.reason, Catch::StartsWith("--ovmf-variant, confirmed: "));
  // Asked for and contradicting: an error naming the option, the variant asked for and the one
  // the fingerprint names.
  CHECK_THROWS_WITH(
      choose_ovmf_variant(file, known, RequestedVariant{fallback, "--ovmf-variant"}, fallback, "qemu-8.2-tdx"),
      Catch::StartsWith("--ovmf-variant: OVMF variant edk2-stable202411 contradicts the firmware: OVMF.fd") &&
          Catch::Contains("which OVMF variant debian-bookworm-2022.11 describes"));

  // An unknown build (one byte of code changed): the default, reported as an assumption.
  Bytes other = fw;
  other[0x100000] ^= 1;
  NamedBytes other_file(other, "other.fd");
  OvmfChoice assumed = choose_ovmf_variant(other_file, known, std::nullopt, fallback, "qemu-8.2-tdx");
  CHECK(assumed.variant.name == "edk2-stable202411");
  CHECK(assumed.basis == VariantBasis::assumed);
  CHECK_THAT(assumed.reason, Catch::StartsWith("the default of profile qemu-8.2-tdx; other.fd (sha256 ") &&
                                 Catch::EndsWith(") is not a build mrforge knows"));
  // No firmware at all: an assumption too.
  CHECK(choose_ovmf_variant(std::nullopt, known, std::nullopt, fallback, "p").basis == VariantBasis::assumed);
}

TEST_CASE("Enrolled keys in the firmware contradict a variant that says they are absent", "[ovmf_evidence]") {
  std::vector<OvmfVariant> known = shipped();
  Bytes ms = with_ms_vars();
  NamedBytes file(ms, "ms.fd");
  OvmfVariant fallback = load_ovmf_variant("edk2-stable202411");
  CHECK(variant_store_contradictions(fallback, file).size() == 4);
  CHECK_THROWS_WITH(choose_ovmf_variant(file, known, std::nullopt, fallback, "qemu-8.2-tdx"),
                    Catch::StartsWith("OVMF variant: edk2-stable202411 (the default of profile qemu-8.2-tdx) "
                                      "contradicts the firmware ms.fd: the firmware's variable store holds PK (") &&
                        Catch::Contains("OVMF variant edk2-stable202411 says dbx is absent"));
  // A variant that names the enrolled PK agrees on it; a different PK is named as different.
  FirmwareImage image;
  VariableStore store = parse_variable_store(cfv_of(ms, image), "ms", 0);
  OvmfVariant enrolled = fallback;
  for (UefiVariable &v : enrolled.secure_boot_variables)
    if (const StoredVariable *s = store.find(v.name, v.vendor)) v.data = s->data;
  CHECK(variant_store_contradictions(enrolled, file).empty());
  enrolled.secure_boot_variables[1].data.back() ^= 1; // PK
  std::vector<std::string> one = variant_store_contradictions(enrolled, file);
  REQUIRE(one.size() == 1);
  CHECK_THAT(one[0], Catch::StartsWith("the firmware's PK (sha256 "));
  // The plain image has no keys: every shipped variant agrees with it structurally.
  Bytes plain = read(debian_ovmf());
  for (const OvmfVariant &v : known) CHECK(variant_store_contradictions(v, NamedBytes(plain, "OVMF.fd")).empty());
}
