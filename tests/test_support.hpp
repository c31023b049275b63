// Helpers shared by the tests: where the vectors and the Debian-installed inputs are.
#pragma once

#include <measure/engine/engine.hpp>
#include <measure/util/bytes.hpp>
#include <measure/util/errors.hpp>

#include <catch2/catch.hpp>

#include <filesystem>
#include <map>
#include <string>
#include <vector>

namespace mrforge::test {

// ../shared/vectors/<rel> relative to the project root (read-only inputs).
std::string vector_path(const std::string &rel);
// A file of the source tree, e.g. "measure/profiles/platform/qemu-9.2-tdx.yaml".
std::string source_path(const std::string &rel);
// /usr/share/ovmf/OVMF.fd from Debian's ovmf package (installed by .ci/run). Fails the test if absent.
std::string debian_ovmf();
// Debian trixie's OVMF.fd (ovmf 2025.02-8+deb13u1), unpacked privately by .ci/install-ovmf-trixie.sh
// into $MRFORGE_OVMF_TRIXIE_PREFIX (default /opt/mrforge-ovmf-2025.02). Skips the test (skip_test,
// naming that command) when it is absent; call it before making anything that needs cleaning up.
std::string trixie_ovmf();
// /boot/vmlinuz-6.12* from Debian's linux-image-6.12-amd64 (installed by .ci/run). Fails if absent.
std::string debian_kernel_612();
Bytes read(const std::string &path);
// The live ACPI captures, tests/data/acpi/<profile>/<shape>/ (tests/acpi/recapture.sh): one set per
// folder there, named after the shipped ACPI profile of the QEMU that captured it, in name order,
// each with its shape folders in name order. "decode" holds the decoder's own samples and is no
// set; any other folder that names no shipped ACPI profile fails the test. REQUIREs the sets of
// QEMU 7.2 (qemu-7.2-q35) and QEMU 10.0 (qemu-10.0-q35), each with at least one shape.
struct AcpiFixtureSet {
  std::string profile;
  std::vector<std::string> dirs;
};
std::vector<AcpiFixtureSet> acpi_fixture_sets();
// Engine inputs for a guest of FW, KERNEL and INITRD: "console=hvc0", 2 vCPUs, MEMORY, and the three
// ACPI digests supplied as zeros (tests that are about something else than ACPI).
MeasureInputs debian_measure_inputs(ByteView fw, ByteView kernel, const Bytes &initrd, uint64_t memory = 2ull << 30);

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
// write_text, then exactly these permissions (the umask does not apply): files packed into archives.
void write_file(const std::string &path, const std::string &content,
                std::filesystem::perms perms = std::filesystem::perms(0644));
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
// Runs a /bin/sh command line, REQUIREs that it exits with `status`, returns its stdout.
std::string sh(const std::string &command, int status = 0);
// sha256sum(1)'s lower-case hex digest of a file (REQUIREd to succeed).
std::string sha256sum_of(const std::string &path);
// Every file below `dir` (relative path -> sha256), to compare two outputs byte for byte.
std::map<std::string, std::string> file_digests(const std::string &dir);
// `objdump -h`'s section table of a PE image (binutils, independent of mrforge): name -> (size,
// file offset).
std::map<std::string, std::pair<uint64_t, uint64_t>> objdump_sections(const std::string &image);
// Runs the mrforge binary under test with these arguments (each quoted), optionally prefixed by
// shell text (e.g. "cd /x && umask 077 && TZ=Asia/Tokyo").
ShellResult run_mrforge_cli(const std::vector<std::string> &args, const std::string &prefix = "");

// `a` followed by `b`: command lines put together from parts.
std::vector<std::string> with(std::vector<std::string> a, const std::vector<std::string> &b);
// `--digest acpi-loader=aa.. --digest acpi-rsdp=bb.. --digest acpi-tables=cc..`: made-up ACPI
// digests for measure commands that are not about ACPI.
std::vector<std::string> placeholder_acpi_digest_args();

// Skipping a test this host cannot run, for a reason that holds on the CI machine too (Catch2 v2
// has no SKIP). A missing host tool or fixture is not such a reason: REQUIRE it instead.
// ctest runs every test case as a process of its own, with MRFORGE_TEST_SKIP_CODE=77 in its
// environment and SKIP_RETURN_CODE 77 (tests/CMakeLists.txt): skip_test prints
// "SKIPPED: <reason>" on stderr and exits with that code, so ctest counts and lists the test as
// "Skipped" (the reason shows with `ctest -V` or `--output-on-failure`). Run any other way (the
// binary by hand, several test cases in one process) there is no skip to report: the test FAILs
// with the reason, so a skip never reads as a pass. Call it before the test makes anything that
// needs cleaning up: the exit does not unwind the stack.
[[noreturn]] void skip_test(const std::string &reason);

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
