#include <measure/engine/authenticode.hpp>
#include <measure/engine/disk_boot_events.hpp>
#include <measure/engine/engine.hpp>
#include <measure/engine/mrtd.hpp>
#include <measure/engine/shim_grub_events.hpp>
#include <measure/engine/td_hob.hpp>
#include <measure/engine/uefi_events.hpp>
#include <measure/formats/efi_loaders.hpp>
#include <measure/formats/firmware.hpp>
#include <measure/formats/gpt.hpp>
#include <measure/formats/grub_config.hpp>
#include <measure/formats/pe.hpp>
#include <measure/formats/setup_header.hpp>
#include <measure/formats/uki.hpp>
#include <measure/util/errors.hpp>
#include <measure/util/mapped_read.hpp>
#include <measure/util/size_text.hpp>
#include <measure/util/strings.hpp>

#include <algorithm>
#include <future>
#include <system_error>
#include <utility>

namespace mrforge {

namespace {

const std::pair<DigestSlot, const char *> k_slot_names[] = {
    {DigestSlot::td_hob, "td-hob"},           {DigestSlot::cfv, "cfv"},
    {DigestSlot::acpi_loader, "acpi-loader"}, {DigestSlot::acpi_rsdp, "acpi-rsdp"},
    {DigestSlot::acpi_tables, "acpi-tables"}, {DigestSlot::kernel, "kernel"},
    {DigestSlot::cmdline, "cmdline"},         {DigestSlot::initrd, "initrd"},
};

// EV_EFI_ACTION strings of the TCG PC Client PFP as edk2 defines them
// (MdePkg/Include/IndustryStandard/UefiTcgPlatform.h: EFI_CALLING_EFI_APPLICATION,
// EFI_EXIT_BOOT_SERVICES_INVOCATION, EFI_EXIT_BOOT_SERVICES_SUCCEEDED).
constexpr const char *k_calling_efi_application = "Calling EFI Application from Boot Option";
constexpr const char *k_exit_boot_services_invocation = "Exit Boot Services Invocation";
constexpr const char *k_exit_boot_services_returned = "Exit Boot Services Returned with Success";

// "ACPI DATA" is the event data OVMF logs with each fw_cfg ACPI blob (OvmfPkg/AcpiPlatformDxe).
constexpr const char *k_acpi_event_data = "ACPI DATA";

// SHA-384 of an input's bytes, read from its file when they are mapped (mapped_read.hpp: faster
// than touching the mapping on a VM).
Sha384 file_sha384(ByteView bytes) {
  Hasher h(HashAlgorithm::sha384);
  update_from_file(h, bytes);
  return to_sha384(h.finish());
}

// How much of a kernel is copied for QEMU's setup-header patch: one page, which holds the setup
// header and, in Linux's bzImages, all the PE headers (SizeOfHeaders 0x1000).
constexpr size_t k_patched_head_size = 4096;

} // namespace

// The kernel's RTMR1 digest: its Authenticode, after QEMU's setup-header patch when the profile
// says QEMU patches it (which depends on the memory size, the initrd size and the command line).
std::pair<Sha384, std::string> kernel_event_digest(const PlatformProfile &profile, const MeasureInputs &in) {
  if (!in.kernel) throw InputError("kernel", "give --kernel FILE or --digest kernel=HEX");
  const NamedBytes &k = *in.kernel;
  if (profile.kernel_header_patch == KernelHeaderPatch::none) {
    PeImage pe = parse_pe(k.bytes, k.error_source());
    return {to_sha384(authenticode(k.bytes, pe, HashAlgorithm::sha384)),
            "computed: Authenticode of " + k.name + " as served (profile: no header patch)"};
  }
  SetupHeader header = parse_setup_header(k.bytes, k.error_source());
  QemuPatchInput patch;
  if (in.memory == 0)
    throw InputError("--memory", "the kernel setup-header patch depends on the guest memory size: give --memory");
  patch.memory_bytes = in.memory;
  if (in.initrd)
    patch.initrd_size = in.initrd->bytes.size();
  else if (in.supplied.count(DigestSlot::initrd)) {
    if (!in.initrd_size)
      throw InputError(
          "--initrd-size",
          "QEMU patches the kernel header with the initrd size: give --initrd FILE or --initrd-size BYTES");
    patch.initrd_size = *in.initrd_size;
  }
  patch.cmdline = in.cmdline;
  patch.layout = profile.memory_layout;
  patch.acpi_data_size = profile.qemu_acpi_data_size;
  std::string initrd_note =
      patch.initrd_size ? ", initrd " + std::to_string(*patch.initrd_size) + " bytes" : ", no initrd";
  std::string source = "computed: Authenticode of " + k.name + " after QEMU's setup-header patch (memory " +
                       format_memory_size(patch.memory_bytes) + initrd_note + ")";
  // The patch only touches the setup header, in the first page: copy and patch that page and hash
  // the rest straight from the kernel's bytes. A kernel whose PE headers reach beyond the page (or
  // do not parse) is copied whole, as QEMU serves it, so that it parses (or fails) exactly so.
  Bytes head = qemu_patched_head(k.bytes, header, patch, std::min(k.bytes.size(), k_patched_head_size));
  if (std::optional<PeImage> pe = parse_pe_head(head, k.bytes.size(), k.error_source()))
    return {to_sha384(authenticode(head, k.bytes, *pe, HashAlgorithm::sha384)), std::move(source)};
  Bytes patched = qemu_patched_kernel(k.bytes, header, patch);
  PeImage pe = parse_pe(patched, k.error_source());
  return {to_sha384(authenticode(patched, pe, HashAlgorithm::sha384)), std::move(source)};
}

namespace {

class EventBuilder {
public:
  EventBuilder(const PlatformProfile &profile, const OvmfVariant &ovmf, const MeasureInputs &in)
      : m_profile(profile), m_ovmf(ovmf), m_in(in) {}

