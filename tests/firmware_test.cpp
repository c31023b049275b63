// Tests of the TDVF metadata parser and of MRTD / CFV digests: Debian's real OVMF.fd, the split
// OVMF_CODE images, truncation and corruption sweeps, and hand-built malformed descriptors.
#include "test_support.hpp"

#include <measure/engine/mrtd.hpp>
#include <measure/formats/firmware.hpp>
#include <measure/util/errors.hpp>
#include <measure/util/hash.hpp>
#include <measure/util/reader.hpp>

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include <cstring>
#include <string>
#include <typeinfo>
#include <utility>
#include <vector>

using namespace mrforge;

namespace {

// Debian's ovmf package also ships the two halves of OVMF.fd as separate files (all three are
// installed by the same package as test::debian_ovmf()).
const char *const k_debian_ovmf_code = "/usr/share/OVMF/OVMF_CODE.fd";
const char *const k_debian_ovmf_vars = "/usr/share/OVMF/OVMF_VARS.fd";
const char *const k_debian_ovmf_code_4m = "/usr/share/OVMF/OVMF_CODE_4M.fd";

void put_le(Bytes &b, size_t at, uint64_t v, size_t n) {
  for (size_t i = 0; i < n; ++i) b.at(at + i) = static_cast<uint8_t>(v >> (8 * i));
}

void put_guid(Bytes &b, size_t at, const char *text) {
  Guid g = Guid::parse(text);
  std::memcpy(&b.at(at), g.bytes.data(), g.bytes.size());
}

struct SectionSpec {
  uint32_t data_offset;
  uint32_t raw_size;
  uint64_t gpa;
  uint64_t mem_size;
  uint32_t type;
  uint32_t attributes;
};

// A 16 KiB TDVF image laid out like OVMF.fd (a VARS volume first, then the code volume whose
// last bytes carry the TDVF descriptor and the GUIDed table), built field by field:
//
//   0x0000  CFV raw data (1 page)
//   0x1000  BFV raw data (3 pages), containing:
//   0x3800    TDVF descriptor: "TDVF", u32 length, u32 version, u32 count, count x 32-byte sections
//   0x3fa2    GUIDed table entry: 4 data bytes, u16 length 22, GUID 00f771de-... (OVMF's SEV-ES
//             reset block entry; its data is not interpreted)
//   0x3fb8    GUIDed table entry: u32 descriptor offset from the end of the file, u16 length 22,
//             GUID e47a6535-... (TDX metadata offset)
//   0x3fce    u16 table length (62 = both entries + this u16 and the footer GUID)
//   0x3fd0    footer GUID 96b582de-...
//   0x3fe0    32 bytes that end the image (OVMF's reset vector), here 0xf4 (HLT)
struct SyntheticFirmware {
  static constexpr size_t k_size = 0x4000;
  static constexpr size_t k_descriptor = 0x3800;
  static constexpr size_t k_other_entry = 0x3fa2;
  static constexpr size_t k_tdx_entry = 0x3fb8;
  static constexpr size_t k_table_length = 0x3fce;
  static constexpr size_t k_footer_guid = 0x3fd0;

  Bytes bytes;

