// Deterministic archive writers over an FsTree, through libarchive, following
// ../shared/docs/determinism.md: entries in byte-wise path order (directories before contents),
// one timestamp for every entry, numeric owners from the tree, no atime/ctime, no host names.
#pragma once

#include <builder/byte_sink.hpp>
#include <builder/fs_tree.hpp>

#include <cstdint>

namespace mrforge::builder {

struct ArchiveOptions {
  int64_t mtime = 0; // SOURCE_DATE_EPOCH: every entry's mtime
};

// POSIX pax (libarchive "pax restricted": a pax header only where ustar cannot hold a value,
// e.g. long names or xattrs, written as SCHILY.xattr). uname/gname empty. Hard links are written
// as links to the first path (in sorted order). Throws SystemError if a content file cannot be
// read or changed size since it was scanned.
void write_tar(const FsTree &tree, const ArchiveOptions &options, ByteSink &out);

// cpio "newc" (initramfs): inode numbers assigned sequentially from 1 in sorted order (hard links
// share their file's inode and nlink counts them), device numbers 0 except for device nodes'
// rdev, uid/gid from the tree, TRAILER!!! last.
void write_cpio_newc(const FsTree &tree, const ArchiveOptions &options, ByteSink &out);

} // namespace mrforge::builder
