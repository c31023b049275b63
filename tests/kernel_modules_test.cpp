// ELF dependency and section reading against binutils' readelf/objcopy, and kernel module
// resolution against kmod's modinfo, on the host's binaries and Debian's real kernel package.
#include "support/kernel_package.hpp"
#include "test_support.hpp"

#include <builder/fs/content_staging.hpp>
#include <builder/fs/fs_tree.hpp>
#include <builder/guest/elf_file.hpp>
#include <builder/guest/kernel_modules.hpp>

#include <measure/util/errors.hpp>

#include <catch2/catch.hpp>

#include <algorithm>
#include <filesystem>
#include <map>
#include <set>
#include <sstream>
#include <string>
#include <vector>

using namespace mrforge;
using namespace mrforge::builder;
using namespace mrforge::test;
namespace fs = std::filesystem;

namespace {

std::vector<std::string> lines(const std::string &text) {
  std::vector<std::string> out;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) out.push_back(line);
  return out;
}

std::vector<std::string> split_commas(const std::string &text) {
  std::vector<std::string> out;
  std::string item;
  std::istringstream in(text);
  while (std::getline(in, item, ','))
    if (!item.empty()) out.push_back(item);
  return out;
}

bool contains(const std::string &haystack, const std::string &needle) {
  return haystack.find(needle) != std::string::npos;
}

// What readelf says: the DT_NEEDED names in order and the requested interpreter.
ElfDependencies readelf_dependencies(const std::string &path) {
  ElfDependencies d;
  for (const std::string &line : lines(sh("LC_ALL=C readelf -d " + shell_quote(path)))) {
    size_t open = line.find("(NEEDED)");
    if (open == std::string::npos) continue;
    size_t a = line.find('[', open), b = line.rfind(']');
    REQUIRE(a != std::string::npos);
    d.needed.push_back(line.substr(a + 1, b - a - 1));
  }
  for (const std::string &line : lines(sh("LC_ALL=C readelf -l " + shell_quote(path)))) {
    const std::string key = "[Requesting program interpreter: ";
    size_t at = line.find(key);
    if (at != std::string::npos) d.interpreter = line.substr(at + key.size(), line.rfind(']') - at - key.size());
  }
  return d;
}

// `modinfo -F FIELD` of a module whose bytes are in `content_path` (kmod wants a .ko* name).
std::string modinfo_field(const std::string &content_path, const std::string &file_name, const std::string &field,
                          const TempDir &tmp) {
  std::string link = tmp / file_name;
  fs::remove(link);
  fs::create_symlink(content_path, link);
  std::string out = sh("modinfo -F " + field + " " + shell_quote(link));
  while (!out.empty() && out.back() == '\n') out.pop_back();
  return out;
}

// A tiny ELF relocatable with the given .modinfo strings (as a module would have), xz-compressed.
std::string make_fake_module(const TempDir &tmp, const std::string &name, const std::string &modinfo) {
  std::string info = tmp / (name + ".modinfo");
  write_text(info, modinfo);
  std::string obj = tmp / (name + ".ko");
  sh("printf 'int x;\\n' | gcc -c -x c - -o " + shell_quote(obj) + " && objcopy --add-section .modinfo=" +
     shell_quote(info) + " " + shell_quote(obj) + " && xz -kf " + shell_quote(obj));
  return obj + ".xz";
}

void add_file(FsTree &tree, const std::string &path, const std::string &host_path) {
  tree.ensure_directory(parent_path(path), "test");
  Node n;
  n.content_path = host_path;
  n.size = fs::file_size(host_path);
  n.origin = "test";
  tree.add(path, n);
}

} // namespace

