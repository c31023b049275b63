#include <measure/engine/disk_boot_events.hpp>
#include <measure/engine/uefi_events.hpp>
#include <measure/util/errors.hpp>

#include <cstdio>

namespace mrforge {

namespace {

constexpr unsigned k_max_disks = 64;
constexpr unsigned k_systemd_stub_cc = 256;

std::string option_name(size_t n) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "Boot%04zX", n);
  return buf;
}

void check_stub(const UkiImage &uki, const std::string &uki_name) {
  if (uki.stub_major != 252)
    throw InputError(uki_name, "its stub is systemd-stub " + uki.stub_version +
                                   ": mrforge models what systemd-stub 252 (Debian bookworm) measures, not other "
                                   "versions");
}

} // namespace

Bytes pci_root_device_path(unsigned slot) {
  if (slot > 31) throw InputError("PCI slot " + std::to_string(slot), "a PCI device number is 0 to 31");
  // ACPI_DEVICE_PATH (2/1, 12 bytes): _HID EISA PNP0A03 (0x0A0341D0), _UID 0.
  Bytes p = {0x02, 0x01, 0x0c, 0x00, 0xd0, 0x41, 0x03, 0x0a, 0x00, 0x00, 0x00, 0x00};
  // PCI_DEVICE_PATH (1/1, 6 bytes): Function 0, Device slot.
  for (uint8_t b : {uint8_t(0x01), uint8_t(0x01), uint8_t(0x06), uint8_t(0x00), uint8_t(0x00), uint8_t(slot)})
    p.push_back(b);
  for (uint8_t b : {uint8_t(0x7f), uint8_t(0xff), uint8_t(0x04), uint8_t(0x00)}) p.push_back(b); // END_ENTIRE
  return p;
}

std::vector<BootVariableData> disk_boot_variables(const DiskBootOptions &o, const std::vector<unsigned> &disk_slots) {
  if (disk_slots.empty()) throw InputError("disk boot", "the VM has no virtio-blk disk to boot from");
  if (disk_slots.size() > k_max_disks)
    throw InputError("disk boot", "more than " + std::to_string(k_max_disks) + " disks");
  std::vector<BootVariableData> options;
  for (const LoadOption &l : o.before)
    options.push_back(
        {"", l.description, efi_load_option(l.attributes, l.description, fv_file_device_path(l.fv, l.file))});
  for (size_t i = 0; i < disk_slots.size(); ++i) {
    // edk2 BmGetBootDescription + BmMakeBootOptionDescriptionUnique: "UEFI Misc Device",
    // "UEFI Misc Device 2", ...
    std::string description = o.disk_description + (i ? " " + std::to_string(i + 1) : "");
    Bytes data = efi_load_option(o.disk_attributes, description, pci_root_device_path(disk_slots[i]));
    data.insert(data.end(), o.disk_optional_data.begin(), o.disk_optional_data.end());
    options.push_back({"", description, std::move(data)});
  }
  for (const LoadOption &l : o.after)
    options.push_back(
        {"", l.description, efi_load_option(l.attributes, l.description, fv_file_device_path(l.fv, l.file))});
  BootVariableData order{"BootOrder", "", {}};
  for (size_t i = 0; i < options.size(); ++i) {
    options[i].name = option_name(i);
    append_le(order.data, i, 2);
  }
  options.insert(options.begin(), std::move(order));
  return options;
}

std::vector<StubEvent> systemd_stub_section_events(const UkiImage &uki, const std::string &uki_name) {
  check_stub(uki, uki_name);
  std::vector<StubEvent> out;
  for (const char *name : {".linux", ".osrel", ".cmdline", ".initrd", ".splash", ".dtb", ".pcrpkey"}) {
    const UkiSectionView *s = uki.section(name);
    if (!s) continue;
    std::string with_nul(name, std::string(name).size() + 1);
    out.push_back(
        {std::string("UKI section ") + name + " (name)", sha384(ByteView::of(with_nul)),
         std::string("computed: SHA-384 of \"") + name + "\" and its NUL (systemd-stub " + uki.stub_version + ")"});
    out.push_back(
        {std::string("UKI section ") + name + " (contents, " + std::to_string(s->data.size()) + " bytes)",
         sha384(s->data),
         std::string("computed: SHA-384 of the ") + name + " section of " + uki_name + " (VirtualSize bytes)"});
  }
  return out;
}

bool systemd_stub_measures_in_td(const UkiImage &uki) { return uki.stub_major >= k_systemd_stub_cc; }

} // namespace mrforge
