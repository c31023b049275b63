// Every reader bounded (measure/util/input_limits.hpp): files are checked before a byte is read (a FIFO
// or a device is refused at once, a file over its kind's limit too), files inside an input
// directory are never reached through a symbolic link, JSON and YAML nesting is limited in the
// shared readers, YAML anchors and aliases are refused, and network transfers have a total
// deadline and a size limit. The CLI runs here under `timeout -s KILL`: a read that blocks again
// fails the test instead of hanging it.
#include "support/script_server.hpp"
#include "test_support.hpp"

#include <builder/audit/artifact_diff.hpp>
#include <builder/system/http_fetch.hpp>
#include <builder/system/store.hpp>
#include <builder/system/subprocess.hpp>
#include <measure/documents/json_text.hpp>
#include <measure/documents/yaml_field.hpp>
#include <measure/util/errors.hpp>
#include <measure/util/hash.hpp>
#include <measure/util/input_limits.hpp>
#include <measure/util/mapped_file.hpp>
#include <measure/util/mapped_read.hpp>

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include <chrono>
#include <filesystem>
#include <string>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <thread>
#include <unistd.h>
#include <vector>

using namespace mrforge;
using namespace mrforge::test;
namespace fs = std::filesystem;

namespace {

// The CLI under a hard timeout: 137 (killed) instead of a hang when a read blocks.
ShellResult run_bounded(const std::vector<std::string> &args, const std::string &environment = "") {
  return run_mrforge_cli(args, environment + (environment.empty() ? "" : " ") + "timeout -s KILL 60");
}

void make_fifo(const std::string &path) { REQUIRE(::mkfifo(path.c_str(), 0644) == 0); }

// A character device equal to /dev/zero inside a test tree (mknod needs root; CI runs as root).
void make_zero_device(const std::string &path) {
  INFO("mknod " << path << " needs root (CI runs the tests as root)");
  REQUIRE(::geteuid() == 0);
  REQUIRE(::mknod(path.c_str(), S_IFCHR | 0644, makedev(1, 5)) == 0);
}

std::string nested_arrays(size_t depth, const std::string &inner = "1") {
  return std::string(depth, '[') + inner + std::string(depth, ']');
}

const std::vector<std::string> k_acpi_digests = mrforge::test::placeholder_acpi_digest_args();

} // namespace

// ---- the shared file reader --------------------------------------------------------------------

TEST_CASE("InputFile refuses FIFOs, devices and directories before reading, without blocking", "[limits]") {
  TempDir dir("limits");
  make_fifo(dir / "fifo");
  write_text(dir / "ok", "contents");
  CHECK_THAT(error_message([&] { read_file(dir / "fifo", limits::k_quote); }),
             Catch::Contains(dir / "fifo") && Catch::Contains("is a FIFO (named pipe), not a regular file") &&
                 Catch::Contains("a quote must be a regular file"));
  CHECK_THAT(error_message([&] { read_file("/dev/zero", limits::k_event_log); }),
             Catch::Contains("/dev/zero: is a character device") && Catch::Contains("an event log must be"));
  CHECK_THAT(error_message([&] { MappedFile m("/dev/zero", limits::k_firmware); }),
             Catch::Contains("is a character device"));
  CHECK_THAT(error_message([&] { MappedFile m(dir / "fifo", limits::k_kernel); }), Catch::Contains("FIFO"));
  CHECK_THAT(error_message([&] { read_file(dir.path(), limits::k_quote); }), Catch::Contains("is a directory"));
  CHECK_THAT(error_message([&] { read_file(dir / "missing", limits::k_quote); }),
             Catch::Contains("cannot open: No such file"));
  Bytes b = read_file(dir / "ok", limits::k_quote);
  CHECK(std::string(b.begin(), b.end()) == "contents");
  MappedFile m(dir / "ok", limits::k_quote);
  CHECK(m.bytes().size() == 8);
  // A recipe file source, a .deb offered with --debs: the same checks before hashing or copying.
  CHECK_THAT(error_message([&] { builder::digest_file(dir / "fifo", limits::k_recipe_file); }),
             Catch::Contains("FIFO"));
  CHECK_THAT(error_message([&] { builder::digest_file("/dev/zero", limits::k_recipe_file); }),
             Catch::Contains("character device"));
  builder::Store store(dir / "store");
  CHECK_THAT(error_message([&] { store.add_file(dir / "fifo", std::string(64, 'a'), 8, "package x"); }),
             Catch::Contains("FIFO"));
  CHECK(builder::digest_file(dir / "ok", limits::k_recipe_file).size == 8);
}