TEST_CASE("ELF interpreter and DT_NEEDED entries match readelf on host binaries", "[elf]") {
  for (const std::string path : {"/bin/ls", "/sbin/dmsetup", "/lib/x86_64-linux-gnu/libc.so.6", "/bin/busybox"}) {
    CAPTURE(path);
    REQUIRE(fs::exists(path)); // coreutils, libc6, dmsetup, busybox-static (.ci/packages.txt)
    ElfDependencies expected = readelf_dependencies(path);
    ElfDependencies got = read_elf_dependencies(path, path);
    CHECK(got.interpreter == expected.interpreter);
    CHECK(got.needed == expected.needed);
    if (path == "/sbin/dmsetup") {
      CHECK(got.interpreter == "/lib64/ld-linux-x86-64.so.2");
      CHECK(!got.needed.empty());
    }
    // The .interp section holds the same path, NUL-terminated.
    std::string interp = read_elf_section(path, ".interp", path);
    CHECK(interp == (expected.interpreter.empty() ? std::string() : expected.interpreter + std::string(1, '\0')));
  }
}

TEST_CASE("an ELF section's bytes equal what objcopy extracts, and a missing section is empty", "[elf]") {
  TempDir tmp("h2-elf");
  // The installed kernel's module (any release has one).
  const std::string release = fs::path(debian_kernel_612()).filename().string().substr(sizeof "vmlinuz-" - 1);
  const std::string module = "/lib/modules/" + release + "/kernel/drivers/md/dm-verity.ko.xz";
  REQUIRE(fs::exists(module));
  sh("xz -dc " + shell_quote(module) + " > " + shell_quote(tmp / "m.ko") +
     " && objcopy -O binary --only-section=.modinfo " + shell_quote(tmp / "m.ko") + " " +
     shell_quote(tmp / "modinfo.bin"));
  std::string got = read_elf_section(tmp / "m.ko", ".modinfo", "m.ko");
  CHECK(!got.empty());
  CHECK(got == read_text(tmp / "modinfo.bin"));
  CHECK(contains(got, std::string("depends=dm-mod,dm-bufio,reed_solomon") + '\0') ==
        contains(sh("modinfo -F depends " + shell_quote(module)), "dm-mod,dm-bufio,reed_solomon"));
  CHECK(read_elf_section(tmp / "m.ko", ".no-such-section", "m.ko").empty());
}

TEST_CASE("a truncated or garbage ELF file is a FormatError naming it", "[elf]") {
  std::string whole = read_text("/bin/true");
  REQUIRE(whole.size() > 1000);
  size_t refused = 0;
  for (size_t len = 0; len < whole.size(); len += (len < 4096 ? 1 : 61)) {
    CAPTURE(len);
    try {
      parse_elf_dependencies(std::string_view(whole).substr(0, len), "true_cut");
      (void)elf_section(std::string_view(whole).substr(0, len), ".dynstr", "true_cut");
    } catch (const FormatError &e) {
      ++refused;
      CHECK(e.source() == "true_cut");
      CHECK(contains(e.what(), "true_cut"));
    }
  }
  // Everything is refused: the section headers, which DT_NEEDED reading needs, are at the end.
  CHECK(refused == (4096 + (whole.size() - 4096 + 60) / 61));

  TempDir tmp("h2-elf");
  write_text(tmp / "garbage", std::string("\x7f"
                                          "ELF") +
                                  std::string(200, '\xff'));
  CHECK_THROWS_AS(read_elf_dependencies(tmp / "garbage", "garbage.bin"), FormatError);
  CHECK_THROWS_WITH(read_elf_dependencies(tmp / "garbage", "garbage.bin"), Catch::Contains("garbage.bin"));
  write_text(tmp / "text", "#!/bin/sh\necho hello\n");
  CHECK_THROWS_WITH(read_elf_dependencies(tmp / "text", "hello.sh"),
                    Catch::Contains("hello.sh") && Catch::Contains("not an ELF"));
  CHECK_THROWS_AS(read_elf_dependencies(tmp / "missing", "missing"), SystemError);
}

