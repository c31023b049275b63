// The initramfs of a guest image: busybox, dmsetup and the libraries it needs, the kernel
// modules that /init loads, and /init itself (initramfs_init.hpp), assembled into an FsTree from
// unpacked packages only (never the host's files), then written as a deterministic cpio newc
// archive, compressed. The compressed bytes are what the EFI stub measures (PCR9 / RTMR2), so
// they depend only on the inputs, the timestamp and the compressor.
//
// Layout (every entry owned by root):
//   init                               the script, 0755
//   bin/busybox, bin/APPLET -> busybox the applets /init uses (relative symlinks)
//   PROGRAM                            each program at its path (e.g. sbin/dmsetup), setuid bits dropped
//   lib/x86_64-linux-gnu/LIB, ...      DT_NEEDED libraries, at the search directory they were found in
//   lib64/ld-linux-x86-64.so.2         the programs' interpreter (PT_INTERP), a regular file
//   lib/modules/NAME.ko                modules, uncompressed (busybox insmod cannot decompress)
//   etc/mrforge/modules                the load order, one name a line, optional ones with a trailing '?'
//   dev proc sys newroot run tmp       empty directories (tmp 1777)
// Symlinks in the packages (e.g. lib64/ld-linux-x86-64.so.2 -> /lib/x86_64-linux-gnu/...) are
// resolved inside the packages tree; programs, libraries and the interpreter are stored as regular
// files with the bytes of the file the links lead to.
#pragma once

#include <builder/archive/compress.hpp>
#include <builder/fs/content_staging.hpp>
#include <builder/fs/fs_tree.hpp>
#include <builder/system/byte_sink.hpp>

#include <cstdint>
#include <string>
#include <vector>

namespace mrforge::builder {

struct InitramfsInputs {
  const FsTree *packages = nullptr; // unpacked initramfs packages (busybox-static, dmsetup and their dependencies)
  const FsTree *kernel = nullptr;   // unpacked kernel package
  std::string kernel_source = "kernel package"; // names the kernel package in messages (e.g. its .deb file name)
  std::string kernel_release;                   // "6.12.117+deb12-amd64"
  // Absolute paths in `packages` ("/sbin/dmsetup"), each copied with the shared libraries it needs
  // (DT_NEEDED, recursively, searched in lib/x86_64-linux-gnu, usr/lib/x86_64-linux-gnu, lib,
  // usr/lib as glibc's ld.so does without ld.so.cache) and its interpreter. Busybox is always
  // installed (from bin/busybox or usr/bin/busybox) and need not be listed; dmsetup must be.
  std::vector<std::string> programs;
  std::vector<std::string> modules;          // required: /init fails if insmod fails
  std::vector<std::string> optional_modules; // loaded if the kernel accepts them (e.g. tdx-guest)
  std::string where;                         // for messages, e.g. "recipe.yaml:12:3: initramfs"
};

struct InitramfsResult {
  FsTree tree;                           // the initramfs contents (all root-owned)
  std::vector<std::string> module_order; // what /init loads, in order (optional ones marked by a trailing '?')
};

// Module dependencies come first (KernelModules::resolve); a dependency of an optional module that
// no required module needs is optional too. Throws InputError {where} for missing inputs, an
// unknown module, a program or library not in the packages, or two different files for one path;
// FormatError for a broken ELF file or module; SystemError for the host.
InitramfsResult assemble_initramfs(const InitramfsInputs &in, ContentStaging &staging);

// Deterministic cpio newc of the tree (every mtime = source_date_epoch), compressed; calls
// out.finish(). Throws SystemError (content files), InputError (compression settings).
void write_initramfs(const FsTree &tree, int64_t source_date_epoch, const Compression &compression, ByteSink &out);

} // namespace mrforge::builder
