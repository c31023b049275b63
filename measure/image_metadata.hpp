// The image directory layout dstack uses (and mrforge's guest images write): metadata.json
// naming the firmware, kernel, initrd and command line. Fields (dstack's names): "bios",
// "kernel", "initrd", "cmdline", optional "rootfs", "version".
#pragma once

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
};

// Reads DIR/metadata.json. Throws SystemError if it cannot be read, DocumentError (with line and
// column) if it is not JSON, InputError naming the field if a field is missing, of the wrong type,
// or a file name that leaves the directory.
ImageMetadata read_image_metadata(const std::string &dir);

} // namespace mrforge
