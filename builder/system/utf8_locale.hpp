// libarchive converts path names between the current locale's character set and UTF-8 (pax
// headers hold UTF-8). Under LC_ALL=C a name like "Főtanúsítvány.crt" (ca-certificates ships one)
// cannot be converted and the writer falls back to other bytes, so the archive would depend on the
// caller's locale. Every libarchive use therefore runs with this thread's LC_CTYPE set to C.UTF-8
// (built into glibc since 2.35), whatever the environment says. uselocale() is per thread: the
// process's locale is not touched.
#pragma once

#include <clocale>
#include <locale.h>

namespace mrforge::builder {

class Utf8Locale {
public:
  Utf8Locale();
  ~Utf8Locale();
  Utf8Locale(const Utf8Locale &) = delete;
  Utf8Locale &operator=(const Utf8Locale &) = delete;

private:
  locale_t m_locale = nullptr;
  locale_t m_previous = nullptr;
};

} // namespace mrforge::builder
