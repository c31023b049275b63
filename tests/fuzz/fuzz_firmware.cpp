// Fuzz target for the firmware layer: the OVMF GUIDed table and TDVF descriptor parser, MRTD in
// both page orders, the CFV digest and the TD HOB. Any input must either parse or throw
// mrforge::Error; a parsed image must measure without anything else escaping. The seed corpus
// (tests/fuzz/corpus/firmware, made by make_firmware_seeds.py) also runs as an ordinary test
// through corpus_runner.cpp.
#include <measure/engine/mrtd.hpp>
#include <measure/engine/td_hob.hpp>
#include <measure/formats/firmware.hpp>
#include <measure/formats/memory_layout.hpp>
#include <measure/util/errors.hpp>

#include <cstddef>
#include <cstdint>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  const mrforge::ByteView input(data, size);
  mrforge::FirmwareImage image;
  try {
    image = mrforge::parse_firmware(input, "fuzz");
  } catch (const mrforge::Error &) {
    return 0;
  }
  // Parsed metadata must always measure: only OpenSSL failures could throw here.
  (void)mrforge::compute_mrtd(input, image, mrforge::PageOrder::single_pass);
  (void)mrforge::compute_mrtd(input, image, mrforge::PageOrder::two_pass);
  try {
    (void)mrforge::cfv_digest(input, image); // throws if the image has no CFV
  } catch (const mrforge::Error &) {
  }
  try {
    // Throws for section sets QEMU cannot build a TD HOB for (no TD_HOB, PermMem, too little RAM).
    (void)mrforge::td_hob_digest(image.sections, uint64_t{2} << 30, mrforge::k_q35_memory_layout);
  } catch (const mrforge::Error &) {
  }
  return 0;
}
