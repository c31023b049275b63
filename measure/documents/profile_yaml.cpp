#include <measure/documents/embedded_profiles.hpp>
#include <measure/documents/profile_yaml.hpp>
#include <measure/documents/yaml_field.hpp>
#include <measure/formats/tcg_log.hpp>
#include <measure/util/errors.hpp>
#include <measure/util/file_io.hpp>
#include <measure/util/hash.hpp>
#include <measure/util/mapped_file.hpp>
#include <measure/util/reader.hpp>
#include <measure/util/strings.hpp>
#include <measure/util/terminal_text.hpp>

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <set>

namespace mrforge {

namespace {

using Field = YamlField;

Guid field_guid(const Field &f) {
  try {
    return Guid::parse(f.str(), f.path());
  } catch (const InputError &e) {
    f.fail(e.what());
  }
}

Register field_register(const Field &f) {
  std::string s = f.str();
  for (Register r : {Register::rtmr0, Register::rtmr1, Register::rtmr2, Register::rtmr3})
    if (s == register_name(r)) return r;
  f.fail("expected rtmr0, rtmr1, rtmr2 or rtmr3, got '" + echoed(s) + "'");
}

Field load_root(const std::string &yaml, const std::string &file, const char *kind) {
  return load_yaml_document(yaml, file, kind);
}

constexpr const char *k_search_path_variable = "MRFORGE_PROFILE_PATH";
constexpr const char *k_embedded = "embedded"; // ProfileSource::location of a shipped profile
// Each kind's folder (under measure/profiles/ and in a MRFORGE_PROFILE_PATH folder), its name in
// messages and the option that takes it.
struct KindInfo {
  ProfileKind kind;
  const char *folder;
  const char *description;
  const char *option;
};
constexpr KindInfo k_kinds[] = {{ProfileKind::platform, "platform", "platform profile", "--profile"},
                                {ProfileKind::ovmf, "ovmf", "OVMF variant", "--ovmf-variant"},
                                {ProfileKind::acpi, "acpi", "ACPI profile", "--acpi-profile"}};

const KindInfo &kind_info(ProfileKind kind) {
  for (const KindInfo &k : k_kinds)
    if (k.kind == kind) return k;
  return k_kinds[0];
}

bool is_path(const std::string &name_or_path) {
  return name_or_path.find('/') != std::string::npos ||
         (name_or_path.size() > 5 && name_or_path.compare(name_or_path.size() - 5, 5, ".yaml") == 0);
}

// A profile is named ([a-z0-9._-], 1 to 64 characters, as the shipped ones are) or given by path
// (with a '/' or ending in .yaml, at most PATH_MAX bytes). Anything else is refused without
// echoing it: names reach the terminal, and a name of megabytes or control bytes is no name. The
// files of a MRFORGE_PROFILE_PATH folder are named by the same rule.
constexpr size_t k_max_profile_name = 64;
constexpr size_t k_max_profile_path = 4096;

bool is_profile_name(const std::string &name) {
  return !name.empty() && name.size() <= k_max_profile_name && std::all_of(name.begin(), name.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-';
  });
}

void check_profile_name(const std::string &name_or_path, bool path, const char *what) {
  if (path) {
    if (name_or_path.size() > k_max_profile_path)
      throw InputError(what, "a profile path of " + std::to_string(name_or_path.size()) + " bytes is longer than " +
                                 std::to_string(k_max_profile_path) + " (PATH_MAX)");
    return;
  }
  if (!is_profile_name(name_or_path))
    throw InputError(what, "not a profile name (" + std::to_string(name_or_path.size()) +
                               " bytes; names are 1 to 64 of a-z 0-9 . _ -) nor a path to a YAML file (with a '/' or "
                               "ending in .yaml)");
}

bool version_less(const std::string &a, const std::string &b) { return strverscmp(a.c_str(), b.c_str()) < 0; }

void sort_by_version(std::vector<ProfileFile> &files) {
  std::stable_sort(files.begin(), files.end(),
                   [](const ProfileFile &a, const ProfileFile &b) { return version_less(a.name, b.name); });
}

std::string sha256_hex(const std::string &text) { return to_hex(sha256(ByteView::of(text))); }

std::string file_name_of(const std::string &path) { return std::filesystem::path(path).filename().string(); }

// The NAME.yaml files of DIR/FOLDER (none when the subfolder is absent), in version order.
std::vector<ProfileFile> files_in(const std::string &dir, ProfileKind kind) {
  namespace fs = std::filesystem;
  const std::string folder = dir + "/" + profile_kind_folder(kind);
  std::vector<ProfileFile> out;
  std::error_code ec;
  if (!fs::exists(fs::symlink_status(folder, ec))) return out;
  try {
    for (const fs::directory_entry &e : fs::directory_iterator(folder)) {
      if (e.path().extension() != ".yaml" || !e.is_regular_file()) continue;
      const std::string path = e.path().string();
      ProfileFile f;
      f.kind = kind;
      f.name = e.path().stem().string();
      if (!is_profile_name(f.name))
        throw InputError(std::string(k_search_path_variable) + ": " + path,
                         "a profile's file name is 1 to 64 of a-z 0-9 . _ - followed by .yaml: rename it");
      f.text = read_text_file(path, limits::k_yaml_document);
      f.source = ProfileSource{file_name_of(path), sha256_hex(f.text), path};
      out.push_back(std::move(f));
    }
  } catch (const fs::filesystem_error &e) {
    throw SystemError(folder, e.code().message());
  }
  sort_by_version(out);
  return out;
}

// The one file `name` resolves to (see profile_yaml.hpp).
ProfileFile find_profile(ProfileKind kind, const std::string &name) {
  std::vector<ProfileFile> files = profile_files(kind);
  std::vector<ProfileFile> hits;
  for (ProfileFile &f : files)
    if (f.name == name) hits.push_back(std::move(f));
  if (hits.empty())
    throw InputError(kind_info(kind).option, std::string("no ") + kind_info(kind).description + " '" + name +
                                                 "' (known: " + join(profile_names(kind), ", ") +
                                                 "; or give a path to a YAML file)");
  if (hits.size() > 1) {
    std::string places = join(hits, " and ", [](const ProfileFile &f) {
      return f.source.location == k_embedded ? std::string("shipped with mrforge") : f.source.location;
    });
    throw InputError(kind_info(kind).option, std::string(kind_info(kind).description) + " '" + name +
                                                 "' is ambiguous: " + places +
                                                 "; give the path of the file you mean, or rename your own");
  }
  return std::move(hits.front());
}

// Parses a listed file (see parse_platform_profile(const ProfileFile &)).
template <typename Profile>
Profile parse_listed(const ProfileFile &f, Profile (*parse)(const std::string &, const std::string &)) {
  const std::string shown = f.source.location == k_embedded
                                ? "embedded:" + std::string(profile_kind_folder(f.kind)) + "/" + f.name + ".yaml"
                                : f.source.location;
  Profile p = parse(f.text, shown);
  if (p.name != f.name)
    throw InputError(shown, "its name is '" + p.name + "' but it is found by the name '" + f.name +
                                "': a profile found by name carries that name (or give its path)");
  p.source = f.source;
  return p;
}

// Loads a profile by name (embedded or from the search path) or from a path.
template <typename Profile>
Profile load_profile(ProfileKind kind, const std::string &name_or_path,
                     Profile (*parse)(const std::string &, const std::string &)) {
  const bool path = is_path(name_or_path);
  check_profile_name(name_or_path, path, kind_info(kind).option);
  if (path) return parse(read_text_file(name_or_path, limits::k_yaml_document), name_or_path);
  return parse_listed(find_profile(kind, name_or_path), parse);
}

} // namespace