TEST_CASE("kernel modules resolve with their .modinfo dependencies first, as modinfo reports them",
          "[kernel_modules]") {
  const UnpackedKernel &k = unpacked_kernel();
  TempDir tmp("h2-modinfo");
  KernelModules modules(k.tree, k.package.release, "linux-image.deb");
  CHECK(modules.size() > 1000);
  std::vector<KernelModule> order = modules.resolve({"dm-verity", "erofs"}, "recipe.yaml:3:5");

  // Closure and dependencies computed with modinfo, independently.
  std::map<std::string, std::vector<std::string>> modinfo_deps; // normalized name -> depends
  std::set<std::string> seen;
  for (size_t i = 0; i < order.size(); ++i) {
    const KernelModule &m = order[i];
    CAPTURE(m.name, m.tree_path);
    CHECK(seen.insert(normalize_module_name(m.name)).second); // no duplicates
    const Node *node = k.tree.find(m.tree_path);
    REQUIRE(node != nullptr);
    std::string file = fs::path(m.tree_path).filename().string();
    CHECK(file.rfind(m.name + ".ko", 0) == 0);
    std::vector<std::string> deps = split_commas(modinfo_field(node->content_path, file, "depends", tmp));
    CHECK(m.depends == deps);
    for (const std::string &dep : deps) CHECK(seen.count(normalize_module_name(dep)) == 1); // listed before
    modinfo_deps[normalize_module_name(m.name)] = deps;
  }
  // Nothing more than the closure: every module is requested or needed by a listed one.
  std::set<std::string> needed{"dm_verity", "erofs"};
  for (const auto &[name, deps] : modinfo_deps)
    for (const std::string &d : deps) needed.insert(normalize_module_name(d));
  CHECK(needed == seen);
  // Requested names in their order, dm-verity's dependencies (dm-mod, dm-bufio, reed_solomon) before it.
  REQUIRE(order.size() >= 2);
  CHECK(order.back().name == "erofs");
  auto pos = [&](const std::string &n) {
    for (size_t i = 0; i < order.size(); ++i)
      if (normalize_module_name(order[i].name) == n) return i;
    return order.size();
  };
  CHECK(pos("dm_verity") < pos("erofs"));
  for (const std::string &dep : modinfo_deps["dm_verity"]) CHECK(pos(normalize_module_name(dep)) < pos("dm_verity"));
  CHECK(modinfo_deps["dm_verity"].size() == 3);

  // '-' and '_' name the same module; the file's spelling is kept.
  std::vector<KernelModule> again = modules.resolve({"dm_verity", "dm-bufio", "dm-verity"}, "x");
  REQUIRE(!again.empty());
  CHECK(again.back().name == "dm-verity");
  CHECK(std::count_if(again.begin(), again.end(), [](const KernelModule &m) { return m.name == "dm-verity"; }) == 1);
}

TEST_CASE("an unknown kernel module is an InputError naming where it was asked for and close names",
          "[kernel_modules]") {
  const UnpackedKernel &k = unpacked_kernel();
  KernelModules modules(k.tree, k.package.release, "linux-image.deb");
  try {
    modules.resolve({"virtio_blk", "dm-veritty"}, "recipe.yaml:12:3: initramfs.modules[1]");
    FAIL("no error");
  } catch (const InputError &e) {
    std::string what = e.what();
    CHECK(contains(what, "recipe.yaml:12:3: initramfs.modules[1]"));
    CHECK(contains(what, "'dm-veritty'"));
    CHECK(contains(what, "dm-verity"));
    CHECK(contains(what, "linux-image.deb"));
  }
  CHECK_THROWS_WITH(KernelModules(k.tree, "6.1.0-99-amd64", "linux-image.deb"),
                    Catch::Contains("linux-image.deb") && Catch::Contains(k.package.release));
}

TEST_CASE("a module's uncompressed bytes equal xz -dc of the packaged file", "[kernel_modules]") {
  const UnpackedKernel &k = unpacked_kernel();
  TempDir tmp("h2-unxz");
  ContentStaging staging(tmp / "staging");
  KernelModules modules(k.tree, k.package.release, "linux-image.deb");
  for (const KernelModule &m : modules.resolve({"dm-verity", "virtio_blk"}, "x")) {
    CAPTURE(m.tree_path);
    StagedContent c = modules.uncompressed(m, staging);
    const Node *node = k.tree.find(m.tree_path);
    REQUIRE(node != nullptr);
    std::string expected = sh("xz -dc " + shell_quote(node->content_path) + " | sha256sum");
    CHECK(expected.substr(0, 64) == c.sha256_hex);
    CHECK(c.size == fs::file_size(c.path));
    CHECK(read_text(c.path).substr(0, 4) == "\x7f"
                                            "ELF");
  }
}

