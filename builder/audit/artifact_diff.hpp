// Explaining why two artifacts or two build output directories differ, entry by entry: which
// artifact, inside it which entry (tar or cpio member, file in a root file system, JSON field)
// and which attribute (content, size, mode, owner, mtime, link target, xattr, type, presence).
//
// What is compared depends on what the paths are (recognized by content, not by name):
//   two directories      every file of either side by relative name (symlinks by target, never
//                        followed; files are opened inside their directory, never through a
//                        link); an OCI image layout (oci-layout + index.json): index, manifest and
//                        config field by field and each layer as a tar archive
//   tar / cpio archives  member by member, through libarchive (gzip, zstd, xz, bzip2 decompressed)
//   file-system or disk  erofs (magic 0xE0F5E1E2 at 1024), squashfs ("hsqs" at 0), ext2/3/4
//   images               (0xEF53 at 1080), GPT ("EFI PART" at 512) or MBR (0x55AA at 510 with a
//                        valid partition table; a Linux bzImage also carries 0xAA55 there and is
//                        recognized by "HdrS" and excluded): mounted read-only by libguestfs
//                        inside its appliance VM (the host kernel never parses them), then compared
//                        file by file; all image pairs share one appliance launch. When the trees
//                        are equal but the bytes are not (file-system metadata, a dm-verity hash
//                        tail), that is reported as a difference of the artifact itself.
//   JSON documents       (up to 16 MiB; nested deeper than 128 levels: a FormatError)
//                        field by field, entries named like "shapes[0].rtmr2", "cmdline"; arrays
//                        whose lengths differ are aligned by equal items first, so an inserted
//                        item is reported as "packages[9]: only in the second" with its value
//   text files           line by line ("line 3"), at most 20 lines reported
//   anything else        size and the first differing byte offset
// Entry attributes compared: presence, type, mode, owner, size, content (sha256), link target,
// device, each xattr, links (hard-link count), mtime.
//
// Order of the result: the likely root causes first (file-system images and OCI layers, then archives,
// then other binary files), then the documents that merely record them (JSON, then text such as
// sha256sum.txt); within a group by artifact name, inside an artifact by entry.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

namespace mrforge::builder {

struct Difference {
  std::string artifact;           // "rootfs.img", "layer 1 (app)", "metadata.json"
  std::string entry;              // "etc/greeting", "cmdline", "shapes[0].rtmr2"; empty: the artifact itself
  std::string attribute;          // "content", "size", "mode", "owner", "mtime", "link target",
                                  // "xattr user.x", "type", "presence", "value"
  std::string a, b;               // the two values when short and printable ("0644", "0600"); may be empty;
                                  // for "presence": "present" / "absent"
  std::optional<uint64_t> offset; // "content" of a whole file: the first differing byte (0-based)
  std::string note;               // a short explanation, e.g. "file system trees equal"
  // "rootfs.img: etc/greeting: mode 0644 -> 0600", "rootfs.img: etc/x: only in the second",
  // "vmlinuz: content differs at offset 0x1f00", "rootfs.img: etc/motd: size 6 -> 7 bytes"
  std::string line() const;
};

struct DiffOptions {
  bool use_guestfs = true;                           // false: file-system images are compared as bytes only
  std::function<void(const std::string &)> progress; // may be empty; libguestfs launch and image lines
};

// Empty when the two are identical. Throws InputError/SystemError for a path that does not
// exist or cannot be read (or a directory compared with a file), FormatError for a damaged
// archive or JSON document, InputError for an image libguestfs cannot mount, SystemError when
// the libguestfs appliance does not start.
std::vector<Difference> diff_paths(const std::string &a, const std::string &b, const DiffOptions &options = {});

} // namespace mrforge::builder