  Measurement run() {
    m_steps = &event_steps_for(m_profile, m_in);
    if (m_in.disk_boot && m_in.disk_boot->uki)
      m_uki = read_uki(m_in.disk_boot->uki->bytes, m_in.disk_boot->uki->error_source());
    if (m_in.disk_boot && m_in.disk_boot->shim_grub) read_shim_grub(*m_in.disk_boot->shim_grub);
    // A disk boot measures the kernel, command line and initrd from the boot disk's files, never
    // from a supplied digest: refuse one rather than record an input no event used.
    for (DigestSlot slot : {DigestSlot::kernel, DigestSlot::cmdline, DigestSlot::initrd})
      if (m_in.disk_boot && supplied(slot))
        throw InputError(std::string("--digest ") + digest_slot_name(slot),
                         std::string("a ") + m_in.disk_boot->path_name() +
                             " boot measures it from the files on its disk; a supplied digest would not be used");
    record_inputs();
    start_file_digests();
    if (m_in.firmware) {
      m_fw = parse_firmware(m_in.firmware->bytes, m_in.firmware->error_source());
      m_result.mrtd = compute_mrtd(m_in.firmware->bytes, *m_fw, m_profile.mrtd_page_order);
    }
    for (EventStep step : *m_steps) add_step(step);
    m_result.rtmr = fold_events(m_result.events);
    return std::move(m_result);
  }

private:
  void input(const std::string &name, const std::string &value) { m_result.inputs.emplace_back(name, value); }

  bool has_step(EventStep step) const { return std::find(m_steps->begin(), m_steps->end(), step) != m_steps->end(); }

  // The initrd's SHA-384 and the kernel's Authenticode are independent of each other and of the
  // firmware (MRTD, CFV, TD HOB, computed on this thread): each starts on its own thread here and is
  // collected at its step. A failure (an exception in the future) surfaces only there, so errors
  // come in event order as before; if an earlier step throws, the futures' destructors wait for
  // the threads and the results are dropped.
  void start_file_digests() {
    if (m_in.disk_boot) return; // the UKI's sections are hashed at their steps
    if (m_in.initrd && !supplied(DigestSlot::initrd) && has_step(EventStep::initrd))
      m_initrd_digest = on_own_thread([this] { return file_sha384(m_in.initrd->bytes); });
    if (m_in.kernel && !supplied(DigestSlot::kernel) && has_step(EventStep::kernel))
      m_kernel_digest = on_own_thread([this] { return kernel_event_digest(m_profile, m_in); });
  }

