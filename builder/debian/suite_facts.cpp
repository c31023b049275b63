#include <builder/debian/suite_facts.hpp>

#include <measure/util/errors.hpp>
#include <measure/util/terminal_text.hpp>

namespace mrforge::builder {

namespace {

const SuiteFacts k_suites[] = {
    {"bookworm", false,
     "base-files 12.4+deb12u15 (bookworm) ships ./bin/ and ./lib/ as directories and no aliasing "
     "links; its packages ship /bin and /lib paths (busybox-static: ./bin/busybox). On installed "
     "systems the links come from debootstrap or usrmerge's postinst, neither of which runs here."},
    {"trixie", true,
     "base-files 13.8+deb13u8 (trixie, amd64) ships the links ./bin -> usr/bin, ./sbin -> usr/sbin, "
     "./lib -> usr/lib, ./lib64 -> usr/lib64 in its data.tar, and trixie's packages ship their "
     "files under /usr (busybox-static 1:1.37.0-6+b9: ./usr/bin/busybox; libc6 2.41-12+deb13u5: "
     "./usr/lib64/ld-linux-x86-64.so.2)."},
};

// Archive suffixes of a codename's suites (Debian's archive layout: bookworm-security,
// bookworm-updates, bookworm-backports, bookworm-proposed-updates).
const char *const k_suffixes[] = {"-security", "-updates", "-backports", "-proposed-updates"};

} // namespace

const SuiteFacts &suite_facts(const std::string &suite, const std::string &where) {
  std::string codename = suite;
  for (const char *suffix : k_suffixes) {
    std::string s = suffix;
    if (codename.size() > s.size() && codename.compare(codename.size() - s.size(), s.size(), s) == 0) {
      codename.resize(codename.size() - s.size());
      break;
    }
  }
  std::string known;
  for (const SuiteFacts &f : k_suites) {
    if (codename == f.codename) return f;
    known += std::string(known.empty() ? "" : ", ") + f.codename;
  }
  throw InputError(where, "suite '" + echoed(suite) + "': mrforge does not know whether its packages expect the " +
                              "merged-/usr layout (known: " + known +
                              "); name the suite by its codename, or add its facts to builder/debian/suite_facts.cpp");
}

std::vector<UsrAlias> merged_usr_aliases(const std::string &architecture, const std::string &where) {
  // The links trixie's base-files ships for amd64 (see k_suites). Other architectures alias other
  // library directories (lib32, libx32, libo32, ...) and have not been checked.
  if (architecture == "amd64")
    return {{"bin", "usr/bin"}, {"lib", "usr/lib"}, {"lib64", "usr/lib64"}, {"sbin", "usr/sbin"}};
  throw InputError(where, "architecture '" + echoed(architecture) +
                              "': mrforge does not know its merged-/usr links (known: amd64); add them to "
                              "builder/debian/suite_facts.cpp");
}

} // namespace mrforge::builder