const char *measurement_target_name(MeasurementTarget t) {
  return t == MeasurementTarget::tpm_pcrs ? "tpm-pcrs" : "tdx-rtmrs";
}

const char *profile_kind_folder(ProfileKind kind) { return kind_info(kind).folder; }

std::vector<std::string> profile_search_path() {
  namespace fs = std::filesystem;
  const char *value = std::getenv(k_search_path_variable);
  std::vector<std::string> out;
  if (!value) return out;
  const std::string text(value);
  size_t start = 0;
  while (start <= text.size()) {
    size_t end = std::min(text.find(':', start), text.size());
    std::string dir = text.substr(start, end - start);
    start = end + 1;
    if (dir.empty()) continue;
    std::error_code ec;
    if (!fs::is_directory(dir, ec))
      throw InputError(k_search_path_variable, dir + " is not a folder (each entry is a folder holding platform/, "
                                                     "ovmf/ or acpi/ subfolders of NAME.yaml files)");
    bool any = false;
    for (const KindInfo &k : k_kinds) any = any || fs::is_directory(dir + "/" + k.folder, ec);
    if (!any)
      throw InputError(k_search_path_variable,
                       dir + " has none of the subfolders platform/, ovmf/, acpi/ (put NAME.yaml files in them)");
    out.push_back(dir);
  }
  return out;
}

