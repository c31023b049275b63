#include <builder/boot/grub_config.hpp>

#include <measure/formats/grub_config.hpp>
#include <measure/util/errors.hpp>
#include <measure/util/terminal_text.hpp>

#include <cstdio>

namespace mrforge::builder {

namespace {

bool is_alnum(char c) { return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'); }

bool is_path_char(char c) { return is_alnum(c) || c == '.' || c == '_' || c == '-' || c == '/'; }

// A byte as a message shows it: 'x' when printable ASCII, else \xNN.
std::string shown(char c) {
  unsigned char u = static_cast<unsigned char>(c);
  if (u >= 0x21 && u < 0x7f) return std::string("'") + c + "'";
  if (u == ' ') return "a space";
  char buf[8];
  std::snprintf(buf, sizeof buf, "\\x%02x", u);
  return buf;
}

const char *k_allowed = "allowed: ASCII letters, digits, '.,:=/+-_@%' and single spaces between words";

} // namespace

std::string grub_cmdline_problem(std::string_view cmdline) {
  if (cmdline.empty()) return "GRUB's linuxefi needs a command line; it is empty";
  if (cmdline.front() == ' ') return "starts with a space (GRUB drops it, so the measured text would differ)";
  if (cmdline.back() == ' ') return "ends with a space (GRUB drops it, so the measured text would differ)";
  for (size_t i = 0; i < cmdline.size(); ++i) {
    char c = cmdline[i];
    if (c == ' ') {
      if (cmdline[i + 1] == ' ') // i + 1 < size: the last byte is not a space
        return "two spaces at offset " + std::to_string(i) +
               " (GRUB joins words with one, so the measured text would differ)";
      continue;
    }
    if (!is_grub_plain_char(c)) // what mrforge reads back (measure/formats/grub_config.hpp)
      return "character " + shown(c) + " (offset " + std::to_string(i) +
             ") is special to GRUB's script parser or not modelled by mrforge; " + k_allowed;
  }
  return "";
}

std::string grub_config_text(const std::string &kernel_path, const std::string &initrd_path,
                             const std::string &cmdline) {
  for (const std::string *path : {&kernel_path, &initrd_path}) {
    bool ok = path->size() > 1 && path->front() == '/';
    for (size_t i = 0; ok && i < path->size(); ++i) ok = is_path_char((*path)[i]);
    if (!ok)
      throw InputError("grub.cfg path '" + echoed(*path) + "'",
                       "expected an absolute ESP path of ASCII letters, digits, '._-/' (such as /vmlinuz)");
  }
  std::string problem = grub_cmdline_problem(cmdline);
  if (!problem.empty()) throw InputError("kernel command line '" + echoed(cmdline) + "'", problem);
  return "linuxefi " + kernel_path + " " + cmdline + "\ninitrdefi " + initrd_path + "\nboot\n";
}

} // namespace mrforge::builder
