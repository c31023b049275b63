// TDX quote and TDREPORT parser.
//
// Quote v4 (Intel SGX/TDX DCAP Quote Generation Library and Quote Verification Library API,
// appendix "TD Quote Format"), little-endian:
//   header (48):  u16 version, u16 attestation key type, u32 TEE type (0x81 TDX, 0 SGX),
//                 u16 QE SVN, u16 PCE SVN, QE vendor id 16, user data 20
//   TD report body (584): TEE_TCB_SVN 16, MRSEAM 48, MRSIGNERSEAM 48, SEAMATTRIBUTES 8,
//                 TDATTRIBUTES 8, XFAM 8, MRTD 48, MRCONFIGID 48, MROWNER 48, MROWNERCONFIG 48,
//                 RTMR0..3 4x48, REPORTDATA 64
//   u32 signature data length, signature data
// Signature data (ECDSA 256-bit Quote Signature Data Structure, the only one defined for v4 and
// v5 quotes): ECDSA signature 64, attestation public key 64, certification data {u16 type, u32
// size, data}; certification data type 6 (QE report certification data) nests QE report 384, QE
// report signature 64, QE authentication data {u16 size, data} and QE certification data {u16
// type, u32 size, data}. Every length must add up exactly: a signature length the structure does
// not fill, or that its parts overrun, is refused where the inconsistent length is.
//
// After the quote: real quotes arrive in fixed-size buffers, zero-filled past the quote (of the
// vectors in ../shared/vectors, dstack's, trustee's, cc-trusted-api's and Azure's v4 quotes are
// 4936 bytes in a 5006-byte buffer, google's cos-113 and automata's v4 quote 4935 in an 8000-byte
// one). Zero bytes after the quote are accepted as that padding and counted (TdQuote::
// padding_bytes); any other byte after the quote is refused, at its offset. (go-tdx-guest's
// tdx_prod_quote_SPR_E4.dat appends "extra bytes(only for testing purpose)": refused.)
// Quote v5 inserts u16 body type (2 = TD 1.0, 3 = TD 1.5; 1 = SGX) and u32 body size after the
// header; the TD 1.5 body (648) appends TEE_TCB_SVN2 16 and MRSERVICETD 48.
//
// TDREPORT_STRUCT (Intel TDX Module ABI, TDG.MR.REPORT; 1024 bytes):
//   REPORTMACSTRUCT (256): REPORTTYPE {u8 type 0x81, u8 subtype 0, u8 version, u8 reserved},
//     reserved 12, CPUSVN 16, TEE_TCB_INFO_HASH 48, TEE_INFO_HASH 48, REPORTDATA 64,
//     reserved 32, MAC 32
//   TEE_TCB_INFO (239) at 256: VALID 8, TEE_TCB_SVN 16, MRSEAM 48, MRSIGNERSEAM 48,
//     ATTRIBUTES 8, TEE_TCB_SVN2 16 (version 1), reserved
//   reserved 17
//   TDINFO_STRUCT (512) at 512: ATTRIBUTES 8, XFAM 8, MRTD 48, MRCONFIGID 48, MROWNER 48,
//     MROWNERCONFIG 48, RTMR0..3 4x48, SERVTD_HASH 48 (version 1), reserved
// TEE_TCB_INFO_HASH = SHA384(TEE_TCB_INFO), TEE_INFO_HASH = SHA384(TDINFO_STRUCT).
#include <measure/formats/quote.hpp>

#include <measure/util/errors.hpp>
#include <measure/util/reader.hpp>