  static size_t section(size_t i) { return k_descriptor + 16 + 32 * i; }
  // Field positions within section i.
  static size_t data_offset_field(size_t i) { return section(i); }
  static size_t raw_size_field(size_t i) { return section(i) + 4; }
  static size_t gpa_field(size_t i) { return section(i) + 8; }
  static size_t mem_size_field(size_t i) { return section(i) + 16; }
  static size_t type_field(size_t i) { return section(i) + 24; }
  static size_t attributes_field(size_t i) { return section(i) + 28; }
  static size_t tdx_offset_field() { return k_tdx_entry; }
  static size_t tdx_length_field() { return k_tdx_entry + 4; }
  static size_t other_length_field() { return k_other_entry + 4; }
};

// BFV (MR.EXTEND, 3 pages just below 4 GiB), CFV (1 page below it), TempMem and TD_HOB at the
// addresses Debian's OVMF uses.
std::vector<SectionSpec> default_sections() {
  return {
      {0x1000, 0x3000, 0xfffff000 - 0x2000, 0x3000, 0 /* BFV */, 1 /* MR.EXTEND */},
      {0x0000, 0x1000, 0xffffc000, 0x1000, 1 /* CFV */, 0},
      {0, 0, 0x800000, 0x6000, 3 /* TempMem */, 0},
      {0, 0, 0x809000, 0x2000, 2 /* TD_HOB */, 0},
  };
}

SyntheticFirmware make_firmware(const std::vector<SectionSpec> &sections = default_sections()) {
  SyntheticFirmware f;
  f.bytes.resize(SyntheticFirmware::k_size);
  for (size_t i = 0; i < f.bytes.size(); ++i) f.bytes[i] = static_cast<uint8_t>(i * 7 + (i >> 8));
  const size_t d = SyntheticFirmware::k_descriptor;
  std::memcpy(&f.bytes[d], "TDVF", 4);
  put_le(f.bytes, d + 4, 16 + 32 * sections.size(), 4); // length
  put_le(f.bytes, d + 8, 1, 4);                         // version
  put_le(f.bytes, d + 12, sections.size(), 4);          // section count
  for (size_t i = 0; i < sections.size(); ++i) {
    const SectionSpec &s = sections[i];
    put_le(f.bytes, SyntheticFirmware::data_offset_field(i), s.data_offset, 4);
    put_le(f.bytes, SyntheticFirmware::raw_size_field(i), s.raw_size, 4);
    put_le(f.bytes, SyntheticFirmware::gpa_field(i), s.gpa, 8);
    put_le(f.bytes, SyntheticFirmware::mem_size_field(i), s.mem_size, 8);
    put_le(f.bytes, SyntheticFirmware::type_field(i), s.type, 4);
    put_le(f.bytes, SyntheticFirmware::attributes_field(i), s.attributes, 4);
  }
  put_le(f.bytes, SyntheticFirmware::k_other_entry, 0x0080f000, 4); // data
  put_le(f.bytes, SyntheticFirmware::other_length_field(), 22, 2);  // entry length
  put_guid(f.bytes, SyntheticFirmware::k_other_entry + 6, "00f771de-1a7e-4fcb-890e-68c77e2fb44e");
  put_le(f.bytes, SyntheticFirmware::tdx_offset_field(), SyntheticFirmware::k_size - d, 4); // from the end
  put_le(f.bytes, SyntheticFirmware::tdx_length_field(), 22, 2);
  put_guid(f.bytes, SyntheticFirmware::k_tdx_entry + 6, "e47a6535-984a-4798-865e-4685a7bf8ec2");
  put_le(f.bytes, SyntheticFirmware::k_table_length, 62, 2);
  put_guid(f.bytes, SyntheticFirmware::k_footer_guid, "96b582de-1fb2-45f7-baea-a366c55a082d");
  std::memset(&f.bytes[SyntheticFirmware::k_footer_guid + 16], 0xf4, 32);
  return f;
}

// Parses `bytes` expecting a FormatError at `offset` whose message contains `needle`.
void require_format_error(const Bytes &bytes, uint64_t offset, const std::string &needle) {
  try {
    parse_firmware(bytes, "synthetic.fd");
    FAIL("parsed, expected an error containing '" << needle << "'");
  } catch (const FormatError &e) {
    INFO(e.what());
    CHECK(e.source() == "synthetic.fd");
    CHECK(e.offset() == offset);
    CHECK(std::string(e.what()).find(needle) != std::string::npos);
  }
}

// Parses and, when that succeeds, computes everything computable: never anything but FormatError.
void parse_and_measure_or_format_error(ByteView fw, const std::string &source) {
  try {
    FirmwareImage image = parse_firmware(fw, source);
    compute_mrtd(fw, image, PageOrder::single_pass);
    compute_mrtd(fw, image, PageOrder::two_pass);
  } catch (const FormatError &e) {
    CHECK(e.source() == source);
    CHECK(e.offset() <= fw.size());
  }
}

} // namespace

