// Fuzz target for VM shapes as `mrforge acpi generate`, `measure` and `verify` read them: shape
// files (YAML or JSON) and dstack vm_config documents. Any input must either parse or throw
// mrforge::Error. A parsed shape naming a shipped ACPI profile is also written back as YAML,
// which must parse to the same YAML again, and its ACPI tables are generated (or refused with an
// InputError) and decoded again, which must succeed. The seed corpus (tests/fuzz/corpus/vm_shape:
// the shapes of the captured QEMU 7.2 fixtures and the vm_configs of the dstack hardware vectors)
// also runs as an ordinary test.
#include <measure/acpi/acpi_decode.hpp>
#include <measure/acpi/acpi_generator.hpp>
#include <measure/documents/profile_yaml.hpp>
#include <measure/documents/vm_shape_file.hpp>
#include <measure/util/errors.hpp>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace {
[[noreturn]] void broken(const char *property, const std::string &detail) {
  std::fprintf(stderr, "fuzz_vm_shape: %s\n%s\n", property, detail.c_str());
  std::abort();
}

// Only the shipped profiles: a shape may name a profile file by path, which a fuzzer must not open.
const mrforge::AcpiProfile *shipped_profile(const std::string &name) {
  static const std::vector<std::string> names = mrforge::shipped_acpi_profiles();
  static std::map<std::string, mrforge::AcpiProfile> loaded;
  if (std::find(names.begin(), names.end(), name) == names.end()) return nullptr;
  auto it = loaded.find(name);
  if (it == loaded.end()) it = loaded.emplace(name, mrforge::load_acpi_profile(name)).first;
  return &it->second;
}

void exercise(const mrforge::VmShape &shape) {
  const mrforge::AcpiProfile *profile = shipped_profile(shape.profile);
  if (!profile) return;
  std::string yaml = mrforge::vm_shape_to_yaml(shape);
  try {
    std::string again = mrforge::vm_shape_to_yaml(mrforge::parse_vm_shape(yaml, "written"));
    if (again != yaml) broken("a written shape reads back differently", yaml + "---\n" + again);
  } catch (const mrforge::Error &e) {
    broken("a written shape does not read back", yaml + e.what());
  }
  std::optional<mrforge::GeneratedAcpi> generated;
  try {
    generated = mrforge::generate_acpi(shape, *profile);
  } catch (const mrforge::InputError &) {
    return; // a shape the profile does not support
  }
  try {
    (void)mrforge::decode_acpi(generated->blobs);
  } catch (const mrforge::Error &e) {
    broken("generated tables do not decode", yaml + e.what());
  }
}
} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  const std::string text(reinterpret_cast<const char *>(data), size);
  try {
    exercise(mrforge::parse_vm_shape(text, "fuzz"));
  } catch (const mrforge::Error &) {
  }
  try {
    exercise(mrforge::parse_dstack_vm_config(text, "fuzz"));
  } catch (const mrforge::Error &) {
  }
  return 0;
}
