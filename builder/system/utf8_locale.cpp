#include <builder/system/utf8_locale.hpp>

#include <measure/util/errors.hpp>

namespace mrforge::builder {

Utf8Locale::Utf8Locale() {
  m_locale = ::newlocale(LC_CTYPE_MASK, "C.UTF-8", static_cast<locale_t>(nullptr));
  if (m_locale == nullptr) throw Error("the C.UTF-8 locale is not available (glibc 2.35 or later has it built in)");
  m_previous = ::uselocale(m_locale);
}

Utf8Locale::~Utf8Locale() {
  ::uselocale(m_previous);
  ::freelocale(m_locale);
}

} // namespace mrforge::builder
