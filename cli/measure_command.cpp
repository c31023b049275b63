// mrforge measure: expected MRTD and RTMR0-2 (and the event list) for a firmware, kernel, initrd,
// command line and VM shape on a platform profile.
#include "commands.hpp"
#include "measure_options.hpp"
#include "output.hpp"

#include <measure/engine/engine.hpp>
#include <measure/util/size_text.hpp>

#include <iostream>
#include <memory>
#include <optional>

namespace mrforge::cli {

namespace {

struct MeasureCommandOptions {
  MeasureOptions inputs;
  bool json = false;
  bool events = false;
};

void run_measure(const MeasureCommandOptions &o) {
  LoadedRequest loaded = load_measure_request(o.inputs);
  const MeasureRequest &r = loaded.request();
  Measurement m = measure(r);
  // What the user should know of how the request was made (stderr, so that --json stays data).
  for (const std::string &n : loaded.notes) std::cerr << "note: " << n << "\n";

  if (o.json) {
    print_json(measurement_json(m));
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
  std::cerr << "profile " << r.profile.name << ", OVMF variant " << r.ovmf.variant.name << ", "
            << format_memory_size(r.memory) << ", " << r.cpus << " vCPU\n";
}

} // namespace

void add_measure_command(CLI::App &app, Runner &run) {
  auto o = std::make_shared<MeasureCommandOptions>();
  CLI::App *cmd =
      add_command(app, run, o, "measure", "Compute the expected MRTD and RTMR0-2 of a TDX guest", run_measure);
  cmd->footer(
      "Inputs come from files (--firmware, --kernel, --initrd), an IMAGE_DIR with dstack's metadata.json, or as\n"
      "digests (--digest NAME=HEX, NAME one of " +
      digest_slot_names() +
      ") for components whose binaries you do not have.\n"
      "An IMAGE_DIR built by `mrforge build` also has measurements.json: its VM shape (profile, OVMF variant,\n"
      "CPUs, memory, ACPI source) is used unless options override it (--image-shape N picks one of several).\n"
      "The OVMF variant is the one the firmware's fingerprint identifies; a contradicting --ovmf-variant is an\n"
      "error. For a firmware mrforge does not know, the profile's default is used and reported as assumed.\n"
      "Example:\n"
      "  mrforge measure --firmware /usr/share/ovmf/OVMF.fd --kernel vmlinuz --initrd initrd.img \\\n"
      "    --cmdline 'console=hvc0' --cpus 2 --memory 2G --profile qemu-9.2-tdx --acpi-tables acpi/\n"
      "Exit codes: 0 ok, 1 usage error, 2 bad input, 3 internal error.");
  add_measure_options(cmd, o->inputs, true);
  cmd->add_flag("--json", o->json, "Print JSON: {mrtd, rtmr0, rtmr1, rtmr2, events, inputs}");
  cmd->add_flag("--events", o->events, "Also print the expected event list");
}

} // namespace mrforge::cli