TEST_CASE("modules under usr/lib/modules and .ko/.ko.zst files are indexed too", "[kernel_modules]") {
  TempDir tmp("h2-kmod");
  std::string a = make_fake_module(tmp, "alpha-one", std::string("name=alpha_one\0depends=beta\0", 29));
  std::string b = make_fake_module(tmp, "beta", std::string("license=GPL\0name=beta\0depends=\0", 31));
  sh("zstd -q -f " + shell_quote(tmp / "beta.ko") + " -o " + shell_quote(tmp / "beta.ko.zst"));
  FsTree tree;
  add_file(tree, "usr/lib/modules/9.9/kernel/a/alpha-one.ko.xz", a);
  add_file(tree, "usr/lib/modules/9.9/kernel/b/beta.ko.zst", tmp / "beta.ko.zst");
  KernelModules modules(tree, "9.9", "fake.deb");
  std::vector<KernelModule> order = modules.resolve({"alpha_one"}, "x");
  REQUIRE(order.size() == 2);
  CHECK(order[0].name == "beta");
  CHECK(order[0].depends.empty());
  CHECK(order[1].name == "alpha-one");
  CHECK(order[1].depends == std::vector<std::string>{"beta"});
  ContentStaging staging(tmp / "staging");
  CHECK(read_text(modules.uncompressed(order[0], staging).path) == read_text(tmp / "beta.ko"));
}

TEST_CASE("broken modules and broken dependencies are errors naming the module file", "[kernel_modules]") {
  TempDir tmp("h2-kmod");
  std::string a = make_fake_module(tmp, "a", std::string("name=a\0depends=b\0", 17));
  std::string b = make_fake_module(tmp, "b", std::string("name=b\0depends=a\0", 17));
  std::string c = make_fake_module(tmp, "c", std::string("name=c\0depends=nowhere\0", 23));
  std::string d = make_fake_module(tmp, "d", std::string("name=other\0depends=\0", 20));
  std::string dup = make_fake_module(tmp, "dup", std::string("name=dup\0", 9));
  std::string whole = read_text(a);
  write_text(tmp / "cut.ko.xz", whole.substr(0, whole.size() / 2));
  FsTree tree;
  const std::string dir = "lib/modules/9.9/kernel/";
  add_file(tree, dir + "a.ko.xz", a);
  add_file(tree, dir + "b.ko.xz", b);
  add_file(tree, dir + "c.ko.xz", c);
  add_file(tree, dir + "d.ko.xz", d);
  add_file(tree, dir + "cut.ko.xz", tmp / "cut.ko.xz");
  add_file(tree, dir + "plain.ko.xz", tmp / "a.ko");  // not xz at all
  add_file(tree, dir + "text.ko", tmp / "a.modinfo"); // not ELF
  add_file(tree, dir + "dup.ko.xz", dup);
  add_file(tree, dir + "x/dup.ko", tmp / "dup.ko"); // a second "dup"
  KernelModules modules(tree, "9.9", "fake.deb");

  CHECK_THROWS_WITH(modules.resolve({"b"}, "x"), Catch::Contains("cycle") && Catch::Contains("fake.deb: " + dir));
  CHECK_THROWS_WITH(modules.resolve({"c"}, "x"), Catch::Contains("c.ko.xz") && Catch::Contains("'nowhere'"));
  CHECK_THROWS_WITH(modules.resolve({"d"}, "x"), Catch::Contains("d.ko.xz") && Catch::Contains("name=other"));
  CHECK_THROWS_AS(modules.resolve({"cut"}, "x"), FormatError);
  CHECK_THROWS_WITH(modules.resolve({"cut"}, "x"), Catch::Contains("cut.ko.xz"));
  CHECK_THROWS_WITH(modules.resolve({"plain"}, "x"),
                    Catch::Contains("plain.ko.xz") && Catch::Contains("not a single compressed stream"));
  CHECK_THROWS_WITH(modules.resolve({"text"}, "x"), Catch::Contains("text.ko") && Catch::Contains("not an ELF"));
  CHECK_THROWS_WITH(modules.resolve({"dup"}, "recipe:1:1"),
                    Catch::Contains("recipe:1:1") && Catch::Contains("ambiguous"));
}
