#include <measure/dstack/image_measurement.hpp>

#include <measure/dstack/td_hob_witness.hpp>
#include <measure/engine/mrtd.hpp>
#include <measure/engine/uefi_events.hpp>
#include <measure/formats/firmware.hpp>
#include <measure/util/errors.hpp>

namespace mrforge {

bool dstack_kernel_digest_holds(uint64_t memory) {
  return memory == k_dstack_kernel_digest_2g || memory >= k_dstack_kernel_digest_memory;
}

TdxMeasurementFile tdx_measurement_for_image(const PlatformProfile &profile, const OvmfVariant &ovmf,
                                             const MeasureInputs &in) {
  if (!in.firmware || !in.kernel || !in.initrd)
    throw InputError(k_tdx_measurement_file_name, "needs the image's firmware, kernel and initrd");
  TdxMeasurementFile m;
  const NamedBytes &fw = *in.firmware;
  FirmwareImage image = parse_firmware(fw.bytes, fw.error_source());
  m.mrtd_single_pass = compute_mrtd(fw.bytes, image, PageOrder::single_pass);
  m.mrtd_two_pass = compute_mrtd(fw.bytes, image, PageOrder::two_pass);
  m.td_hob = td_hob_witness(image.sections, fw.error_source());
  m.ovmf = ovmf.dstack && cfv_digest(fw.bytes, image) == ovmf.dstack->cfv_digest ? ovmf.dstack->name : ovmf.name;

  MeasureInputs high = in;
  high.memory = k_dstack_kernel_digest_memory;
  m.kernel_authenticode = kernel_event_digest(profile, high).first;
  m.cmdline_sha384 = cmdline_digest(in.cmdline, true);
  m.initrd_sha384 = sha384(in.initrd->bytes);
  return m;
}

} // namespace mrforge