TEST_CASE("Debian's OVMF.fd declares six TDVF sections: BFV, CFV, three TempMem and the TD_HOB", "[firmware]") {
  const Bytes fw = test::read(test::debian_ovmf());
  const Bytes code = test::read(k_debian_ovmf_code);
  const FirmwareImage image = parse_firmware(fw, "OVMF.fd");

  CHECK(image.size == fw.size());
  CHECK(image.tdvf_version == 1);
  REQUIRE(image.sections.size() == 6);
  // The flash image is mapped so that it ends at 4 GiB (QEMU hw/i386/pc_sysfw.c): VARS (the CFV)
  // first, then CODE (the BFV), which is what Debian also ships as OVMF_CODE.fd.
  const uint64_t four_gib = 0x100000000;
  const TdvfSection &bfv = image.sections[0];
  CHECK(bfv.type == TdvfSectionType::bfv);
  CHECK(bfv.gpa == four_gib - code.size());
  CHECK(bfv.data_offset == fw.size() - code.size());
  CHECK(bfv.raw_size == code.size());
  CHECK(bfv.mr_extend());
  const TdvfSection &cfv = image.sections[1];
  CHECK(cfv.type == TdvfSectionType::cfv);
  CHECK(cfv.gpa == four_gib - fw.size());
  CHECK(cfv.data_offset == 0);
  CHECK_FALSE(cfv.mr_extend());
  // TD_HOB and TempMem addresses as the TDX docs (tdx-measurement.md) and dstack-mr's
  // td_hob_witness_v1 test give them for this OVMF generation.
  struct Expected {
    TdvfSectionType type;
    uint64_t gpa;
  };
  const Expected rest[] = {{TdvfSectionType::temp_mem, 0x810000},
                           {TdvfSectionType::temp_mem, 0x80b000},
                           {TdvfSectionType::td_hob, 0x809000},
                           {TdvfSectionType::temp_mem, 0x800000}};
  for (size_t i = 0; i < 4; ++i) {
    const TdvfSection &s = image.sections[2 + i];
    INFO("section " << 2 + i);
    CHECK(s.type == rest[i].type);
    CHECK(s.gpa == rest[i].gpa);
    CHECK(s.raw_size == 0);
    CHECK(s.attributes == 0);
  }
  // The descriptor lies inside the code volume, and the GUIDed table holds the TDX entry.
  CHECK(image.tdvf_offset >= bfv.data_offset);
  const Guid tdx_entry = Guid::parse("e47a6535-984a-4798-865e-4685a7bf8ec2");
  bool found = false;
  for (const GuidedEntry &e : image.guided_table) found = found || e.guid == tdx_entry;
  CHECK(found);
}

TEST_CASE("The CFV digest of Debian's OVMF.fd is the digest of the separately shipped OVMF_VARS.fd",
          "[firmware][mrtd]") {
  const Bytes fw = test::read(test::debian_ovmf());
  const FirmwareImage image = parse_firmware(fw, "OVMF.fd");
  CHECK(to_hex(cfv_digest(fw, image)) == to_hex(sha384(test::read(k_debian_ovmf_vars))));
}

TEST_CASE("MRTD of Debian's OVMF.fd is deterministic and differs between the two page orders", "[firmware][mrtd]") {
  // No independent tool's published MRTD for this exact file (ovmf 2022.11-6+deb12u2) is known,
  // so only structural facts are checked here.
  const Bytes fw = test::read(test::debian_ovmf());
  const FirmwareImage image = parse_firmware(fw, "OVMF.fd");
  const Sha384 single = compute_mrtd(fw, image, PageOrder::single_pass);
  const Sha384 two = compute_mrtd(fw, image, PageOrder::two_pass);
  CHECK(single != two);

  const Bytes copy = fw; // another buffer with the same bytes
  CHECK(compute_mrtd(copy, parse_firmware(copy, "copy"), PageOrder::single_pass) == single);
  CHECK(compute_mrtd(copy, image, PageOrder::two_pass) == two);
}

TEST_CASE("inspect firmware gives the MRTD of trixie's OVMF 2025.02 in both page orders, as an independent "
          "implementation computes them",
          "[firmware][mrtd]") {
  const std::string fw = test::trixie_ovmf();
  test::ShellResult inspect = test::run_mrforge_cli({"inspect", "firmware", fw, "--json"});
  INFO(inspect.err);
  REQUIRE(inspect.exit_code == 0);
  const nlohmann::json j = nlohmann::json::parse(inspect.out);
  // tests/support/tdvf_mrtd.py: the TDVF metadata walk and both page orders written from the TDVF
  // and TDX module specifications with Python's hashlib, sharing no code with mrforge.
  test::ShellResult peer = test::run_shell(
      "python3 " + test::shell_quote(test::source_path("tests/support/tdvf_mrtd.py")) + " " + test::shell_quote(fw));
  INFO(peer.err);
  REQUIRE(peer.exit_code == 0);
  const std::string single = j.at("mrtd").at("single-pass").get<std::string>();
  const std::string two = j.at("mrtd").at("two-pass").get<std::string>();
  CHECK(peer.out == "single-pass " + single + "\ntwo-pass " + two + "\n");
  CHECK(single != two);
  // The library agrees with its front end.
  const Bytes bytes = test::read(fw);
  const FirmwareImage image = parse_firmware(bytes, "OVMF.fd");
  CHECK(to_hex(compute_mrtd(bytes, image, PageOrder::single_pass)) == single);
  CHECK(to_hex(compute_mrtd(bytes, image, PageOrder::two_pass)) == two);
}

