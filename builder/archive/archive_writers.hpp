// Deterministic archive writers over an FsTree, through libarchive, following
// ../shared/docs/determinism.md: entries in byte-wise path order (directories before contents),
// one timestamp for every entry, numeric owners from the tree, no atime/ctime, no host names.
#pragma once

#include <builder/archive/compress.hpp>
#include <builder/fs/fs_tree.hpp>
#include <builder/system/byte_sink.hpp>

#include <cstdint>
#include <memory>
#include <string>

namespace mrforge::builder {

struct ArchiveOptions {
  int64_t mtime = 0; // SOURCE_DATE_EPOCH: every entry's mtime
};

// Both writers write the complete archive (end-of-archive marker and block padding included) to
// `out` but do not call out.finish(): the caller finishes its sink chain, after which hashes are
// valid. Entries are written in tree order (byte-wise by path), with mode = type | node.mode.

// POSIX pax (libarchive "pax restricted": a pax header only where ustar cannot hold a value,
// e.g. long names or xattrs, written as SCHILY.xattr). uname/gname empty. Hard links are written
// as links to the first path (in sorted order). Throws SystemError if a content file cannot be
// read or changed size since it was scanned.
void write_tar(const FsTree &tree, const ArchiveOptions &options, ByteSink &out);

// A tar in write_tar's format written entry by entry in the caller's order, for archives whose
// order is not a tree's (an input bundle puts its index first). Regular files only: uid/gid 0, no
// owner names, mtime options.mtime. Each entry is begin_file(), exactly `size` bytes of write(),
// end_file(); close() writes the end-of-archive marker (the sink is not finished). Throws
// SystemError naming the entry when libarchive or the sink fails, and when an entry gets more or
// fewer bytes than it announced.
class TarStreamWriter {
public:
  TarStreamWriter(ByteSink &out, const ArchiveOptions &options);
  ~TarStreamWriter();
  TarStreamWriter(const TarStreamWriter &) = delete;
  TarStreamWriter &operator=(const TarStreamWriter &) = delete;
  void begin_file(const std::string &path, uint64_t size, uint32_t mode = 0644);
  void write(const uint8_t *data, size_t size);
  void end_file();
  void close();

private:
  struct Impl;
  std::unique_ptr<Impl> m_impl;
};

// cpio "newc" (initramfs): inode numbers assigned sequentially from 1 in sorted order (hard links
// share their file's inode and nlink counts them), device numbers 0 except for device nodes'
// rdev, uid/gid from the tree, TRAILER!!! last. As in GNU cpio and bsdcpio, only the last path
// of a hard-link group (in sorted order) carries the file's data; the others have size 0 (the
// kernel's initramfs unpacker and `cpio -i` both restore the content). Directories get
// nlink = 2 + their number of subdirectories. Xattrs cannot be stored in newc and are dropped.
// The output is padded with zeros to a multiple of 512 bytes, as GNU cpio does.
void write_cpio_newc(const FsTree &tree, const ArchiveOptions &options, ByteSink &out);

// SOURCE_DATE_EPOCH-style timestamp: decimal digits only (no sign, space or fraction), fitting in
// int64_t. Throws InputError naming `what`.
int64_t parse_epoch_seconds(const std::string &text, const std::string &what);

// A deterministic archive of a host directory (scan_directory, then write_tar or write_cpio_newc
// through a compressor), written to `output_path`.tmp-XXXXXX, fsynced and renamed into place
// (replacing an existing file). Used by `mrforge archive`.
enum class ArchiveFormat { tar, cpio_newc };
const char *archive_format_name(ArchiveFormat format);                                // "tar", "cpio"
ArchiveFormat parse_archive_format(const std::string &name, const std::string &what); // InputError

struct DirectoryArchiveOptions {
  std::string source_dir;
  std::string output_path;
  ArchiveFormat format = ArchiveFormat::tar;
  Compression compression;
  ArchiveOptions archive;
  uint32_t uid = 0; // owner of every entry
  uint32_t gid = 0;
};

struct ArchiveResult {
  std::string path;
  std::string sha256; // of the output file
  uint64_t size = 0;
  std::string uncompressed_sha256; // of the archive before compression (an OCI layer's diff ID)
  uint64_t uncompressed_size = 0;
  ArchiveFormat format = ArchiveFormat::tar;
  CompressionKind compression = CompressionKind::gzip;
  std::string compressor; // compressor_version()
};

// Throws SystemError (scan, read, write, rename), InputError (bad level/threads).
ArchiveResult write_directory_archive(const DirectoryArchiveOptions &options);

} // namespace mrforge::builder
