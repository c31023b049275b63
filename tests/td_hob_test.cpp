// Tests of the TD HOB builder: digests confirmed by real RTMR0 event logs, the structure of the
// list, and the RAM sizes it refuses.
#include "test_support.hpp"

#include <measure/engine/td_hob.hpp>
#include <measure/formats/firmware.hpp>
#include <measure/formats/memory_layout.hpp>
#include <measure/util/errors.hpp>
#include <measure/util/hash.hpp>
#include <measure/util/reader.hpp>

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include <fstream>
#include <string>
#include <vector>

using namespace mrforge;

namespace {

// EV_EFI_HANDOFF_TABLES2 (TCG PC Client PFP spec): the event OVMF logs for the TD HOB.
constexpr uint32_t k_ev_efi_handoff_tables2 = 0x8000000B;

std::vector<TdvfSection> debian_sections() {
  const Bytes fw = test::read(test::debian_ovmf());
  return parse_firmware(fw, "OVMF.fd").sections;
}

struct LoggedTdHob {
  uint64_t memory_bytes; // the VM's RAM, from the vm_config recorded with the log
  std::string digest;    // the first RTMR0 event's digest
};

// dstack's guest-agent responses: "event_log" is a JSON string holding an array of
// {imr, event_type, digest, ...} (imr 0 = RTMR0); "vm_config" a JSON string with "memory_size".
LoggedTdHob logged_td_hob(const std::string &vector) {
  std::ifstream in(test::vector_path(vector));
  const nlohmann::json response = nlohmann::json::parse(in);
  const nlohmann::json log = nlohmann::json::parse(response.at("event_log").get<std::string>());
  const nlohmann::json config = nlohmann::json::parse(response.at("vm_config").get<std::string>());
  for (const nlohmann::json &event : log) {
    if (event.at("imr").get<int>() != 0) continue;
    REQUIRE(event.at("event_type").get<uint32_t>() == k_ev_efi_handoff_tables2);
    return {config.at("memory_size").get<uint64_t>(), event.at("digest").get<std::string>()};
  }
  FAIL(vector << " has no RTMR0 event");
  return {};
}

struct Hob {
  uint16_t type;
  uint16_t length;
  // PHIT fields
  uint32_t version = 0;
  uint32_t boot_mode = 0;
  uint64_t memory[4] = {};
  uint64_t end_of_hob_list = 0;
  // Resource descriptor fields
  Bytes owner;
  uint32_t resource_type = 0;
  uint32_t attributes = 0;
  uint64_t start = 0;
  uint64_t length_bytes = 0;
};

// Reads the HOB list back, field by field, as the UEFI PI spec vol. 3 lays it out.
std::vector<Hob> read_hobs(const Bytes &list) {
  Reader r(list, "hob");
  std::vector<Hob> out;
  while (r.remaining() > 0) {
    Hob h{};
    h.type = r.read_le<uint16_t>();
    h.length = r.read_le<uint16_t>();
    REQUIRE(r.read_le<uint32_t>() == 0); // Reserved
    if (h.type == 1) {
      h.version = r.read_le<uint32_t>();
      h.boot_mode = r.read_le<uint32_t>();
      for (uint64_t &m : h.memory) m = r.read_le<uint64_t>();
      h.end_of_hob_list = r.read_le<uint64_t>();
    } else {
      h.owner = r.read_bytes(16).to_bytes();
      h.resource_type = r.read_le<uint32_t>();
      h.attributes = r.read_le<uint32_t>();
      h.start = r.read_le<uint64_t>();
      h.length_bytes = r.read_le<uint64_t>();
    }
    out.push_back(h);
  }
  return out;
}

struct Range {
  uint64_t start;
  uint64_t end;
};

// Checks the resource HOBs: sorted, contiguous within each RAM range, exactly `ram` covered, and
// accepted (type 0) exactly where a TD_HOB or TempMem section is.
void check_resources(const std::vector<Hob> &hobs, const std::vector<TdvfSection> &sections,
                     const std::vector<Range> &ram) {
  std::vector<Range> accepted;
  for (const TdvfSection &s : sections)
    if (s.type == TdvfSectionType::td_hob || s.type == TdvfSectionType::temp_mem)
      accepted.push_back({s.gpa, s.gpa + s.mem_size});

  std::vector<Range> covered;
  size_t accepted_seen = 0;
  for (size_t i = 1; i < hobs.size(); ++i) {
    const Hob &h = hobs[i];
    INFO("resource HOB " << i << " at " << hex_u64(h.start));
    CHECK(h.type == 3);
    CHECK(h.length == 48);
    CHECK(h.owner == Bytes(16, 0));
    CHECK(h.attributes == 7);
    CHECK(h.length_bytes > 0);
    bool is_section = false;
    for (const Range &a : accepted)
      is_section = is_section || (a.start == h.start && a.end == h.start + h.length_bytes);
    if (h.resource_type == 0) {
      CHECK(is_section);
      ++accepted_seen;
    } else {
      CHECK(h.resource_type == 7);
      CHECK_FALSE(is_section);
    }
    if (!covered.empty() && covered.back().end == h.start)
      covered.back().end += h.length_bytes;
    else {
      if (!covered.empty()) CHECK(covered.back().end < h.start);
      covered.push_back({h.start, h.start + h.length_bytes});
    }
  }
  CHECK(accepted_seen == accepted.size());
  REQUIRE(covered.size() == ram.size());
  for (size_t i = 0; i < ram.size(); ++i) {
    CHECK(covered[i].start == ram[i].start);
    CHECK(covered[i].end == ram[i].end);
  }
}

} // namespace