  // A future for f() run on a new thread; an empty one (computed in place at its step) when the
  // system cannot start a thread.
  template <typename F> static auto on_own_thread(F f) -> std::future<decltype(f())> {
    try {
      return std::async(std::launch::async, std::move(f));
    } catch (const std::system_error &) {
      return {};
    }
  }

  void record_inputs() {
    input("profile", m_profile.source.identity());
    input("ovmf_variant", m_ovmf.source.identity());
    input("mrtd_page_order", page_order_name(m_profile.mrtd_page_order));
    input("kernel_header_patch", kernel_header_patch_name(m_profile.kernel_header_patch));
    if (m_in.firmware) input("firmware", m_in.firmware->name);
    if (m_in.kernel) input("kernel", m_in.kernel->name);
    if (m_in.initrd) input("initrd", m_in.initrd->name);
    input("cmdline", m_in.cmdline);
    input("cpus", std::to_string(m_in.cpus));
    input("memory", std::to_string(m_in.memory));
    if (m_in.acpi) input("acpi_tables", m_in.acpi_origin);
    if (m_in.disk_boot) {
      const DiskBootInputs &d = *m_in.disk_boot;
      input("boot", d.path_name());
      input("disk", d.disk.name);
      if (d.uki) {
        input("uki", d.uki->name);
        input("uki_stub", "systemd-stub " + m_uki->stub_version);
      }
      if (d.shim_grub) {
        input("shim", d.shim_grub->shim.name);
        input("shim_version", m_shim->vendor + " shim " + m_shim->version);
        input("grub", d.shim_grub->grub.name);
        input("grub_version", m_grub->vendor + " GRUB " + m_grub->vendor_version);
        input("grub_cfg", d.shim_grub->grub_cfg.name);
      }
      input("disk_slots", disk_slots_text(" "));
    }
    for (const auto &[slot, digest] : m_in.supplied)
      input(std::string("digest.") + digest_slot_name(slot), to_hex(digest));
  }

  const Sha384 *supplied(DigestSlot slot) const {
    auto it = m_in.supplied.find(slot);
    return it == m_in.supplied.end() ? nullptr : &it->second;
  }

  void add(Register reg, uint32_t type, std::string description, const Sha384 &digest, std::string source) {
    m_result.events.push_back(Event{reg, type, std::move(description), digest, std::move(source), std::nullopt});
  }

  // The digest a user supplied for `slot`, else the computed one.
  template <typename Compute>
  void add_slot(DigestSlot slot, Register reg, uint32_t type, std::string description, Compute compute) {
    if (const Sha384 *d = supplied(slot)) {
      auto origin = m_in.supplied_origin.find(slot);
      add(reg, type, std::move(description), *d,
          origin != m_in.supplied_origin.end()
              ? origin->second
              : std::string("supplied digest (--digest ") + digest_slot_name(slot) + ")");
      return;
    }
    auto [digest, source] = compute();
    add(reg, type, std::move(description), digest, std::move(source));
  }

  const FirmwareImage &firmware_for(const char *what, DigestSlot slot) const {
    if (!m_fw)
      throw InputError(what, std::string("needs the firmware: give --firmware OVMF.fd or --digest ") +
                                 digest_slot_name(slot) + "=HEX");
    return *m_fw;
  }

  uint64_t memory_for(const char *what) const {
    if (m_in.memory == 0)
      throw InputError("--memory", std::string("the ") + what + " depends on the guest memory size: give --memory");
    return m_in.memory;
  }

  bool has_initrd() const { return m_in.initrd || supplied(DigestSlot::initrd); }

