// Expected values from dstack's measurement file and vm_config (dstack_measurement.hpp).
#include <measure/documents/dstack_measurement.hpp>

#include <measure/documents/json_text.hpp>
#include <measure/documents/profile_yaml.hpp>
#include <measure/documents/request_assembly.hpp>
#include <measure/documents/vm_shape_file.hpp>
#include <measure/dstack/checksum_file.hpp>
#include <measure/dstack/td_hob_witness.hpp>
#include <measure/engine/measure_request.hpp>
#include <measure/engine/td_hob.hpp>
#include <measure/util/base64.hpp>
#include <measure/util/errors.hpp>
#include <measure/util/size_text.hpp>
#include <measure/util/strings.hpp>
#include <measure/util/terminal_text.hpp>

#include <nlohmann/json.hpp>

namespace mrforge {

namespace {

using Json = nlohmann::json;

// The vm_config of a document: an object or a string holding one (as dstack serves it).
Json vm_config_of(const Json &doc, const std::string &source, std::string &where) {
  auto it = doc.find("vm_config");
  if (it == doc.end()) throw InputError(source, "no vm_config: not a dstack attestation document");
  where = source + ": vm_config";
  if (it->is_object()) return *it;
  if (it->is_string()) {
    where = source + "#vm_config";
    return parse_json_text(it->get_ref<const std::string &>(), where);
  }
  throw InputError(where, std::string("expected a JSON object or a string holding one, got a JSON ") + it->type_name());
}

const Json *field(const Json &obj, const char *name) {
  auto it = obj.find(name);
  return it == obj.end() || it->is_null() ? nullptr : &*it;
}

std::string string_field(const Json &obj, const char *name, const std::string &where) {
  const Json *f = field(obj, name);
  if (!f) return {};
  if (!f->is_string())
    throw InputError(where + "." + name, std::string("expected a string, got a JSON ") + f->type_name());
  return f->get<std::string>();
}

// dstack's choice of MRTD candidate (dstack-mr/src/machine.rs versioned_options, tdx.rs select_mrtd).
struct PageOrderChoice {
  bool two_pass = false;
  std::string why;
};

PageOrderChoice dstack_page_order(const Json &vm, const std::string &where) {
  if (const Json *f = field(vm, "qemu_single_pass_add_pages")) {
    if (!f->is_boolean())
      throw InputError(where + ".qemu_single_pass_add_pages",
                       std::string("expected a boolean, got a JSON ") + f->type_name());
    const bool v = f->get<bool>();
    return {v, std::string("vm_config qemu_single_pass_add_pages ") + (v ? "true" : "false") +
                   ", which dstack passes as two_pass_add_pages"};
  }
  std::string version = string_field(vm, "qemu_version", where);
  std::string shown = version.empty() ? "9.1.0 (qemu_version absent: dstack's default)" : terminal_text(version);
  if (version.empty()) version = "9.1.0";
  std::vector<uint64_t> v = dstack_qemu_version(version, where + ".qemu_version");
  if (v[0] < 8) throw InputError(where + ".qemu_version", "dstack refuses QEMU before 8.0");
  const bool two = v[0] == 8;
  return {two, "QEMU " + shown + (two ? ": 8.x adds pages in two passes" : ": 9.0 and later add pages in one pass")};
}

const OvmfVariant &variant_for(const std::string &name, const std::vector<OvmfVariant> &known,
                               const std::string &field_name) {
  std::vector<std::string> names;
  for (const OvmfVariant &v : known) {
    if (!v.dstack) continue;
    if (v.dstack->name == name) return v;
    names.push_back(v.dstack->name + " (" + v.name + ")");
  }
  throw InputError(field_name, "OVMF variant '" + terminal_text(name) + "' is not one mrforge knows (known: " +
                                   (names.empty() ? std::string("none") : join(names, ", ")) + ")");
}

} // namespace

bool has_dstack_tdx_measurement(ByteView document) {
  size_t i = 0;
  while (i < document.size() &&
         (document[i] == ' ' || document[i] == '\n' || document[i] == '\r' || document[i] == '\t'))
    ++i;
  if (i == document.size() || document[i] != '{') return false;
  try {
    Json doc = parse_json_text(document, "document");
    if (!doc.is_object()) return false;
    std::string where;
    Json vm = vm_config_of(doc, "document", where);
    return vm.is_object() && field(vm, "tdx_measurement") != nullptr;
  } catch (const Error &) {
    return false;
  }
}

DstackExpectation dstack_expectation(ByteView document, const std::string &source,
                                     const std::optional<DstackMeasurementInput> &given) {
  Json doc = parse_json_text(document, source);
  if (!doc.is_object()) throw InputError(source, "not a dstack attestation document (a JSON object)");
  std::string where;
  Json vm = vm_config_of(doc, source, where);
  if (!vm.is_object()) throw InputError(where, "expected a JSON object");
  DstackExpectation out;

  // The measurement file and the checksum file that binds it.
  Bytes cbor;
  std::string cbor_source;
  std::optional<Bytes> checksum;
  std::string checksum_source;
  const Json *tm = field(vm, "tdx_measurement");
  if (given) {
    cbor = given->measurement;
    cbor_source = given->measurement_source;
    checksum = given->checksum_file;
    checksum_source = given->checksum_source;
    if (tm) out.notes.push_back("the vm_config's tdx_measurement is not used: " + cbor_source + " was given");
  } else {
    if (!tm)
      throw InputError(where, "no tdx_measurement (an older dstack host, or a non-lite TD): give the image's "
                              "measurement.tdx.cbor with --dstack-measurement FILE|IMAGE_DIR");
    if (!tm->is_object()) throw InputError(where + ".tdx_measurement", "expected a JSON object");
    std::string m64 = string_field(*tm, "measurement", where + ".tdx_measurement");
    if (m64.empty()) throw InputError(where + ".tdx_measurement.measurement", "missing or empty");
    cbor_source = where + ".tdx_measurement.measurement";
    cbor = base64_decode(m64, cbor_source);
    std::string c64 = string_field(*tm, "checksum_file", where + ".tdx_measurement");
    if (!c64.empty()) {
      checksum_source = where + ".tdx_measurement.checksum_file";
      checksum = base64_decode(c64, checksum_source);
    }
  }
  out.file = parse_tdx_measurement_file(cbor, cbor_source);
  const TdxMeasurementFile &f = out.file;
  const std::string label = given ? cbor_source : "tdx_measurement";

  // Binding: sha256(sha256sum.txt) is the image identity, its measurement.tdx.cbor line the file's digest.
  const std::string image_hash = string_field(vm, "os_image_hash", where);
  out.os_image_hash = image_hash;
  if (!checksum) {
    out.binding = "not checked: no sha256sum.txt to bind " + std::string(k_tdx_measurement_file_name) + " to the image";
  } else {
    const std::string listed_hash = to_hex(sha256(*checksum));
    Sha256 listed = checksum_file_entry(*checksum, k_tdx_measurement_file_name, checksum_source);
    const bool file_ok = listed == sha256(cbor);
    const bool image_ok = !image_hash.empty() && listed_hash == image_hash;
    out.bound = file_ok && image_ok;
    if (!file_ok)
      out.binding = "FAILED: the sha256 of the measurement file (" + to_hex(sha256(cbor)) +
                    ") is not the one sha256sum.txt lists (" + to_hex(listed) + ")";
    else if (image_hash.empty())
      out.binding = "not checked: the vm_config has no os_image_hash";
    else if (!image_ok)
      out.binding = "FAILED: sha256(sha256sum.txt) " + listed_hash + " is not the vm_config's os_image_hash " +
                    terminal_text(image_hash);
    else
      out.binding =
          "sha256sum.txt lists the measurement file and hashes to the vm_config's os_image_hash " + image_hash;
  }

  // The OVMF variant: the file's name, consistent with the vm_config's.
  std::vector<OvmfVariant> known;
  for (const std::string &n : shipped_ovmf_variants()) known.push_back(load_ovmf_variant(n));
  const OvmfVariant &variant = variant_for(f.ovmf, known, cbor_source + ": tdvf.ovmf");
  const std::string vm_variant = string_field(vm, "ovmf_variant", where);
  if (!vm_variant.empty() && vm_variant != f.ovmf)
    throw InputError(where + ".ovmf_variant", "'" + terminal_text(vm_variant) +
                                                  "' contradicts the measurement file's '" + f.ovmf +
                                                  "' (dstack refuses this too)");
  out.variant = variant.name;

  // The VM shape (profile, CPUs, memory, devices) as mrforge reads vm_configs.
  VmShape shape = parse_dstack_vm_config(std::string(document.begin(), document.end()), source);
  for (const std::string &n : shape.notes) out.notes.push_back(n);
  PageOrderChoice order = dstack_page_order(vm, where);

  MeasureRequest r;
  r.profile = load_platform_profile(shape.profile);
  r.profile_origin = "vm_config qemu_version";
  r.ovmf.variant = variant;
  r.ovmf.basis = VariantBasis::given;
  r.ovmf.reason = label + " tdvf.ovmf \"" + f.ovmf + "\" (dstack's name for " + variant.name + ")";
  r.cpus = shape.cpus;
  r.memory = shape.memory;
  r.shape_origin = shape.origin;
  r.acpi.kind = AcpiInputKind::generated;
  r.acpi.shape = shape;
  r.acpi.profile = load_acpi_profile(shape.profile);
  r.acpi.origin = describe_generated_acpi(shape, shape.profile);
  if (order.two_pass != (r.profile.mrtd_page_order == PageOrder::two_pass))
    out.notes.push_back("dstack's page-order rule (" + order.why + ") differs from profile " + r.profile.name + "'s (" +
                        page_order_name(r.profile.mrtd_page_order) + "): dstack's is followed");

  const std::string td_hob_source = cbor_source + ": tdvf.td_hob";
  std::vector<TdvfSection> sections = parse_td_hob_witness(f.td_hob, td_hob_source);
  r.supplied[DigestSlot::td_hob] = td_hob_digest(sections, shape.memory, r.profile.memory_layout, td_hob_source);
  r.supplied_origin[DigestSlot::td_hob] = "computed: TD HOB for " + format_memory_size(shape.memory) + " from " +
                                          label + " tdvf.td_hob (" + std::to_string(sections.size()) + " ranges)";
  if (!variant.dstack) throw InputError(variant.name, "has no dstack name"); // variant_for found it by that name
  r.supplied[DigestSlot::cfv] = variant.dstack->cfv_digest;
  r.supplied_origin[DigestSlot::cfv] = "OVMF variant " + variant.name + ": dstack's CFV digest for " + f.ovmf;
  r.supplied[DigestSlot::kernel] = f.kernel_authenticode;
  r.supplied_origin[DigestSlot::kernel] = label + " image.kernel_authenticode";
  r.supplied[DigestSlot::cmdline] = f.cmdline_sha384;
  r.supplied_origin[DigestSlot::cmdline] = label + " image.cmdline_sha384";
  r.supplied[DigestSlot::initrd] = f.initrd_sha384;
  r.supplied_origin[DigestSlot::initrd] = label + " image.initrd_sha384";
  Measurement m = measure(r);

  const bool kernel_holds = dstack_kernel_digest_holds(shape.memory);
  ExpectedValues &e = out.expected;
  e.mrtd = order.two_pass ? f.mrtd_two_pass : f.mrtd_single_pass;
  e.rtmr[0] = m.rtmr[0];
  e.rtmr[2] = m.rtmr[2];
  if (kernel_holds) e.rtmr[1] = m.rtmr[1];
  for (const Event &ev : m.events)
    if (ev.reg != Register::rtmr1 || kernel_holds) e.events.push_back(ev);

  out.sources.push_back("MRTD: " + label + " tdvf.mrtd." + (order.two_pass ? "two_pass" : "single_pass") + " (" +
                        order.why + ")");
  out.sources.push_back("RTMR0: mrforge's engine: TD HOB from " + label + " tdvf.td_hob for " +
                        format_memory_size(shape.memory) + ", CFV and UEFI variables of OVMF variant " + variant.name +
                        " (" + label + " tdvf.ovmf \"" + f.ovmf +
                        "\"), ACPI tables generated by mrforge from the vm_config (profile " + shape.profile + ", " +
                        std::to_string(shape.cpus) + " vCPU)");
  if (kernel_holds)
    out.sources.push_back("RTMR1: mrforge's engine: " + label + " image.kernel_authenticode and OVMF's boot events");
  else {
    out.sources.push_back(
        "RTMR1: not compared: the measurement file's kernel digest holds only for 2 GiB or at least " +
        format_memory_size(k_dstack_kernel_digest_memory) + " of memory");
    out.notes.push_back("the TD has " + format_memory_size(shape.memory) +
                        " of memory: QEMU patches the kernel header by memory size, and the measurement file's kernel "
                        "digest holds only for exactly 2 GiB or at least " +
                        format_memory_size(k_dstack_kernel_digest_memory) + " (dstack refuses such a TD too)");
  }
  out.sources.push_back("RTMR2: mrforge's engine: " + label + " image.cmdline_sha384 and image.initrd_sha384");
  out.sources.push_back("RTMR3: replayed from the log (each event decoded below)");
  out.against = "dstack's measurement file (" + label + ", OVMF variant " + variant.name + ", " + shape.profile + ", " +
                std::to_string(shape.cpus) + " vCPU, " + format_memory_size(shape.memory) + ")";
  return out;
}

} // namespace mrforge