std::vector<ProfileFile> profile_files(ProfileKind kind) {
  std::vector<ProfileFile> out;
  for (const EmbeddedProfile &e : embedded_profiles()) {
    if (e.kind != profile_kind_folder(kind)) continue;
    ProfileFile f;
    f.kind = kind;
    f.name = std::string(e.name);
    f.text = std::string(e.text);
    f.source = ProfileSource{f.name, sha256_hex(f.text), k_embedded};
    out.push_back(std::move(f));
  }
  if (out.empty())
    throw Error(std::string("this mrforge was built without its shipped ") + kind_info(kind).description +
                "s (measure/profiles/" + profile_kind_folder(kind) + ")");
  sort_by_version(out);
  for (const std::string &dir : profile_search_path())
    for (ProfileFile &f : files_in(dir, kind)) out.push_back(std::move(f));
  return out;
}

std::vector<std::string> profile_names(ProfileKind kind) {
  std::vector<std::string> names;
  for (const ProfileFile &f : profile_files(kind))
    if (std::find(names.begin(), names.end(), f.name) == names.end()) names.push_back(f.name);
  std::stable_sort(names.begin(), names.end(), version_less);
  return names;
}

namespace {
std::vector<std::string> shipped_names(ProfileKind kind) {
  std::vector<std::string> names;
  for (const EmbeddedProfile &e : embedded_profiles())
    if (e.kind == profile_kind_folder(kind)) names.emplace_back(e.name);
  if (names.empty())
    throw Error(std::string("this mrforge was built without its shipped ") + kind_info(kind).description + "s");
  std::stable_sort(names.begin(), names.end(), version_less);
  return names;
}
} // namespace

std::vector<std::string> shipped_platform_profiles() { return shipped_names(ProfileKind::platform); }
std::vector<std::string> shipped_ovmf_variants() { return shipped_names(ProfileKind::ovmf); }
std::vector<std::string> shipped_acpi_profiles() { return shipped_names(ProfileKind::acpi); }

