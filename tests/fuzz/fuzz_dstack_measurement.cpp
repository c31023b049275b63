// Fuzz target for dstack's measurement.tdx.cbor reader (libcbor underneath), the TD HOB witness
// inside it and the sha256sum.txt reader. Any input must either parse or throw mrforge::Error; a
// file that parses must write back to a file that parses to the same values, and its witness, if
// it parses, must write back to the same bytes. Seeds (tests/fuzz/corpus/dstack_measurement): the
// real file of ../shared/vectors/dstack/tdx-lite-getquote.json, its checksum file, and malformed
// ones (see tests/fuzz/README.md).
#include <measure/dstack/checksum_file.hpp>
#include <measure/dstack/td_hob_witness.hpp>
#include <measure/dstack/tdx_measurement_file.hpp>
#include <measure/util/errors.hpp>

#include <cstddef>
#include <cstdint>
#include <cstdlib>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  const mrforge::ByteView input(data, size);
  try {
    mrforge::TdxMeasurementFile m = mrforge::parse_tdx_measurement_file(input, "fuzz");
    mrforge::Bytes again = mrforge::write_tdx_measurement_file(m);
    mrforge::TdxMeasurementFile back = mrforge::parse_tdx_measurement_file(again, "again");
    if (back.ovmf != m.ovmf || back.td_hob != m.td_hob || back.kernel_authenticode != m.kernel_authenticode ||
        back.mrtd_two_pass != m.mrtd_two_pass)
      std::abort();
    try {
      auto sections = mrforge::parse_td_hob_witness(m.td_hob, "fuzz: tdvf.td_hob");
      if (mrforge::td_hob_witness(sections, "fuzz") != m.td_hob) std::abort();
    } catch (const mrforge::Error &) {
    }
  } catch (const mrforge::Error &) {
  }
  try {
    (void)mrforge::parse_td_hob_witness(input, "fuzz");
  } catch (const mrforge::Error &) {
  }
  try {
    (void)mrforge::checksum_file_entry(input, mrforge::k_tdx_measurement_file_name, "fuzz");
  } catch (const mrforge::Error &) {
  }
  return 0;
}
