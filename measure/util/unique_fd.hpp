// UniqueFd: owns one file descriptor and closes it when it goes out of scope, so a descriptor is
// never leaked on an exception path. Move-only. A close whose result matters (a file just written)
// is done explicitly: `::close(fd.release())` and check the result.
#pragma once

#include <unistd.h>
#include <utility>

namespace mrforge {

class UniqueFd {
public:
  UniqueFd() = default;
  explicit UniqueFd(int fd) noexcept : m_fd(fd) {}
  ~UniqueFd() { reset(); }
  UniqueFd(UniqueFd &&o) noexcept : m_fd(std::exchange(o.m_fd, -1)) {}
  UniqueFd &operator=(UniqueFd &&o) noexcept {
    if (this != &o) reset(std::exchange(o.m_fd, -1));
    return *this;
  }
  UniqueFd(const UniqueFd &) = delete;
  UniqueFd &operator=(const UniqueFd &) = delete;

  int get() const noexcept { return m_fd; }
  explicit operator bool() const noexcept { return m_fd >= 0; }
  // Gives up ownership without closing.
  int release() noexcept { return std::exchange(m_fd, -1); }
  // Closes the descriptor held (its result ignored: nothing was written through it, or the
  // caller is already failing) and takes `fd`.
  void reset(int fd = -1) noexcept {
    if (m_fd >= 0) ::close(m_fd);
    m_fd = fd;
  }

private:
  int m_fd = -1;
};

} // namespace mrforge
