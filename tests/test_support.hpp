// Helpers shared by the tests: where the vectors and the Debian-installed inputs are.
#pragma once

#include <measure/bytes.hpp>

#include <string>

namespace mrforge::test {

// ../shared/vectors/<rel> relative to the project root (read-only inputs).
std::string vector_path(const std::string &rel);
// A file of the source tree, e.g. "measure/profiles/qemu-9.2-tdx.yaml".
std::string source_path(const std::string &rel);
// /usr/share/ovmf/OVMF.fd from Debian's ovmf package (installed by .ci/run). Fails the test if absent.
std::string debian_ovmf();
// /boot/vmlinuz-6.12* from Debian's linux-image-6.12-amd64 (installed by .ci/run). Fails if absent.
std::string debian_kernel_612();
Bytes read(const std::string &path);

} // namespace mrforge::test
