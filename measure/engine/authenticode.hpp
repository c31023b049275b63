// PE/COFF Authenticode image digest, computed the way UEFI firmware measures a boot application.
#pragma once

#include <measure/formats/pe.hpp>
#include <measure/util/bytes.hpp>
#include <measure/util/hash.hpp>

#include <cstdint>
#include <optional>

namespace mrforge {

// The Authenticode digest of `image` as edk2 computes it when it measures an image
// (SecurityPkg Tcg2Dxe/TdTcg2Dxe MeasurePeImageAndExtend; the same walk as DxeImageVerificationLib
// HashPeImage): the headers up to SizeOfHeaders without the CheckSum field and the
// certificate-table directory entry; every section with raw data, in PointerToRawData order;
// then the bytes from SUM_OF_BYTES_HASHED (SizeOfHeaders plus all SizeOfRawData) to the end of
// the file less the certificate table's size. No padding is added (see authenticode.cpp).
// `pe` must be parse_pe() of these very bytes (for a QEMU-patched kernel: of the patched copy).
// Reads every hashed byte once, straight from `image`. Cannot fail on a validated image; throws
// std::invalid_argument if `image` is not the size `pe` was parsed from.
Bytes authenticode(ByteView image, const PeImage &pe, HashAlgorithm alg);
// authenticode() of the image whose first head.size() bytes are `head` and the rest those of
// `image`: for a kernel whose patched first page is a copy (qemu_patched_head) and the rest the
// mapped file, so that the kernel is never copied whole. `pe` must be parsed from that combined
// image (parse_pe_head of the head). std::invalid_argument if the head is longer than the image.
Bytes authenticode(ByteView head, ByteView image, const PeImage &pe, HashAlgorithm alg);

// Where the image's certificate table (its WIN_CERTIFICATE list) is.
struct CertificateTable {
  uint32_t offset = 0;
  uint32_t size = 0;
};

// The certificate table of a signed image; nullopt when the image carries no signature.
std::optional<CertificateTable> certificate_table(const PeImage &pe);
// Whether the image carries an Authenticode signature (a non-empty certificate table). Says
// nothing about the signature's validity: firmware measures the image the same either way.
bool has_signature(const PeImage &pe);

} // namespace mrforge
