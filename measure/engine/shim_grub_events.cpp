#include <measure/engine/shim_grub_events.hpp>
#include <measure/engine/uefi_events.hpp>
#include <measure/formats/guid.hpp>
#include <measure/util/errors.hpp>
#include <measure/util/hash.hpp>
#include <measure/util/strings.hpp>

namespace mrforge {

namespace {

// SHIM_LOCK_GUID, the owner and vendor GUID of shim's variables (shim's include/guid.h).
constexpr const char *k_shim_lock_guid = "605dab50-e046-4300-abb6-3dd810dd8b23";
// EFI_CERT_X509_GUID (UEFI 2.10 32.4.1).
constexpr const char *k_cert_x509_guid = "a5c059a1-94e4-4aa7-87b5-ab155c2bf072";

// The shim builds whose events are modelled, with what varies between versions.
struct ShimRules {
  const char *vendor;
  const char *version;
  // The SbatLevel shim writes when the variable store has none and Secure Boot is off: shim 16.1's
  // SBAT_VAR_ORIGINAL ("sbat,1,2021030218\n", include/sbat_var_defs.h), observed in the log.
  const char *sbat_level;
  // Whether it measures through EFI_CC_MEASUREMENT_PROTOCOL in a TD: shim 15.7 and later do
  // (rhboot/shim PR #485); Debian's 16.1 image holds the protocol's GUID.
  bool measures_in_td;
};
const ShimRules k_shims[] = {{"Debian", "16.1", "sbat,1,2021030218\n", true}};

// The GRUB builds whose events are modelled: Debian's signed images are built by
// debian/build-efi-images with the prefix /EFI/debian and an embedded memdisk grub.cfg that
// tests $prefix and sources $prefix/x86_64-efi/grub.cfg, $prefix/grub.cfg or $cmdpath/grub.cfg
// (read out of the image's mods section and observed in the log, BOOT_NOTES.md).
struct GrubRules {
  const char *vendor;
  const char *vendor_version;
  const char *prefix;
  // Whether it measures in a TD: Debian's 2.06 image holds TCG2's protocol GUID only.
  bool measures_in_td;
};
const GrubRules k_grubs[] = {{"Debian", "2.06-13+deb12u2", "/EFI/debian", false}};

const ShimRules &rules_for(const ShimImage &shim, const std::string &name) {
  for (const ShimRules &r : k_shims)
    if (shim.vendor == r.vendor && shim.version == r.version) return r;
  throw InputError(name, "it is " + shim.vendor + "'s shim " + shim.version +
                             ": mrforge models what Debian's shim 16.1 measures, not other builds");
}

const GrubRules &rules_for(const GrubImage &grub, const std::string &name) {
  for (const GrubRules &r : k_grubs)
    if (grub.vendor == r.vendor && grub.vendor_version == r.vendor_version) return r;
  throw InputError(name, "it is " + grub.vendor + "'s GRUB " + grub.vendor_version +
                             ": mrforge models what Debian's GRUB 2.06-13+deb12u2 measures, not other builds");
}

Event event(uint32_t pcr, uint32_t type, std::string description, const Sha384 &digest, std::string source) {
  Event e{rtmr_of_pcr(pcr), type, std::move(description), digest, std::move(source), pcr};
  return e;
}

Sha384 ipl_text_digest(const std::string &text) { return sha384(ByteView::of(text)); }

} // namespace

Register rtmr_of_pcr(uint32_t pcr) {
  if (pcr == 1 || pcr == 7) return Register::rtmr0;
  if (pcr >= 2 && pcr <= 6) return Register::rtmr1;
  if (pcr >= 8 && pcr <= 15) return Register::rtmr2;
  throw InputError("PCR " + std::to_string(pcr), "has no RTMR in TDX's mapping (PCR0 is MRTD; 1-15 map to RTMR0-2)");
}

std::vector<Event> shim_events(const ShimImage &shim, const std::string &name) {
  const ShimRules &rules = rules_for(shim, name);
  if (shim.vendor_cert.empty())
    throw InputError(name, "shim has no built-in vendor certificate: its MokList is not modelled");
  const Guid owner = Guid::parse(k_shim_lock_guid);
  // EFI_SIGNATURE_LIST: SignatureType, ListSize, HeaderSize 0, SignatureSize, then one
  // EFI_SIGNATURE_DATA: SignatureOwner and the certificate (UEFI 2.10 32.4.1).
  const uint64_t signature_size = 16 + shim.vendor_cert.size();
  if (signature_size + 28 > UINT32_MAX) throw InputError(name, "shim's vendor certificate is too large");
  Bytes list;
  const Guid x509 = Guid::parse(k_cert_x509_guid);
  list.insert(list.end(), x509.bytes.begin(), x509.bytes.end());
  append_le(list, 28 + signature_size, 4);
  append_le(list, 0, 4);
  append_le(list, signature_size, 4);
  list.insert(list.end(), owner.bytes.begin(), owner.bytes.end());
  list.insert(list.end(), shim.vendor_cert.begin(), shim.vendor_cert.end());
  const std::string origin = "computed: " + name + "'s .vendor_cert";
  const std::string level = rules.sbat_level;
  const uint8_t trusted = 1;
  std::vector<Event> out;
  out.push_back(event(14, event_type::k_ipl, "shim MokList (its vendor certificate as an EFI_SIGNATURE_LIST)",
                      sha384(list), origin + " certificate (" + std::to_string(shim.vendor_cert.size()) + " bytes)"));
  out.push_back(event(14, event_type::k_ipl, "shim MokListX (its vendor dbx)", sha384(shim.vendor_dbx),
                      origin + " dbx (" + std::to_string(shim.vendor_dbx.size()) + " bytes)"));
  out.push_back(event(7, event_type::k_efi_variable_authority,
                      "shim SbatLevel (UEFI variable, " + std::string(k_shim_lock_guid) + ")",
                      sha384(uefi_variable_data(owner, "SbatLevel", ByteView::of(level))),
                      "shim " + shim.version + ": the SBAT level it writes into a fresh variable store, \"" +
                          level.substr(0, level.size() - 1) + "\\n\" (Secure Boot off)"));
  out.push_back(event(14, event_type::k_ipl, "shim MokListTrusted", sha384(ByteView(&trusted, 1)),
                      "shim " + shim.version + ": MokListTrusted is 01 when no MOK state says otherwise"));
  return out;
}

bool shim_measures_in_td(const ShimImage &shim) { return rules_for(shim, "shim " + shim.version).measures_in_td; }

std::vector<Event> grub_events(const GrubImage &grub, const GrubConfig &cfg, const GrubBootFiles &f) {
  const GrubRules &rules = rules_for(grub, "GRUB " + grub.vendor_version);
  const std::string prefix = f.esp_device + rules.prefix;
  std::vector<Event> out;
  const std::string embedded = "GRUB " + grub.vendor_version + "'s embedded grub.cfg (prefix " + rules.prefix + ")";
  auto command = [&](const std::string &text, const std::string &origin) {
    out.push_back(event(8, event_type::k_ipl, "GRUB command: " + text, ipl_text_digest(text),
                        "computed: SHA-384 of the command as GRUB runs it, from " + origin));
  };
  auto file = [&](const std::string &path, ByteView bytes, const std::string &name) {
    out.push_back(event(9, event_type::k_ipl, "GRUB file " + path + " (contents)", sha384(bytes),
                        "computed: SHA-384 of " + name));
  };
  command("[ -z " + prefix + " -o ! -e " + prefix + " ]", embedded);
  command("[ -e " + prefix + "/x86_64-efi/grub.cfg ]", embedded);
  command("[ -e " + prefix + "/grub.cfg ]", embedded);
  command("source " + prefix + "/grub.cfg", embedded);
  file(prefix + "/grub.cfg", f.grub_cfg, f.grub_cfg_name);
  for (const std::string &line : cfg.commands) {
    command(line, f.grub_cfg_name);
    const std::string word = line.substr(0, line.find(' '));
    if (word == cfg.kernel_command) {
      file(cfg.kernel_path, f.kernel, f.kernel_name);
      const std::string text = cfg.kernel_path + (cfg.kernel_args.empty() ? "" : " " + cfg.kernel_args);
      out.push_back(event(8, event_type::k_ipl, "GRUB kernel command line: " + text, ipl_text_digest(text),
                          "computed: SHA-384 of the kernel's path and arguments in " + f.grub_cfg_name));
    } else if (word == cfg.initrd_command) {
      if (f.initrd_name.empty())
        throw InputError(f.grub_cfg_name, "names an initrd (" + cfg.initrd_path + ") but none was given");
      file(cfg.initrd_path, f.initrd, f.initrd_name);
    }
  }
  return out;
}

bool grub_measures_in_td(const GrubImage &grub) {
  return rules_for(grub, "GRUB " + grub.vendor_version).measures_in_td;
}

} // namespace mrforge