TEST_CASE("MRTD covers the bytes of MR.EXTEND sections and nothing else of the file", "[firmware][mrtd]") {
  const Bytes fw = test::read(test::debian_ovmf());
  const FirmwareImage image = parse_firmware(fw, "OVMF.fd");
  const Sha384 single = compute_mrtd(fw, image, PageOrder::single_pass);
  const Sha384 two = compute_mrtd(fw, image, PageOrder::two_pass);
  const Sha384 cfv = cfv_digest(fw, image);
  const TdvfSection &bfv = image.sections[0];

  SECTION("a byte of the CFV (no MR.EXTEND) changes the CFV digest only") {
    Bytes changed = fw;
    changed[image.sections[1].data_offset + 0x1234] ^= 0x01;
    CHECK(compute_mrtd(changed, image, PageOrder::single_pass) == single);
    CHECK(compute_mrtd(changed, image, PageOrder::two_pass) == two);
    CHECK(cfv_digest(changed, image) != cfv);
  }
  SECTION("a byte of the BFV (MR.EXTEND) changes both MRTDs") {
    Bytes changed = fw;
    changed[bfv.data_offset + bfv.raw_size / 2] ^= 0x01;
    CHECK(compute_mrtd(changed, image, PageOrder::single_pass) != single);
    CHECK(compute_mrtd(changed, image, PageOrder::two_pass) != two);
    CHECK(cfv_digest(changed, image) == cfv);
  }
}

TEST_CASE("The page orders agree when every section is a single page", "[firmware][mrtd]") {
  // Per section, two-pass adds all pages then extends them; single-pass interleaves page by page.
  // With one page per section both give ADD, EXTEND x16 for each section in turn.
  std::vector<SectionSpec> one_page = {
      {0x3000, 0x1000, 0xfffff000, 0x1000, 0 /* BFV */, 1 /* MR.EXTEND */},
      {0x0000, 0x1000, 0xffffe000, 0x1000, 1 /* CFV */, 0},
      {0, 0, 0x809000, 0x1000, 2 /* TD_HOB */, 0},
  };
  const SyntheticFirmware f = make_firmware(one_page);
  const FirmwareImage image = parse_firmware(f.bytes, "synthetic.fd");
  CHECK(compute_mrtd(f.bytes, image, PageOrder::single_pass) == compute_mrtd(f.bytes, image, PageOrder::two_pass));

  const SyntheticFirmware g = make_firmware(); // a three-page BFV
  const FirmwareImage image_g = parse_firmware(g.bytes, "synthetic.fd");
  CHECK(compute_mrtd(g.bytes, image_g, PageOrder::single_pass) != compute_mrtd(g.bytes, image_g, PageOrder::two_pass));
}

TEST_CASE("A split OVMF_CODE image is rejected with a message that asks for the unified OVMF.fd", "[firmware]") {
  const Bytes fw = test::read(test::debian_ovmf());
  const Bytes vars = test::read(k_debian_ovmf_vars);
  // OVMF_CODE.fd is OVMF.fd without its leading VARS volume: build one, and read Debian's own.
  const std::vector<std::pair<std::string, Bytes>> images = {
      {"built OVMF_CODE.fd", Bytes(fw.begin() + static_cast<std::ptrdiff_t>(vars.size()), fw.end())},
      {"OVMF_CODE.fd", test::read(k_debian_ovmf_code)}};
  for (const auto &[name, bytes] : images) {
    try {
      parse_firmware(bytes, name);
      FAIL(name << " parsed");
    } catch (const FormatError &e) {
      INFO(e.what());
      CHECK(e.source() == name);
      CHECK(e.offset() < bytes.size());
      const std::string what = e.what();
      CHECK(what.find("split OVMF_CODE image") != std::string::npos);
      CHECK(what.find("unified OVMF.fd (CODE+VARS)") != std::string::npos);
    }
  }
}