TEST_CASE("A file over its kind's limit is refused before reading, a pseudo-file while reading", "[limits]") {
  TempDir dir("limits");
  const std::string big = dir / "big";
  write_text(big, "");
  fs::resize_file(big, limits::k_quote.max_size + 1); // sparse: nothing is written
  CHECK_THAT(error_message([&] { read_file(big, limits::k_quote); }),
             Catch::Contains(big + ": is 4194305 bytes, larger than 4 MiB (4194304 bytes), the limit for a quote"));
  CHECK_THAT(error_message([&] {
               MappedFile m(big, FileLimit{"firmware image", 4096});
             }),
             Catch::Contains("larger than 4 KiB (4096 bytes), the limit for a firmware image"));
  fs::resize_file(big, limits::k_quote.max_size);
  CHECK(read_file(big, limits::k_quote).size() == limits::k_quote.max_size);

  // procfs reports size 0 for /proc/self/status, whose content is about 1 KiB: the limit holds on
  // what arrives.
  struct stat st {};
  REQUIRE(::stat("/proc/self/status", &st) == 0);
  REQUIRE(st.st_size == 0);
  CHECK_THAT(error_message([&] {
               read_file("/proc/self/status", FileLimit{"status file", 64});
             }),
             Catch::Contains("holds more than 64 bytes, the limit for a status file; nothing beyond it was read"));
  Bytes status = read_file("/proc/self/status", limits::k_text_record);
  CHECK(std::string(status.begin(), status.end()).find("Pid:") != std::string::npos);
  CHECK_THAT(error_message([&] {
               builder::digest_file("/proc/self/status", FileLimit{"status file", 64});
             }),
             Catch::Contains("holds more than 64 bytes"));
}

TEST_CASE("InputFile::open_in never follows a symbolic link below the directory", "[limits]") {
  TempDir dir("limits");
  const std::string root = dir / "tree";
  write_text(root + "/a/b.txt", "inside");
  write_text(dir / "outside/secret", "secret");
  fs::create_symlink(dir / "outside/secret", root + "/link");
  fs::create_symlink(dir / "outside", root + "/linked-dir");
  fs::create_symlink("b.txt", root + "/a/relative-link");
  fs::create_symlink(root, dir / "root-link");

  Bytes b = InputFile::open_in(root, "a/b.txt", limits::k_text_record).read_all();
  CHECK(std::string(b.begin(), b.end()) == "inside");
  // The directory itself may be a link (the user named it).
  CHECK(InputFile::open_in(dir / "root-link", "a/b.txt", limits::k_text_record).size() == 6);
  for (std::string rel : {"link", "linked-dir/secret", "a/relative-link"}) {
    INFO(rel);
    CHECK_THAT(error_message([&] { InputFile::open_in(root, rel, limits::k_text_record); }),
               Catch::Contains("is a symbolic link: links inside an input directory are not followed"));
  }
  for (std::string rel : {"../outside/secret", "/etc/hostname", "a//b.txt", "./a/b.txt", "a/../a/b.txt", ""}) {
    INFO(rel);
    CHECK_THAT(error_message([&] { InputFile::open_in(root, rel, limits::k_text_record); }),
               Catch::Contains("is not a plain relative name inside"));
  }
  CHECK_THAT(error_message([&] { InputFile::open_in(root, "a/b.txt/c", limits::k_text_record); }),
             Catch::Contains("is not a directory"));
}

// ---- JSON and YAML -------------------------------------------------------------------------------

