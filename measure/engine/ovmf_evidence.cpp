#include <measure/engine/ovmf_evidence.hpp>
#include <measure/formats/firmware.hpp>
#include <measure/formats/variable_store.hpp>
#include <measure/util/errors.hpp>
#include <measure/util/hash.hpp>
#include <measure/util/reader.hpp>
#include <measure/util/strings.hpp>

namespace mrforge {

namespace {

// The variables OVMF keeps in its non-volatile store and measures as they are found there
// (SecureBoot itself is volatile: SecureBootConfigDxe / AuthVariableLib create it at boot, so the
// store says nothing about it).
bool kept_in_store(const std::string &name) { return name == "PK" || name == "KEK" || name == "db" || name == "dbx"; }

std::string short_sha(const Sha256 &d) { return to_hex(d).substr(0, 16) + "..."; }

const KnownFirmwareBuild *find_build(const OvmfVariant &v, const Sha256 &digest) {
  for (const KnownFirmwareBuild &b : v.known_builds)
    if (b.sha256 == digest) return &b;
  return nullptr;
}

} // namespace

const char *variant_basis_name(VariantBasis b) {
  switch (b) {
  case VariantBasis::given: return "given";
  case VariantBasis::identified: return "identified";
  case VariantBasis::assumed: return "assumed";
  }
  return "?";
}

std::string OvmfChoice::describe() const { return std::string(variant_basis_name(basis)) + ": " + reason; }

std::vector<std::string> variant_store_contradictions(const OvmfVariant &variant, const NamedBytes &firmware) {
  const std::string &name = firmware.error_source();
  FirmwareImage image = parse_firmware(firmware.bytes, name);
  const TdvfSection *cfv = nullptr;
  for (const TdvfSection &s : image.sections)
    if (s.type == TdvfSectionType::cfv) cfv = &s;
  if (!cfv || cfv->raw_size == 0) return {};
  Reader file(firmware.bytes, name);
  ByteView bytes = file.view(cfv->data_offset, cfv->raw_size, "CFV section");
  VariableStore store;
  try {
    store = parse_variable_store(bytes, name, cfv->data_offset);
  } catch (const FormatError &) {
    return {}; // not an edk2 variable store: no structural evidence either way
  }
  std::vector<std::string> out;
  for (const UefiVariable &v : variant.secure_boot_variables) {
    if (!kept_in_store(v.name)) continue;
    const StoredVariable *s = store.find(v.name, v.vendor);
    if (s && v.data.empty())
      out.push_back("the firmware's variable store holds " + v.name + " (" + std::to_string(s->data.size()) +
                    " bytes) but OVMF variant " + variant.name + " says " + v.name + " is absent");
    else if (!s && !v.data.empty())
      out.push_back("OVMF variant " + variant.name + " says " + v.name + " holds " + std::to_string(v.data.size()) +
                    " bytes but the firmware's variable store has no " + v.name);
    else if (s && s->data != v.data)
      out.push_back("the firmware's " + v.name + " (sha256 " + short_sha(sha256(s->data)) +
                    ") differs from OVMF variant " + variant.name + "'s (sha256 " + short_sha(sha256(v.data)) + ")");
  }
  return out;
}

OvmfChoice choose_ovmf_variant(const std::optional<NamedBytes> &firmware, const std::vector<OvmfVariant> &known,
                               const std::optional<RequestedVariant> &requested, const OvmfVariant &fallback,
                               const std::string &fallback_profile) {
  const std::string fallback_where = "the default of profile " + fallback_profile;
  if (!firmware) {
    if (requested)
      return {requested->variant, VariantBasis::given, requested->where + " (no firmware to check it against)"};
    return {fallback, VariantBasis::assumed, fallback_where + " (no firmware to identify it by)"};
  }
  const std::string &name = firmware->name;
  const Sha256 digest = sha256(firmware->bytes);
  for (const OvmfVariant &v : known) {
    const KnownFirmwareBuild *build = find_build(v, digest);
    if (!build) continue;
    const std::string fact = name + " (sha256 " + short_sha(digest) + ") is " + build->description;
    if (requested && requested->variant.name != v.name)
      throw InputError(requested->where, "OVMF variant " + requested->variant.name +
                                             " contradicts the firmware: " + fact + ", which OVMF variant " + v.name +
                                             " describes; give " + v.name + " or leave the variant out");
    return {v, requested ? VariantBasis::given : VariantBasis::identified,
            (requested ? requested->where + ", confirmed: " : "") + fact};
  }
  const OvmfVariant &candidate = requested ? requested->variant : fallback;
  const std::string &where = requested ? requested->where : fallback_where;
  std::vector<std::string> contradictions = variant_store_contradictions(candidate, *firmware);
  if (!contradictions.empty()) {
    throw InputError(requested ? requested->where : "OVMF variant",
                     candidate.name + " (" + where + ") contradicts the firmware " + name + ": " +
                         join(contradictions, "; ") +
                         (requested ? "" : "; give the variant that describes this firmware (--ovmf-variant)"));
  }
  const std::string unknown = name + " (sha256 " + short_sha(digest) + ") is not a build mrforge knows";
  if (requested) return {candidate, VariantBasis::given, requested->where + " (" + unknown + ")"};
  return {candidate, VariantBasis::assumed, fallback_where + "; " + unknown};
}

} // namespace mrforge
