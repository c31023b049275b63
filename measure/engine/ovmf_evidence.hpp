// Which OVMF variant describes a firmware, decided by evidence rather than by a default:
//  1. fingerprints: a firmware file whose sha256 is one of a variant's known builds is that
//     variant's; any other variant asked for is a contradiction;
//  2. structure: the variable store in the firmware's CFV holds the Secure Boot keys (PK, KEK, db,
//     dbx) the firmware starts with, and OVMF measures exactly those: a variant that says a key is
//     absent while the store holds it (or the reverse) contradicts the firmware.
// Without a fingerprint the chosen variant (asked for, or the profile's default) is an assumption
// and is reported as one.
#pragma once

#include <measure/engine/engine.hpp>
#include <measure/engine/profile.hpp>
#include <measure/util/bytes.hpp>

#include <optional>
#include <string>
#include <vector>

namespace mrforge {

enum class VariantBasis {
  given,      // asked for (option, recipe, measurements.json), consistent with the firmware
  identified, // chosen because the firmware's sha256 is one of the variant's known builds
  assumed,    // the profile's default, not contradicted but not confirmed by the firmware
};
const char *variant_basis_name(VariantBasis b); // "given", "identified", "assumed"

struct OvmfChoice {
  OvmfVariant variant;
  VariantBasis basis = VariantBasis::assumed;
  std::string reason; // one line: why this variant, and what confirmed it or why it is an assumption
  // "BASIS: REASON", as notes, measurements.json and --json name it ("identified: OVMF.fd (sha256 ...) is ...").
  std::string describe() const;
};

// A variant asked for, and who asked ("--ovmf-variant", "recipe.yaml:30:5: measure[0].ovmf_variant").
struct RequestedVariant {
  OvmfVariant variant;
  std::string where;
};

// firmware: the firmware file, when there is one (absent when only digests are given); its name
// appears in the reason, its error source in errors. known: every variant mrforge can load (their fingerprints).
// requested: the variant asked for, if any. fallback: the profile's default and the profile's name. Throws InputError
// naming both sides when the firmware contradicts the variant asked for or the default; FormatError when the firmware
// is malformed.
OvmfChoice choose_ovmf_variant(const std::optional<NamedBytes> &firmware, const std::vector<OvmfVariant> &known,
                               const std::optional<RequestedVariant> &requested, const OvmfVariant &fallback,
                               const std::string &fallback_profile);

// The contradictions between a variant's Secure Boot variables and the firmware's variable store
// (empty when they agree or the CFV holds no variable store). For messages and tests.
std::vector<std::string> variant_store_contradictions(const OvmfVariant &variant, const NamedBytes &firmware);

} // namespace mrforge