TEST_CASE("parse_json_text refuses nesting deeper than 128 at the opening bracket (depth sweep)",
          "[limits][json_text]") {
  REQUIRE(limits::k_max_json_depth == 128);
  for (size_t depth = 1; depth <= 300; ++depth) {
    INFO("depth " << depth);
    std::string arrays = nested_arrays(depth);
    std::string objects;
    for (size_t i = 0; i < depth; ++i) objects += "{\"k\":";
    objects += "1" + std::string(depth, '}');
    if (depth <= 128) {
      CHECK_NOTHROW(parse_json_text(arrays, "a.json"));
      CHECK_NOTHROW(parse_json_text<nlohmann::ordered_json>(objects, "o.json"));
    } else {
      try {
        parse_json_text(arrays, "a.json");
        FAIL("parsed");
      } catch (const FormatError &e) {
        CHECK(e.offset() == 128); // the 129th '['
        CHECK_THAT(e.detail(), Catch::Contains("nested deeper than 128 levels"));
      }
      try {
        parse_json_text(objects, "o.json");
        FAIL("parsed");
      } catch (const FormatError &e) {
        CHECK(e.offset() == 128 * 5); // the 129th '{'
      }
    }
  }
  // Brackets inside strings (also after escaped quotes) are text, not nesting.
  std::string in_string = "[\"\\\"" + std::string(1000, '[') + "\", \"\\\\\", " + nested_arrays(127) + "]";
  CHECK(parse_json_text(in_string, "s.json")[0].get<std::string>().size() == 1001);
  // Far deeper than any stack: an error, not a crash.
  CHECK_THROWS_AS(parse_json_text(nested_arrays(1000000), "deep.json"), FormatError);
}

TEST_CASE("YAML: alias bombs, anchors, deep nesting, too many values and a second document are refused",
          "[limits][yaml]") {
  auto yaml_error = [](const std::string &text) -> std::string {
    try {
      parse_yaml_text(text, "doc.yaml", "YAML");
    } catch (const DocumentError &e) {
      return e.what();
    }
    FAIL("parsed: " << text.substr(0, 200));
    return "";
  };
  // The "billion laughs": nine levels of nine aliases each, 9^9 strings once expanded.
  std::string bomb = "a: &a [\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\"]\n";
  for (char c = 'b'; c <= 'i'; ++c) {
    std::string prev(1, static_cast<char>(c - 1));
    bomb += std::string(1, c) + ": &" + c + " [";
    for (int i = 0; i < 9; ++i) bomb += (i ? ",*" : "*") + prev;
    bomb += "]\n";
  }
  CHECK_THAT(yaml_error(bomb), Catch::StartsWith("doc.yaml:1:4: anchors (&a) and aliases are not supported"));
  CHECK_THAT(yaml_error("x: 1\ny: *missing\n"), Catch::Contains("doc.yaml:2:"));
  CHECK_THAT(yaml_error("base: &b {cpus: 2}\nother: {<<: *b}\n"), Catch::Contains("anchors (&b)"));

  REQUIRE(limits::k_max_yaml_depth == 64);
  for (size_t depth = 1; depth <= 100; ++depth) {
    INFO("depth " << depth);
    std::string flow = nested_arrays(depth);
    std::string block;
    for (size_t i = 0; i < depth; ++i) block += std::string(2 * i, ' ') + "k:\n";
    block += std::string(2 * depth, ' ') + "v\n";
    if (depth <= 64) {
      CHECK_NOTHROW(parse_yaml_text(flow, "doc.yaml", "YAML"));
      CHECK_NOTHROW(parse_yaml_text(block, "doc.yaml", "YAML"));
    } else {
      CHECK_THAT(yaml_error(flow), Catch::StartsWith("doc.yaml:1:65: lists and mappings nested deeper than 64"));
      CHECK_THAT(yaml_error(block), Catch::StartsWith("doc.yaml:65:") && Catch::Contains("nested deeper than 64"));
    }
  }
  CHECK_THAT(yaml_error(nested_arrays(100000)), Catch::Contains("nested deeper than 64"));

  REQUIRE(limits::k_max_yaml_nodes == 100000);
  auto list_of = [](size_t n) {
    std::string s = "[0";
    for (size_t i = 1; i < n; ++i) s += ",0";
    return s + "]";
  };
  CHECK(parse_yaml_text(list_of(99999), "doc.yaml", "YAML").size() == 99999); // + the list itself
  CHECK_THAT(yaml_error(list_of(100000)), Catch::Contains("more than 100000 values in one document"));
  CHECK_THAT(yaml_error("a: 1\n---\nb: 2\n"), Catch::StartsWith("doc.yaml:2:1: a second document"));
  CHECK(parse_yaml_text("---\na: 1\n...\n", "doc.yaml", "YAML")["a"].as<int>() == 1);
}

