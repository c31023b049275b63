#include "test_support.hpp"

#include <builder/system/store.hpp>

#include <measure/documents/profile_yaml.hpp>
#include <measure/util/mapped_file.hpp>

#include <catch2/catch.hpp>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <sstream>
#include <stdexcept>
#include <sys/wait.h>
#include <vector>

namespace mrforge::test {

std::string source_path(const std::string &rel) { return std::string(MRFORGE_SOURCE_DIR) + "/" + rel; }

std::vector<AcpiFixtureSet> acpi_fixture_sets() {
  namespace fs = std::filesystem;
  const std::vector<std::string> shipped = shipped_acpi_profiles();
  std::vector<AcpiFixtureSet> sets;
  for (const auto &e : fs::directory_iterator(source_path("tests/data/acpi"))) {
    const std::string name = e.path().filename().string();
    if (!e.is_directory() || name == "decode") continue;
    if (std::find(shipped.begin(), shipped.end(), name) == shipped.end())
      FAIL("tests/data/acpi/" << name << " names no shipped ACPI profile (measure/profiles/acpi)");
    AcpiFixtureSet set{name, {}};
    for (const auto &shape : fs::directory_iterator(e.path()))
      if (shape.is_directory()) set.dirs.push_back(shape.path().string());
    std::sort(set.dirs.begin(), set.dirs.end());
    sets.push_back(std::move(set));
  }
  std::sort(sets.begin(), sets.end(), [](const auto &a, const auto &b) { return a.profile < b.profile; });
  for (const char *profile : {"qemu-7.2-q35", "qemu-10.0-q35"}) {
    INFO("tests/data/acpi/" << profile);
    REQUIRE(std::count_if(sets.begin(), sets.end(),
                          [&](const auto &s) { return s.profile == profile && !s.dirs.empty(); }) == 1);
  }
  return sets;
}

std::string vector_path(const std::string &rel) {
  std::string p = std::string(MRFORGE_SOURCE_DIR) + "/../shared/vectors/" + rel;
  if (!std::filesystem::exists(p)) FAIL("test vector missing: " << p);
  return p;
}

std::string debian_ovmf() {
  std::string p = "/usr/share/ovmf/OVMF.fd";
  if (!std::filesystem::exists(p)) FAIL(p << " is missing: install Debian's ovmf package (.ci/run does)");
  return p;
}

std::string trixie_ovmf() {
  const char *env = std::getenv("MRFORGE_OVMF_TRIXIE_PREFIX");
  const std::string prefix = env && *env ? env : "/opt/mrforge-ovmf-2025.02";
  const std::string p = prefix + "/usr/share/ovmf/OVMF.fd";
  if (!std::filesystem::is_regular_file(p))
    skip_test("no trixie OVMF at " + p + " (MRFORGE_OVMF_TRIXIE_PREFIX); unpack it with " +
              source_path(".ci/install-ovmf-trixie.sh") + " " + prefix);
  return p;
}

std::string debian_kernel_612() {
  std::vector<std::string> found;
  for (const auto &e : std::filesystem::directory_iterator("/boot")) {
    std::string name = e.path().filename().string();
    if (name.rfind("vmlinuz-6.12", 0) == 0) found.push_back(e.path().string());
  }
  if (found.empty()) FAIL("/boot/vmlinuz-6.12* is missing: install linux-image-6.12-amd64 (.ci/run does)");
  std::sort(found.begin(), found.end());
  return found.back();
}

void skip_test(const std::string &reason) {
  const char *code = std::getenv("MRFORGE_TEST_SKIP_CODE");
  if (code != nullptr && std::string(code) == "77") {
    std::fflush(stdout);
    std::fprintf(stderr, "SKIPPED: %s\n", reason.c_str());
    std::fflush(stderr);
    std::_Exit(77);
  }
  FAIL("cannot run on this host (ctest would list it as skipped): " << reason);
  std::abort(); // FAIL throws
}

Bytes read(const std::string &path) { return read_file(path, limits::k_artifact); }

MeasureInputs debian_measure_inputs(ByteView fw, ByteView kernel, const Bytes &initrd, uint64_t memory) {
  MeasureInputs in;
  in.firmware = NamedBytes{fw, "OVMF.fd"};
  in.kernel = NamedBytes{kernel, "vmlinuz"};
  in.initrd = NamedBytes{initrd, "initrd"};
  in.cmdline = "console=hvc0";
  in.cpus = 2;
  in.memory = memory;
  Sha384 zero{};
  in.supplied = {{DigestSlot::acpi_loader, zero}, {DigestSlot::acpi_rsdp, zero}, {DigestSlot::acpi_tables, zero}};
  return in;
}

} // namespace mrforge::test

