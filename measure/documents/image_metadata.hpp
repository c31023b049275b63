// The image directory layout dstack uses (and mrforge's guest images write): metadata.json
// naming the firmware, kernel, initrd and command line. Fields (dstack's names): "bios",
// "kernel", "initrd", "cmdline", optional "rootfs", "version"; mrforge adds for a disk-booted
// image "boot" ("direct", the default, "uki" or "shim-grub"), "disk" (the boot disk), and what
// its ESP boots: "uki" (the UKI), or "shim", "grub" and "grub_cfg" (the kernel and initrd GRUB
// loads are then "kernel" and "initrd").
//
// The directory is an input tree: metadata.json and the files it names are opened inside it with
// no symbolic link followed (InputFile::open_in), and each name must be a plain file name.
#pragma once

#include <measure/util/input_limits.hpp>
#include <measure/util/mapped_file.hpp>

#include <optional>
#include <string>

namespace mrforge {

struct ImageMetadata {
  std::string dir;
  std::string bios;                  // path (dir joined with the file name)
  std::string kernel;                // path
  std::optional<std::string> initrd; // path
  std::string cmdline;
  std::optional<std::string> rootfs;
  std::optional<std::string> version;
  std::string boot = "direct";     // "uki": OVMF boots `disk`, whose ESP holds `uki`; "shim-grub": shim, GRUB, grub.cfg
  std::optional<std::string> disk; // path; with boot "uki" or "shim-grub"
  std::optional<std::string> uki;  // path; with boot "uki"
  std::optional<std::string> shim, grub, grub_cfg; // paths; with boot "shim-grub"
};

// Reads DIR/metadata.json. Throws SystemError if it cannot be read (also: a symbolic link, not a
// regular file, larger than limits::k_json_document), FormatError if it is not JSON, InputError
// naming the field if a field is missing, of the wrong type, or not a plain file name (empty,
// containing '/', "." or "..").
ImageMetadata read_image_metadata(const std::string &dir);

// Opens `path`, one of meta's bios, kernel, initrd or rootfs, inside meta.dir without following a
// symbolic link. Throws SystemError as InputFile::open_in does.
InputFile open_image_file(const ImageMetadata &meta, const std::string &path, FileLimit limit);

} // namespace mrforge