AcpiProfile parse_acpi_profile(const std::string &yaml, const std::string &file) {
  Field root = load_root(yaml, file, "AcpiProfile");
  root.expect_map({"apiVersion",
                   "kind",
                   "name",
                   "description",
                   "qemu_version",
                   "confidential",
                   "max_cpus",
                   "max_memory",
                   "max_pci_hole64_size",
                   "phys_bits",
                   "oem_id",
                   "oem_table_id",
                   "creator_id",
                   "memory_split_threshold",
                   "low_ram_when_split",
                   "default_pci_hole64_size",
                   "pm_io_base",
                   "gpe0_block",
                   "sci_irq",
                   "mcfg_base",
                   "mcfg_size",
                   "pci64_aperture_base",
                   "default_phys_bits",
                   "dynamic_window_avoids_reserved",
                   "cpu_hotplug_smi",
                   "cpu_unplug_smi",
                   "tcg_x2apic",
                   "firmware_pci",
                   "variations"});
  AcpiProfile p;
  p.source = ProfileSource{file_name_of(file), sha256_hex(yaml), file};
  p.name = root.required("name").str();
  p.description = root.required("description").str();
  p.qemu_version = root.required("qemu_version").str();
  p.confidential = root.required("confidential").boolean();
  p.max_cpus = root.required("max_cpus").u32();
  Field phys_bits = root.required("phys_bits");
  p.phys_bits = phys_bits.u32();
  // x86-64: at most 52 bits (QEMU target/i386/cpu-param.h TARGET_PHYS_ADDR_SPACE_BITS); 32 at least.
  if (p.phys_bits < 32 || p.phys_bits > 52) phys_bits.fail("expected 32 to 52 address bits");
  const uint64_t address_space = uint64_t{1} << p.phys_bits;
  Field max_memory = root.required("max_memory");
  p.max_memory = max_memory.u64();
  if (p.max_memory == 0 || p.max_memory > address_space)
    max_memory.fail("expected 1 to 2^phys_bits (" + hex_u64(address_space) + ") bytes");
  Field max_hole = root.required("max_pci_hole64_size");
  p.max_pci_hole64_size = max_hole.u64();
  if (p.max_pci_hole64_size > address_space)
    max_hole.fail("expected at most 2^phys_bits (" + hex_u64(address_space) + ")");
  auto fixed_str = [&](const char *key, std::string &out, size_t len) {
    if (auto f = root.optional(key)) {
      out = f->str();
      if (out.size() > len) f->fail("at most " + std::to_string(len) + " characters");
    }
  };
  fixed_str("oem_id", p.oem_id, 6);
  fixed_str("oem_table_id", p.oem_table_id, 8);
  fixed_str("creator_id", p.creator_id, 4);
  if (p.creator_id.size() != 4) root.required("creator_id").fail("exactly 4 characters");
  p.memory_split_threshold = root.required("memory_split_threshold").u64();
  p.low_ram_when_split = root.required("low_ram_when_split").u64();
  p.default_pci_hole64_size = root.required("default_pci_hole64_size").u64();
  if (p.default_pci_hole64_size > p.max_pci_hole64_size)
    root.required("default_pci_hole64_size").fail("is larger than max_pci_hole64_size");
  p.pm_io_base = root.required("pm_io_base").u32();
  p.gpe0_block = root.required("gpe0_block").u32();
  p.sci_irq = root.required("sci_irq").u32();
  p.mcfg_base = root.required("mcfg_base").u64();
  p.mcfg_size = root.required("mcfg_size").u64();
  if (auto f = root.optional("pci64_aperture_base")) p.pci64_aperture_base = f->u64();
  if (auto f = root.optional("default_phys_bits")) {
    p.default_phys_bits = f->u32();
    if (p.default_phys_bits < 36 || p.default_phys_bits > p.phys_bits)
      f->fail("expected 36 to phys_bits (" + std::to_string(p.phys_bits) + ") address bits");
  }
  if (auto f = root.optional("dynamic_window_avoids_reserved")) {
    p.dynamic_window_avoids_reserved = f->boolean();
    if (p.dynamic_window_avoids_reserved && !p.default_phys_bits) f->fail("goes with default_phys_bits");
  }
  if (p.pci64_aperture_base >= address_space)
    root.required("pci64_aperture_base").fail("lies beyond the 2^phys_bits address space");
  if ((p.pci64_aperture_base != 0) == (p.default_phys_bits != 0))
    root.fail("give exactly one of pci64_aperture_base and default_phys_bits");
  p.cpu_hotplug_smi = root.required("cpu_hotplug_smi").boolean();
  p.cpu_unplug_smi = root.required("cpu_unplug_smi").boolean();
  if (auto f = root.optional("tcg_x2apic")) p.tcg_x2apic = f->boolean();
  if (auto f = root.optional("firmware_pci")) {
    f->expect_map({"io_base", "io_limit", "mmio32_base", "mmio32_limit", "mmio64_size", "root_port_io_padding",
                   "root_port_mem_padding", "virtio_net_rom"});
    FirmwarePciProfile fp;
    fp.io_base = f->required("io_base").u64();
    fp.io_limit = f->required("io_limit").u64();
    if (fp.io_base > fp.io_limit || fp.io_limit > 0xffff)
      f->required("io_limit").fail("expected io_base <= io_limit <= 0xFFFF");
    Field base32 = f->required("mmio32_base");
    if (base32.node().IsScalar() && base32.node().Scalar() == "uc32")
      fp.mmio32_uc32 = true;
    else
      fp.mmio32_base = base32.u64();
    fp.mmio32_limit = f->required("mmio32_limit").u64();
    if (fp.mmio32_limit > 0xffffffffull || (!fp.mmio32_uc32 && fp.mmio32_base > fp.mmio32_limit))
      f->required("mmio32_limit").fail("expected mmio32_base <= mmio32_limit < 4 GiB");
    if (auto m = f->optional("mmio64_size")) fp.mmio64_size = m->u64();
    if ((fp.mmio64_size != 0) != (p.pci64_aperture_base != 0))
      f->fail("mmio64_size goes with pci64_aperture_base (a profile with default_phys_bits derives it)");
    if (p.pci64_aperture_base && fp.mmio64_size > address_space - p.pci64_aperture_base)
      f->required("mmio64_size").fail("the aperture ends past the 2^phys_bits address space");
    auto pow2 = [](uint64_t v) { return (v & (v - 1)) == 0; };
    fp.root_port_io_padding = f->required("root_port_io_padding").u64();
    fp.root_port_mem_padding = f->required("root_port_mem_padding").u64();
    fp.virtio_net_rom = f->required("virtio_net_rom").u64();
    if (!pow2(fp.root_port_io_padding) || fp.root_port_io_padding > 0x10000)
      f->required("root_port_io_padding").fail("expected 0 or a power of two up to 64 KiB");
    if (!pow2(fp.root_port_mem_padding) || fp.root_port_mem_padding > (1ull << 31))
      f->required("root_port_mem_padding").fail("expected 0 or a power of two up to 2 GiB");
    if (!pow2(fp.virtio_net_rom) || fp.virtio_net_rom > (1ull << 24))
      f->required("virtio_net_rom").fail("expected 0 or a power of two up to 16 MiB (a ROM BAR's size)");
    p.firmware_pci = fp;
  }
  for (const Field &f : root.required("variations").list()) {
    std::optional<AcpiVariation> v = acpi_variation_from_name(f.str());
    if (!v) f.fail("unknown AML variation '" + f.str() + "' (known: " + acpi_variation_names() + ")");
    if (!p.variations.insert(*v).second) f.fail("variation '" + f.str() + "' listed twice");
  }
  if (p.max_cpus == 0) root.required("max_cpus").fail("must be at least 1");
  if (p.pm_io_base > 0xffff || p.gpe0_block > 0xffff) root.fail("pm_io_base and gpe0_block are 16-bit I/O ports");
  if (p.mcfg_size == 0 || p.mcfg_size % (1u << 20)) root.required("mcfg_size").fail("a non-zero multiple of 1 MiB");
  return p;
}