  void add_step(EventStep step) {
    switch (step) {
    case EventStep::td_hob:
      add_slot(DigestSlot::td_hob, Register::rtmr0, event_type::k_efi_handoff_tables2, "TD HOB (TdxTable)", [&] {
        const FirmwareImage &fw = firmware_for("TD HOB", DigestSlot::td_hob);
        uint64_t mem = memory_for("TD HOB");
        return std::make_pair(td_hob_digest(fw.sections, mem, m_profile.memory_layout, m_in.firmware->name),
                              "computed: TD HOB for " + format_memory_size(mem) + " from the TDVF sections of " +
                                  m_in.firmware->name);
      });
      break;
    case EventStep::cfv:
      add_slot(DigestSlot::cfv, Register::rtmr0, event_type::k_efi_platform_firmware_blob2,
               "configuration firmware volume (CFV)", [&] {
                 const FirmwareImage &fw = firmware_for("CFV", DigestSlot::cfv);
                 return std::make_pair(cfv_digest(m_in.firmware->bytes, fw),
                                       "computed: SHA-384 of the CFV section of " + m_in.firmware->name);
               });
      break;
    case EventStep::secure_boot_variables:
      for (const UefiVariable &v : m_ovmf.secure_boot_variables)
        add(Register::rtmr0, event_type::k_efi_variable_driver_config,
            "UEFI variable " + v.name + " (" + v.vendor.str() + ")",
            sha384(uefi_variable_data(v.vendor, v.name, v.data)),
            "OVMF variant " + m_ovmf.name + ": " + (v.data.empty() ? "absent (empty data)" : "data " + to_hex(v.data)));
      break;
    case EventStep::separator_firmware:
      add(Register::rtmr0, event_type::k_separator, "separator (PCR7: end of Secure Boot policy)", separator_digest(),
          "constant: SHA-384 of 00000000");
      break;
    case EventStep::acpi_tables: add_acpi(); break;
    case EventStep::kernel:
      if (m_uki) { // a UKI boot: from its sections
        add_uki_kernel();
        break;
      }
      add_slot(DigestSlot::kernel, Register::rtmr1, event_type::k_efi_boot_services_application,
               "kernel (PE Authenticode, SHA-384)", [&] { return kernel_digest(); });
      break;
    case EventStep::boot_variables: {
      if (m_in.disk_boot) {
        add_disk_boot_variables();
        break;
      }
      std::string origin = "OVMF variant " + m_ovmf.name;
      add(Register::rtmr0, event_type::k_efi_variable_boot, "UEFI variable BootOrder (data)", sha384(m_ovmf.boot_order),
          origin + ": BootOrder " + to_hex(m_ovmf.boot_order));
      for (const LoadOption &o : m_ovmf.boot_options) {
        Bytes data = efi_load_option(o.attributes, o.description, fv_file_device_path(o.fv, o.file));
        add(Register::rtmr0, event_type::k_efi_variable_boot,
            "UEFI variable " + o.variable + " (data: " + o.description + " load option)", sha384(data),
            origin + ": " + o.variable + " = " + to_hex(data));
      }
      break;
    }
    case EventStep::ovmf_extra_events:
      for (const ExtraEvent &e : m_ovmf.extra_events)
        add(e.reg, e.type, e.description, e.digest, "OVMF variant " + m_ovmf.source.identity());
      break;
    case EventStep::calling_efi_application:
      add(Register::rtmr1, event_type::k_efi_action, k_calling_efi_application,
          action_digest(k_calling_efi_application), "constant: EFI action string");
      break;
    case EventStep::separator_boot:
      add(m_ovmf.separator_boot_register, event_type::k_separator, "separator (PCRs 0-6 at ReadyToBoot)",
          separator_digest(), "constant: SHA-384 of 00000000; register from OVMF variant " + m_ovmf.name);
      break;
    case EventStep::cmdline:
      if (m_uki) { // a UKI boot: from its sections
        add_uki_cmdline();
        break;
      }
      add_slot(DigestSlot::cmdline, Register::rtmr2, event_type::k_event_tag, "kernel command line (LoadOptions)", [&] {
        std::string shown = m_in.cmdline + (has_initrd() ? " initrd=initrd" : "");
        return std::make_pair(cmdline_digest(m_in.cmdline, has_initrd()),
                              "computed: UTF-16 of \"" + shown + "\" as OVMF passes it to the EFI stub");
      });
      break;
    case EventStep::initrd:
      if (m_uki) { // a UKI boot: from its sections
        if (const UkiSectionView *initrd = m_uki->section(".initrd"))
          add(Register::rtmr2, event_type::k_event_tag, "initrd (Linux initrd)", sha384(initrd->data),
              "computed: SHA-384 of the .initrd section of " + m_in.disk_boot->uki->name +
                  " (systemd-stub serves it through LoadFile2)");
        break;
      }
      if (!has_initrd()) break;
      add_slot(DigestSlot::initrd, Register::rtmr2, event_type::k_event_tag, "initrd (Linux initrd)", [&] {
        Sha384 d = m_initrd_digest.valid() ? m_initrd_digest.get() : file_sha384(m_in.initrd->bytes);
        return std::make_pair(d, "computed: SHA-384 of " + m_in.initrd->name);
      });
      break;
    case EventStep::exit_boot_services_invocation:
      add(Register::rtmr1, event_type::k_efi_action, k_exit_boot_services_invocation,
          action_digest(k_exit_boot_services_invocation), "constant: EFI action string");
      break;
    case EventStep::exit_boot_services_returned:
      add(Register::rtmr1, event_type::k_efi_action, k_exit_boot_services_returned,
          action_digest(k_exit_boot_services_returned), "constant: EFI action string");
      break;
    case EventStep::gpt: {
      const NamedBytes &disk = disk_boot("gpt").disk;
      GptTable gpt = read_gpt(disk.bytes, disk.error_source());
      add(Register::rtmr1, event_type::k_efi_gpt_event,
          "GPT of the boot disk (" + std::to_string(gpt.partitions) + " partitions)", sha384(gpt.event_data),
          "computed: SHA-384 of UEFI_GPT_DATA (header and used entries) of " + disk.name);
      break;
    }
    case EventStep::boot_application: {
      const DiskBootInputs &d = disk_boot("boot_application");
      const NamedBytes &app = d.uki ? *d.uki : d.shim_grub->shim;
      const PeImage &pe = d.uki ? m_uki->pe : m_shim->pe;
      add(Register::rtmr1, event_type::k_efi_boot_services_application,
          std::string(d.uki ? "UKI" : "shim") + " (PE Authenticode, SHA-384)",
          to_sha384(authenticode(app.bytes, pe, HashAlgorithm::sha384)),
          "computed: Authenticode of " + app.name + ", loaded by OVMF from the ESP as \\EFI\\BOOT\\BOOTX64.EFI");
      break;
    }
    case EventStep::shim_measurements: {
      const ShimGrubFiles &sg = shim_grub("shim_measurements");
      if (m_profile.measured_into == MeasurementTarget::tdx_rtmrs && !shim_measures_in_td(*m_shim)) break;
      for (Event &e : shim_events(*m_shim, sg.shim.name)) m_result.events.push_back(std::move(e));
      break;
    }
    case EventStep::grub_application: {
      const ShimGrubFiles &sg = shim_grub("grub_application");
      if (m_profile.measured_into == MeasurementTarget::tdx_rtmrs && !shim_measures_in_td(*m_shim)) break;
      add(Register::rtmr1, event_type::k_efi_boot_services_application, "GRUB (PE Authenticode, SHA-384)",
          to_sha384(authenticode(sg.grub.bytes, m_grub->pe, HashAlgorithm::sha384)),
          "computed: Authenticode of " + sg.grub.name + ", loaded and measured by shim as \\EFI\\BOOT\\grubx64.efi");
      break;
    }
    case EventStep::grub_measurements: {
      const ShimGrubFiles &sg = shim_grub("grub_measurements");
      // With a TPM, GRUB measures into PCR8 and PCR9 (RTMR2's range); in a TD GRUB 2.06 measures
      // nothing, and nothing else measures what it loads: say so beside the inputs.
      if (m_profile.measured_into == MeasurementTarget::tdx_rtmrs && !grub_measures_in_td(*m_grub)) {
        input("not_measured", "grub.cfg, the kernel, its command line and the initrd: " + m_grub->vendor + " GRUB " +
                                  m_grub->vendor_version +
                                  " measures only through TCG2, which a TD does not have; no RTMR covers them");
        break;
      }
      GrubBootFiles f;
      f.esp_device = "(hd0,gpt" + std::to_string(m_esp_number) + ")";
      f.grub_cfg = sg.grub_cfg.bytes;
      f.grub_cfg_name = sg.grub_cfg.name;
      if (!m_in.kernel) throw InputError("kernel", "a shim-grub boot needs the kernel file GRUB loads from the ESP");
      f.kernel = m_in.kernel->bytes;
      f.kernel_name = m_in.kernel->name;
      if (m_in.initrd) {
        f.initrd = m_in.initrd->bytes;
        f.initrd_name = m_in.initrd->name;
      }
      for (Event &e : grub_events(*m_grub, *m_grub_cfg, f)) m_result.events.push_back(std::move(e));
      break;
    }
    case EventStep::uki_sections: {
      const DiskBootInputs &d = disk_boot("uki_sections");
      if (!d.uki) throw InputError("profile " + m_profile.name, "step uki_sections needs a UKI boot");
      const NamedBytes &uki = *d.uki;
      std::vector<StubEvent> events = systemd_stub_section_events(*m_uki, uki.name);
      // With a TPM, systemd-stub measures into PCR11 (RTMR2's range); in a TD only from systemd 256.
      if (m_profile.measured_into == MeasurementTarget::tdx_rtmrs && !systemd_stub_measures_in_td(*m_uki)) break;
      for (StubEvent &e : events)
        add(Register::rtmr2, event_type::k_ipl, std::move(e.description), e.digest, std::move(e.source));
      break;
    }
    }
  }

