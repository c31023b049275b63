#pragma once
// The expected values `mrforge verify --expected FILE|DIR` compares a quote with, in one of three
// forms: the JSON of `mrforge measure --json`; a guest build's measurements.json ({"shapes": [...]},
// or the build's output directory that holds it); a DSSE envelope around our in-toto statement (its
// signature checked with the signer's public key before anything else is read). The last two may
// hold several VM shapes: a shape index picks one. Errors name verify's options (--expected, --pub,
// --expected-shape).

#include <measure/verify/verify.hpp>

#include <cstddef>
#include <optional>
#include <string>

namespace mrforge::builder {

struct ExpectedFile {
  // nullopt: a signed statement whose signature does not verify; nothing may be compared.
  std::optional<ExpectedValues> values;
  std::string refusal; // then: "PATH: why the signature does not verify"
  std::string note;    // where the values came from, for the report (empty for `measure --json` output)
  std::string against; // the same, short, for the summary line: "measurements.json shapes[0]"
};

// given: --expected FILE|DIR; pub: --pub (empty: none); shape: --expected-shape.
ExpectedFile read_expected_file(const std::string &given, const std::string &pub, std::optional<size_t> shape);

} // namespace mrforge::builder
