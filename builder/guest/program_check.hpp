// Whether the program an image starts (an OCI image's entrypoint, a guest's /sbin/init) can run
// in it: the file must be there and what the kernel needs to start it must be too. An ELF file
// names its interpreter in PT_INTERP (a dynamically linked program cannot start without it: execve
// fails with ENOENT, the "no such file or directory" of a program that plainly exists); a script
// names its interpreter on its "#!" line (binfmt_script), which is checked the same way, as the
// kernel follows at most 4 levels of interpreters (BINPRM_MAX_RECURSION). Paths resolve inside
// the image, following its symlinks (merged-/usr's /lib64 -> usr/lib64 included).
#pragma once

#include <builder/fs/fs_tree.hpp>

#include <string>

namespace mrforge::builder {

// `program` is absolute or a bare name looked up in `search_path` (a PATH value, ':'-separated).
// `role` names it in messages ("entrypoint", "init"). Throws InputError {where} naming the
// program and what is missing (the program itself, or its interpreter and who needs it), and
// FormatError for an ELF file that does not parse.
void check_program_runs(const FsTree &tree, const std::string &program, const std::string &search_path,
                        const std::string &role, const std::string &where);

} // namespace mrforge::builder