TEST_CASE("A recipe with an alias bomb or deep nesting is refused at once with file:line:column", "[limits][cli]") {
  TempDir dir("limits");
  std::string head = "apiVersion: mrforge/v1\nkind: OciImage\nname: t/bomb\ntag: \"1\"\n";
  std::string bomb = head + "x0: &x0 [\"" + std::string(1000, 'a') + "\"]\n";
  for (int i = 1; i < 30; ++i)
    bomb += "x" + std::to_string(i) + ": &x" + std::to_string(i) + " [*x" + std::to_string(i - 1) + ", *x" +
            std::to_string(i - 1) + "]\n";
  write_text(dir / "bomb.yaml", bomb);
  ShellResult r = run_bounded({"lock", dir / "bomb.yaml"});
  CHECK(r.exit_code == 2);
  CHECK_THAT(r.err, Catch::Contains(dir / "bomb.yaml:5:5: anchors (&x0) and aliases are not supported"));

  write_text(dir / "deep.yaml", head + "packages: " + nested_arrays(5000, "hello") + "\n");
  r = run_bounded({"lock", dir / "deep.yaml"});
  CHECK(r.exit_code == 2);
  CHECK_THAT(r.err, Catch::Contains(dir / "deep.yaml:5:") && Catch::Contains("nested deeper than 64"));
}

TEST_CASE("diff and verify --expected refuse JSON nested deeper than 128 (depth sweep)", "[limits][cli]") {
  TempDir dir("limits");
  auto objects = [](size_t depth, const std::string &leaf) {
    std::string s;
    for (size_t i = 0; i < depth; ++i) s += "{\"k\":";
    return s + leaf + std::string(depth, '}');
  };
  for (size_t depth :
       {size_t{1}, size_t{64}, size_t{127}, size_t{128}, size_t{129}, size_t{200}, size_t{100000}, size_t{1000000}}) {
    INFO("depth " << depth);
    write_text(dir / "a.json", objects(depth, "1"));
    write_text(dir / "b.json", objects(depth, "2"));
    ShellResult r = run_bounded({"diff", dir / "a.json", dir / "b.json"});
    if (depth <= 128) {
      CHECK(r.exit_code == 4);
      // The path of the differing value names every level.
      std::string path = "k";
      for (size_t i = 1; i < depth; ++i) path += ".k";
      CHECK_THAT(r.out, Catch::Contains("a.json vs b.json: " + path + ": value 1 -> 2"));
    } else {
      CHECK(r.exit_code == 2);
      CHECK_THAT(r.err, Catch::Contains(".json+0x280: arrays and objects nested deeper than 128 levels"));
    }

    // verify --expected: nested arrays inside "shapes".
    write_text(dir / "expected.json", "{\"shapes\": [" + nested_arrays(depth) + "]}");
    r = run_bounded(
        {"verify", "--quote", vector_path("dstack/quote-report.json"), "--expected", dir / "expected.json"});
    CHECK(r.exit_code == 2);
    if (depth + 2 > 128)
      CHECK_THAT(r.err, Catch::Contains(dir / "expected.json+0x") && Catch::Contains("nested deeper than 128"));
    else
      CHECK_THAT(r.err, !Catch::Contains("nested deeper"));
  }
}

// ---- every file option of the CLI ---------------------------------------------------------------

