#include <measure/formats/grub_config.hpp>
#include <measure/util/errors.hpp>

#include <string_view>

namespace mrforge {

bool is_grub_plain_char(char c) {
  const bool ascii_alnum = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
  return ascii_alnum || (c != 0 && std::string_view(".,:=/+-_@%").find(c) != std::string_view::npos);
}

GrubConfig read_grub_config(ByteView text, const std::string &source) {
  GrubConfig cfg;
  size_t start = 0;
  bool booted = false;
  while (start < text.size()) {
    size_t end = start;
    while (end < text.size() && text[end] != '\n') ++end;
    const std::string where = "line " + std::to_string(cfg.commands.size() + 1);
    if (end == text.size())
      throw FormatError(source, end, where + " has no line feed at its end (mrforge's grub.cfg ends every line so)");
    std::string line(reinterpret_cast<const char *>(text.data() + start), end - start);
    if (line.empty()) throw FormatError(source, start, where + " is empty (not modelled: write no blank lines)");
    std::vector<std::string> words(1);
    for (size_t i = 0; i < line.size(); ++i) {
      const char c = line[i];
      if (c == ' ') {
        if (words.back().empty())
          throw FormatError(source, start + i,
                            where + " has a space where a word should be: GRUB would measure the command with single "
                                    "spaces, so mrforge reads only single spaces between words");
        words.emplace_back();
        continue;
      }
      if (!is_grub_plain_char(c))
        throw FormatError(
            source, start + i,
            where + " has " +
                (c >= 0x20 && c < 0x7f ? std::string("'") + c + "'" : std::string("a control or non-ASCII byte")) +
                ", which GRUB's script parser may not take literally (quotes, variables, comments and "
                "blocks are not modelled)");
      words.back() += c;
    }
    if (words.back().empty()) throw FormatError(source, end, where + " ends with a space");
    if (booted) throw FormatError(source, start, where + " comes after `boot`, which never returns");
    const std::string &cmd = words[0];
    if (cmd == "linuxefi" || cmd == "linux") {
      if (!cfg.kernel_command.empty()) throw FormatError(source, start, where + ": a second kernel command");
      if (words.size() < 2) throw FormatError(source, start, where + ": " + cmd + " needs the kernel's path");
      cfg.kernel_command = cmd;
      cfg.kernel_path = words[1];
      for (size_t i = 2; i < words.size(); ++i) cfg.kernel_args += (i > 2 ? " " : "") + words[i];
    } else if (cmd == "initrdefi" || cmd == "initrd") {
      if (!cfg.initrd_command.empty()) throw FormatError(source, start, where + ": a second initrd command");
      if (words.size() != 2)
        throw FormatError(source, start,
                          where + ": " + cmd + " with one file is modelled, not " + std::to_string(words.size() - 1));
      cfg.initrd_command = cmd;
      cfg.initrd_path = words[1];
    } else if (cmd == "boot") {
      if (words.size() != 1) throw FormatError(source, start, where + ": boot takes no arguments");
      booted = true;
    } else {
      throw FormatError(source, start,
                        where + ": command '" + cmd +
                            "' is not modelled (linuxefi, linux, initrdefi, initrd and boot are)");
    }
    cfg.commands.push_back(line);
    start = end + 1;
  }
  if (cfg.kernel_command.empty()) throw FormatError(source, 0, "no linuxefi or linux command: GRUB boots no kernel");
  if (!booted) throw FormatError(source, text.size(), "no `boot` command at the end");
  return cfg;
}

} // namespace mrforge
