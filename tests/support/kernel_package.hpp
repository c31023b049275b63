// The Debian kernel package the tests use, taken the way the bundled guest build takes it: the
// package kernels/debian-bookworm-6.12-amd64.yaml pins, from apt's cache. Debian's security suite
// keeps only its newest kernel, so once Debian publishes an update a freshly installed host (CI
// too) has no such .deb (README, "Limits"): the tests then take the current linux-image-6.12
// package instead, with a WARN naming it. A host that has neither fails the test.
#pragma once

#include "../test_support.hpp"

#include <builder/fs/content_staging.hpp>
#include <builder/fs/fs_tree.hpp>

#include <memory>
#include <string>

namespace mrforge::test {

struct KernelPackage {
  std::string deb;     // host path of the .deb
  std::string package; // "linux-image-6.12.117+deb12-amd64"
  std::string version; // "6.12.117-1~deb12u1"
  std::string release; // "6.12.117+deb12-amd64": boot/vmlinuz-RELEASE, lib/modules/RELEASE
  std::string sha256;  // of the .deb, lowercase hex
  // The .deb's file name ("linux-image-..._amd64.deb"), which names the package in messages.
  std::string file_name() const;
};

// The current linux-image-6.12.*-amd64 package: the newest in apt's cache (/var/cache/apt/archives),
// else the one linux-image-6.12-amd64 depends on, `apt-get download`ed into `download_dir`. Its
// package, version and release come from the .deb's control file. REQUIREs that one is found.
KernelPackage current_kernel_package(const std::string &download_dir);

// The package the kernel pin at `pin_path` names (read with load_kernel_pin) from apt's cache, its
// sha256 REQUIREd to equal the pin's; if apt's cache has not got it, current_kernel_package with a
// WARN naming what was substituted.
KernelPackage pinned_or_current_kernel_package(const std::string &pin_path, const std::string &download_dir);

// The shipped pin's kernel package (pinned_or_current_kernel_package) unpacked with unpack_deb,
// once per test process (about 100 MB compressed). Treat it as read-only.
struct UnpackedKernel {
  TempDir dir{"kernel-package"};
  KernelPackage package;
  std::unique_ptr<builder::ContentStaging> staging;
  builder::FsTree tree; // boot/vmlinuz-RELEASE, lib/modules/RELEASE/...
};
const UnpackedKernel &unpacked_kernel();

} // namespace mrforge::test