TEST_CASE("Every file the CLI reads: /dev/zero and a FIFO give exit 2 at once, naming the file", "[limits][cli]") {
  TempDir dir("limits");
  make_fifo(dir / "fifo");
  const std::string quote = vector_path("cc-trusted-api/quote.bin"), log = vector_path("cc-trusted-api/ccel_data.bin");
  REQUIRE(run_bounded({"keygen", "-o", dir / "k"}).exit_code == 0);
  write_text(dir / "envelope.json", R"({"payloadType": "x", "payload": "", "signatures": []})");
  fs::create_directories(dir / "out");
  const std::vector<std::string> measure_rest =
      with({"--cmdline", "", "--cpus", "1", "--memory", "2G", "--profile", "qemu-9.2-tdx"}, k_acpi_digests);
  // Each command line with "@" where the file under test goes.
  const std::vector<std::vector<std::string>> commands = {
      {"quote", "show", "@"},
      {"eventlog", "show", "@"},
      {"eventlog", "show", log, "--ima", "@"},
      {"verify", "--log-only", "--quote", "@"},
      {"verify", "--log-only", "--quote", quote, "--event-log", "@"},
      {"verify", "--log-only", "--quote", quote, "--event-log", log, "--ima", "@"},
      {"verify", "--quote", quote, "--expected", "@"},
      {"verify", "--quote", quote, "--expected", dir / "envelope.json", "--pub", "@"},
      with({"measure", "--firmware", "@", "--kernel", debian_kernel_612()}, measure_rest),
      with({"measure", "--firmware", debian_ovmf(), "--kernel", "@"}, measure_rest),
      with({"measure", "--firmware", debian_ovmf(), "--kernel", debian_kernel_612(), "--initrd", "@"}, measure_rest),
      with({"measure", "--firmware", debian_ovmf(), "--shape", "@", "--cmdline", ""}, k_acpi_digests),
      with({"measure", "--firmware", debian_ovmf(), "--dstack-vm-config", "@", "--cmdline", ""}, k_acpi_digests),
      {"measure", "--firmware", debian_ovmf(), "--cmdline", "", "--cpus", "1", "--memory", "2G", "--profile", "@"},
      with({"measure", "--firmware", debian_ovmf(), "--ovmf-variant", "@"}, measure_rest),
      {"inspect", "firmware", "@"},
      {"inspect", "kernel", "@"},
      {"acpi", "generate", "--shape", "@", "-o", dir / "acpi-out"},
      {"lock", "@"},
      {"sign", "--key", "@", dir / "out"},
      {"verify-signature", "--pub", "@", dir / "envelope.json"},
      {"verify-signature", "--pub", dir / "k.pub", "@"},
      {"reference-values", "@", "--pub", dir / "k.pub"},
  };
  for (const std::string &bad : {dir / "fifo", std::string("/dev/zero")}) {
    for (const auto &command : commands) {
      std::vector<std::string> args = command;
      std::string shown;
      for (auto &a : args) {
        if (a == "@") a = bad;
        shown += " " + a;
      }
      INFO("mrforge" << shown);
      ShellResult r = run_bounded(args);
      INFO(r.err);
      CHECK(r.exit_code == 2);
      CHECK_THAT(r.err, Catch::Contains(bad + ": is a") && Catch::Contains("not a regular file"));
    }
  }
}

