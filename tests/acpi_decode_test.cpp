// Tests of the ACPI blob decoder and `mrforge acpi diff/list`, on blobs captured from QEMU 7.2
// (tests/data/acpi/decode/base: 1 CPU, 2 GiB, defaults; nic1: the same plus one virtio-net).
// Expected values come from independent tools: `iasl -d` (acpica-tools) for table fields and AML
// objects, `cmp` for first differing bytes, `od` for raw fields.
// GCC 12 reports a false -Wmaybe-uninitialized inside libstdc++'s <regex> automaton when it
// inlines std::function moves under -O2 with ASan (the CI build); the warning is in the
// standard library, not here.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif
#include "test_support.hpp"

#include <measure/acpi/acpi_blobs.hpp>
#include <measure/acpi/acpi_decode.hpp>
#include <measure/util/errors.hpp>

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <filesystem>
#include <map>
#include <optional>
#include <regex>
#include <set>
#include <sstream>
#include <string>
#include <vector>

using namespace mrforge;

namespace {

std::string data_dir(const std::string &shape) { return test::source_path("tests/data/acpi/decode/" + shape); }

AcpiBlobs blobs_of(const std::string &shape) { return read_acpi_blobs(data_dir(shape)); }

using test::sh;

uint64_t od_u32(const std::string &file, uint64_t offset) {
  return std::stoull(sh("od -An -tu4 -j" + std::to_string(offset) + " -N4 " + test::shell_quote(file)));
}

// Extracts one table of a tables blob into dir/<name>.dat with dd and disassembles it with iasl
// (-l: with AML offsets). Returns the .dsl text.
std::string iasl_table(const std::string &tables, const DecodedTable &t, const std::string &dir,
                       const std::string &name, bool listing = false) {
  const std::string dat = dir + "/" + name + ".dat";
  sh("dd if=" + test::shell_quote(tables) + " of=" + test::shell_quote(dat) + " bs=1 skip=" + std::to_string(t.offset) +
     " count=" + std::to_string(t.length) + " status=none");
  sh("cd " + test::shell_quote(dir) + " && iasl " + (listing ? "-l " : "") + "-d " + name + ".dat >/dev/null 2>&1");
  return test::read_text(dir + "/" + name + ".dsl");
}

const DecodedTable &table(const DecodedAcpi &d, const std::string &sig) {
  for (const DecodedTable &t : d.tables)
    if (t.signature == sig) return t;
  FAIL("no table " << sig);
  throw std::logic_error("unreachable");
}

// iasl's AML namespace from a disassembly: full paths of named objects (Methods' bodies
// excluded), found by following Scope/Device/... blocks through their braces.
struct IaslNamespace {
  std::set<std::string> devices, methods, names, regions, mutexes, processors;
};

std::vector<std::string> split_path(const std::string &path, const std::vector<std::string> &scope) {
  std::vector<std::string> out;
  size_t i = 0;
  if (!path.empty() && path[0] == '\\') {
    i = 1;
  } else {
    out = scope;
    while (i < path.size() && path[i] == '^') {
      out.pop_back();
      ++i;
    }
  }
  std::string rest = path.substr(i);
  std::stringstream ss(rest);
  std::string seg;
  while (std::getline(ss, seg, '.'))
    if (!seg.empty()) out.push_back(seg);
  return out;
}

std::string join_path(const std::vector<std::string> &segs) {
  std::string s = "\\";
  for (size_t i = 0; i < segs.size(); ++i) s += (i ? "." : "") + segs[i];
  return s;
}

IaslNamespace iasl_namespace(const std::string &dsl) {
  static const std::regex block(R"(^\s*(Scope|Device|Processor|Method|ThermalZone|PowerResource)\s*\(([^,)\s]+))");
  static const std::regex named(R"(^\s*(Name|OperationRegion|Mutex)\s*\(([^,)\s]+))");
  struct Frame {
    std::vector<std::string> scope;
    bool in_method;
  };
  IaslNamespace ns;
  std::vector<Frame> stack{{{}, false}};
  std::optional<Frame> pending;
  std::stringstream in(dsl);
  std::string line;
  bool in_comment = false;
  while (std::getline(in, line)) {
    if (in_comment) {
      if (line.find("*/") == std::string::npos) continue;
      line = line.substr(line.find("*/") + 2);
      in_comment = false;
    }
    if (auto c = line.find("//"); c != std::string::npos) line = line.substr(0, c);
    while (line.find("/*") != std::string::npos) {
      size_t s = line.find("/*"), e = line.find("*/", s);
      if (e == std::string::npos) {
        line = line.substr(0, s);
        in_comment = true;
      } else {
        line = line.substr(0, s) + line.substr(e + 2);
      }
    }
    const Frame &top = stack.back();
    std::smatch m;
    if (std::regex_search(line, m, block)) {
      std::vector<std::string> path = split_path(m[2], top.scope);
      if (!top.in_method) {
        if (m[1] == "Device") ns.devices.insert(join_path(path));
        if (m[1] == "Method") ns.methods.insert(join_path(path));
        if (m[1] == "Processor") ns.processors.insert(join_path(path));
      }
      pending = Frame{path, top.in_method || m[1] == "Method"};
    } else if (std::regex_search(line, m, named) && !top.in_method) {
      std::string path = join_path(split_path(m[2], top.scope));
      if (m[1] == "Name") ns.names.insert(path);
      if (m[1] == "OperationRegion") ns.regions.insert(path);
      if (m[1] == "Mutex") ns.mutexes.insert(path);
    }
    for (char c : line) {
      if (c == '{') {
        stack.push_back(pending ? *pending : stack.back());
        pending.reset();
      } else if (c == '}') {
        REQUIRE(stack.size() > 1);
        stack.pop_back();
      }
    }
  }
  return ns;
}

std::set<std::string> decoded_paths(const DecodedTable &t, const std::string &kind) {
  std::set<std::string> s;
  for (const AmlObject &o : t.objects)
    if (o.kind == kind) s.insert(o.path);
  return s;
}

// iasl -l listing: the first AML offset (table-relative) of each named ASL statement.
std::vector<std::pair<uint32_t, std::string>> iasl_statement_offsets(const std::string &lst) {
  static const std::regex stmt(
      R"(^\s*(Scope|Device|Processor|Method|Name|OperationRegion|Field|Mutex)\s*\(([^,)\s]+))");
  static const std::regex hex(R"(^    ([0-9A-F]{4}): )");
  std::vector<std::pair<uint32_t, std::string>> out;
  std::optional<std::string> pending;
  std::stringstream in(lst);
  std::string line;
  std::smatch m;
  while (std::getline(in, line)) {
    if (std::regex_search(line, m, stmt)) {
      pending = m[2];
    } else if (pending && std::regex_search(line, m, hex)) {
      out.emplace_back(static_cast<uint32_t>(std::stoul(m[1], nullptr, 16)), *pending);
      pending.reset();
    }
  }
  return out;
}

std::string last_segment(const std::string &path) {
  size_t p = path.find_last_of(".\\");
  return p == std::string::npos ? path : path.substr(p + 1);
}

const AcpiDifference *find_difference(const std::vector<AcpiDifference> &diffs, const std::string &where) {
  for (const AcpiDifference &d : diffs)
    if (d.where == where) return &d;
  return nullptr;
}

// Expects decoding to succeed or to throw FormatError, never anything else.
bool decodes(const AcpiBlobs &b) {
  try {
    decode_acpi(b);
    return true;
  } catch (const FormatError &) {
    return false;
  }
}

} // namespace