  std::string disk_slots_text(std::string_view separator) const {
    return join(m_in.disk_boot->disk_slots, separator, [](unsigned s) { return std::to_string(s); });
  }

  const DiskBootInputs &disk_boot(const char *step) const {
    if (!m_in.disk_boot || (!m_in.disk_boot->uki && !m_in.disk_boot->shim_grub))
      throw InputError("profile " + m_profile.name,
                       std::string("step ") + step + " needs a disk boot (a disk and its UKI, or shim and GRUB)");
    return *m_in.disk_boot;
  }

  const ShimGrubFiles &shim_grub(const char *step) const {
    const DiskBootInputs &d = disk_boot(step);
    if (!d.shim_grub)
      throw InputError("profile " + m_profile.name, std::string("step ") + step + " needs a shim-grub boot");
    return *d.shim_grub;
  }

  // Reads shim, GRUB and grub.cfg; checks what this path's model assumes: Secure Boot off (shim then
  // verifies nothing and GRUB measures through TCG2 alone), the ESP on the boot disk's GPT, and a
  // command line that is the one the kernel command of grub.cfg passes.
  void read_shim_grub(const ShimGrubFiles &sg) {
    m_shim = read_shim(sg.shim.bytes, sg.shim.error_source());
    m_grub = read_grub(sg.grub.bytes, sg.grub.error_source());
    m_grub_cfg = read_grub_config(sg.grub_cfg.bytes, sg.grub_cfg.error_source());
    for (const UefiVariable &v : m_ovmf.secure_boot_variables)
      if (v.name == "SecureBoot" && !v.data.empty() && !(v.data.size() == 1 && v.data[0] == 0))
        throw InputError("OVMF variant " + m_ovmf.name,
                         "has Secure Boot on: what shim and GRUB measure then (their verification) is not modelled");
    const NamedBytes &disk = m_in.disk_boot->disk;
    m_esp_number = read_gpt(disk.bytes, disk.error_source()).esp_number;
    if (m_esp_number == 0)
      throw InputError(disk.error_source(), "has no EFI system partition: GRUB has no ESP to read");
    if (!m_in.cmdline.empty() && m_in.cmdline != m_grub_cfg->kernel_args)
      throw InputError(sg.grub_cfg.error_source(), "its " + m_grub_cfg->kernel_command +
                                                       " arguments differ from the command line given with it (\"" +
                                                       m_in.cmdline + "\")");
    if (m_grub_cfg->initrd_command.empty() != !m_in.initrd)
      throw InputError(sg.grub_cfg.error_source(),
                       m_in.initrd ? "names no initrd, but one was given" : "names an initrd, but none was given");
  }