TEST_CASE("IMAGE_DIR: metadata.json and the files it names are plain regular files inside it", "[limits][cli]") {
  TempDir dir("limits");
  const std::string image = dir / "image";
  fs::create_directories(image);
  fs::copy_file(debian_ovmf(), image + "/ovmf.fd");
  fs::copy_file(debian_kernel_612(), image + "/bzImage");
  write_text(image + "/initrd", std::string(4096, 'r'));
  auto metadata = [&](const std::string &bios, const std::string &kernel, const std::string &initrd) {
    write_text(image + "/metadata.json", R"({"bios": ")" + bios + R"(", "kernel": ")" + kernel + R"(", "initrd": ")" +
                                             initrd + R"(", "cmdline": ""})");
  };
  const std::vector<std::string> args =
      with({"measure", image, "--cpus", "1", "--memory", "2G", "--profile", "qemu-9.2-tdx"}, k_acpi_digests);
  metadata("ovmf.fd", "bzImage", "initrd");
  ShellResult ok = run_bounded(args);
  INFO(ok.err);
  REQUIRE(ok.exit_code == 0);

  make_fifo(image + "/fifo");
  fs::create_symlink("/dev/zero", image + "/zero");
  fs::create_symlink("bzImage", image + "/kernel-link");
  fs::create_directories(image + "/sub");
  fs::copy_file(debian_kernel_612(), image + "/sub/bzImage");
  struct Case {
    std::string bios, kernel, initrd, error;
  } cases[] = {
      {"fifo", "bzImage", "initrd", image + "/fifo: is a FIFO (named pipe), not a regular file"},
      {"ovmf.fd", "fifo", "initrd", image + "/fifo: is a FIFO"},
      {"ovmf.fd", "bzImage", "fifo", image + "/fifo: is a FIFO"},
      {"zero", "bzImage", "initrd", image + "/zero: is a symbolic link"},
      {"ovmf.fd", "kernel-link", "initrd", image + "/kernel-link: is a symbolic link"},
      {"ovmf.fd", "sub/bzImage", "initrd", "kernel: 'sub/bzImage' must be the plain name of a file"},
      {"ovmf.fd", "bzImage", "..", "initrd: '..' must be the plain name of a file"},
  };
  for (const Case &c : cases) {
    INFO(c.bios << " " << c.kernel << " " << c.initrd);
    metadata(c.bios, c.kernel, c.initrd);
    ShellResult r = run_bounded(args);
    CHECK(r.exit_code == 2);
    CHECK_THAT(r.err, Catch::Contains(c.error));
  }
  {
    make_zero_device(image + "/zero-device");
    metadata("ovmf.fd", "bzImage", "zero-device");
    ShellResult r = run_bounded(args);
    CHECK(r.exit_code == 2);
    CHECK_THAT(r.err, Catch::Contains(image + "/zero-device: is a character device"));
  }
  // metadata.json itself: a FIFO, or a link out of the directory.
  fs::remove(image + "/metadata.json");
  make_fifo(image + "/metadata.json");
  ShellResult r = run_bounded(args);
  CHECK(r.exit_code == 2);
  CHECK_THAT(r.err, Catch::Contains(image + "/metadata.json: is a FIFO"));
  fs::remove(image + "/metadata.json");
  write_text(dir / "outside.json", R"({"bios": "ovmf.fd", "kernel": "bzImage", "cmdline": ""})");
  fs::create_symlink(dir / "outside.json", image + "/metadata.json");
  r = run_bounded(args);
  CHECK(r.exit_code == 2);
  CHECK_THAT(r.err, Catch::Contains(image + "/metadata.json: is a symbolic link"));
}

TEST_CASE("A recipe file source that is a FIFO or a device is refused, not read forever", "[limits][cli]") {
  TempDir dir("limits");
  auto recipe = [&](const std::string &source) {
    write_text(dir / "r.yaml", "apiVersion: mrforge/v1\nkind: OciImage\nname: t/files\ntag: \"1\"\n"
                               "files:\n  - {source: " +
                                   source + ", target: /x}\n");
    return dir / "r.yaml";
  };
  write_text(dir / "plain", "x\n");
  ShellResult ok = run_bounded({"lock", recipe("plain")});
  INFO(ok.err);
  REQUIRE(ok.exit_code == 0);
  make_fifo(dir / "fifo");
  ShellResult r = run_bounded({"lock", recipe("fifo")});
  CHECK(r.exit_code == 2);
  CHECK_THAT(r.err, Catch::Contains(dir / "fifo: is a FIFO (named pipe), not a regular file"));
  {
    make_zero_device(dir / "zero");
    r = run_bounded({"lock", recipe("zero")});
    CHECK(r.exit_code == 2);
    CHECK_THAT(r.err, Catch::Contains(dir / "zero: is a character device"));
  }
}

// ---- OCI layouts -------------------------------------------------------------------------------

