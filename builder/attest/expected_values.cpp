#include <builder/attest/dsse.hpp>
#include <builder/attest/expected_values.hpp>
#include <builder/attest/measurement_statement.hpp>
#include <builder/attest/signing_key.hpp>

#include <measure/documents/json_text.hpp>
#include <measure/documents/measurement_json.hpp>
#include <measure/documents/recorded_shapes.hpp>
#include <measure/documents/request_assembly.hpp>
#include <measure/util/errors.hpp>
#include <measure/util/input_limits.hpp>
#include <measure/util/mapped_file.hpp>

#include <nlohmann/json.hpp>

#include <cstdint>
#include <filesystem>
#include <vector>

namespace mrforge::builder {

namespace {

size_t pick_shape(const std::vector<std::string> &labels, std::optional<size_t> shape, const std::string &path) {
  return pick_recorded_shape(labels, shape, path, "--expected-shape");
}

ExpectedFile read_measurements_shapes(const nlohmann::ordered_json &j, std::optional<size_t> shape,
                                      const std::string &path) {
  const nlohmann::ordered_json &shapes = j["shapes"];
  if (!shapes.is_array()) throw InputError(path + ": shapes", "expected an array of VM shapes");
  std::vector<std::string> labels;
  for (const nlohmann::ordered_json &s : shapes) {
    auto str = [&](const char *k) {
      return s.is_object() && s.contains(k) && s[k].is_string() ? s[k].get<std::string>() : "?";
    };
    auto num = [&](const char *k) {
      return s.is_object() && s.contains(k) && s[k].is_number_unsigned() ? s[k].get<uint64_t>() : uint64_t{0};
    };
    labels.push_back(shape_label(str("profile"), num("cpus"), num("memory_bytes")));
  }
  size_t n = pick_shape(labels, shape, path);
  std::string where = path + ": shapes[" + std::to_string(n) + "]";
  return {expected_values_from_json(shapes[n], where), "", "expected values: " + where + " (" + labels[n] + ")",
          file_label(path) + " shapes[" + std::to_string(n) + "]"};
}

} // namespace

ExpectedFile read_expected_file(const std::string &given, const std::string &pub, std::optional<size_t> shape) {
  const bool dir = std::filesystem::is_directory(given);
  const std::string path = dir ? given + "/measurements.json" : given;
  if (dir && !std::filesystem::exists(path))
    throw InputError("--expected", given + " is a directory without measurements.json: give a guest build's output "
                                           "directory, its measurements.json, `mrforge measure --json` output or a "
                                           "signed statement");
  // Inside a directory: measurements.json itself, never a link out of it.
  Bytes text = dir ? InputFile::open_in(given, "measurements.json", limits::k_json_document).read_all()
                   : read_file(path, limits::k_json_document);
  nlohmann::ordered_json j = parse_json_text(text, path);
  bool envelope = j.is_object() && j.contains("payloadType") && j.contains("signatures");
  if (!envelope && !pub.empty())
    throw InputError("--pub", path + " is not a signed statement (DSSE envelope): --pub is only for one");
  if (envelope) {
    if (pub.empty())
      throw InputError("--pub", path + " is a signed statement (DSSE envelope): give the signer's public key with "
                                       "--pub PUB");
    SigningKey key = load_public_key(pub);
    DsseEnvelope env = parse_envelope(std::string(text.begin(), text.end()), path);
    DsseVerification v = verify_envelope(env, key);
    if (!v.ok) {
      ExpectedFile refused;
      refused.refusal = path + ": " + v.message;
      return refused;
    }
    Statement st = statement_from_envelope(env, path);
    std::vector<std::string> labels;
    for (const StatementShape &s : st.shapes) labels.push_back(shape_label(s.profile, s.cpus, s.memory_bytes));
    size_t n = pick_shape(labels, shape, path);
    return ExpectedFile{st.shapes[n].expected, "",
                        "expected values: shape " + std::to_string(n) + " (" + labels[n] + ") of the statement in " +
                            path + ", signed by key " + v.keyid + " (recipe " + st.recipe_name + ", " + st.tool + ")",
                        "the signed statement " + file_label(path) + " shape " + std::to_string(n)};
  }
  if (j.is_object() && j.contains("shapes")) return read_measurements_shapes(j, shape, path);
  if (shape)
    throw InputError("--expected-shape",
                     path + " holds one measurement (`mrforge measure --json`), not a list of shapes");
  return ExpectedFile{expected_values_from_json(j, path), "", "", file_label(path)};
}

} // namespace mrforge::builder