  // The kernel systemd-stub loads from the UKI's .linux section (LoadImage: OVMF measures it as an
  // application, as it is: QEMU patches no header on a disk boot).
  void add_uki_kernel() {
    const UkiSectionView *linux_section = m_uki->section(".linux");
    const std::string where = m_in.disk_boot->uki->error_source() + ": .linux";
    PeImage pe = parse_pe(linux_section->data, where);
    add(Register::rtmr1, event_type::k_efi_boot_services_application,
        "kernel (.linux of the UKI, loaded by systemd-stub; PE Authenticode, SHA-384)",
        to_sha384(authenticode(linux_section->data, pe, HashAlgorithm::sha384)),
        "computed: Authenticode of the .linux section of " + m_in.disk_boot->uki->name + " (no header patch)");
  }

  // The Linux EFI stub measures the command line systemd-stub gives it: the .cmdline section
  // widened to UTF-16 with a NUL (no "initrd=": the initrd comes through LoadFile2).
  void add_uki_cmdline() {
    const UkiSectionView *c = m_uki->section(".cmdline");
    const std::string &uki = m_in.disk_boot->uki->name;
    if (!c) throw InputError(m_in.disk_boot->uki->error_source(), "the UKI has no .cmdline section");
    std::string text(c->data.begin(), c->data.end());
    for (char ch : text)
      if (static_cast<unsigned char>(ch) >= 0x80 || ch == 0)
        throw InputError(m_in.disk_boot->uki->error_source() + ": .cmdline",
                         "not plain ASCII: systemd-stub's UTF-8 decoding is not modelled");
    if (!m_in.cmdline.empty() && m_in.cmdline != text)
      throw InputError(m_in.disk_boot->uki->error_source() + ": .cmdline",
                       "differs from the command line given with it (\"" + m_in.cmdline + "\")");
    add(Register::rtmr2, event_type::k_event_tag, "kernel command line (LoadOptions)", cmdline_digest(text, false),
        "computed: UTF-16 of the .cmdline section of " + uki + " as systemd-stub passes it to the EFI stub");
  }

