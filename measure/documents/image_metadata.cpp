#include <measure/documents/image_metadata.hpp>
#include <measure/documents/json_text.hpp>
#include <measure/util/errors.hpp>
#include <measure/util/mapped_file.hpp>

#include <nlohmann/json.hpp>

namespace mrforge {

namespace {

// A file name from metadata.json is a plain name of a file in the image directory.
std::string file_in(const std::string &dir, const std::string &meta, const std::string &field,
                    const std::string &name) {
  if (name.empty() || name == "." || name == ".." || name.find('/') != std::string::npos ||
      name.find('\0') != std::string::npos)
    throw InputError(meta + ": " + field,
                     "'" + name + "' must be the plain name of a file in the image directory (no '/', not '..')");
  return dir + "/" + name;
}

} // namespace

InputFile open_image_file(const ImageMetadata &meta, const std::string &path, FileLimit limit) {
  if (path.size() <= meta.dir.size() + 1 || path.compare(0, meta.dir.size() + 1, meta.dir + "/") != 0)
    throw SystemError(path, "is not a file of the image directory " + meta.dir);
  return InputFile::open_in(meta.dir, path.substr(meta.dir.size() + 1), limit);
}

ImageMetadata read_image_metadata(const std::string &dir) {
  std::string meta = dir + "/metadata.json";
  nlohmann::json j =
      parse_json_text(InputFile::open_in(dir, "metadata.json", limits::k_json_document).read_all(), meta);
  if (!j.is_object()) throw InputError(meta, "expected a JSON object with bios, kernel, initrd and cmdline");
  auto str = [&](const char *field, bool required) -> std::optional<std::string> {
    auto it = j.find(field);
    if (it == j.end() || it->is_null()) {
      if (required) throw InputError(meta, std::string("missing field \"") + field + "\"");
      return std::nullopt;
    }
    if (!it->is_string()) throw InputError(meta + ": " + field, "expected a string");
    return it->get<std::string>();
  };
  ImageMetadata m;
  m.dir = dir;
  m.bios = file_in(dir, meta, "bios", *str("bios", true));
  m.kernel = file_in(dir, meta, "kernel", *str("kernel", true));
  if (auto initrd = str("initrd", false); initrd && !initrd->empty()) m.initrd = file_in(dir, meta, "initrd", *initrd);
  m.cmdline = *str("cmdline", true);
  if (auto rootfs = str("rootfs", false)) m.rootfs = file_in(dir, meta, "rootfs", *rootfs);
  m.version = str("version", false);
  if (auto boot = str("boot", false)) {
    if (*boot != "direct" && *boot != "uki" && *boot != "shim-grub")
      throw InputError(meta + ": boot",
                       "unknown boot path '" + *boot + "' (direct, uki, shim-grub): a newer mrforge's image?");
    m.boot = *boot;
  }
  if (m.boot != "direct") m.disk = file_in(dir, meta, "disk", *str("disk", true));
  if (m.boot == "uki") m.uki = file_in(dir, meta, "uki", *str("uki", true));
  if (m.boot == "shim-grub") {
    m.shim = file_in(dir, meta, "shim", *str("shim", true));
    m.grub = file_in(dir, meta, "grub", *str("grub", true));
    m.grub_cfg = file_in(dir, meta, "grub_cfg", *str("grub_cfg", true));
  }
  return m;
}

} // namespace mrforge