TEST_CASE("the tables blob splits into the tables their headers describe", "[acpi_decode]") {
  const std::string tables = data_dir("base") + "/tables";
  const DecodedAcpi d = decode_acpi(blobs_of("base"));
  // Independent walk with od: signature and length at each table start until the zero padding.
  std::vector<std::tuple<std::string, uint32_t, uint32_t>> walked;
  uint64_t pos = 0;
  while (true) {
    std::string sig = sh("dd if=" + tables + " bs=1 skip=" + std::to_string(pos) + " count=4 status=none");
    if (sig == std::string(4, '\0')) break;
    uint32_t len = static_cast<uint32_t>(od_u32(tables, pos + 4));
    walked.emplace_back(sig, static_cast<uint32_t>(pos), len);
    pos += len;
  }
  REQUIRE(d.tables.size() == walked.size());
  for (size_t i = 0; i < walked.size(); ++i) {
    CHECK(d.tables[i].signature == std::get<0>(walked[i]));
    CHECK(d.tables[i].offset == std::get<1>(walked[i]));
    CHECK(d.tables[i].length == std::get<2>(walked[i]));
  }
  CHECK(d.tables_used == pos);
  CHECK(d.tables.front().signature == "FACS");
  CHECK(d.tables[1].signature == "DSDT");
  // The RSDP's RSDT address is the RSDT's offset (read with od).
  CHECK(table(d, "RSDT").offset == od_u32(data_dir("base") + "/rsdp", 16));
}

