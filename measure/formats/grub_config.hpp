// The grub.cfg of a `boot: shim-grub` image, as far as mrforge models what GRUB measures of it.
//
// GRUB 2.06 measures every command it runs after its own parsing and expansion (PCR8,
// "grub_cmd: " + the words joined by single spaces) and every file it opens (PCR9). So that a
// prediction cannot differ from what GRUB runs, mrforge reads only configurations whose text GRUB
// parses to itself: one command per line, LF-terminated, words of plain characters
// (is_grub_plain_char) separated by single spaces, and only the commands that boot a kernel:
//   linuxefi|linux PATH [ARG...]   the kernel and its command line
//   initrdefi|initrd PATH          the initrd (one file)
//   boot
// Anything else (quotes, variables, comments, menus, blank lines) is refused, not guessed at.
#pragma once

#include <measure/util/bytes.hpp>

#include <string>
#include <vector>

namespace mrforge {

// Letters, digits and . , : = / + - _ @ %: characters GRUB's script lexer takes literally.
bool is_grub_plain_char(char c);

struct GrubConfig {
  std::vector<std::string> commands; // each line without its LF, in order
  std::string kernel_command;        // "linuxefi" or "linux"
  std::string kernel_path;           // "/vmlinuz"
  std::string kernel_args;           // the words after the path, joined by spaces ("" for none)
  std::string initrd_command;        // "initrdefi" or "initrd"; empty: no initrd
  std::string initrd_path;           // "/initrd.img"
};

// Throws FormatError{source, offset} for text outside the model above, naming the line and what
// GRUB would do differently; or when there is not exactly one kernel command before `boot`, more
// than one initrd command, or no `boot` last.
GrubConfig read_grub_config(ByteView text, const std::string &source);

} // namespace mrforge
