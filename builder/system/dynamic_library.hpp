// Shared libraries loaded on first use with dlopen, so that commands that never need them do not
// pay for loading them (libguestfs alone pulls about 45 libraries: libvirt, gnutls, glib, libxml2,
// krb5...; libcurl another dozen). The code still compiles against the library's headers (types,
// constants); only the functions are looked up at run time, by name, once.
#pragma once

#include <measure/util/errors.hpp>

#include <string>

namespace mrforge::builder {

// A library mrforge needs for this command is not installed (or lacks a function). path() is the
// soname; what() says which Debian package to install. A SystemError: the front end exits 2.
class MissingLibraryError : public SystemError {
public:
  using SystemError::SystemError;
};

// One dlopen'ed library. Closed when destroyed.
class DynamicLibrary {
public:
  // Loads `soname` ("libcurl.so.4"), needed `for_what` ("downloads"). Throws MissingLibraryError
  // naming the soname, dlerror()'s reason and `debian_package` to install.
  DynamicLibrary(std::string soname, std::string debian_package, std::string for_what);
  ~DynamicLibrary();
  DynamicLibrary(const DynamicLibrary &) = delete;
  DynamicLibrary &operator=(const DynamicLibrary &) = delete;

  // The address of `name`; throws MissingLibraryError if the library does not export it (an
  // older version than the headers mrforge was built with).
  void *symbol(const char *name) const;

  // symbol() as a function pointer of the type of `F`: `load(f.easy_init, "curl_easy_init")`.
  template <typename F> void load(F &function, const char *name) const { function = reinterpret_cast<F>(symbol(name)); }

  const std::string &soname() const { return m_soname; }

private:
  void *m_handle = nullptr;
  std::string m_soname;
  std::string m_debian_package;
  std::string m_for_what;
};

} // namespace mrforge::builder