TEST_CASE("fixed-table fields agree with iasl's disassembly field by field", "[acpi_decode]") {
  test::TempDir dir("h2-acpi-iasl");
  const std::string tables = data_dir("base") + "/tables";
  const DecodedAcpi d = decode_acpi(blobs_of("base"));
  // "[02Eh 0046   2]                SCI Interrupt : 0009"
  static const std::regex line(R"(^\[([0-9A-F]{3})h ([0-9]{4}) +([0-9]+)\] +(.*?) : ("[^"]*"|\S+))");
  size_t compared = 0;
  for (const char *sig : {"FACS", "FACP", "APIC", "HPET", "MCFG", "WAET", "RSDT"}) {
    const DecodedTable &t = table(d, sig);
    std::stringstream in(iasl_table(tables, t, dir.path(), sig));
    std::string l;
    std::smatch m;
    size_t here = 0;
    while (std::getline(in, l)) {
      if (!std::regex_search(l, m, line)) continue;
      const uint32_t rel = static_cast<uint32_t>(std::stoul(m[2])), size = static_cast<uint32_t>(std::stoul(m[3]));
      const std::string name = m[4], value = m[5];
      if (size == 12) continue; // iasl also prints a GAS's five subfields, compared below
      const AcpiField *f = nullptr;
      for (const AcpiField &x : t.fields)
        if (x.offset == t.offset + rel && x.size == size) f = &x;
      INFO(sig << "+" << rel << " " << name << " = " << value);
      if (!f) {
        CHECK(name.find("Reserved") != std::string::npos); // only reserved bytes may go undecoded
        continue;
      }
      if (value.front() == '"')
        CHECK(f->value == value);
      else
        CHECK(std::stoull(f->value, nullptr, 16) == std::stoull(value, nullptr, 16));
      ++here;
    }
    INFO(sig);
    CHECK(here >= 5);
    compared += here;
  }
  CHECK(compared > 150);
  // Names for a few well-known fields.
  auto field = [&](const std::string &name) {
    for (const DecodedTable &t : d.tables)
      for (const AcpiField &f : t.fields)
        if (f.name == name) return f;
    FAIL("no field " << name);
    return AcpiField{};
  };
  CHECK(field("FACP.SCI_INT").offset == table(d, "FACP").offset + 46);
  CHECK(field("FACP.RESET_REG.Address").offset == table(d, "FACP").offset + 120);
  CHECK(field("APIC.entry[1].Type").offset == table(d, "APIC").offset + 52);
  CHECK(field("RSDT.entry[1]").offset == table(d, "RSDT").offset + 40);
}

TEST_CASE("the DSDT's named objects are the ones iasl finds", "[acpi_decode]") {
  test::TempDir dir("h2-acpi-ns");
  for (const char *shape : {"base", "nic1"}) {
    INFO(shape);
    const DecodedAcpi d = decode_acpi(blobs_of(shape));
    const DecodedTable &dsdt = table(d, "DSDT");
    const IaslNamespace ns = iasl_namespace(iasl_table(data_dir(shape) + "/tables", dsdt, dir.path(), shape));
    CHECK(ns.devices.size() > 10);
    CHECK(decoded_paths(dsdt, "Device") == ns.devices);
    CHECK(decoded_paths(dsdt, "Method") == ns.methods);
    CHECK(decoded_paths(dsdt, "Name") == ns.names);
    CHECK(decoded_paths(dsdt, "OperationRegion") == ns.regions);
    CHECK(decoded_paths(dsdt, "Mutex") == ns.mutexes);
    CHECK(decoded_paths(dsdt, "Processor") == ns.processors);
    CHECK(decoded_paths(dsdt, "Opaque").empty());
    // Devices declared with an absolute path inside another scope keep it.
    CHECK(ns.devices.count("\\_SB.PCI0"));
    // Every object lies within the DSDT and inside its parent.
    for (const AmlObject &o : dsdt.objects) {
      CHECK(o.offset >= dsdt.offset + 36);
      CHECK(o.offset + o.length <= dsdt.offset + dsdt.length);
    }
    // Field units (DBGB in Field (DBG, ...)).
    CHECK(decoded_paths(dsdt, "FieldUnit").count("\\DBGB"));
  }
}