TEST_CASE("The TD HOB of a 2 GiB TD equals the one in dstack's real 2 GiB event log", "[td_hob]") {
  // The TD HOB depends only on the TD_HOB and TempMem sections, which dstack's OVMF places where
  // Debian's does (0x809000; 0x800000, 0x80B000, 0x810000: dstack-mr td_hob_witness_v1 test).
  const LoggedTdHob logged = logged_td_hob("dstack/tdx-lite-getquote.json");
  REQUIRE(logged.memory_bytes == uint64_t{2} << 30);
  CHECK(to_hex(td_hob_digest(debian_sections(), logged.memory_bytes, k_q35_memory_layout)) == logged.digest);
}

TEST_CASE("The TD HOB of a 64 GiB TD equals the one in dstack's real 64 GiB event log", "[td_hob]") {
  const LoggedTdHob logged = logged_td_hob("dstack/quote-report.json");
  REQUIRE(logged.memory_bytes == uint64_t{64} << 30);
  CHECK(to_hex(td_hob_digest(debian_sections(), logged.memory_bytes, k_q35_memory_layout)) == logged.digest);
}

TEST_CASE("The TD HOB digest is the SHA-384 of the HOB list", "[td_hob]") {
  const std::vector<TdvfSection> sections = debian_sections();
  CHECK(td_hob_digest(sections, uint64_t{2} << 30, k_q35_memory_layout) ==
        sha384(build_td_hob(sections, uint64_t{2} << 30, k_q35_memory_layout)));
}

TEST_CASE("The TD HOB list is a PHIT HOB followed by resource HOBs covering RAM", "[td_hob]") {
  const std::vector<TdvfSection> sections = debian_sections();
  uint64_t hob_gpa = 0;
  for (const TdvfSection &s : sections)
    if (s.type == TdvfSectionType::td_hob) hob_gpa = s.gpa;
  const uint64_t low_top = k_q35_memory_layout.low_top_when_split;
  const uint64_t high_base = k_q35_memory_layout.high_base;

  struct Case {
    uint64_t memory;
    std::vector<Range> ram;
  };
  const Case cases[] = {
      {uint64_t{2} << 30, {{0, uint64_t{2} << 30}}},
      // Just below the q35 split threshold: all RAM stays below 4 GiB.
      {k_q35_memory_layout.split_threshold - 0x2000, {{0, k_q35_memory_layout.split_threshold - 0x2000}}},
      // At the threshold and above: 2 GiB low, the rest from 4 GiB.
      {k_q35_memory_layout.split_threshold,
       {{0, low_top}, {high_base, high_base + k_q35_memory_layout.split_threshold - low_top}}},
      {uint64_t{64} << 30, {{0, low_top}, {high_base, high_base + (uint64_t{64} << 30) - low_top}}},
      // The least RAM that holds every section.
      {0x820000, {{0, 0x820000}}},
  };
  for (const Case &c : cases) {
    INFO("memory " << hex_u64(c.memory));
    const Bytes list = build_td_hob(sections, c.memory, k_q35_memory_layout);
    const std::vector<Hob> hobs = read_hobs(list);
    REQUIRE(hobs.size() >= 2);
    const Hob &phit = hobs[0];
    CHECK(phit.type == 1);
    CHECK(phit.length == 56);
    CHECK(phit.version == 9);
    CHECK(phit.boot_mode == 0);
    for (uint64_t m : phit.memory) CHECK(m == 0);
    // Past the list and the 8-byte end-of-list HOB QEMU appends (hw/i386/tdvf-hob.c).
    CHECK(phit.end_of_hob_list == hob_gpa + list.size() + 8);
    CHECK(list.size() == 56 + 48 * (hobs.size() - 1));
    check_resources(hobs, sections, c.ram);
  }
}