TEST_CASE("diff of OCI layouts never reads a blob through a symbolic link or from a FIFO", "[limits][cli]") {
  TempDir dir("limits");
  const std::string secret = "TOP-SECRET-" + std::string(8, 's');
  write_text(dir / "outside/secret.json", R"({"mediaType": "x", "password": ")" + secret + R"("})");
  const std::string hex(64, 'a'), config_hex(64, 'c');
  // Two layouts whose manifest blobs are ordinary files, then one of them replaced.
  auto layout = [&](const std::string &name, const std::string &password) {
    const std::string d = dir / name;
    write_text(d + "/oci-layout", R"({"imageLayoutVersion": "1.0.0"})");
    write_text(d + "/index.json", R"({"manifests": [{"digest": "sha256:)" + hex + R"("}]})");
    write_text(d + "/blobs/sha256/" + hex, R"({"config": {"digest": "sha256:)" + config_hex +
                                               R"("}, "layers": [], "password": ")" + password + R"("})");
    write_text(d + "/blobs/sha256/" + config_hex, R"({"history": []})");
    return d;
  };
  const std::string a = layout("a", "one"), b = layout("b", "two");
  ShellResult r = run_bounded({"diff", a, b});
  CHECK(r.exit_code == 4);
  CHECK_THAT(r.out, Catch::Contains("manifest: password: value one -> two"));

  const std::string blob = b + "/blobs/sha256/" + hex;
  fs::remove(blob);
  fs::create_symlink(dir / "outside/secret.json", blob);
  r = run_bounded({"diff", a, b});
  CHECK(r.exit_code == 2);
  CHECK_THAT(r.err, Catch::Contains(blob + ": is a symbolic link"));
  CHECK_THAT(r.out + r.err, !Catch::Contains(secret));

  // A link higher up: blobs/ itself pointing out of the layout.
  fs::remove(blob);
  fs::rename(b + "/blobs", dir / "outside/blobs");
  write_text(dir / "outside/blobs/sha256/" + hex, read_text(dir / "outside/secret.json"));
  fs::create_symlink(dir / "outside/blobs", b + "/blobs");
  r = run_bounded({"diff", a, b});
  CHECK(r.exit_code == 2);
  CHECK_THAT(r.err, Catch::Contains(b + "/blobs: is a symbolic link"));
  CHECK_THAT(r.out + r.err, !Catch::Contains(secret));

  fs::remove(b + "/blobs");
  fs::create_directories(b + "/blobs/sha256");
  write_text(b + "/blobs/sha256/" + config_hex, R"({"history": []})");
  make_fifo(blob);
  r = run_bounded({"diff", a, b});
  CHECK(r.exit_code == 2);
  CHECK_THAT(r.err, Catch::Contains(blob + ": is a FIFO"));
  fs::remove(blob);
  {
    make_zero_device(blob);
    r = run_bounded({"diff", a, b});
    CHECK(r.exit_code == 2);
    CHECK_THAT(r.err, Catch::Contains(blob + ": is a character device"));
  }
}

// ---- network -------------------------------------------------------------------------------------

namespace {

// tests/support/slow_http_server.py on a free loopback port, killed at the end of the scope.
struct SlowServer : ScriptServer {
  SlowServer() : ScriptServer("tests/support/slow_http_server.py") {}
};

} // namespace