TEST_CASE("fixtures captured by acpi capture decode, and their Devices match iasl", "[acpi_decode]") {
  namespace fs = std::filesystem;
  test::TempDir dir("h2-acpi-fixtures");
  size_t checked = 0;
  for (const test::AcpiFixtureSet &set : test::acpi_fixture_sets()) {
    for (const std::string &shape : set.dirs) {
      const fs::path p = shape;
      INFO(p.string());
      REQUIRE(fs::exists(p / "tables"));
      const AcpiBlobs b = read_acpi_blobs(p.string());
      const DecodedAcpi d = decode_acpi(b);
      const DecodedTable &dsdt = table(d, "DSDT");
      const IaslNamespace ns = iasl_namespace(
          iasl_table(p.string() + "/tables", dsdt, dir.path(), set.profile + "-" + p.filename().string()));
      CHECK(decoded_paths(dsdt, "Device") == ns.devices);
      CHECK(decoded_paths(dsdt, "Name") == ns.names);
      CHECK(diff_acpi(b, b).empty());
      ++checked;
    }
  }
  REQUIRE(checked > 0); // the folders hold captures, and each was decoded and compared
}

TEST_CASE("diff_acpi reports the DSDT length first, then the AML object iasl places at the first differing byte",
          "[acpi_decode]") {
  test::TempDir dir("h2-acpi-diff");
  const AcpiBlobs a = blobs_of("base"), b = blobs_of("nic1");
  const DecodedAcpi da = decode_acpi(a), db = decode_acpi(b);
  const std::vector<AcpiDifference> diffs = diff_acpi(a, b);
  REQUIRE(!diffs.empty());
  const DecodedTable &dsdt_a = table(da, "DSDT"), &dsdt_b = table(db, "DSDT");

  // cmp: the first differing byte of the tables blobs is the DSDT's Length field.
  const std::string cmp_out =
      test::run_shell("cmp " + data_dir("base") + "/tables " + data_dir("nic1") + "/tables").out;
  std::smatch m;
  REQUIRE(std::regex_search(cmp_out, m, std::regex(R"(byte (\d+))")));
  const uint64_t first = std::stoull(m[1]) - 1;
  CHECK(first == dsdt_a.offset + 4);
  CHECK(diffs.front().blob == "etc/acpi/tables");
  CHECK(diffs.front().where == "DSDT length");
  CHECK(diffs.front().offset == first);
  CHECK(diffs.front().a == std::to_string(od_u32(data_dir("base") + "/tables", dsdt_a.offset + 4)));
  CHECK(diffs.front().b == std::to_string(od_u32(data_dir("nic1") + "/tables", dsdt_b.offset + 4)));

  // cmp of the two DSDTs' AML (after the 36-byte header) gives the first differing AML byte;
  // iasl's listing names the statement there.
  const std::string lst = iasl_table(data_dir("base") + "/tables", dsdt_a, dir.path(), "a", true);
  iasl_table(data_dir("nic1") + "/tables", dsdt_b, dir.path(), "b");
  const std::string aml_cmp = test::run_shell("cmp -i 36 " + dir / "a.dat" + " " + dir / "b.dat").out;
  REQUIRE(std::regex_search(aml_cmp, m, std::regex(R"(byte (\d+))")));
  const uint32_t rel = static_cast<uint32_t>(36 + std::stoul(m[1]) - 1);
  std::string iasl_name;
  for (const auto &[offset, name] : iasl_statement_offsets(lst))
    if (offset <= rel) iasl_name = name;
  REQUIRE(!iasl_name.empty());
  const AcpiDifference *aml = nullptr;
  for (const AcpiDifference &d : diffs)
    if (d.offset == dsdt_a.offset + rel) aml = &d;
  REQUIRE(aml);
  INFO(aml->where << " vs iasl " << iasl_name);
  CHECK(aml->where.rfind("DSDT \\", 0) == 0);
  CHECK(last_segment(aml->where.substr(5)) == iasl_name);
  CHECK(aml->where == "DSDT \\_SB.PCI0._CRS"); // the 64-bit PCI window (what iasl shows there)

  // The Devices only one side has (iasl's namespaces) are reported as such.
  const IaslNamespace na = iasl_namespace(test::read_text(dir / "a.dsl"));
  const IaslNamespace nb = iasl_namespace(test::read_text(dir / "b.dsl"));
  std::vector<std::string> added;
  std::set_difference(nb.devices.begin(), nb.devices.end(), na.devices.begin(), na.devices.end(),
                      std::back_inserter(added));
  REQUIRE(added.size() == 1);
  const AcpiDifference *dev = find_difference(diffs, "DSDT Device " + added.front());
  REQUIRE(dev);
  CHECK(dev->a == "absent");

  // The RSDP's RSDT address moved with the RSDT (cmp on rsdp: offset 16).
  const AcpiDifference *rsdp = find_difference(diffs, "RSDP.RsdtAddress");
  REQUIRE(rsdp);
  CHECK(rsdp->blob == "etc/acpi/rsdp");
  CHECK(rsdp->offset + 1 == std::stoull(test::run_shell("cmp " + data_dir("base") + "/rsdp " + data_dir("nic1") +
                                                        "/rsdp | sed 's/.*byte \\([0-9]*\\).*/\\1/'")
                                            .out));
  CHECK(std::stoull(rsdp->b, nullptr, 16) == od_u32(data_dir("nic1") + "/rsdp", 16));

  // The first loader difference (cmp) is named by the QEMU command layout field it falls in.
  const std::string lcmp = test::run_shell("cmp " + data_dir("base") + "/table-loader " + data_dir("nic1") +
                                           "/table-loader | sed 's/.*byte \\([0-9]*\\).*/\\1/'")
                               .out;
  const uint64_t loff = std::stoull(lcmp) - 1;
  const uint64_t index = loff / 128, field_rel = loff % 128;
  const uint64_t command = od_u32(data_dir("base") + "/table-loader", index * 128);
  // bios-linker-loader.c layouts: ADD_POINTER offset at 116; ADD_CHECKSUM offset/start/length at 60/64/68.
  std::string expected;
  if (command == 2 && field_rel >= 116 && field_rel < 120) expected = "offset";
  if (command == 3) expected = field_rel < 64 ? "offset" : field_rel < 68 ? "start" : "length";
  REQUIRE(!expected.empty());
  const AcpiDifference *loader = nullptr;
  for (const AcpiDifference &d : diffs)
    if (d.blob == "etc/table-loader" && !loader) loader = &d;
  REQUIRE(loader);
  CHECK(loader->where == "loader[" + std::to_string(index) + "]." + expected);
  CHECK(loader->offset == loff - (field_rel - (expected == "length"  ? 68
                                               : expected == "start" ? 64
                                               : command == 2        ? 116
                                                                     : 60)));

  // Identical blobs: no difference.
  CHECK(diff_acpi(a, a).empty());
}