namespace mrforge {

namespace {

constexpr uint16_t k_ak_ecdsa_p256 = 2; // attestation key type: ECDSA-256-with-P-256 curve
// Type 3 (ECDSA-384-with-P-384) is named by the quote format but has no signature data layout
// ("currently not supported" in Intel's DCAP documentation): refused as unknown.

// ECDSA 256-bit Quote Signature Data Structure (Intel DCAP, quote format v4 appendix).
constexpr size_t k_ecdsa256_signature_size = 64;
constexpr size_t k_ecdsa256_key_size = 64;
constexpr uint16_t k_cert_type_qe_report = 6; // QE Report Certification Data
constexpr size_t k_qe_report_size = 384;      // an SGX enclave report
constexpr size_t k_qe_report_signature_size = 64;

// TDREPORT_STRUCT offsets (TDX Module ABI).
constexpr size_t k_report_type_at = 0;
constexpr size_t k_report_tee_tcb_info_hash_at = 32;
constexpr size_t k_report_tee_info_hash_at = 80;
constexpr size_t k_report_data_at = 128;
constexpr size_t k_tee_tcb_info_at = 256;
constexpr size_t k_tee_tcb_info_size = 239;
constexpr size_t k_td_info_at = 512;
constexpr size_t k_td_info_size = 512;
constexpr uint8_t k_report_version_td10 = 0;
constexpr uint8_t k_report_version_td15 = 1;

Sha384 read_sha384(Reader &r) {
  ByteView b = r.read_bytes(48);
  Sha384 d{};
  for (size_t i = 0; i < d.size(); ++i) d[i] = b[i];
  return d;
}

Bytes read_field(Reader &r, size_t n) { return r.read_bytes(n).to_bytes(); }

bool matches_sha384(ByteView data, ByteView expected) {
  Sha384 d = sha384(data);
  return ByteView(d.data(), d.size()) == expected;
}

// The TD's own fields, in the order both the quote's TD report body and TDREPORT's TDINFO hold
// them: ATTRIBUTES, XFAM, MRTD, MRCONFIGID, MROWNER, MROWNERCONFIG, RTMR0-3.
void read_td_fields(Reader &r, TdQuote &q) {
  q.td_attributes = r.read_le<uint64_t>();
  q.xfam = r.read_le<uint64_t>();
  q.mrtd = read_sha384(r);
  q.mrconfigid = read_field(r, 48);
  q.mrowner = read_field(r, 48);
  q.mrownerconfig = read_field(r, 48);
  for (Sha384 &mr : q.rtmr) mr = read_sha384(r);
}

// The TD report body (584 or 648 bytes) that r is positioned at.
void read_td_body(Reader &r, uint16_t body_type, TdQuote &q) {
  q.body_type = body_type;
  q.tee_tcb_svn = read_field(r, 16);
  q.mrseam = read_field(r, 48);
  q.mrsignerseam = read_field(r, 48);
  q.seam_attributes = r.read_le<uint64_t>();
  read_td_fields(r, q);
  q.report_data = read_field(r, 64);
  if (body_type == k_quote_body_td15) {
    q.tee_tcb_svn2 = read_field(r, 16);
    q.mrservicetd = read_field(r, 48);
  }
}

// A length-prefixed block {u32 size (or u16 with `u16_size`), data} inside the signature data:
// its size must fit what is left of the enclosing structure.
Reader sized_block(Reader &r, bool u16_size, const char *what) {
  size_t at = r.pos();
  uint32_t size = u16_size ? r.read_le<uint16_t>() : r.read_le<uint32_t>();
  if (size > r.remaining())
    r.fail_at(at, std::string(what) + " size " + std::to_string(size) + " overruns the " +
                      std::to_string(r.remaining()) + " bytes left of the signature data");
  Reader block = r.sub(r.pos(), size, what);
  r.skip(size);
  return block;
}

void expect_all_used(const Reader &r, const char *what) {
  if (r.remaining() != 0)
    r.fail_at(r.pos(), std::string(what) + " leaves " + std::to_string(r.remaining()) +
                           " bytes unaccounted for: its length does not match its parts");
}

// The ECDSA 256-bit Quote Signature Data Structure: every length adds up exactly.
void check_signature_data(Reader sig) {
  sig.skip(k_ecdsa256_signature_size + k_ecdsa256_key_size);
  uint16_t cert_type = sig.read_le<uint16_t>();
  Reader cert = sized_block(sig, false, "certification data");
  expect_all_used(sig, "the signature data length");
  if (cert_type != k_cert_type_qe_report) return; // other types carry opaque data of the given size
  cert.skip(k_qe_report_size + k_qe_report_signature_size);
  (void)sized_block(cert, true, "QE authentication data");
  (void)cert.read_le<uint16_t>(); // QE certification data type (5: the PCK certificate chain, PEM)
  (void)sized_block(cert, false, "QE certification data");
  expect_all_used(cert, "the QE report certification data size");
}

} // namespace

TdQuote parse_td_quote(ByteView data, const std::string &source) {
  Reader r(data, source);
  TdQuote q;
  q.version = r.read_le<uint16_t>();
  q.attestation_key_type = r.read_le<uint16_t>();
  q.tee_type = r.read_le<uint32_t>();
  if (q.tee_type == k_tee_type_sgx)
    r.fail_at(4, "this is an SGX quote (version " + std::to_string(q.version) + ", TEE type 0x00), not TDX");
  if (q.version != 4 && q.version != 5)
    r.fail_at(0, "quote version " + std::to_string(q.version) + " is not supported (TDX quotes are version 4 or 5)");
  if (q.tee_type != k_tee_type_tdx) r.fail_at(4, "TEE type " + hex_u64(q.tee_type) + " is not TDX (0x81)");
  if (q.attestation_key_type != k_ak_ecdsa_p256)
    r.fail_at(2, "unknown attestation key type " + std::to_string(q.attestation_key_type) +
                     " (2, ECDSA-256 with P-256, is the one with a defined signature layout)");
  q.qe_svn = r.read_le<uint16_t>();
  q.pce_svn = r.read_le<uint16_t>();
  q.qe_vendor_id = read_field(r, 16);
  q.user_data = read_field(r, 20);

  uint16_t body_type = k_quote_body_td10;
  size_t body_size = k_td10_body_size;
  if (q.version == 5) {
    size_t type_at = r.pos();
    body_type = r.read_le<uint16_t>();
    size_t size_at = r.pos();
    uint32_t size = r.read_le<uint32_t>();
    if (body_type == k_quote_body_sgx)
      r.fail_at(type_at, "this is an SGX quote (version 5, body type 1: enclave report), not TDX");
    if (body_type == k_quote_body_td10)
      body_size = k_td10_body_size;
    else if (body_type == k_quote_body_td15)
      body_size = k_td15_body_size;
    else
      r.fail_at(type_at, "unknown quote body type " + std::to_string(body_type) + " (2: TD 1.0, 3: TD 1.5)");
    if (size != body_size)
      r.fail_at(size_at, "body size " + std::to_string(size) + " does not match body type " +
                             std::to_string(body_type) + " (" + std::to_string(body_size) + " bytes)");
  }
  Reader body = r.sub(r.pos(), body_size, "TD report body");
  read_td_body(body, body_type, q);
  r.skip(body_size);

  size_t sig_at = r.pos();
  uint32_t sig_size = r.read_le<uint32_t>();
  if (sig_size > k_max_quote_signature_size)
    r.fail_at(sig_at, "signature data length " + std::to_string(sig_size) + " exceeds the cap of " +
                          std::to_string(k_max_quote_signature_size));
  if (sig_size > r.remaining())
    r.fail_at(sig_at, "signature data length " + std::to_string(sig_size) + " exceeds the " +
                          std::to_string(r.remaining()) + " bytes left (truncated quote)");
  check_signature_data(r.sub(r.pos(), sig_size, "signature data"));
  q.signature_data = read_field(r, sig_size);
  q.quote_bytes = r.pos();
  while (r.remaining() > 0) {
    size_t at = r.pos();
    if (r.read_le<uint8_t>() != 0)
      r.fail_at(at, std::to_string(data.size() - q.quote_bytes) + " bytes follow the quote's end at offset " +
                        std::to_string(q.quote_bytes) +
                        " and they are not zero padding (a quote buffer's fill): not "
                        "part of the quote, and not accepted");
  }
  q.padding_bytes = data.size() - q.quote_bytes;
  return q;
}

TdQuote parse_td_report(ByteView data, const std::string &source) {
  Reader r(data, source);
  if (data.size() != k_td_report_size)
    r.fail_at(data.size() < k_td_report_size ? data.size() : k_td_report_size,
              "a TDREPORT is " + std::to_string(k_td_report_size) + " bytes, this is " + std::to_string(data.size()));
  Reader type = r.sub(k_report_type_at, 4, "REPORTTYPE");
  uint8_t tee = type.read_le<uint8_t>();
  uint8_t subtype = type.read_le<uint8_t>();
  uint8_t version = type.read_le<uint8_t>();
  if (tee == k_tee_type_sgx) r.fail_at(0, "this is an SGX report (REPORTTYPE.TYPE 0x00), not TDX");
  if (tee != k_tee_type_tdx) r.fail_at(0, "REPORTTYPE.TYPE " + hex_u64(tee) + " is not TDX (0x81)");
  if (subtype != 0) r.fail_at(1, "REPORTTYPE.SUBTYPE " + std::to_string(subtype) + " is not 0");
  if (version != k_report_version_td10 && version != k_report_version_td15)
    r.fail_at(2, "REPORTTYPE.VERSION " + std::to_string(version) + " is not 0 (TDX 1.0) or 1 (TDX 1.5)");

  // Integrity of the two halves (the MAC itself can only be checked by the TDX module).
  if (!matches_sha384(r.view(k_tee_tcb_info_at, k_tee_tcb_info_size, "TEE_TCB_INFO"),
                      r.view(k_report_tee_tcb_info_hash_at, 48, "TEE_TCB_INFO_HASH")))
    r.fail_at(k_report_tee_tcb_info_hash_at, "TEE_TCB_INFO_HASH is not the SHA-384 of TEE_TCB_INFO");
  if (!matches_sha384(r.view(k_td_info_at, k_td_info_size, "TDINFO"),
                      r.view(k_report_tee_info_hash_at, 48, "TEE_INFO_HASH")))
    r.fail_at(k_report_tee_info_hash_at, "TEE_INFO_HASH is not the SHA-384 of TDINFO");

  TdQuote q;
  q.tee_type = k_tee_type_tdx;
  q.body_type = version == k_report_version_td15 ? k_quote_body_td15 : k_quote_body_td10;
  Reader rd = r.sub(k_report_data_at, 64, "REPORTDATA");
  q.report_data = read_field(rd, 64);

  Reader tcb = r.sub(k_tee_tcb_info_at, k_tee_tcb_info_size, "TEE_TCB_INFO");
  tcb.skip(8); // VALID
  q.tee_tcb_svn = read_field(tcb, 16);
  q.mrseam = read_field(tcb, 48);
  q.mrsignerseam = read_field(tcb, 48);
  q.seam_attributes = tcb.read_le<uint64_t>();
  if (q.body_type == k_quote_body_td15) q.tee_tcb_svn2 = read_field(tcb, 16);

  Reader info = r.sub(k_td_info_at, k_td_info_size, "TDINFO");
  read_td_fields(info, q);
  if (q.body_type == k_quote_body_td15) q.mrservicetd = read_field(info, 48);
  q.quote_bytes = k_td_report_size;
  return q;
}

} // namespace mrforge
