// The libguestfs functions mrforge calls, resolved from libguestfs.so.0 (Debian package libguestfs0)
// the first time an image is read (builder/system/dynamic_library.hpp says why not at start-up:
// libguestfs brings libvirt, gnutls, glib, libxml2, krb5 and some 40 more libraries). Types and
// constants come from <guestfs.h> as usual.
#pragma once

#include <guestfs.h>

namespace mrforge::builder {

struct GuestfsLibrary {
  decltype(&::guestfs_create_flags) create_flags = nullptr;
  decltype(&::guestfs_close) close = nullptr;
  decltype(&::guestfs_set_error_handler) set_error_handler = nullptr;
  decltype(&::guestfs_last_error) last_error = nullptr;
  decltype(&::guestfs_set_backend_settings) set_backend_settings = nullptr;
  decltype(&::guestfs_add_drive_opts) add_drive_opts = nullptr;
  decltype(&::guestfs_launch) launch = nullptr;
  decltype(&::guestfs_list_devices) list_devices = nullptr;
  decltype(&::guestfs_list_filesystems) list_filesystems = nullptr;
  decltype(&::guestfs_is_lv) is_lv = nullptr;
  decltype(&::guestfs_lvm_canonical_lv_name) lvm_canonical_lv_name = nullptr;
  decltype(&::guestfs_vgpvuuids) vgpvuuids = nullptr;
  decltype(&::guestfs_pvs) pvs = nullptr;
  decltype(&::guestfs_pvuuid) pvuuid = nullptr;
  decltype(&::guestfs_part_to_dev) part_to_dev = nullptr;
  decltype(&::guestfs_mount_ro) mount_ro = nullptr;
  decltype(&::guestfs_tar_out_opts) tar_out_opts = nullptr;
  decltype(&::guestfs_umount_all) umount_all = nullptr;
  decltype(&::guestfs_shutdown) shutdown = nullptr;
};

// Loads libguestfs once per process (thread-safe) and keeps it loaded. Throws MissingLibraryError
// (dynamic_library.hpp) naming libguestfs.so.0 and the package libguestfs0 when it cannot be
// loaded; the next call tries again.
const GuestfsLibrary &guestfs_library();

} // namespace mrforge::builder