TEST_CASE("loader commands are decoded and say which table field they patch", "[acpi_decode]") {
  const std::string loader_file = data_dir("base") + "/table-loader";
  const DecodedAcpi d = decode_acpi(blobs_of("base"));
  const DecodedTable &facp = table(d, "FACP"), &rsdt = table(d, "RSDT");
  // The number of non-zero commands (od: first u32 of each 128-byte record).
  size_t commands = 0;
  while (commands < 32 && od_u32(loader_file, commands * 128) != 0) ++commands;
  REQUIRE(d.loader.size() == commands);
  CHECK(d.loader[0].text == "ALLOCATE etc/acpi/rsdp align 16 zone FSEG");
  CHECK(d.loader[1].text == "ALLOCATE etc/acpi/tables align 64 zone HIGH");
  size_t pointers = 0;
  for (const LoaderCommand &c : d.loader) {
    if (od_u32(loader_file, c.index * 128) != 2) continue;
    const uint64_t offset = od_u32(loader_file, c.index * 128 + 116);
    const std::string dest = sh("dd if=" + loader_file + " bs=1 skip=" + std::to_string(c.index * 128 + 4) +
                                " count=56 status=none | tr -d '\\0'");
    std::string field; // the ACPI spec's field at that offset
    if (dest == "etc/acpi/rsdp" && offset == 16) field = "RSDP.RsdtAddress";
    if (dest == "etc/acpi/tables" && offset == facp.offset + 36) field = "FACP.FIRMWARE_CTRL";
    if (dest == "etc/acpi/tables" && offset == facp.offset + 40) field = "FACP.DSDT";
    if (dest == "etc/acpi/tables" && offset == facp.offset + 140) field = "FACP.X_DSDT";
    if (dest == "etc/acpi/tables" && offset >= rsdt.offset + 36 && offset < rsdt.offset + rsdt.length)
      field = "RSDT.entry[" + std::to_string((offset - rsdt.offset - 36) / 4) + "]";
    INFO(c.text);
    REQUIRE(!field.empty());
    const uint64_t size =
        std::stoull(sh("od -An -tu1 -j" + std::to_string(c.index * 128 + 120) + " -N1 " + loader_file));
    char hex[32];
    std::snprintf(hex, sizeof hex, "0x%llx", static_cast<unsigned long long>(offset));
    CHECK(c.text == "ADD_POINTER " + dest + "[" + hex + "] += &etc/acpi/tables (" + std::to_string(size) + " bytes) (" +
                        field + ")");
    ++pointers;
  }
  CHECK(pointers == 9); // FACP x3, RSDT x5 (FACP APIC HPET MCFG WAET), RSDP
  CHECK(d.loader[2].text.find("(DSDT.Checksum)") != std::string::npos);
}

