// mrforge diff: explains why two artifacts or two build output directories differ, entry by
// entry (builder/audit/artifact_diff.hpp). File-system and disk images are read through libguestfs.
#include "commands.hpp"
#include "output.hpp"

#include <builder/audit/artifact_diff.hpp>

#include <iostream>
#include <memory>

namespace mrforge::cli {

namespace {

struct DiffCommandOptions {
  std::string a, b;
  bool json = false;
  bool no_guestfs = false;
};

int run_diff(const DiffCommandOptions &o) {
  builder::DiffOptions options;
  options.use_guestfs = !o.no_guestfs;
  options.progress = [](const std::string &line) {
    print_line(line, std::cerr);
    std::cerr.flush();
  };
  std::vector<builder::Difference> differences = builder::diff_paths(o.a, o.b, options);
  if (o.json) {
    Json list = Json::array();
    for (const auto &d : differences) {
      Json j;
      j["artifact"] = d.artifact;
      j["entry"] = d.entry;
      j["attribute"] = d.attribute;
      j["a"] = d.a;
      j["b"] = d.b;
      if (d.offset) j["offset"] = *d.offset;
      if (!d.note.empty()) j["note"] = d.note;
      list.push_back(std::move(j));
    }
    print_json(list);
  } else if (differences.empty()) {
    std::cout << "identical\n";
  } else {
    for (const auto &d : differences) print_line(d.line());
  }
  return differences.empty() ? k_exit_ok : k_exit_mismatch;
}

} // namespace

void add_diff_command(CLI::App &app, Runner &run) {
  auto o = std::make_shared<DiffCommandOptions>();
  CLI::App *cmd = add_command(app, run, o, "diff", "Explain how two artifacts or output directories differ", run_diff);
  cmd->footer("Compares by content: directories file by file (OCI layouts by manifest, config and layer),\n"
              "tar/cpio archives member by member, JSON field by field, text line by line, other files by\n"
              "size and first differing offset. File-system and disk images (erofs, squashfs, ext4, GPT/MBR)\n"
              "are mounted read-only inside the libguestfs appliance, never by the host kernel (without KVM\n"
              "it runs under TCG and takes up to a minute; progress goes to stderr).\n"
              "Each line names the artifact, the entry and the attribute:\n"
              "  rootfs.img: etc/motd: mode 0644 -> 0600\n"
              "Example:\n"
              "  mrforge diff published/ rebuilt/ --json\n"
              "Exit codes: 0 identical, 4 different, 1 usage error, 2 bad input (missing, unreadable or damaged),\n"
              "3 internal error.");
  cmd->add_option("a", o->a, "First artifact or directory")->required();
  cmd->add_option("b", o->b, "Second artifact or directory")->required();
  cmd->add_flag("--json", o->json, "Print JSON: [{artifact, entry, attribute, a, b, offset?, note?}]");
  cmd->add_flag("--no-guestfs", o->no_guestfs, "Compare file-system and disk images as bytes (no libguestfs)");
}

} // namespace mrforge::cli