TEST_CASE("Firmware without TDX metadata is rejected as such", "[firmware]") {
  SECTION("Debian's 4 MiB OVMF_CODE_4M.fd has a GUIDed table without a TDX entry") {
    try {
      parse_firmware(test::read(k_debian_ovmf_code_4m), "OVMF_CODE_4M.fd");
      FAIL("parsed");
    } catch (const FormatError &e) {
      CHECK(std::string(e.what()).find("no TDX metadata: the OVMF GUIDed table has no TDX") != std::string::npos);
    }
  }
  SECTION("a file without the GUIDed table footer") {
    CHECK_THROWS_WITH(parse_firmware(test::read(k_debian_ovmf_vars), "OVMF_VARS.fd"),
                      Catch::Contains("no TDX metadata: no OVMF GUIDed table footer"));
    CHECK_THROWS_WITH(parse_firmware(Bytes(4096, 0), "zeros"), Catch::Contains("no TDX metadata"));
  }
  SECTION("a file too small for the footer") {
    for (size_t n = 0; n < 64; ++n)
      CHECK_THROWS_WITH(parse_firmware(Bytes(n, 0xff), "tiny"), Catch::Contains("no TDX metadata"));
  }
}

TEST_CASE("Truncating OVMF.fd at every length through its metadata fails cleanly", "[firmware][slow]") {
  const Bytes fw = test::read(test::debian_ovmf());
  const FirmwareImage image = parse_firmware(fw, "OVMF.fd");
  const size_t metadata_tail = fw.size() - image.tdvf_offset + 0x100; // descriptor to the end, and more

  SECTION("dropping the front (the table is found from the end)") {
    for (size_t keep = 0; keep < fw.size(); keep += keep < metadata_tail ? 1 : 4093) {
      const ByteView tail(fw.data() + fw.size() - keep, keep);
      INFO("keep " << keep);
      CHECK_THROWS_AS(parse_firmware(tail, "tail"), FormatError);
    }
  }
  SECTION("dropping the end") {
    for (size_t drop = 1; drop < metadata_tail; ++drop) {
      const ByteView head(fw.data(), fw.size() - drop);
      INFO("drop " << drop);
      CHECK_THROWS_AS(parse_firmware(head, "head"), FormatError);
    }
  }
}

TEST_CASE("Corrupting any byte of OVMF.fd's metadata fails cleanly or still parses", "[firmware][slow]") {
  const Bytes fw = test::read(test::debian_ovmf());
  const FirmwareImage image = parse_firmware(fw, "OVMF.fd");
  const size_t descriptor_end = image.tdvf_offset + 16 + 32 * image.sections.size();
  const size_t table_start = image.guided_table.front().data_offset;
  Bytes changed = fw;
  size_t rejected = 0;
  auto sweep = [&](size_t from, size_t to) {
    for (size_t i = from; i < to; ++i) {
      for (uint8_t flip : {uint8_t{0x01}, uint8_t{0x80}, uint8_t{0xff}}) {
        changed[i] ^= flip;
        INFO("byte " << i << " ^ " << int{flip});
        try {
          parse_firmware(changed, "OVMF.fd"); // measuring is swept on the small image below
        } catch (const FormatError &e) {
          CHECK(e.source() == "OVMF.fd");
          CHECK(e.offset() < fw.size());
          ++rejected;
        }
        changed[i] ^= flip;
      }
    }
  };
  sweep(image.tdvf_offset, descriptor_end);
  sweep(table_start, fw.size());
  CHECK(rejected > 0);
}

TEST_CASE("Corrupting any metadata byte of a small firmware fails cleanly or still measures", "[firmware]") {
  const SyntheticFirmware f = make_firmware();
  Bytes changed = f.bytes;
  for (size_t i = SyntheticFirmware::k_descriptor; i < changed.size(); ++i) {
    for (uint8_t flip : {uint8_t{0x01}, uint8_t{0x10}, uint8_t{0x80}, uint8_t{0xff}}) {
      changed[i] ^= flip;
      INFO("byte " << i << " ^ " << int{flip});
      parse_and_measure_or_format_error(changed, "synthetic.fd");
      changed[i] ^= flip;
    }
  }
}