  void add_disk_boot_variables() {
    if (!m_ovmf.disk_boot)
      throw InputError("OVMF variant " + m_ovmf.name + " (" + m_ovmf.source.location + ")",
                       "describes no boot options for a disk boot (disk_boot)");
    std::string origin = "OVMF variant " + m_ovmf.name + " disk_boot, disks in slots " + disk_slots_text(", ");
    for (const BootVariableData &v : disk_boot_variables(*m_ovmf.disk_boot, m_in.disk_boot->disk_slots))
      add(Register::rtmr0, event_type::k_efi_variable_boot,
          v.description.empty() ? "UEFI variable " + v.name + " (data)"
                                : "UEFI variable " + v.name + " (data: " + v.description + " load option)",
          sha384(v.data), origin + ": " + v.name + " = " + to_hex(v.data));
  }

  // TDX: the three blobs of QEMU's TDX machine, in the order OVMF measures them. A vTPM: the blobs
  // the OVMF variant measures into PCR1 (none before edk2-stable202302; with a TPM device QEMU also
  // allocates etc/tpm/log).
  void add_acpi() {
    if (m_profile.measured_into == MeasurementTarget::tpm_pcrs) {
      for (AcpiBlob b : m_ovmf.vtpm_acpi_blobs) add_acpi_blob(b);
      return;
    }
    for (AcpiBlob b : {AcpiBlob::table_loader, AcpiBlob::rsdp, AcpiBlob::tables}) add_acpi_blob(b);
  }

