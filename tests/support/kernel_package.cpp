#include "kernel_package.hpp"

#include <builder/debian/deb_unpack.hpp>
#include <builder/recipe/recipe.hpp>

#include <catch2/catch.hpp>

#include <filesystem>

namespace fs = std::filesystem;

namespace mrforge::test {

namespace {

const std::string k_apt_cache = "/var/cache/apt/archives";
const std::string k_image_prefix = "linux-image-";

// The first line of a command's output, REQUIREd to succeed and be non-empty.
std::string first_line(const std::string &command) {
  ShellResult r = run_shell(command);
  INFO(command << "\nstderr: " << r.err);
  REQUIRE(r.exit_code == 0);
  std::string line = r.out.substr(0, r.out.find('\n'));
  REQUIRE(!line.empty());
  return line;
}

std::string sha256_of(const std::string &path) { return first_line("sha256sum " + shell_quote(path)).substr(0, 64); }

} // namespace

std::string KernelPackage::file_name() const { return fs::path(deb).filename().string(); }

KernelPackage current_kernel_package(const std::string &download_dir) {
  KernelPackage k;
  ShellResult cached =
      run_shell("ls " + k_apt_cache + "/linux-image-6.12.*-amd64_*_amd64.deb 2>/dev/null | sort -V | tail -n 1");
  k.deb = cached.out.substr(0, cached.out.find('\n'));
  if (k.deb.empty()) {
    fs::create_directories(download_dir);
    ShellResult dl = run_shell("cd " + shell_quote(download_dir) +
                               " && apt-get download $(apt-cache depends linux-image-6.12-amd64 | "
                               "awk '/Depends: linux-image-6/ {print $2; exit}') && ls \"$PWD\"/*.deb");
    INFO("no linux-image-6.12.*-amd64 .deb in " << k_apt_cache << " and apt-get download failed: " << dl.err);
    REQUIRE(dl.exit_code == 0);
    k.deb = dl.out.substr(0, dl.out.find('\n'));
  }
  REQUIRE(!k.deb.empty()); // `ls` fails when apt-get download left no .deb
  k.package = first_line("dpkg-deb -f " + shell_quote(k.deb) + " Package");
  k.version = first_line("dpkg-deb -f " + shell_quote(k.deb) + " Version");
  {
    INFO(k.deb << " is package " << k.package << ", not a linux-image-*");
    REQUIRE(k.package.rfind(k_image_prefix, 0) == 0);
  }
  k.release = k.package.substr(k_image_prefix.size()); // as kernels/*.yaml says to re-pin
  k.sha256 = sha256_of(k.deb);
  return k;
}

KernelPackage pinned_or_current_kernel_package(const std::string &pin_path, const std::string &download_dir) {
  builder::KernelPin pin = builder::load_kernel_pin(pin_path);
  KernelPackage k;
  k.deb = k_apt_cache + "/" + fs::path(pin.filename).filename().string();
  if (!fs::exists(k.deb)) {
    k = current_kernel_package(download_dir);
    WARN(pin_path << " pins " << pin.package << " " << pin.version << ", which " << k_apt_cache
                  << " has not got (Debian keeps only its newest kernel): using " << k.deb << " (release " << k.release
                  << ") instead");
    return k;
  }
  k.package = pin.package;
  k.version = pin.version;
  k.release = pin.release;
  k.sha256 = sha256_of(k.deb);
  INFO(k.deb << " is not the package " << pin_path << " pins (sha256 " << pin.sha256 << ")");
  REQUIRE(k.sha256 == pin.sha256);
  return k;
}

const UnpackedKernel &unpacked_kernel() {
  static std::unique_ptr<UnpackedKernel> cached;
  if (cached) return *cached;
  auto k = std::make_unique<UnpackedKernel>();
  k->package =
      pinned_or_current_kernel_package(source_path("kernels/debian-bookworm-6.12-amd64.yaml"), k->dir / "debs");
  k->staging = std::make_unique<builder::ContentStaging>(k->dir / "staging");
  builder::DebPackage deb = builder::unpack_deb(k->package.deb, k->package.file_name(), k->tree, *k->staging, {});
  REQUIRE(deb.name == k->package.package);
  REQUIRE(deb.version == k->package.version);
  cached = std::move(k);
  return *cached;
}

} // namespace mrforge::test
