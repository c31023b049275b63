// Unpacking Debian binary packages (.deb) into the staging tree, treating every byte as hostile.
//
// Format (deb(5)): an ar archive whose members are, in this order, "debian-binary" ("2.0\n"),
// "control.tar[.gz|.xz|.zst]" and "data.tar[.gz|.xz|.zst|.bz2]". Members whose names start with
// '_' are ignored (deb(5) reserves them, e.g. debsigs' "_gpgorigin"); any other member, a member
// out of order or a missing one is an error. data.tar entries go into the FsTree (regular-file
// bytes into ContentStaging, named by sha256); nothing is ever created on the host except those
// content blobs, so symlinks, device nodes and hard links in a package cannot make the builder
// write outside its staging directory. Maintainer scripts are recorded, never run (DPKG_NOTES.md).
#pragma once

#include <builder/debian/deb822.hpp>
#include <builder/fs/content_staging.hpp>
#include <builder/fs/fs_tree.hpp>

#include <map>
#include <string>
#include <string_view>
#include <vector>

namespace mrforge::builder {

// What a package may contain beyond plain files, directories, symlinks and hard links. Both are
// set from a recipe's "allow:" list ("device_nodes", "setuid").
struct UnpackPolicy {
  bool allow_device_nodes = false; // character and block devices, fifos
  bool allow_setuid = false;       // setuid/setgid bits on non-directories
};

struct DebPackage {
  std::string name;         // Package
  std::string version;      // Version
  std::string architecture; // Architecture
  std::string multi_arch;   // Multi-Arch ("" when absent)
  std::string control;      // the control file's text exactly as shipped
  std::string md5sums;      // control member "md5sums" exactly as shipped ("" when absent)
  std::string conffiles;    // control member "conffiles" exactly as shipped ("" when absent)
  // Every path the package installed (tree paths: "usr/bin/env"), directories included, in
  // archive order, each once. dpkg's info/NAME.list is "/." followed by these with a leading '/'.
  std::vector<std::string> paths;
  // preinst, postinst, prerm, postrm, config: name -> text. Recorded, never run.
  std::map<std::string, std::string> maintainer_scripts;
  // Other control members dpkg keeps in its info directory (shlibs, symbols, triggers,
  // templates, ...): name -> text.
  std::map<std::string, std::string> control_files;
};

// Unpacks the package at `deb_path` into `tree`. `source_name` names the package in messages
// ("busybox-static_1.35.0-4+b3_amd64.deb"). Every error names the .deb, the member and entry,
// and what to do about it. Throws:
// - FormatError {source_name, offset of the ar member} for a broken container or tar stream,
// - InputError {source_name} for a refused entry (absolute path, "..", write through a symlink,
//   hard link outside the package, device node or setuid file not allowed by `policy`, a file
//   another package installed, a path given twice) or an invalid control file,
// - SystemError for the host (cannot open the .deb, staging directory not writable).
// On error the tree is left as it was before the call (nodes this package added are removed);
// content blobs already staged stay in the staging directory, which is harmless because they are
// named by their hash. Callers normally discard the whole build on any error anyway.
DebPackage unpack_deb(const std::string &deb_path, const std::string &source_name, FsTree &tree,
                      ContentStaging &staging, const UnpackPolicy &policy);

// The identity and control members of the package at `deb_path` (DebPackage without paths):
// debian-binary and control.tar are read and checked as unpack_deb checks them; data.tar is not
// read. Throws as unpack_deb does.
DebPackage read_deb_control(const std::string &deb_path, const std::string &source_name);

// Parses the single deb822 paragraph of a binary package's control file (parse_deb822, so its
// rules and limits). Trailing blank lines are allowed; a second paragraph or none is an
// InputError naming `source`, anything parse_deb822 refuses a DocumentError(source, line, ...).
debian::Paragraph parse_control_paragraph(std::string_view text, const std::string &source);

} // namespace mrforge::builder