TEST_CASE("The synthetic firmware of these tests parses and measures", "[firmware]") {
  const SyntheticFirmware f = make_firmware();
  const FirmwareImage image = parse_firmware(f.bytes, "synthetic.fd");
  REQUIRE(image.sections.size() == 4);
  CHECK(image.tdvf_offset == SyntheticFirmware::k_descriptor);
  REQUIRE(image.guided_table.size() == 2);
  CHECK(image.guided_table[0].data_offset == SyntheticFirmware::k_other_entry);
  CHECK(image.guided_table[1].data_offset == SyntheticFirmware::k_tdx_entry);
  CHECK(image.guided_table[1].data_size == 4);
  CHECK(image.sections[3].type == TdvfSectionType::td_hob);
  CHECK(to_hex(cfv_digest(f.bytes, image)) == to_hex(sha384(ByteView(f.bytes.data(), 0x1000))));
}

TEST_CASE("Malformed GUIDed tables are rejected at the offending field", "[firmware]") {
  SyntheticFirmware f = make_firmware();
  using F = SyntheticFirmware;

  SECTION("a zero-length entry (the walk would not advance)") {
    put_le(f.bytes, F::tdx_length_field(), 0, 2);
    require_format_error(f.bytes, F::tdx_length_field(), "length 0 leaves no data");
  }
  SECTION("an entry of just a length and a GUID (no data)") {
    put_le(f.bytes, F::tdx_length_field(), 18, 2);
    require_format_error(f.bytes, F::tdx_length_field(), "length 18 leaves no data");
  }
  SECTION("an entry reaching before the start of the table") {
    put_le(f.bytes, F::other_length_field(), 23, 2);
    require_format_error(f.bytes, F::other_length_field(), "reaches before the start of the table");
  }
  SECTION("a table length smaller than the footer") {
    put_le(f.bytes, F::k_table_length, 17, 2);
    require_format_error(f.bytes, F::k_table_length, "smaller than its own footer");
  }
  SECTION("a table length that leaves a partial entry at the table's start") {
    put_le(f.bytes, F::k_table_length, 62 + 5, 2);
    require_format_error(f.bytes, F::k_other_entry - 5, "too few for an entry");
  }
  SECTION("a table length reaching before the start of the file") {
    Bytes tail(f.bytes.end() - 100, f.bytes.end()); // the table's last 68 bytes and the 32 after it
    put_le(tail, 100 - 32 - 18, 0xffff, 2);
    try {
      parse_firmware(tail, "synthetic.fd");
      FAIL("parsed");
    } catch (const FormatError &e) {
      CHECK(e.offset() == 100 - 32 - 18);
      CHECK(std::string(e.what()).find("reaches before the start of the file") != std::string::npos);
    }
  }
  SECTION("a GUID that appears twice") {
    put_guid(f.bytes, F::k_other_entry + 6, "e47a6535-984a-4798-865e-4685a7bf8ec2");
    require_format_error(f.bytes, F::k_other_entry + 6, "appears twice");
  }
  SECTION("no TDX metadata offset entry") {
    put_guid(f.bytes, F::k_tdx_entry + 6, "dc886566-984a-4798-a75e-5585a7bf67cc");
    require_format_error(f.bytes, F::k_table_length, "no TDX metadata: the OVMF GUIDed table has no TDX");
  }
  SECTION("a TDX entry with more than its u32") {
    // Make the TDX entry 26 bytes (8 data bytes) and the table just that entry and its footer.
    put_le(f.bytes, F::tdx_length_field(), 26, 2);
    put_le(f.bytes, F::k_table_length, 26 + 18, 2);
    require_format_error(f.bytes, F::k_tdx_entry - 4, "holds 8 bytes of data, expected a u32");
  }
  SECTION("a descriptor offset pointing before the start of the file") {
    put_le(f.bytes, F::tdx_offset_field(), F::k_size + 0x1000, 4);
    require_format_error(f.bytes, F::tdx_offset_field(), "points before the start of this 0x4000-byte file");
  }
  SECTION("a descriptor offset leaving no room for the header") {
    put_le(f.bytes, F::tdx_offset_field(), 8, 4);
    require_format_error(f.bytes, F::tdx_offset_field(), "leaves no room for its header");
  }
}

