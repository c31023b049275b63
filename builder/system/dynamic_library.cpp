#include <builder/system/dynamic_library.hpp>

#include <dlfcn.h>

namespace mrforge::builder {

namespace {
std::string install_hint(const std::string &package, const std::string &for_what) {
  return "mrforge needs it for " + for_what + " (Debian: apt install " + package + ")";
}
} // namespace

DynamicLibrary::DynamicLibrary(std::string soname, std::string debian_package, std::string for_what)
    : m_soname(std::move(soname)), m_debian_package(std::move(debian_package)), m_for_what(std::move(for_what)) {
  // RTLD_LOCAL: its symbols serve only the lookups below. RTLD_NOW: a library that cannot be bound
  // completely fails here, with dlerror's reason, not at some later call.
  m_handle = ::dlopen(m_soname.c_str(), RTLD_NOW | RTLD_LOCAL);
  if (m_handle == nullptr) {
    const char *reason = ::dlerror();
    throw MissingLibraryError(m_soname, std::string("cannot be loaded (") + (reason != nullptr ? reason : "unknown") +
                                            "); " + install_hint(m_debian_package, m_for_what));
  }
}

DynamicLibrary::~DynamicLibrary() {
  if (m_handle != nullptr) ::dlclose(m_handle);
}

void *DynamicLibrary::symbol(const char *name) const {
  ::dlerror(); // clear an earlier error: dlsym's null result alone is ambiguous
  void *address = ::dlsym(m_handle, name);
  const char *reason = ::dlerror();
  if (address == nullptr || reason != nullptr)
    throw MissingLibraryError(
        m_soname, std::string("has no function ") + name + " (" + (reason != nullptr ? reason : "null address") +
                      "; an older version than mrforge was built for); " + install_hint(m_debian_package, m_for_what));
  return address;
}

} // namespace mrforge::builder