TEST_CASE("truncated or damaged blobs give FormatErrors, never crashes", "[acpi_decode]") {
  const AcpiBlobs good = blobs_of("base");
  const DecodedAcpi d = decode_acpi(good);
  std::set<size_t> boundaries{0};
  for (const DecodedTable &t : d.tables) boundaries.insert(t.offset + t.length);

  SECTION("the tables blob cut at every length decodes only at table boundaries and in the padding") {
    AcpiBlobs b = good;
    b.table_loader.clear(); // so that pointers into the cut-off part do not fail first
    for (size_t n = 0; n < d.tables_used + 64; ++n) {
      b.tables.assign(good.tables.begin(), good.tables.begin() + static_cast<std::ptrdiff_t>(n));
      INFO(n);
      CHECK(decodes(b) == (boundaries.count(n) > 0 || n >= d.tables_used));
    }
  }
  SECTION("a DSDT whose Length is cut at every length inside its AML") {
    const DecodedTable &dsdt = table(d, "DSDT");
    std::set<size_t> object_ends;
    for (const AmlObject &o : dsdt.objects) object_ends.insert(o.offset + o.length - dsdt.offset);
    AcpiBlobs b = good;
    b.table_loader.clear();
    size_t ok = 0;
    for (uint32_t len = 36; len < dsdt.length; ++len) {
      // FACS, then the DSDT cut to len bytes with its Length field saying so.
      b.tables.assign(good.tables.begin(), good.tables.begin() + dsdt.offset + len);
      for (size_t i = 0; i < 4; ++i) b.tables[dsdt.offset + 4 + i] = static_cast<uint8_t>(len >> (8 * i));
      if (decodes(b)) ++ok;
    }
    // Cuts at the end of a top-level object can decode; most cuts cannot.
    CHECK(ok < dsdt.length / 10);
  }
  SECTION("the loader cut at every length") {
    AcpiBlobs b = good;
    for (size_t n = 0; n < good.table_loader.size(); ++n) {
      b.table_loader.assign(good.table_loader.begin(), good.table_loader.begin() + static_cast<std::ptrdiff_t>(n));
      INFO(n);
      CHECK(decodes(b) == (n % 128 == 0));
    }
  }
  SECTION("the RSDP cut at every length") {
    AcpiBlobs b = good;
    for (size_t n = 0; n < good.rsdp.size(); ++n) {
      b.rsdp.assign(good.rsdp.begin(), good.rsdp.begin() + static_cast<std::ptrdiff_t>(n));
      CHECK_FALSE(decodes(b));
    }
  }
  SECTION("bytes of the DSDT's AML changed one at a time") {
    const DecodedTable &dsdt = table(d, "DSDT");
    AcpiBlobs b = good;
    uint32_t state = 12345; // deterministic LCG
    for (int i = 0; i < 3000; ++i) {
      state = state * 1103515245u + 12345u;
      const size_t at = dsdt.offset + 36 + (state >> 8) % (dsdt.length - 36);
      const uint8_t old = b.tables[at];
      b.tables[at] = static_cast<uint8_t>(state >> 24);
      decodes(b); // either outcome; only FormatError may be thrown
      b.tables[at] = old;
    }
  }
  SECTION("hand-made malformed inputs name the blob and offset") {
    AcpiBlobs b = good;
    // A table Length past the end of the blob (the DSDT's Length at 0x44 set to 0x7fffffff).
    b.tables[0x44 + 3] = 0x7f;
    try {
      decode_acpi(b);
      FAIL("no error");
    } catch (const FormatError &e) {
      CHECK(e.source() == "etc/acpi/tables");
      CHECK(e.offset() == 0x44);
    }
    b = good;
    b.table_loader[0] = 9; // unknown linker command
    CHECK_THROWS_AS(decode_acpi(b), FormatError);
    b = good;
    b.table_loader[64] = 3; // ALLOCATE zone 3
    CHECK_THROWS_AS(decode_acpi(b), FormatError);
    b = good;
    b.tables[d.tables_used + 10] = 1; // non-zero padding
    CHECK_THROWS_AS(decode_acpi(b), FormatError);
  }
}

