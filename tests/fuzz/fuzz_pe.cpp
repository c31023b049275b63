// Fuzz target for the kernel layer: PE/COFF headers, the bzImage setup header, the QEMU
// setup-header patch and Authenticode; a disk boot's UKI reader (with systemd-stub's section
// events), shim's and GRUB's readers (SBAT, the vendor certificate table) with shim's events,
// grub.cfg's reader, and the GPT reader (the same bytes as a disk image). Any input must either
// parse or throw mrforge::Error; parsed images must hash without error. The seed corpus
// (tests/fuzz/corpus/pe) also runs as an ordinary test through corpus_runner.cpp.
#include <measure/engine/authenticode.hpp>
#include <measure/engine/disk_boot_events.hpp>
#include <measure/engine/shim_grub_events.hpp>
#include <measure/formats/efi_loaders.hpp>
#include <measure/formats/gpt.hpp>
#include <measure/formats/grub_config.hpp>
#include <measure/formats/pe.hpp>
#include <measure/formats/setup_header.hpp>
#include <measure/formats/uki.hpp>
#include <measure/util/errors.hpp>

#include <cstddef>
#include <cstdint>
#include <string>

namespace {

void hash_pe(mrforge::ByteView image, const std::string &source) {
  const mrforge::PeImage pe = mrforge::parse_pe(image, source);
  (void)mrforge::authenticode(image, pe, mrforge::HashAlgorithm::sha256);
  (void)mrforge::authenticode(image, pe, mrforge::HashAlgorithm::sha384);
  (void)mrforge::has_signature(pe);
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  const mrforge::ByteView input(data, size);
  try {
    hash_pe(input, "fuzz");
  } catch (const mrforge::Error &) {
  }
  try {
    const mrforge::UkiImage uki = mrforge::read_uki(input, "fuzz");
    (void)mrforge::systemd_stub_section_events(uki, "fuzz");
  } catch (const mrforge::Error &) {
  }
  try {
    const mrforge::ShimImage shim = mrforge::read_shim(input, "fuzz");
    (void)mrforge::shim_events(shim, "fuzz");
  } catch (const mrforge::Error &) {
  }
  try {
    (void)mrforge::read_grub(input, "fuzz");
  } catch (const mrforge::Error &) {
  }
  try {
    (void)mrforge::read_grub_config(input, "fuzz");
  } catch (const mrforge::Error &) {
  }
  try {
    (void)mrforge::read_gpt(input, "fuzz");
  } catch (const mrforge::Error &) {
  }
  try {
    const mrforge::SetupHeader header = mrforge::parse_setup_header(input, "fuzz");
    mrforge::QemuPatchInput in;
    // Derive the patch inputs from the data so that the fuzzer explores them too.
    in.memory_bytes = (uint64_t{size} % 16 + 1) * 0x20000000ull; // 512 MiB .. 8 GiB
    if (size % 3 != 0) in.initrd_size = uint64_t{size} * 0x1001;
    if (size > 16) in.cmdline.assign(reinterpret_cast<const char *>(data) + size - 16, 16);
    const mrforge::Bytes patched = mrforge::qemu_patched_kernel(input, header, in);
    hash_pe(patched, "fuzz (patched)"); // the patch may have changed PE header bytes: parse again
  } catch (const mrforge::Error &) {
  }
  return 0;
}
