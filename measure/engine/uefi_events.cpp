#include <measure/engine/uefi_events.hpp>
#include <measure/util/errors.hpp>

namespace mrforge {

namespace {

void put_u16(Bytes &out, uint16_t v) { append_le(out, v, 2); }
void put_u32(Bytes &out, uint32_t v) { append_le(out, v, 4); }
void put_u64(Bytes &out, uint64_t v) { append_le(out, v, 8); }
void put_ascii_utf16(Bytes &out, std::string_view s, const char *what) {
  for (char c : s) {
    if (static_cast<unsigned char>(c) > 0x7F) throw InputError(what, "'" + std::string(s) + "' is not ASCII");
    put_u16(out, static_cast<uint16_t>(c));
  }
}
void put_guid(Bytes &out, const Guid &g) { out.insert(out.end(), g.bytes.begin(), g.bytes.end()); }

// Device path node header: type, subtype, u16 length (UEFI spec 10.2).
void put_node(Bytes &out, uint8_t type, uint8_t subtype, uint16_t length) {
  out.push_back(type);
  out.push_back(subtype);
  put_u16(out, length);
}

} // namespace

Bytes uefi_variable_data(const Guid &vendor, std::string_view name, ByteView data) {
  Bytes out;
  out.reserve(32 + 2 * name.size() + data.size());
  put_guid(out, vendor);
  put_u64(out, name.size());
  put_u64(out, data.size());
  put_ascii_utf16(out, name, "UEFI variable name");
  out.insert(out.end(), data.begin(), data.end());
  return out;
}

Bytes efi_load_option(uint32_t attributes, std::string_view description, ByteView device_path) {
  if (device_path.size() > 0xFFFF) throw InputError("load option", "device path longer than 65535 bytes");
  Bytes out;
  put_u32(out, attributes);
  put_u16(out, static_cast<uint16_t>(device_path.size()));
  put_ascii_utf16(out, description, "load option description");
  put_u16(out, 0);
  out.insert(out.end(), device_path.begin(), device_path.end());
  return out;
}

Bytes fv_file_device_path(const Guid &fv, const Guid &file) {
  constexpr uint8_t k_media_device_path = 0x04, k_media_piwg_fw_file = 0x06, k_media_piwg_fw_vol = 0x07;
  constexpr uint8_t k_end_device_path = 0x7F, k_end_entire = 0xFF;
  Bytes out;
  put_node(out, k_media_device_path, k_media_piwg_fw_vol, 20);
  put_guid(out, fv);
  put_node(out, k_media_device_path, k_media_piwg_fw_file, 20);
  put_guid(out, file);
  put_node(out, k_end_device_path, k_end_entire, 4);
  return out;
}

Sha384 separator_digest() {
  const uint8_t zero[4] = {0, 0, 0, 0};
  return sha384(ByteView(zero, sizeof zero));
}

Sha384 action_digest(std::string_view action) { return sha384(ByteView::of(action)); }

Bytes linux_cmdline_load_options(std::string_view cmdline, bool has_initrd) {
  // OVMF (OvmfPkg/Library/X86QemuLoadImageLib) appends " initrd=initrd" when QEMU supplied an
  // initrd, then widens each byte of the ASCII-or-not string to CHAR16.
  std::string full(cmdline);
  if (has_initrd) full += " initrd=initrd";
  Bytes out;
  out.reserve(2 * full.size() + 2);
  for (char c : full) put_u16(out, static_cast<uint8_t>(c));
  put_u16(out, 0);
  return out;
}

Sha384 cmdline_digest(std::string_view cmdline, bool has_initrd) {
  return sha384(linux_cmdline_load_options(cmdline, has_initrd));
}

} // namespace mrforge