AcpiProfile load_acpi_profile(const std::string &name_or_path) {
  return load_profile(ProfileKind::acpi, name_or_path, &parse_acpi_profile);
}

PlatformProfile parse_platform_profile(const std::string &yaml, const std::string &file) {
  Field root = load_root(yaml, file, "PlatformProfile");
  root.expect_map({"apiVersion", "kind", "name", "description", "measured_into", "mrtd", "memory_layout", "kernel",
                   "acpi", "default_ovmf_variant", "events", "uki_events", "shim_grub_events"});
  PlatformProfile p;
  p.source = ProfileSource{file_name_of(file), sha256_hex(yaml), file};
  p.name = root.required("name").str();
  p.description = root.required("description").str();
  if (auto into = root.optional("measured_into")) {
    if (into->str() == "tdx-rtmrs")
      p.measured_into = MeasurementTarget::tdx_rtmrs;
    else if (into->str() == "tpm-pcrs")
      p.measured_into = MeasurementTarget::tpm_pcrs;
    else
      into->fail("expected tdx-rtmrs or tpm-pcrs, got '" + echoed(into->str()) + "'");
  }

  Field mrtd = root.required("mrtd");
  mrtd.expect_map({"page_order"});
  Field order = mrtd.required("page_order");
  if (order.str() == "single-pass")
    p.mrtd_page_order = PageOrder::single_pass;
  else if (order.str() == "two-pass")
    p.mrtd_page_order = PageOrder::two_pass;
  else
    order.fail("expected single-pass or two-pass, got '" + echoed(order.str()) + "'");

  Field mem = root.required("memory_layout");
  mem.expect_map({"split_threshold", "low_top_when_split", "high_base"});
  p.memory_layout.split_threshold = mem.required("split_threshold").u64();
  p.memory_layout.low_top_when_split = mem.required("low_top_when_split").u64();
  p.memory_layout.high_base = mem.required("high_base").u64();
  if (p.memory_layout.low_top_when_split > p.memory_layout.split_threshold ||
      p.memory_layout.high_base < p.memory_layout.split_threshold)
    mem.fail("expected low_top_when_split <= split_threshold <= high_base");
  if (p.memory_layout.low_top_when_split % 4096 || p.memory_layout.high_base % 4096)
    mem.fail("low_top_when_split and high_base must be 4 KiB aligned");

  Field kernel = root.required("kernel");
  kernel.expect_map({"header_patch", "acpi_data_size"});
  Field patch = kernel.required("header_patch");
  if (patch.str() == "none") {
    p.kernel_header_patch = KernelHeaderPatch::none;
    if (kernel.optional("acpi_data_size"))
      kernel.required("acpi_data_size").fail("only meaningful with header_patch: qemu-x86-load-linux");
  } else if (patch.str() == "qemu-x86-load-linux") {
    p.kernel_header_patch = KernelHeaderPatch::qemu_x86_load_linux;
    Field size = kernel.required("acpi_data_size");
    p.qemu_acpi_data_size = size.u64();
    if (p.qemu_acpi_data_size == 0 || p.qemu_acpi_data_size % 4096) size.fail("expected a non-zero multiple of 4 KiB");
  } else {
    patch.fail("expected none or qemu-x86-load-linux, got '" + echoed(patch.str()) + "'");
  }

  Field acpi = root.required("acpi");
  acpi.expect_map({"source", "generator", "tpm_log_size"});
  Field source = acpi.required("source");
  if (source.str() != "fw_cfg-blobs") source.fail("expected fw_cfg-blobs, got '" + echoed(source.str()) + "'");
  p.acpi_source = AcpiSource::fw_cfg_blobs;
  if (auto gen = acpi.optional("generator")) {
    p.acpi_generator = gen->str();
    if (p.acpi_generator.empty()) gen->fail("expected an ACPI profile name");
  }
  if (auto size = acpi.optional("tpm_log_size")) {
    if (p.measured_into != MeasurementTarget::tpm_pcrs)
      size->fail("only meaningful with measured_into: tpm-pcrs (a host with a TPM device)");
    p.qemu_tpm_log_size = size->u64();
    if (p.qemu_tpm_log_size == 0 || p.qemu_tpm_log_size > k_max_tpm_log_size)
      size->fail("expected 1 to " + std::to_string(k_max_tpm_log_size) + " bytes");
  }

  p.default_ovmf_variant = root.required("default_ovmf_variant").str();

  auto steps = [](const Field &list) {
    std::vector<EventStep> out;
    std::set<EventStep> seen;
    for (const Field &f : list.list()) {
      std::optional<EventStep> step = event_step_from_name(f.str());
      if (!step) f.fail("unknown event step '" + echoed(f.str()) + "'");
      if (!seen.insert(*step).second) f.fail("event step '" + echoed(f.str()) + "' listed twice");
      out.push_back(*step);
    }
    if (out.empty()) list.fail("the event list is empty");
    return out;
  };
  p.events = steps(root.required("events"));
  for (EventStep disk_only : {EventStep::gpt, EventStep::boot_application, EventStep::uki_sections,
                              EventStep::shim_measurements, EventStep::grub_application, EventStep::grub_measurements})
    if (std::count(p.events.begin(), p.events.end(), disk_only))
      root.required("events").fail(std::string("'") + event_step_name(disk_only) +
                                   "' belongs to a disk boot: list it under uki_events or shim_grub_events");
  // A disk boot's list: it measures the GPT and the boot application, and has no step of the other path.
  auto disk_steps = [&](const Field &list, std::vector<EventStep> foreign) {
    std::vector<EventStep> out = steps(list);
    for (EventStep needed : {EventStep::gpt, EventStep::boot_application})
      if (!std::count(out.begin(), out.end(), needed))
        list.fail(std::string("a disk boot measures the GPT and the boot application: '") + event_step_name(needed) +
                  "' is missing");
    for (EventStep other : foreign)
      if (std::count(out.begin(), out.end(), other))
        list.fail(std::string("'") + event_step_name(other) + "' does not occur on this disk boot path");
    return out;
  };
  if (auto uki = root.optional("uki_events"))
    p.uki_events =
        disk_steps(*uki, {EventStep::shim_measurements, EventStep::grub_application, EventStep::grub_measurements});
  if (auto sg = root.optional("shim_grub_events"))
    p.shim_grub_events =
        disk_steps(*sg, {EventStep::uki_sections, EventStep::kernel, EventStep::cmdline, EventStep::initrd});
  return p;
}

