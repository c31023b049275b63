// The grub.cfg of boot: shim-grub: three commands that boot the kernel with its initrd and command
// line through GRUB's EFI loader.
//
//   linuxefi /vmlinuz CMDLINE
//   initrdefi /initrd.img
//   boot
//
// linuxefi/initrdefi, not linux/initrd: with Secure Boot off, Debian's GRUB 2.06 runs `linux`
// through its legacy loader and the kernel gets no TPM event log (BOOT_NOTES.md).
//
// GRUB measures each command as the text it has after its own parsing and expansion (quotes
// removed, variables expanded, escapes resolved), so the file must be one GRUB reads back as
// itself, or the measured text would differ from the one written here. The command line and the
// paths are therefore limited to characters GRUB's script parser treats as plain word characters
// and that mrforge models: ASCII letters, digits and `.,:=/+-_@%`, words separated by one space.
// Anything else (quotes, `$`, `\`, `;`, `#`, `{`, `*`, tabs, non-ASCII, ...) is refused, not escaped.
#pragma once

#include <string>
#include <string_view>

namespace mrforge::builder {

// Empty when GRUB reads `cmdline` back as itself (the rule above: not empty, no leading, trailing
// or double space, only the allowed characters), else what is wrong, such as
// "character '$' (offset 12) is special to GRUB's script parser or not modelled by mrforge; ...".
std::string grub_cmdline_problem(std::string_view cmdline);

// The grub.cfg text (LF line ends). `kernel_path` and `initrd_path` are absolute paths in the ESP
// ("/vmlinuz") of letters, digits and `._-/`. Throws InputError naming the command line (or path)
// and the character when grub_cmdline_problem finds one.
std::string grub_config_text(const std::string &kernel_path, const std::string &initrd_path,
                             const std::string &cmdline);

} // namespace mrforge::builder