TEST_CASE("Malformed TDVF descriptors are rejected at the offending field", "[firmware]") {
  using F = SyntheticFirmware;
  const size_t d = F::k_descriptor;

  SECTION("a wrong signature") {
    SyntheticFirmware f = make_firmware();
    f.bytes[d] = 'X';
    require_format_error(f.bytes, d, "TDVF descriptor signature");
  }
  SECTION("an unknown version") {
    SyntheticFirmware f = make_firmware();
    put_le(f.bytes, d + 8, 2, 4);
    require_format_error(f.bytes, d + 8, "unsupported TDVF descriptor version 2");
  }
  SECTION("an absurd section count") {
    SyntheticFirmware f = make_firmware();
    put_le(f.bytes, d + 12, 0xffffffff, 4);
    require_format_error(f.bytes, d + 12, "4294967295 sections, more than");
  }
  SECTION("no sections") {
    SyntheticFirmware f = make_firmware();
    put_le(f.bytes, d + 12, 0, 4);
    require_format_error(f.bytes, d + 12, "has no sections");
  }
  SECTION("a length that does not match the section count") {
    SyntheticFirmware f = make_firmware();
    put_le(f.bytes, d + 4, 16 + 32 * 4 + 1, 4);
    require_format_error(f.bytes, d + 4, "does not match its 4 sections");
  }
  SECTION("a descriptor running past the end of the file") {
    // 64 sections (the most accepted) from 0x3800 need 0x810 bytes, 0x10 more than the file has.
    SyntheticFirmware f = make_firmware();
    put_le(f.bytes, d + 4, 16 + 32 * 64, 4);
    put_le(f.bytes, d + 12, 64, 4);
    require_format_error(f.bytes, d + 4, "runs past the end of the file");
  }
  SECTION("an unknown section type") {
    std::vector<SectionSpec> s = default_sections();
    s[2].type = 7; // TdInfo in td-shim, not a TDVF section type
    require_format_error(make_firmware(s).bytes, F::type_field(2), "unknown TDVF section type 7");
  }
  SECTION("an unknown attribute bit") {
    std::vector<SectionSpec> s = default_sections();
    s[1].attributes = 0x4;
    require_format_error(make_firmware(s).bytes, F::attributes_field(1), "unknown attribute bits 0x4");
  }
  SECTION("an unaligned gpa") {
    std::vector<SectionSpec> s = default_sections();
    s[3].gpa = 0x809800;
    require_format_error(make_firmware(s).bytes, F::gpa_field(3), "gpa 0x809800 is not 4 KiB aligned");
  }
  SECTION("an unaligned memory size") {
    std::vector<SectionSpec> s = default_sections();
    s[2].mem_size = 0x6001;
    require_format_error(make_firmware(s).bytes, F::mem_size_field(2), "is not a multiple of 4 KiB");
  }
  SECTION("a memory size of zero") {
    std::vector<SectionSpec> s = default_sections();
    s[2].mem_size = 0;
    require_format_error(make_firmware(s).bytes, F::mem_size_field(2), "memory size is 0");
  }
  SECTION("memory beyond the 52-bit physical address space") {
    std::vector<SectionSpec> s = default_sections();
    s[2].gpa = 0xfffffffffffff000;
    require_format_error(make_firmware(s).bytes, F::gpa_field(2), "beyond the 52-bit physical address space");
  }
  SECTION("a memory size smaller than the raw data") {
    std::vector<SectionSpec> s = default_sections();
    s[1].raw_size = 0x2000; // CFV memory is 0x1000
    require_format_error(make_firmware(s).bytes, F::raw_size_field(1),
                         "raw data size 0x2000 is larger than the memory size 0x1000");
  }
  SECTION("raw data beyond the end of the file") {
    std::vector<SectionSpec> s = default_sections();
    s[0].data_offset = 0x2000; // BFV: 0x2000 + 0x3000 > 0x4000
    require_format_error(make_firmware(s).bytes, F::data_offset_field(0),
                         "extends past the end of this 0x4000-byte file");
  }
  SECTION("raw data whose end overflows 32 bits") {
    std::vector<SectionSpec> s = default_sections();
    s[1].data_offset = 0xfffff000;
    require_format_error(make_firmware(s).bytes, F::data_offset_field(1), "extends past the end");
  }
  SECTION("a data offset without raw data") {
    std::vector<SectionSpec> s = default_sections();
    s[2].data_offset = 0x100;
    require_format_error(make_firmware(s).bytes, F::data_offset_field(2), "given without raw data");
  }
  SECTION("a BFV without raw data") {
    std::vector<SectionSpec> s = default_sections();
    s[0] = {0, 0, 0xffffd000, 0x3000, 0, 0};
    require_format_error(make_firmware(s).bytes, F::raw_size_field(0), "BFV): has no raw data");
  }
  SECTION("a TD_HOB with raw data") {
    std::vector<SectionSpec> s = default_sections();
    s[3].data_offset = 0x1000;
    s[3].raw_size = 0x1000;
    require_format_error(make_firmware(s).bytes, F::raw_size_field(3), "must have no raw data");
  }
  SECTION("MR.EXTEND over memory the raw data does not fill") {
    std::vector<SectionSpec> s = default_sections();
    s[0].mem_size = 0x4000; // raw data 0x3000
    require_format_error(make_firmware(s).bytes, F::attributes_field(0), "MR.EXTEND with raw data size 0x3000");
  }
  SECTION("PAGE.AUG with MR.EXTEND") {
    std::vector<SectionSpec> s = default_sections();
    s[0].attributes = 3;
    require_format_error(make_firmware(s).bytes, F::attributes_field(0), "PAGE.AUG together with");
  }
  SECTION("overlapping sections") {
    std::vector<SectionSpec> s = default_sections();
    s[3].gpa = 0x805000; // TD_HOB [0x805000, 0x807000) inside TempMem [0x800000, 0x806000)
    require_format_error(make_firmware(s).bytes, F::section(3), "overlaps TDVF section 2 (TempMem)");
  }
  SECTION("two TD_HOB sections") {
    std::vector<SectionSpec> s = default_sections();
    s.push_back({0, 0, 0x900000, 0x1000, 2, 0});
    require_format_error(make_firmware(s).bytes, F::section(4), "second TD_HOB");
  }
  SECTION("no BFV") {
    std::vector<SectionSpec> s = default_sections();
    s[0] = {0x1000, 0x3000, 0xffffd000, 0x3000, 5 /* Payload */, 1};
    require_format_error(make_firmware(s).bytes, F::section(0), "has no BFV section");
  }
  SECTION("more memory added at build time than we measure") {
    std::vector<SectionSpec> s = default_sections();
    s[2].mem_size = uint64_t{1} << 31;
    require_format_error(make_firmware(s).bytes, F::section(2), "sections added at build time exceed");
  }
}

