// Helpers shared by the tests: where the vectors and the Debian-installed inputs are.
#pragma once

#include <measure/util/bytes.hpp>
#include <measure/util/errors.hpp>

#include <catch2/catch.hpp>

#include <string>
#include <vector>

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

// A fresh directory under /tmp, removed with everything in it at the end of the scope.
class TempDir {
public:
  explicit TempDir(const std::string &hint = "test");
  ~TempDir();
  TempDir(const TempDir &) = delete;
  TempDir &operator=(const TempDir &) = delete;
  const std::string &path() const { return m_path; }
  std::string operator/(const std::string &rel) const { return m_path + "/" + rel; }

private:
  std::string m_path;
};

void write_text(const std::string &path, const std::string &content);
std::string read_text(const std::string &path);
// Single-quotes a word for /bin/sh.
std::string shell_quote(const std::string &s);

struct ShellResult {
  int exit_code = -1;
  std::string out;
  std::string err;
};
// Runs a /bin/sh command line, capturing stdout and stderr.
ShellResult run_shell(const std::string &command);
// Runs the mrforge binary under test with these arguments (each quoted), optionally prefixed by
// shell text (e.g. "cd /x && umask 077 && TZ=Asia/Tokyo").
ShellResult run_mrforge_cli(const std::vector<std::string> &args, const std::string &prefix = "");

// `a` followed by `b`: command lines put together from parts.
std::vector<std::string> with(std::vector<std::string> a, const std::vector<std::string> &b);
// `--digest acpi-loader=aa.. --digest acpi-rsdp=bb.. --digest acpi-tables=cc..`: made-up ACPI
// digests for measure commands that are not about ACPI.
std::vector<std::string> placeholder_acpi_digest_args();

// The message of the mrforge::Error that `f` throws (fails the test if it throws none).
template <typename F> std::string error_message(F &&f) {
  try {
    f();
  } catch (const Error &e) {
    return e.what();
  }
  FAIL("no error thrown");
  return {};
}

} // namespace mrforge::test
