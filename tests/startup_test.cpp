// Start-up: libcurl and libguestfs (with the ~60 libraries they pull) are loaded on first use, so
// commands that neither download nor read images do not map them. Checked with the dynamic
// loader's own trace (LD_DEBUG=files lists every object it loads, on stderr); no timing here (the
// speed is a benchmark: tests/bench/startup_vs_sha384sum.sh).
#include "test_support.hpp"

#include <builder/system/dynamic_library.hpp>
#include <builder/system/http_fetch.hpp>

#include <catch2/catch.hpp>

#include <fstream>
#include <string>
#include <vector>

using namespace mrforge;
using namespace mrforge::test;

namespace {

// The objects the loader traced ("file=libc.so.6 [0];  needed by ..."): the text after "file=".
std::vector<std::string> loaded_objects(const std::string &trace) {
  std::vector<std::string> out;
  for (size_t at = trace.find("file="); at != std::string::npos; at = trace.find("file=", at + 5)) {
    size_t end = trace.find_first_of(" \t\n;", at + 5);
    out.push_back(trace.substr(at + 5, end == std::string::npos ? std::string::npos : end - at - 5));
  }
  return out;
}

bool mentions(const std::vector<std::string> &objects, const std::string &name) {
  for (const auto &o : objects)
    if (o.find(name) != std::string::npos) return true;
  return false;
}

bool mapped_here(const std::string &name) {
  std::ifstream maps("/proc/self/maps");
  std::string line;
  while (std::getline(maps, line))
    if (line.find(name) != std::string::npos) return true;
  return false;
}

} // namespace

TEST_CASE("Commands that neither download nor read images do not load libcurl or libguestfs", "[startup]") {
  const std::vector<std::vector<std::string>> commands = {
      {"--version"},      {"measure", "--help"}, {"fetch", "--help"},
      {"diff", "--help"}, {"profiles"},          {"inspect", "firmware", debian_ovmf()},
  };
  for (const auto &args : commands) {
    ShellResult r = run_mrforge_cli(args, "LD_DEBUG=files");
    std::vector<std::string> objects = loaded_objects(r.err);
    INFO("mrforge " << args.front() << (args.size() > 1 ? " " + args[1] : "") << " loaded:\n" << r.err.substr(0, 4000));
    CHECK(r.exit_code == 0);
    CHECK(mentions(objects, "libc.so.6")); // the trace works: the C library is always there
    CHECK_FALSE(mentions(objects, "libcurl"));
    CHECK_FALSE(mentions(objects, "libguestfs"));
    CHECK_FALSE(mentions(objects, "libvirt"));
  }
}

// In a process of its own, as ctest runs every test case: another case run before it in the same
// process may have loaded libcurl already.
TEST_CASE("libcurl is loaded by the first download, and only then", "[startup][fetch]") {
  TempDir dir("startup");
  write_text(dir / "a.txt", "hello");
  builder::Fetcher fetcher(60);
  CHECK_FALSE(mapped_here("libcurl.so.4")); // making a Fetcher loads nothing
  CHECK(fetcher.fetch_bytes("file://" + dir.path() + "/a.txt", 1024) == Bytes{'h', 'e', 'l', 'l', 'o'});
  CHECK(mapped_here("libcurl.so.4"));
}

TEST_CASE("A library that is not installed is a MissingLibraryError naming it and the package", "[startup]") {
  std::string message;
  try {
    builder::DynamicLibrary library("libmrforge-absent.so.7", "mrforge-absent7", "testing");
    FAIL("an absent library was loaded");
  } catch (const builder::MissingLibraryError &e) {
    message = e.what();
    CHECK(e.path() == "libmrforge-absent.so.7");
  }
  CHECK(message.rfind("libmrforge-absent.so.7: cannot be loaded (", 0) == 0);
  CHECK(message.find("mrforge needs it for testing (Debian: apt install mrforge-absent7)") != std::string::npos);

  builder::DynamicLibrary libc("libc.so.6", "libc6", "testing");
  CHECK(libc.symbol("strlen") != nullptr);
  std::string missing = error_message([&] { libc.symbol("mrforge_no_such_function"); });
  CHECK(missing.find("libc.so.6: has no function mrforge_no_such_function") == 0);
}