namespace mrforge::test {

TempDir::TempDir(const std::string &hint) {
  std::string templ = "/tmp/mrforge-" + hint + "-XXXXXX";
  if (::mkdtemp(templ.data()) == nullptr) throw std::runtime_error("mkdtemp failed");
  m_path = templ;
}

TempDir::~TempDir() {
  std::error_code ec;
  std::filesystem::remove_all(m_path, ec);
}

void write_text(const std::string &path, const std::string &content) {
  std::filesystem::create_directories(std::filesystem::path(path).parent_path());
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << content;
  if (!out) throw std::runtime_error("cannot write " + path);
}

std::string read_text(const std::string &path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw std::runtime_error("cannot read " + path);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

std::string shell_quote(const std::string &s) {
  std::string q = "'";
  for (char c : s) q += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return q + "'";
}

void write_file(const std::string &path, const std::string &content, std::filesystem::perms perms) {
  write_text(path, content);
  std::filesystem::permissions(path, perms);
}

ShellResult run_shell(const std::string &command) {
  TempDir dir("sh");
  std::string full = "( " + command + " ) >" + shell_quote(dir / "out") + " 2>" + shell_quote(dir / "err");
  int status = std::system(full.c_str());
  ShellResult r;
  r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  r.out = read_text(dir / "out");
  r.err = read_text(dir / "err");
  return r;
}

std::string sh(const std::string &command, int status) {
  ShellResult r = run_shell(command);
  INFO(command << "\nstdout: " << r.out << "\nstderr: " << r.err);
  REQUIRE(r.exit_code == status);
  return r.out;
}
std::string sha256sum_of(const std::string &path) { return sh("sha256sum " + shell_quote(path)).substr(0, 64); }

std::map<std::string, std::string> file_digests(const std::string &dir) {
  std::map<std::string, std::string> out;
  for (const auto &e : std::filesystem::recursive_directory_iterator(dir))
    if (e.is_regular_file())
      out[std::filesystem::relative(e.path(), dir).string()] =
          builder::digest_file(e.path().string(), limits::k_artifact).sha256_hex;
  return out;
}
std::map<std::string, std::pair<uint64_t, uint64_t>> objdump_sections(const std::string &image) {
  std::istringstream lines(sh("objdump -h " + shell_quote(image)));
  std::map<std::string, std::pair<uint64_t, uint64_t>> out;
  for (std::string line; std::getline(lines, line);) {
    std::istringstream words(line);
    std::string idx, name, size, vma, lma, off;
    if (!(words >> idx >> name >> size >> vma >> lma >> off) ||
        idx.find_first_not_of("0123456789") != std::string::npos)
      continue; // headers and flag lines
    out[name] = {std::stoull(size, nullptr, 16), std::stoull(off, nullptr, 16)};
  }
  return out;
}

ShellResult run_mrforge_cli(const std::vector<std::string> &args, const std::string &prefix) {
  std::string cmd = prefix.empty() ? std::string() : prefix + " ";
  cmd += shell_quote(MRFORGE_BINARY);
  for (const auto &a : args) cmd += " " + shell_quote(a);
  return run_shell(cmd);
}

std::vector<std::string> with(std::vector<std::string> a, const std::vector<std::string> &b) {
  a.insert(a.end(), b.begin(), b.end());
  return a;
}

std::vector<std::string> placeholder_acpi_digest_args() {
  return {"--digest", "acpi-loader=" + std::string(96, 'a'), "--digest", "acpi-rsdp=" + std::string(96, 'b'),
          "--digest", "acpi-tables=" + std::string(96, 'c')};
}

} // namespace mrforge::test