OvmfVariant parse_ovmf_variant(const std::string &yaml, const std::string &file) {
  Field root = load_root(yaml, file, "OvmfVariant");
  root.expect_map({"apiVersion", "kind", "name", "description", "secure_boot_variables", "separator_boot_register",
                   "boot_variables", "disk_boot", "extra_events", "vtpm_acpi_blobs", "known_builds", "dstack"});
  OvmfVariant v;
  v.source = ProfileSource{file_name_of(file), sha256_hex(yaml), file};
  v.name = root.required("name").str();
  v.description = root.required("description").str();
  for (const Field &f : root.required("secure_boot_variables").list()) {
    f.expect_map({"name", "vendor", "data"});
    UefiVariable var;
    var.name = f.required("name").str();
    var.vendor = field_guid(f.required("vendor"));
    var.data = f.required("data").hex();
    v.secure_boot_variables.push_back(std::move(var));
  }
  Register sep = field_register(root.required("separator_boot_register"));
  if (sep != Register::rtmr0 && sep != Register::rtmr1)
    root.required("separator_boot_register").fail("expected rtmr0 or rtmr1");
  v.separator_boot_register = sep;

  Field boot = root.required("boot_variables");
  boot.expect_map({"vendor", "boot_order", "options"});
  v.global_variable_guid = field_guid(boot.required("vendor"));
  v.boot_order = boot.required("boot_order").hex();
  auto load_option = [](const Field &f, bool named) {
    if (named)
      f.expect_map({"variable", "attributes", "description", "fv", "file"});
    else
      f.expect_map({"attributes", "description", "fv", "file"});
    LoadOption o;
    if (named) o.variable = f.required("variable").str();
    o.attributes = f.required("attributes").u32();
    o.description = f.required("description").str();
    o.fv = field_guid(f.required("fv"));
    o.file = field_guid(f.required("file"));
    return o;
  };
  for (const Field &f : boot.required("options").list()) v.boot_options.push_back(load_option(f, true));
  if (auto disk = root.optional("disk_boot")) {
    disk->expect_map({"before", "disk", "after"});
    DiskBootOptions d;
    for (const Field &f : disk->required("before").list()) d.before.push_back(load_option(f, false));
    for (const Field &f : disk->required("after").list()) d.after.push_back(load_option(f, false));
    Field each = disk->required("disk");
    each.expect_map({"attributes", "description", "optional_data"});
    d.disk_attributes = each.required("attributes").u32();
    d.disk_description = each.required("description").str();
    d.disk_optional_data = each.required("optional_data").hex();
    v.disk_boot = std::move(d);
  }
  if (auto extra = root.optional("extra_events")) {
    for (const Field &f : extra->list()) {
      f.expect_map({"register", "type", "description", "digest", "data"});
      ExtraEvent e;
      e.reg = field_register(f.required("register"));
      Field type = f.required("type");
      std::optional<uint32_t> t = tcg_event_type_from_name(type.str());
      if (!t)
        type.fail("unknown TCG event type '" + echoed(type.str()) + "' (use a name such as EV_EFI_HANDOFF_TABLES2)");
      e.type = *t;
      e.description = f.required("description").str();
      auto digest = f.optional("digest");
      auto data = f.optional("data");
      if (digest.has_value() == data.has_value())
        f.fail("give exactly one of 'digest' (SHA-384 hex) or 'data' (hex of the hashed bytes)");
      if (digest) {
        Bytes d = digest->hex();
        if (d.size() != 48) digest->fail("a SHA-384 digest has 96 hex digits");
        e.digest = to_sha384(d);
      } else {
        e.digest = sha384(data->hex());
      }
      v.extra_events.push_back(std::move(e));
    }
  }
  if (auto blobs = root.optional("vtpm_acpi_blobs")) {
    for (const Field &f : blobs->list()) {
      std::optional<AcpiBlob> blob = acpi_blob_from_name(f.str());
      if (!blob)
        f.fail("unknown fw_cfg ACPI blob '" + echoed(f.str()) + "' (expected one of " + acpi_blob_names() + ")");
      if (std::find(v.vtpm_acpi_blobs.begin(), v.vtpm_acpi_blobs.end(), *blob) != v.vtpm_acpi_blobs.end())
        f.fail("fw_cfg blob '" + echoed(f.str()) + "' listed twice (OVMF measures each blob once)");
      v.vtpm_acpi_blobs.push_back(*blob);
    }
  }
  if (auto builds = root.optional("known_builds")) {
    for (const Field &f : builds->list()) {
      f.expect_map({"sha256", "description"});
      Field digest = f.required("sha256");
      Bytes d = digest.hex();
      if (d.size() != 32) digest.fail("a SHA-256 digest has 64 hex digits");
      KnownFirmwareBuild b;
      std::copy(d.begin(), d.end(), b.sha256.begin());
      b.description = f.required("description").str();
      if (b.description.empty()) f.required("description").fail("say which build this is (package, version, file)");
      v.known_builds.push_back(std::move(b));
    }
  }
  if (auto dstack = root.optional("dstack")) {
    dstack->expect_map({"name", "cfv_digest"});
    DstackOvmfName d;
    d.name = dstack->required("name").str();
    if (d.name.empty()) dstack->required("name").fail("the name dstack's measurement file gives the variant");
    Field cfv = dstack->required("cfv_digest");
    Bytes digest = cfv.hex();
    if (digest.size() != 48) cfv.fail("a SHA-384 digest has 96 hex digits");
    d.cfv_digest = to_sha384(digest);
    v.dstack = std::move(d);
  }
  return v;
}

PlatformProfile parse_platform_profile(const ProfileFile &file) { return parse_listed(file, &parse_platform_profile); }
OvmfVariant parse_ovmf_variant(const ProfileFile &file) { return parse_listed(file, &parse_ovmf_variant); }
AcpiProfile parse_acpi_profile(const ProfileFile &file) { return parse_listed(file, &parse_acpi_profile); }

PlatformProfile load_platform_profile(const std::string &name_or_path) {
  return load_profile(ProfileKind::platform, name_or_path, &parse_platform_profile);
}

OvmfVariant load_ovmf_variant(const std::string &name_or_path) {
  return load_profile(ProfileKind::ovmf, name_or_path, &parse_ovmf_variant);
}

} // namespace mrforge