TEST_CASE("the listing shows tables, loader commands, fields and AML objects", "[acpi_decode]") {
  const DecodedAcpi d = decode_acpi(blobs_of("base"));
  const std::string text = acpi_listing(d);
  for (const char *s : {"DSDT", "FACP.SMI_CMD", "ALLOCATE etc/acpi/tables align 64 zone HIGH", "RSDP.RsdtAddress",
                        "\\_SB.PCI0", "Device", "APIC.entry[0].APIC_ID"})
    CHECK(text.find(s) != std::string::npos);
}

TEST_CASE("mrforge acpi diff and acpi list report, with exit codes 0, 4 and 2", "[acpi_decode]") {
  test::TempDir dir("h2-acpi-cli");
  test::ShellResult same = test::run_mrforge_cli({"acpi", "diff", data_dir("base"), data_dir("base")});
  CHECK(same.exit_code == 0);
  CHECK(same.out == "identical\n");

  test::ShellResult diff = test::run_mrforge_cli({"acpi", "diff", data_dir("base"), data_dir("nic1"), "--limit", "3"});
  CHECK(diff.exit_code == 4);
  CHECK(diff.out.rfind("first difference: etc/acpi/tables+0x44: DSDT length: 8232 vs 8249\n", 0) == 0);
  CHECK(diff.out.find("--json shows all") != std::string::npos);

  test::ShellResult json = test::run_mrforge_cli({"acpi", "diff", data_dir("base"), data_dir("nic1"), "--json"});
  CHECK(json.exit_code == 4);
  const nlohmann::json j = nlohmann::json::parse(json.out);
  CHECK(j.size() == diff_acpi(blobs_of("base"), blobs_of("nic1")).size());
  CHECK(j.at(0).at("where") == "DSDT length");

  test::ShellResult list = test::run_mrforge_cli({"acpi", "list", data_dir("base")});
  CHECK(list.exit_code == 0);
  CHECK(list.out == acpi_listing(decode_acpi(blobs_of("base"))));
  test::ShellResult list_json = test::run_mrforge_cli({"acpi", "list", data_dir("base"), "--json"});
  CHECK(list_json.exit_code == 0);
  CHECK(nlohmann::json::parse(list_json.out).at("tables").at(1).at("signature") == "DSDT");

  // fw_cfg layout (DIR/etc/acpi/tables ...) is accepted too.
  sh("mkdir -p " + dir / "fw/etc/acpi" + " && cp " + data_dir("base") + "/table-loader " + dir / "fw/etc/" + " && cp " +
     data_dir("base") + "/rsdp " + data_dir("base") + "/tables " + dir / "fw/etc/acpi/");
  CHECK(test::run_mrforge_cli({"acpi", "diff", data_dir("base"), dir / "fw"}).exit_code == 0);

  // Bad input: a missing directory, a damaged blob.
  test::ShellResult missing = test::run_mrforge_cli({"acpi", "diff", data_dir("base"), dir / "nope"});
  CHECK(missing.exit_code == 2);
  sh("mkdir -p " + dir / "bad" + " && cp " + data_dir("base") + "/* " + dir / "bad/" + " && truncate -s 100 " +
     dir / "bad/tables");
  test::ShellResult bad = test::run_mrforge_cli({"acpi", "diff", data_dir("base"), dir / "bad"});
  CHECK(bad.exit_code == 2);
  CHECK(bad.err.find("etc/acpi/tables+0x44") != std::string::npos);
}
