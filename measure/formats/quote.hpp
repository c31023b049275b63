// Intel TDX quotes (versions 4 and 5) and raw TDREPORTs: the measured fields a verifier compares
// with a prediction. Signatures and certificates are carried, not checked (that needs Intel's
// collateral and is the job of a DCAP verification library).
#pragma once

#include <measure/util/bytes.hpp>
#include <measure/util/hash.hpp>

#include <array>
#include <cstddef>
#include <cstdint>
#include <string>

namespace mrforge {

// Intel TDX DCAP Quote Generation Library and Quote Verification Library API, appendix
// "Quote Format" (v4) and Quote Format v5; TDX module ABI (TDREPORT_STRUCT).
constexpr uint32_t k_tee_type_sgx = 0x00000000;
constexpr uint32_t k_tee_type_tdx = 0x00000081;
constexpr uint16_t k_quote_body_sgx = 1;  // v5 body type: SGX enclave report
constexpr uint16_t k_quote_body_td10 = 2; // v5 body type: TD report, TDX 1.0 (584 bytes)
constexpr uint16_t k_quote_body_td15 = 3; // v5 body type: TD report, TDX 1.5 (648 bytes)
constexpr size_t k_quote_header_size = 48;
constexpr size_t k_td10_body_size = 584;
constexpr size_t k_td15_body_size = 648;
constexpr size_t k_td_report_size = 1024; // TDREPORT_STRUCT
// Cap on the signature data length (ours): the ECDSA signature, attestation key, QE report and
// PCK certificate chain of real quotes take about 4.3 KB.
constexpr uint32_t k_max_quote_signature_size = 1u << 20;

// The header and TD report body of a TDX quote, or the same fields of a TDREPORT.
// Byte strings keep the quote's byte order; integer fields are read little-endian.
struct TdQuote {
  // Header (48 bytes). For a TDREPORT: version 0, tee_type 0x81, the rest zero/empty.
  uint16_t version = 0;
  uint16_t attestation_key_type = 0; // 2: ECDSA-256 with P-256, 3: ECDSA-384 with P-384
  uint32_t tee_type = 0;
  uint16_t qe_svn = 0;
  uint16_t pce_svn = 0;
  Bytes qe_vendor_id; // 16
  Bytes user_data;    // 20

  // k_quote_body_td10 or k_quote_body_td15 (a v4 quote is always TD 1.0; a TDREPORT of
  // REPORTTYPE.VERSION 1 is TD 1.5).
  uint16_t body_type = 0;

  // TD report body.
  Bytes tee_tcb_svn;  // 16
  Bytes mrseam;       // 48
  Bytes mrsignerseam; // 48
  uint64_t seam_attributes = 0;
  uint64_t td_attributes = 0;
  uint64_t xfam = 0;
  Sha384 mrtd{};
  Bytes mrconfigid;    // 48
  Bytes mrowner;       // 48
  Bytes mrownerconfig; // 48
  std::array<Sha384, 4> rtmr{};
  Bytes report_data; // 64
  // TD 1.5 only (empty for TD 1.0).
  Bytes tee_tcb_svn2; // 16
  Bytes mrservicetd;  // 48 (TDREPORT: SERVTD_HASH)

  // The quote's signature data (empty for a TDREPORT), not verified.
  Bytes signature_data;
  // Bytes the quote occupies, and the zero bytes after it (the fill of a fixed-size buffer, as
  // real quotes arrive in; not part of the quote). Any other byte after the quote is refused.
  size_t quote_bytes = 0;
  size_t padding_bytes = 0;
};

// Parses a binary TDX quote, version 4 or 5. Throws FormatError{source, offset} on a truncated
// quote, an SGX quote ("this is an SGX quote, not TDX"), an unknown version, TEE type,
// attestation key type (only 2, ECDSA-256, has a signature layout) or v5 body type, a v5 body
// size that does not match its type, signature data that does not fit (or exceeds
// k_max_quote_signature_size) or whose inner lengths do not add up to its length exactly, and
// bytes after the quote that are not zero padding (see quote.cpp).
TdQuote parse_td_quote(ByteView data, const std::string &source);

// Parses a raw 1024-byte TDREPORT_STRUCT (from TDG.MR.REPORT / the Linux tdx-guest ioctl):
// REPORTMACSTRUCT (256), TEE_TCB_INFO (239), reserved (17), TDINFO (512, at offset 512). The
// MAC cannot be checked outside the platform, but TEE_TCB_INFO_HASH and TEE_INFO_HASH must equal
// the SHA-384 of TEE_TCB_INFO and TDINFO. Throws FormatError on a wrong size, an SGX or unknown
// report type or version, or a hash mismatch.
TdQuote parse_td_report(ByteView data, const std::string &source);

} // namespace mrforge