  void add_acpi_blob(AcpiBlob blob) {
    const std::string name = acpi_blob_name(blob);
    const std::string description = std::string(k_acpi_event_data) + ": " + name;
    if (blob == AcpiBlob::tpm_log) {
      // QEMU serves etc/tpm/log as zero bytes (the guest's firmware fills the area later).
      if (m_profile.qemu_tpm_log_size == 0)
        throw InputError("profile " + m_profile.name + " (" + m_profile.source.location + ")",
                         "OVMF variant " + m_ovmf.name +
                             " measures etc/tpm/log, but the profile does not give its size (acpi.tpm_log_size)");
      Bytes zeros(static_cast<size_t>(m_profile.qemu_tpm_log_size), 0);
      add(Register::rtmr0, event_type::k_platform_config_flags, description, sha384(zeros),
          "computed: SHA-384 of " + std::to_string(zeros.size()) + " zero bytes (QEMU's etc/tpm/log, profile " +
              m_profile.name + ")");
      return;
    }
    const struct {
      AcpiBlob blob;
      DigestSlot slot;
      Sha384 AcpiDigests::*field;
    } slots[] = {{AcpiBlob::table_loader, DigestSlot::acpi_loader, &AcpiDigests::table_loader},
                 {AcpiBlob::rsdp, DigestSlot::acpi_rsdp, &AcpiDigests::rsdp},
                 {AcpiBlob::tables, DigestSlot::acpi_tables, &AcpiDigests::tables}};
    for (const auto &b : slots) {
      if (b.blob != blob) continue;
      add_slot(b.slot, Register::rtmr0, event_type::k_platform_config_flags, description, [&] {
        if (!m_in.acpi)
          throw InputError("ACPI",
                           std::string("profile ") + m_profile.name +
                               " takes the ACPI digests from QEMU's fw_cfg blobs: give --acpi-tables DIR (a copy of "
                               "/sys/firmware/qemu_fw_cfg/by_name/etc from a guest of the same shape) or --digest " +
                               digest_slot_name(b.slot) + "=HEX");
        return std::make_pair((*m_in.acpi).*(b.field), "computed: SHA-384 of " + name + " from " + m_in.acpi_origin);
      });
    }
  }

  std::pair<Sha384, std::string> kernel_digest() {
    return m_kernel_digest.valid() ? m_kernel_digest.get() : kernel_event_digest(m_profile, m_in);
  }

  const PlatformProfile &m_profile;
  const OvmfVariant &m_ovmf;
  const MeasureInputs &m_in;
  std::optional<FirmwareImage> m_fw;
  const std::vector<EventStep> *m_steps = &m_profile.events; // uki_events for a disk boot
  std::optional<UkiImage> m_uki;                             // a UKI boot's UKI
  std::optional<ShimImage> m_shim;                           // a shim-grub boot's shim, GRUB and grub.cfg
  std::optional<GrubImage> m_grub;
  std::optional<GrubConfig> m_grub_cfg;
  uint32_t m_esp_number = 0; // the ESP's partition number on the boot disk (shim-grub)
  Measurement m_result;
  // Declared last: destroyed first, so a thread still running when run() throws is waited for while
  // the members it reads are alive.
  std::future<Sha384> m_initrd_digest;
  std::future<std::pair<Sha384, std::string>> m_kernel_digest;
};

} // namespace

const char *digest_slot_name(DigestSlot s) {
  for (const auto &[slot, name] : k_slot_names)
    if (slot == s) return name;
  return "?";
}

std::optional<DigestSlot> digest_slot_from_name(const std::string &name) {
  for (const auto &[slot, n] : k_slot_names)
    if (name == n) return slot;
  return std::nullopt;
}

std::string digest_slot_names() {
  return join(k_slot_names, ", ", [](const auto &slot_name) { return slot_name.second; });
}

uint64_t parse_memory_size(const std::string &text, const std::string &what) {
  SizeText r = parse_size_text(text);
  if (!r.ok()) throw InputError(what, r.error);
  if (r.value == 0) throw InputError(what, "memory size must not be zero");
  if (r.value > k_max_memory) throw InputError(what, "'" + text + "' is larger than the 64 TiB limit");
  if (r.value % 4096)
    throw InputError(what, "'" + text + "' is not a multiple of 4 KiB (guest memory is mapped in pages)");
  return r.value;
}

Measurement measure(const PlatformProfile &profile, const OvmfVariant &ovmf, const MeasureInputs &in) {
  return EventBuilder(profile, ovmf, in).run();
}

const std::vector<EventStep> &event_steps_for(const PlatformProfile &profile, const MeasureInputs &in) {
  if (!in.disk_boot) return profile.events;
  const bool uki = in.disk_boot->uki.has_value();
  const std::vector<EventStep> &steps = uki ? profile.uki_events : profile.shim_grub_events;
  if (steps.empty())
    throw InputError("profile " + profile.name + " (" + profile.source.location + ")",
                     std::string("describes no boot of ") + (uki ? "a UKI" : "shim and GRUB") + " from a disk (" +
                         (uki ? "uki_events" : "shim_grub_events") +
                         "): use one that does, such as qemu-8.2-tdx or qemu-7.2-vtpm");
  return steps;
}

} // namespace mrforge