TEST_CASE("A firmware without a CFV section has no CFV digest", "[firmware][mrtd]") {
  std::vector<SectionSpec> s = default_sections();
  s.erase(s.begin() + 1);
  const SyntheticFirmware f = make_firmware(s);
  const FirmwareImage image = parse_firmware(f.bytes, "synthetic.fd");
  CHECK_THROWS_WITH(cfv_digest(f.bytes, image), Catch::Contains("no CFV section"));
  CHECK_NOTHROW(compute_mrtd(f.bytes, image, PageOrder::single_pass));
}

TEST_CASE("MRTD refuses metadata parsed from another file", "[firmware][mrtd]") {
  const SyntheticFirmware f = make_firmware();
  const FirmwareImage image = parse_firmware(f.bytes, "synthetic.fd");
  const Bytes shorter(f.bytes.begin(), f.bytes.end() - 1);
  // An internal error (a caller's bug, not bad input): the base Error itself, no subclass.
  const auto mismatch = Catch::Predicate<Error>(
      [&](const Error &e) {
        return typeid(e) == typeid(Error) &&
               std::string(e.what()).find("-byte firmware given with the metadata of a " + hex_u64(f.bytes.size()) +
                                          "-byte one") != std::string::npos;
      },
      "an Error (exactly) naming both sizes");
  CHECK_THROWS_MATCHES(compute_mrtd(shorter, image, PageOrder::two_pass), Error, mismatch);
  CHECK_THROWS_MATCHES(cfv_digest(shorter, image), Error, mismatch);
}

TEST_CASE("Section type and page order names are the spec's", "[firmware][mrtd]") {
  CHECK(std::string(section_type_name(TdvfSectionType::td_hob)) == "TD_HOB");
  CHECK(std::string(section_type_name(TdvfSectionType::temp_mem)) == "TempMem");
  CHECK(std::string(section_type_name(TdvfSectionType::payload_param)) == "PayloadParam");
  CHECK(std::string(page_order_name(PageOrder::single_pass)) == "single-pass");
  CHECK(std::string(page_order_name(PageOrder::two_pass)) == "two-pass");
}
