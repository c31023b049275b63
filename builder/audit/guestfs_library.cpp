#include <builder/audit/guestfs_library.hpp>
#include <builder/system/dynamic_library.hpp>

namespace mrforge::builder {

namespace {

struct LoadedGuestfs {
  DynamicLibrary library{"libguestfs.so.0", "libguestfs0",
                         "reading file systems inside images (or compare images as bytes with --no-guestfs)"};
  GuestfsLibrary functions;
  LoadedGuestfs() {
    library.load(functions.create_flags, "guestfs_create_flags");
    library.load(functions.close, "guestfs_close");
    library.load(functions.set_error_handler, "guestfs_set_error_handler");
    library.load(functions.last_error, "guestfs_last_error");
    library.load(functions.set_backend_settings, "guestfs_set_backend_settings");
    library.load(functions.add_drive_opts, "guestfs_add_drive_opts");
    library.load(functions.launch, "guestfs_launch");
    library.load(functions.list_devices, "guestfs_list_devices");
    library.load(functions.list_filesystems, "guestfs_list_filesystems");
    library.load(functions.is_lv, "guestfs_is_lv");
    library.load(functions.lvm_canonical_lv_name, "guestfs_lvm_canonical_lv_name");
    library.load(functions.vgpvuuids, "guestfs_vgpvuuids");
    library.load(functions.pvs, "guestfs_pvs");
    library.load(functions.pvuuid, "guestfs_pvuuid");
    library.load(functions.part_to_dev, "guestfs_part_to_dev");
    library.load(functions.mount_ro, "guestfs_mount_ro");
    library.load(functions.tar_out_opts, "guestfs_tar_out_opts");
    library.load(functions.umount_all, "guestfs_umount_all");
    library.load(functions.shutdown, "guestfs_shutdown");
  }
};

} // namespace

const GuestfsLibrary &guestfs_library() {
  // Never unloaded: libguestfs closes its handles from an exit handler of its own.
  static const LoadedGuestfs *loaded = new LoadedGuestfs();
  return loaded->functions;
}

} // namespace mrforge::builder
