// Reading the file tree of untrusted file-system and disk images through libguestfs: the images
// are attached read-only to its appliance VM, which does all the parsing (the host kernel never
// mounts them). On machines without usable KVM, libguestfs must be told to use TCG
// (backend setting force_tcg); read_image_trees does that itself when LIBGUESTFS_BACKEND_SETTINGS
// is unset and either /dev/kvm cannot be opened read-write or the appliance fails to start with
// KVM (a nested KVM that opens but cannot run QEMU's "-cpu host" aborts QEMU at once).
//
// How a tree is read: each file system is mounted read-only in the appliance and streamed out
// with `tar-out / FILE numericowner:true xattrs:true` (GNU tar in the appliance, pax format), then
// the local tar is read with libarchive (read_archive_entries). One round trip per file system
// carries every attribute and every byte, so content digests are computed here, and archives and
// images share one entry model and one comparison. (The alternative, find0 + lstatnslist +
// lxattrlist + readlinklist + checksums_out, needs several calls per batch of files and its own
// batching limits, and gives nothing more.)
#pragma once

#include <measure/util/mapped_file.hpp>

#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <vector>

namespace mrforge::builder {

struct ImageEntry {
  std::string path;  // relative, "etc/passwd"; the root directory is "/"; prefixed "sda2:" when the
                     // image has several file systems (device named as if the image were the only disk)
  char type = 'f';   // f file, d directory, l symlink, c/b device, p fifo, s socket
  uint32_t mode = 0; // permission bits incl. setuid/setgid/sticky
  uint64_t uid = 0, gid = 0;
  uint64_t size = 0;
  int64_t mtime = 0;
  std::string link_target;
  std::map<std::string, std::string> xattrs; // name -> value bytes
  std::string sha256;                        // regular files
  uint32_t links = 1;                        // names of this inode in the tree (hard links)
  uint32_t dev_major = 0, dev_minor = 0;     // c/b devices
};

struct ImageTree {
  std::string image;
  std::vector<std::string> filesystems; // "erofs on /dev/sda", "ext4 on /dev/sda1"
  std::vector<ImageEntry> entries;      // sorted by path
};

// One appliance launch for all images (a path given twice is attached once). `progress` (may be
// empty) gets lines about the launch, which takes up to a minute under TCG, and each file system.
// Throws InputError naming the image (missing, not a regular file, no file system found, a file
// system that does not mount or cannot be read), MissingLibraryError (libguestfs.so.0 is not
// installed; it is loaded by the first call, guestfs_library.hpp) or SystemError (libguestfs could
// not start: the message carries libguestfs's own error and says what to install or set).
std::vector<ImageTree> read_image_trees(const std::vector<std::string> &images,
                                        const std::function<void(const std::string &)> &progress = {});

// Every member of a tar or cpio archive (gzip, zstd, xz, bzip2 or uncompressed; anything
// libarchive reads), as entries sorted by path: "./" prefixes and trailing "/" removed, the root
// "." as "/", a path seen again as "PATH (#2)". Hard links get the type, size, digest and xattrs
// of the file they name and `links` = the number of names (so the result does not depend on which
// name the archive stored the data under). Throws FormatError naming `source` (the archive as the
// user knows it) and the member for a damaged or unreadable archive.
// `path` is opened with InputFile::open (a regular file, at most limits::k_artifact).
std::vector<ImageEntry> read_archive_entries(const std::string &path, const std::string &source);
// The same for an opened file (read from its current position).
std::vector<ImageEntry> read_archive_entries(InputFile &file, const std::string &source);

} // namespace mrforge::builder