TEST_CASE("The TD HOB refuses RAM sizes QEMU would not use or that cannot hold the sections", "[td_hob]") {
  const std::vector<TdvfSection> sections = debian_sections();
  const MemoryLayout &q35 = k_q35_memory_layout;
  auto require_memory_error = [&](uint64_t memory, const std::string &needle) {
    INFO("memory " << hex_u64(memory));
    try {
      build_td_hob(sections, memory, q35);
      FAIL("accepted");
    } catch (const InputError &e) {
      CHECK(e.input() == "memory size");
      CHECK(std::string(e.what()).find(needle) != std::string::npos);
    }
  };
  require_memory_error(0, "0 bytes");
  require_memory_error((uint64_t{2} << 30) + 0x1000, "not a multiple of 8 KiB");
  require_memory_error(1, "not a multiple of 8 KiB");
  require_memory_error(UINT64_MAX, "not a multiple of 8 KiB");
  require_memory_error(uint64_t{1} << 53, "52-bit");
  require_memory_error(UINT64_MAX - 0x1fff, "52-bit");
  // High RAM from 4 GiB must end inside the 52-bit space too.
  require_memory_error(uint64_t{1} << 52, "52-bit");
  // Less RAM than the sections' end (TempMem ends at 0x820000).
  require_memory_error(0x800000, "do not hold TDVF section");
  require_memory_error(0x81e000, "do not hold TDVF section");
  CHECK_NOTHROW(build_td_hob(sections, 0x820000, q35));
}

TEST_CASE("The TD HOB refuses sections QEMU cannot build it for", "[td_hob]") {
  const uint64_t memory = uint64_t{2} << 30;
  std::vector<TdvfSection> sections = debian_sections();

  SECTION("no TD_HOB section") {
    std::vector<TdvfSection> without;
    for (const TdvfSection &s : sections)
      if (s.type != TdvfSectionType::td_hob) without.push_back(s);
    CHECK_THROWS_WITH(build_td_hob(without, memory, k_q35_memory_layout), Catch::Contains("no TD_HOB section"));
    // Bad input, not an internal error: an InputError naming the firmware.
    CHECK_THROWS_AS(build_td_hob(without, memory, k_q35_memory_layout, "OVMF.fd"), InputError);
    CHECK_THROWS_WITH(build_td_hob(without, memory, k_q35_memory_layout, "OVMF.fd"),
                      Catch::StartsWith("OVMF.fd: TD HOB: the TDVF metadata has no TD_HOB section"));
  }
  SECTION("a PermMem section (QEMU supports BFV, CFV, TD_HOB and TempMem only)") {
    TdvfSection perm;
    perm.type = TdvfSectionType::perm_mem;
    perm.gpa = 0x1000000;
    perm.mem_size = 0x1000;
    perm.attributes = k_tdvf_attribute_page_aug;
    sections.push_back(perm);
    CHECK_THROWS_WITH(build_td_hob(sections, memory, k_q35_memory_layout), Catch::Contains("PermMem"));
    CHECK_THROWS_AS(build_td_hob(sections, memory, k_q35_memory_layout), InputError);
  }
  SECTION("overlapping accepted sections") {
    TdvfSection extra;
    extra.type = TdvfSectionType::temp_mem;
    extra.gpa = 0x80a000;
    extra.mem_size = 0x1000;
    sections.push_back(extra);
    CHECK_THROWS_WITH(build_td_hob(sections, memory, k_q35_memory_layout), Catch::Contains("overlaps"));
    CHECK_THROWS_AS(build_td_hob(sections, memory, k_q35_memory_layout), InputError);
  }
  SECTION("a list too long for the TD_HOB section") {
    // Each 4 KiB TempMem section adds up to two resource HOBs; a 8 KiB TD_HOB holds about 170.
    for (uint64_t i = 0; i < 100; ++i) {
      TdvfSection extra;
      extra.type = TdvfSectionType::temp_mem;
      extra.gpa = 0x1000000 + i * 0x2000;
      extra.mem_size = 0x1000;
      sections.push_back(extra);
    }
    CHECK_THROWS_WITH(build_td_hob(sections, memory, k_q35_memory_layout), Catch::Contains("does not fit"));
    CHECK_THROWS_AS(build_td_hob(sections, memory, k_q35_memory_layout), InputError);
  }
  SECTION("an inconsistent memory layout") {
    MemoryLayout bad = k_q35_memory_layout;
    bad.high_base = 0x40000000; // below the end of low RAM
    try {
      build_td_hob(sections, uint64_t{4} << 30, bad);
      FAIL("accepted");
    } catch (const InputError &e) {
      CHECK(e.input() == "memory layout");
    }
  }
}
