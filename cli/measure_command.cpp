// mrforge measure: expected MRTD and RTMR0-2 (and the event list) for a firmware, kernel, initrd,
// command line and VM shape on a platform profile.
#include "commands.hpp"
#include "output.hpp"

#include <builder/image_metadata.hpp>
#include <measure/engine.hpp>
#include <measure/errors.hpp>
#include <measure/mapped_file.hpp>
#include <measure/profile_yaml.hpp>

#include <iostream>
#include <memory>
#include <optional>

namespace mrforge::cli {

namespace {

struct MeasureOptions {
  std::string image_dir;
  std::string firmware, kernel, initrd;
  std::optional<std::string> cmdline;
  uint32_t cpus = 0;
  std::string memory;
  std::string profile;
  std::string ovmf_variant;
  std::string acpi_tables;
  std::vector<std::string> digests;
  std::string initrd_size;
  bool json = false;
  bool events = false;
};

std::map<DigestSlot, Sha384> parse_digests(const std::vector<std::string> &specs) {
  std::map<DigestSlot, Sha384> out;
  for (const std::string &spec : specs) {
    size_t eq = spec.find('=');
    if (eq == std::string::npos)
      throw InputError("--digest " + spec, "expected NAME=HEX with NAME one of " + digest_slot_names());
    std::string name = spec.substr(0, eq);
    std::optional<DigestSlot> slot = digest_slot_from_name(name);
    if (!slot)
      throw InputError("--digest " + spec, "unknown component '" + name + "' (known: " + digest_slot_names() + ")");
    if (out.count(*slot)) throw InputError("--digest " + spec, "'" + name + "' given twice");
    out[*slot] = sha384_from_hex(spec.substr(eq + 1), "--digest " + name);
  }
  return out;
}

uint64_t parse_bytes(const std::string &text, const std::string &what) {
  if (text.empty() || text.find_first_not_of("0123456789") != std::string::npos || text.size() > 19)
    throw InputError(what, "'" + text + "' is not a byte count");
  return std::stoull(text);
}

void run_measure(const MeasureOptions &o) {
  std::string firmware = o.firmware, kernel = o.kernel, initrd = o.initrd;
  std::optional<std::string> cmdline = o.cmdline;
  if (!o.image_dir.empty()) {
    ImageMetadata meta = read_image_metadata(o.image_dir);
    if (firmware.empty()) firmware = meta.bios;
    if (kernel.empty()) kernel = meta.kernel;
    if (initrd.empty() && meta.initrd) initrd = *meta.initrd;
    if (!cmdline) cmdline = meta.cmdline;
  }
  if (!cmdline)
    throw InputError("--cmdline", "give the kernel command line (--cmdline \"\" for none), or an IMAGE_DIR");

  PlatformProfile profile = load_platform_profile(o.profile);
  OvmfVariant ovmf = load_ovmf_variant(o.ovmf_variant.empty() ? profile.default_ovmf_variant : o.ovmf_variant);

  // Files stay mapped while the engine reads them.
  std::unique_ptr<MappedFile> fw, k, rd;
  MeasureInputs in;
  if (!firmware.empty()) {
    fw = std::make_unique<MappedFile>(firmware);
    in.firmware = NamedBytes{fw->bytes(), firmware};
  }
  if (!kernel.empty()) {
    k = std::make_unique<MappedFile>(kernel);
    in.kernel = NamedBytes{k->bytes(), kernel};
  }
  if (!initrd.empty()) {
    rd = std::make_unique<MappedFile>(initrd);
    in.initrd = NamedBytes{rd->bytes(), initrd};
  }
  if (!o.initrd_size.empty()) in.initrd_size = parse_bytes(o.initrd_size, "--initrd-size");
  in.cmdline = *cmdline;
  in.cpus = o.cpus;
  in.memory = parse_memory_size(o.memory, "--memory");
  if (!o.acpi_tables.empty()) {
    in.acpi = acpi_digests_from_dir(o.acpi_tables);
    in.acpi_origin = o.acpi_tables;
  }
  in.supplied = parse_digests(o.digests);

  Measurement m = measure(profile, ovmf, in);

  if (o.json) {
    Json j;
    j["mrtd"] = m.mrtd ? Json(to_hex(*m.mrtd)) : Json(nullptr);
    for (size_t i = 0; i < 3; ++i) j["rtmr" + std::to_string(i)] = to_hex(m.rtmr[i]);
    j["events"] = Json::array();
    for (const Event &e : m.events) j["events"].push_back(event_json(e));
    j["inputs"] = Json::object();
    for (const auto &[name, value] : m.inputs) j["inputs"][name] = value;
    print_json(j);
    return;
  }
  std::vector<std::vector<std::string>> rows;
  rows.push_back({"MRTD", m.mrtd ? to_hex(*m.mrtd) : "(no --firmware given)"});
  for (size_t i = 0; i < 3; ++i) rows.push_back({"RTMR" + std::to_string(i), to_hex(m.rtmr[i])});
  print_table(rows);
  if (o.events) {
    std::cout << "\n";
    std::vector<std::vector<std::string>> table = {{"#", "MR", "TYPE", "DIGEST", "DESCRIPTION"}};
    for (size_t i = 0; i < m.events.size(); ++i) {
      const Event &e = m.events[i];
      table.push_back(
          {std::to_string(i), register_name(e.reg), event_type_label(e.type), to_hex(e.digest), e.description});
      table.push_back({"", "", "", "", "  <- " + e.source});
    }
    print_table(table);
  }
  std::cerr << "profile " << profile.name << ", OVMF variant " << ovmf.name << ", " << format_memory_size(in.memory)
            << ", " << in.cpus << " vCPU\n";
}

} // namespace

void add_measure_command(CLI::App &app, Runner &run) {
  auto o = std::make_shared<MeasureOptions>();
  CLI::App *cmd = app.add_subcommand("measure", "Compute the expected MRTD and RTMR0-2 of a TDX guest");
  cmd->footer(
      "Inputs come from files (--firmware, --kernel, --initrd), an IMAGE_DIR with dstack's metadata.json, or as\n"
      "digests (--digest NAME=HEX, NAME one of " +
      digest_slot_names() +
      ") for components whose binaries you do not have.\n"
      "Example:\n"
      "  mrforge measure --firmware /usr/share/ovmf/OVMF.fd --kernel vmlinuz --initrd initrd.img \\\n"
      "    --cmdline 'console=hvc0' --cpus 2 --memory 2G --profile qemu-9.2-tdx --acpi-tables acpi/\n"
      "Exit codes: 0 ok, 1 usage error, 2 bad input, 3 internal error.");
  cmd->add_option("image_dir", o->image_dir, "Image directory with metadata.json (bios, kernel, initrd, cmdline)");
  cmd->add_option("--firmware", o->firmware, "OVMF.fd (unified CODE+VARS image with TDX metadata)");
  cmd->add_option("--kernel", o->kernel, "Kernel (bzImage / EFI stub PE)");
  cmd->add_option("--initrd", o->initrd, "Initrd file");
  cmd->add_option("--initrd-size", o->initrd_size, "Initrd size in bytes, when only --digest initrd= is given");
  cmd->add_option("--cmdline", o->cmdline, "Kernel command line as given to QEMU -append (without initrd=)");
  cmd->add_option("--cpus", o->cpus, "Number of vCPUs")->required()->check(CLI::Range(1u, 4096u));
  cmd->add_option("--memory", o->memory, "Guest memory: 2G, 2048M or bytes")->required();
  cmd->add_option("--profile", o->profile, "Platform profile name (see `mrforge profiles`) or YAML file")->required();
  cmd->add_option("--ovmf-variant", o->ovmf_variant, "OVMF variant name or YAML file (default: the profile's)");
  cmd->add_option("--acpi-tables", o->acpi_tables,
                  "Directory with QEMU's fw_cfg ACPI blobs table-loader, rsdp, tables (as copied from a guest's "
                  "/sys/firmware/qemu_fw_cfg/by_name/etc)");
  cmd->add_option("--digest", o->digests, "Supply a component digest instead of its binary: NAME=HEX (repeatable)");
  cmd->add_flag("--json", o->json, "Print JSON: {mrtd, rtmr0, rtmr1, rtmr2, events, inputs}");
  cmd->add_flag("--events", o->events, "Also print the expected event list");
  cmd->callback([o, &run] { run = [o] { run_measure(*o); }; });
}

} // namespace mrforge::cli