TEST_CASE("Fetcher: a trickling mirror hits the total deadline, and a body over its limit is aborted",
          "[limits][fetch]") {
  SlowServer server;
  TempDir dir("limits");
  builder::Fetcher fetcher(2);
  const std::string trickle = server.url() + "/dists/bookworm/InRelease";
  auto start = std::chrono::steady_clock::now();
  CHECK_THAT(error_message([&] { fetcher.fetch_bytes(trickle, limits::k_max_inrelease_size); }),
             Catch::Contains(trickle + ": ") && Catch::Contains("a transfer may take at most 2 s") &&
                 Catch::Contains("MRFORGE_FETCH_TIMEOUT"));
  // Not a timing assertion: only that the transfer ended instead of trickling for 11 days.
  CHECK(std::chrono::steady_clock::now() - start < std::chrono::seconds(60));

  for (std::string kind : {"announced", "unannounced"}) {
    INFO(kind);
    const std::string url = server.url() + "/" + kind + "/5000";
    CHECK_THAT(error_message([&] { fetcher.fetch_bytes(url, 4096); }),
               Catch::StartsWith(url + ": the answer is larger than 4 KiB (4096 bytes), the size expected"));
    CHECK_THAT(error_message([&] { fetcher.fetch_to_file(url, dir / "out", 4096); }),
               Catch::StartsWith(url + ": the answer is larger than 4 KiB"));
    CHECK_FALSE(fs::exists(dir / "out"));
    CHECK_FALSE(fs::exists(dir / "out.part"));
    CHECK(fetcher.fetch_bytes(server.url() + "/" + kind + "/4096", 4096).size() == 4096);
  }
  fetcher.fetch_to_file(server.url() + "/announced/5000", dir / "out", 5000);
  CHECK(fs::file_size(dir / "out") == 5000);

  // file:// naming a FIFO: refused, not opened (curl would wait for a writer).
  make_fifo(dir / "fifo");
  CHECK_THAT(error_message([&] { fetcher.fetch_bytes("file://" + dir / "fifo", 1024); }),
             Catch::Contains("is not a regular file"));
}

TEST_CASE("mrforge lock against a trickling mirror stops at MRFORGE_FETCH_TIMEOUT with exit 2",
          "[limits][cli][fetch]") {
  SlowServer server;
  TempDir dir("limits");
  write_text(dir / "keyring.gpg", "not read: the index never arrives\n");
  write_text(dir / "r.yaml", "apiVersion: mrforge/v1\nkind: OciImage\nname: t/trickle\ntag: \"1\"\n"
                             "debian: {suite: bookworm, mirror: " +
                                 server.url() + ", keyring: keyring.gpg}\npackages: [hello]\n");
  ShellResult r = run_bounded({"lock", dir / "r.yaml"}, "MRFORGE_FETCH_TIMEOUT=2");
  INFO(r.err);
  CHECK(r.exit_code == 2);
  CHECK_THAT(r.err, Catch::Contains(server.url() + "/dists/bookworm/InRelease: ") &&
                        Catch::Contains("a transfer may take at most 2 s"));

  ShellResult bad = run_bounded({"lock", dir / "r.yaml"}, "MRFORGE_FETCH_TIMEOUT=soon");
  CHECK(bad.exit_code == 2);
  CHECK_THAT(bad.err, Catch::Contains("MRFORGE_FETCH_TIMEOUT: expected a whole number of seconds from 1 to 604800, "
                                      "got 'soon'"));
}

TEST_CASE("Hashing a mapped file through the file gives the digest of its bytes, and a file cut short is an error",
          "[limits]") {
  TempDir dir("limits");
  const std::string path = dir / "blob";
  std::string text;
  for (uint32_t i = 0; text.size() < (1u << 20) + 123; ++i) text += std::to_string(i * 2654435761u) + ",";
  write_text(path, text);
  const Bytes copy = read_file(path, limits::k_initrd);
  MappedFile m(path, limits::k_initrd);
  auto by_file = [](ByteView b) {
    Hasher h(HashAlgorithm::sha384);
    update_from_file(h, b);
    return to_hex(h.finish());
  };
  auto in_memory = [](ByteView b) { return to_hex(sha384(b)); };
  CHECK(by_file(m.bytes()) == in_memory(copy));
  CHECK(by_file(m.bytes().unchecked_sub(1000, 600000)) == in_memory(ByteView(copy).unchecked_sub(1000, 600000)));
  CHECK(by_file(m.bytes().unchecked_sub(7, 100)) == in_memory(ByteView(copy).unchecked_sub(7, 100)));
  CHECK(by_file(copy) == in_memory(copy)); // not a mapping: hashed from memory
  // Cut short after mapping: the read fails naming the file (the mapping itself is not touched).
  fs::resize_file(path, 4096);
  CHECK_THAT(error_message([&] { by_file(m.bytes()); }),
             Catch::Contains(path) && Catch::Contains("it was changed meanwhile"));
}
