// Tests of the TCG2 crypto-agile event log / CCEL parser against the real logs in
// ../shared/vectors (expected values are read from MANIFEST.json, never copied here),
// hand-built malformed logs, and truncation sweeps.
#include "test_support.hpp"

#include <measure/formats/tcg_log.hpp>
#include <measure/util/errors.hpp>
#include <measure/util/hash.hpp>

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include <fstream>
#include <string>

namespace mrforge {
namespace {

using nlohmann::json;

json manifest() {
  std::ifstream in(test::vector_path("MANIFEST.json"));
  return json::parse(in);
}

TcgLog parse_vector(const std::string &rel) { return parse_tcg_log(test::read(test::vector_path(rel)), rel); }

// Little-endian writers for hand-built logs.
void put_u16(Bytes &b, uint16_t v) {
  for (int i = 0; i < 2; ++i) b.push_back(static_cast<uint8_t>(v >> (8 * i)));
}
void put_u32(Bytes &b, uint32_t v) {
  for (int i = 0; i < 4; ++i) b.push_back(static_cast<uint8_t>(v >> (8 * i)));
}
void put_fill(Bytes &b, size_t n, uint8_t fill) { b.insert(b.end(), n, fill); }

// The SHA-1-format header event with a Spec ID Event03 listing SHA-384 only.
Bytes spec_id_header() {
  Bytes spec;
  const char signature[] = "Spec ID Event03"; // 15 characters + NUL
  spec.insert(spec.end(), signature, signature + sizeof signature);
  put_u32(spec, 0);      // platformClass
  spec.push_back(0);     // specVersionMinor
  spec.push_back(2);     // specVersionMajor
  spec.push_back(0);     // specErrata
  spec.push_back(2);     // uintnSize: UINT64
  put_u32(spec, 1);      // numberOfAlgorithms
  put_u16(spec, 0x000C); // SHA-384
  put_u16(spec, 48);     //   digest size
  spec.push_back(0);     // vendorInfoSize
  Bytes b;
  put_u32(b, 0);      // pcrIndex
  put_u32(b, 3);      // eventType EV_NO_ACTION
  put_fill(b, 20, 0); // SHA-1 digest, zero
  put_u32(b, static_cast<uint32_t>(spec.size()));
  b.insert(b.end(), spec.begin(), spec.end());
  return b;
}

// One TCG_PCR_EVENT2 with a single SHA-384 digest filled with `fill` and `data_size` bytes of data.
void put_event(Bytes &b, uint32_t index, uint32_t type, uint8_t fill, uint32_t data_size) {
  put_u32(b, index);
  put_u32(b, type);
  put_u32(b, 1);      // digest count
  put_u16(b, 0x000C); // SHA-384
  put_fill(b, 48, fill);
  put_u32(b, data_size);
  put_fill(b, data_size, 0x41);
}

// Offset of the digest count in a record that starts at `at`.
size_t count_at(size_t at) { return at + 8; }

} // namespace

TEST_CASE("Every event log in the manifest parses to its listed event count and length", "[tcg_log]") {
  json m = manifest();
  REQUIRE(m["event_logs"].size() >= 10);
  for (const auto &[rel, expected] : m["event_logs"].items()) {
    INFO(rel);
    TcgLog log = parse_vector(rel);
    CHECK(log.events.size() == expected["events"].get<size_t>());
    CHECK(log.log_bytes == expected["log_bytes"].get<size_t>());
    CHECK(log.source == rel);
    CHECK(log.uintn_size == 2);
  }
}

TEST_CASE("Replaying every event log gives the RTMRs the manifest lists", "[tcg_log]") {
  json m = manifest();
  size_t replayed = 0;
  for (const auto &[rel, expected] : m["event_logs"].items()) {
    INFO(rel);
    TcgLog log = parse_vector(rel);
    if (!log.has_algorithm(k_tpm_alg_sha384)) {
      // The manifest lists all-zero RTMRs for a log with no SHA-384 bank (nothing can be
      // extended); the replay refuses such a log instead of returning zeros that look real.
      for (const auto &hex : expected["replayed_rtmr"]) CHECK(hex.get<std::string>() == std::string(96, '0'));
      CHECK_THROWS_AS(replay_rtmrs(log), FormatError);
      continue;
    }
    std::array<Sha384, 4> rtmr = replay_rtmrs(log);
    for (size_t i = 0; i < 4; ++i) {
      INFO("RTMR" << i);
      CHECK(to_hex(rtmr[i]) == expected["replayed_rtmr"][i].get<std::string>());
    }
    ++replayed;
  }
  CHECK(replayed + 1 == m["event_logs"].size()); // all but the SM3 log
}

TEST_CASE("The Hygon CSV log parses with SM3 digests and its replay says it has no SHA-384", "[tcg_log]") {
  TcgLog log = parse_vector("trustee/eventlog/CCEL_data_csv");
  REQUIRE(log.algorithms.size() == 1);
  CHECK(log.algorithms[0].id == k_tpm_alg_sm3_256);
  CHECK(log.algorithms[0].digest_size == 32);
  for (const LogEvent &e : log.events) {
    REQUIRE(e.find(k_tpm_alg_sm3_256) != nullptr);
    CHECK(e.find(k_tpm_alg_sm3_256)->size() == 32);
    CHECK(e.find(k_tpm_alg_sha384) == nullptr);
  }
  try {
    replay_rtmrs(log);
    FAIL("replay of an SM3-only log did not throw");
  } catch (const FormatError &e) {
    CHECK(e.source() == "trustee/eventlog/CCEL_data_csv");
    CHECK_THAT(e.what(), Catch::Contains("no SHA-384 digests") && Catch::Contains("sm3_256"));
  }
}

TEST_CASE("EV_NO_ACTION events in the middle of a log are kept but not extended", "[tcg_log]") {
  TcgLog log = parse_vector("trustee/eventlog/CCEL_data_grub_gke");
  size_t no_action = 0;
  for (size_t i = 1; i < log.events.size(); ++i)
    if (log.events[i].type == k_ev_no_action) {
      ++no_action;
      CHECK(log.events[i].index == 0); // would be rejected by the replay if it were extended
    }
  CHECK(no_action > 0);
  CHECK_NOTHROW(replay_rtmrs(log));
}

TEST_CASE("Padded and unpadded copies of a log parse to the same records", "[tcg_log]") {
  TcgLog padded = parse_vector("go-eventlog/cos-113-intel-tdx-dupe-separator.bin"); // 0xFF tail
  TcgLog unpadded = parse_vector("go-eventlog/cos-113-intel-tdx-dupe-separator-unpadded.bin");
  REQUIRE(padded.events.size() == unpadded.events.size());
  for (size_t i = 0; i < padded.events.size(); ++i) {
    CHECK(padded.events[i].offset == unpadded.events[i].offset);
    CHECK(padded.events[i].type == unpadded.events[i].type);
    CHECK(padded.events[i].digests[0].digest == unpadded.events[i].digests[0].digest);
    CHECK(padded.events[i].data == unpadded.events[i].data);
  }
  TcgLog zero_padded = parse_vector("trustee/eventlog/CCEL_data"); // 1 MiB with a 0x00 tail
  CHECK(zero_padded.log_bytes < 16384);
}

TEST_CASE("Records carry their offset, index, type, digests and data", "[tcg_log]") {
  TcgLog log = parse_vector("trustee/eventlog/CCEL_data_ovmf");
  REQUIRE(!log.events.empty());
  const LogEvent &first = log.events.front();
  CHECK(first.offset > 0);
  CHECK(first.index >= 1);
  CHECK(first.index <= 4);
  REQUIRE(first.find(k_tpm_alg_sha384) != nullptr);
  CHECK(first.find(k_tpm_alg_sha256) == nullptr);
  // Every separator in an OVMF log is SHA384(00 00 00 00) over 4 zero bytes of data.
  size_t separators = 0;
  for (const LogEvent &e : log.events)
    if (e.type == *tcg_event_type_from_name("EV_SEPARATOR")) {
      ++separators;
      CHECK(e.data == Bytes(4, 0));
      CHECK(to_hex(ByteView(*e.find(k_tpm_alg_sha384))) == to_hex(sha384(Bytes(4, 0))));
    }
  CHECK(separators >= 2);
}

TEST_CASE("Every event type in the real logs has a TCG name", "[tcg_log]") {
  json m = manifest();
  for (const auto &[rel, expected] : m["event_logs"].items())
    for (const LogEvent &e : parse_vector(rel).events) {
      INFO(rel << " type " << e.type);
      CHECK(tcg_event_type_name(e.type) != nullptr);
    }
}

TEST_CASE("TCG event type names and values convert both ways", "[tcg_log]") {
  CHECK(std::string(tcg_event_type_name(0x3)) == "EV_NO_ACTION");
  CHECK(std::string(tcg_event_type_name(0x4)) == "EV_SEPARATOR");
  CHECK(std::string(tcg_event_type_name(0xD)) == "EV_IPL");
  CHECK(std::string(tcg_event_type_name(0xC)) == "EV_COMPACT_HASH");
  CHECK(std::string(tcg_event_type_name(0x80000002)) == "EV_EFI_VARIABLE_BOOT");
  CHECK(std::string(tcg_event_type_name(0x8000000A)) == "EV_EFI_PLATFORM_FIRMWARE_BLOB2");
  CHECK(std::string(tcg_event_type_name(0x8000000B)) == "EV_EFI_HANDOFF_TABLES2");
  CHECK(std::string(tcg_event_type_name(0x800000E0)) == "EV_EFI_VARIABLE_AUTHORITY");
  CHECK(tcg_event_type_name(0x08000001) == nullptr); // dstack's runtime event: not a TCG type
  CHECK(tcg_event_type_name(0x80000000) == nullptr);
  CHECK(tcg_event_type_from_name("EV_EFI_ACTION") == 0x80000007u);
  CHECK(tcg_event_type_from_name("EV_EVENT_TAG") == 0x6u);
  CHECK(tcg_event_type_from_name("ev_separator") == std::nullopt); // names are exact
  CHECK(tcg_event_type_from_name("EV_BOGUS") == std::nullopt);
  CHECK(tcg_event_type_from_name("") == std::nullopt);
  for (uint32_t t :
       {0u,   1u,   2u,   3u,   4u,    5u,          6u,          7u,          8u,          9u,         0xAu,
        0xBu, 0xCu, 0xDu, 0xEu, 0x12u, 0x80000001u, 0x80000003u, 0x80000006u, 0x80000010u, 0x800000E4u}) {
    INFO(t);
    REQUIRE(tcg_event_type_name(t) != nullptr);
    CHECK(tcg_event_type_from_name(tcg_event_type_name(t)) == t);
  }
}

TEST_CASE("A hand-built log parses and replays", "[tcg_log]") {
  Bytes b = spec_id_header();
  put_event(b, 1, 4, 0x11, 4);  // RTMR0 separator
  put_event(b, 0, 3, 0x00, 17); // EV_NO_ACTION, index 0: not extended
  put_event(b, 4, 6, 0x22, 0);  // RTMR3, no data
  size_t end = b.size();
  put_fill(b, 100, 0xFF);
  TcgLog log = parse_tcg_log(b, "built");
  REQUIRE(log.events.size() == 3);
  CHECK(log.log_bytes == end);
  CHECK(log.events[0].data.size() == 4);
  CHECK(log.events[2].data.empty());
  std::array<Sha384, 4> rtmr = replay_rtmrs(log);
  Sha384 expected0{}, digest{};
  digest.fill(0x11);
  extend(expected0, digest);
  CHECK(rtmr[0] == expected0);
  CHECK(rtmr[1] == Sha384{});
  CHECK(rtmr[2] == Sha384{});
  CHECK(rtmr[3] != Sha384{});

  // A header alone (no records) is a valid, empty log.
  TcgLog empty = parse_tcg_log(spec_id_header(), "header only");
  CHECK(empty.events.empty());
}

TEST_CASE("Malformed logs are rejected with the offset of the bad field", "[tcg_log]") {
  const Bytes header = spec_id_header();
  const size_t first = header.size(); // offset of the first record

  SECTION("a digest count that does not match the Spec ID event") {
    Bytes b = header;
    put_event(b, 1, 4, 0x11, 4);
    b[count_at(first)] = 2; // digest count 2, Spec ID lists 1 algorithm
    try {
      parse_tcg_log(b, "log");
      FAIL("accepted");
    } catch (const FormatError &e) {
      CHECK(e.source() == "log");
      CHECK(e.offset() == count_at(first));
      CHECK_THAT(e.what(), Catch::Contains("2 digests") && Catch::Contains("EV_SEPARATOR"));
    }
  }
  SECTION("a digest algorithm the Spec ID event does not list") {
    Bytes b = header;
    put_event(b, 1, 4, 0x11, 4);
    b[count_at(first) + 4] = 0x0B; // SHA-256 instead of SHA-384
    CHECK_THROWS_WITH(parse_tcg_log(b, "log"), Catch::Contains("sha256") && Catch::Contains("not listed"));
  }
  SECTION("an absurd event size") {
    Bytes b = header;
    put_event(b, 1, 4, 0x11, 0);
    size_t size_at = b.size() - 4;
    b[size_at + 3] = 0xF0; // 0xF0000000 bytes
    try {
      parse_tcg_log(b, "log");
      FAIL("accepted");
    } catch (const FormatError &e) {
      CHECK(e.offset() == size_at);
      CHECK_THAT(e.what(), Catch::Contains("exceeds the cap"));
    }
  }
  SECTION("an event size beyond the end of the data") {
    Bytes b = header;
    put_event(b, 1, 4, 0x11, 0);
    b[b.size() - 4] = 8; // 8 bytes of data, none present
    CHECK_THROWS_WITH(parse_tcg_log(b, "log"), Catch::Contains("truncated log"));
  }
  SECTION("data after the padding") {
    Bytes b = header;
    put_event(b, 1, 4, 0x11, 4);
    put_fill(b, 64, 0x00);
    b.push_back(0x01); // not padding: read as a record, whose digest count is wrong
    CHECK_THROWS_AS(parse_tcg_log(b, "log"), FormatError);
  }
  SECTION("a log that is not crypto-agile") {
    Bytes b = header;
    b[32 + 14] = '2'; // "Spec ID Event02": a SHA-1 log
    CHECK_THROWS_WITH(parse_tcg_log(b, "log"), Catch::Contains("Spec ID Event03"));
    Bytes c = header;
    c[4] = 4; // header event type EV_SEPARATOR
    CHECK_THROWS_WITH(parse_tcg_log(c, "log"), Catch::Contains("EV_NO_ACTION"));
  }
  SECTION("a Spec ID event with a zero digest size or no algorithms") {
    Bytes b = header;
    b[32 + 28 + 2] = 0; // digestSize 0
    CHECK_THROWS_WITH(parse_tcg_log(b, "log"), Catch::Contains("digest size 0"));
    Bytes c = header;
    c[32 + 24] = 0; // numberOfAlgorithms 0
    CHECK_THROWS_WITH(parse_tcg_log(c, "log"), Catch::Contains("0 algorithms"));
  }
  SECTION("a header event index other than 0 or OVMF's 1") {
    Bytes b = header;
    b[0] = 1; // OVMF's CCEL: PCR 0 mapped to MR index 1 (is_valid_header_index quirk)
    CHECK_NOTHROW(parse_tcg_log(b, "log"));
    b[0] = 2;
    CHECK_THROWS_WITH(parse_tcg_log(b, "log"), Catch::Contains("header event: index 2"));
  }
  SECTION("empty input") { CHECK_THROWS_AS(parse_tcg_log(Bytes{}, "log"), FormatError); }
}

TEST_CASE("Replay rejects a measured event outside RTMR0..3 and names it", "[tcg_log]") {
  for (uint32_t index : {0u, 5u}) {
    Bytes b = spec_id_header();
    put_event(b, 1, 4, 0x11, 4);
    size_t bad = b.size();
    put_event(b, index, 0x80000007, 0x22, 3);
    TcgLog log = parse_tcg_log(b, "log");
    try {
      replay_rtmrs(log);
      FAIL("accepted MR index " << index);
    } catch (const FormatError &e) {
      CHECK(e.offset() == bad);
      CHECK_THAT(e.what(),
                 Catch::Contains("event 2 (EV_EFI_ACTION)") && Catch::Contains("MR index " + std::to_string(index)));
    }
  }
}

TEST_CASE("A log truncated at any length gives a clean error or a shorter valid log", "[tcg_log]") {
  for (const char *rel :
       {"go-eventlog/CCEL_unpadded.data.bin", "trustee/eventlog/CCEL_data_ovmf", "trustee/eventlog/CCEL_data_csv"}) {
    INFO(rel);
    Bytes full = test::read(test::vector_path(rel));
    TcgLog whole = parse_tcg_log(full, rel);
    size_t limit = std::min<size_t>(full.size(), whole.log_bytes + 8);
    if (std::string(rel) != "go-eventlog/CCEL_unpadded.data.bin") limit = std::min<size_t>(limit, 600);
    for (size_t n = 0; n < limit; ++n) {
      INFO("length " << n);
      try {
        TcgLog part = parse_tcg_log(ByteView(full.data(), n), rel);
        // Only a cut at a record boundary (or inside the padding) parses.
        REQUIRE(part.events.size() <= whole.events.size());
        CHECK(part.log_bytes == n - (n > whole.log_bytes ? n - whole.log_bytes : 0));
        for (size_t i = 0; i < part.events.size(); ++i) CHECK(part.events[i].offset == whole.events[i].offset);
      } catch (const FormatError &e) {
        CHECK(e.source() == rel);
        CHECK(e.offset() <= n);
      }
    }
  }
}

} // namespace mrforge
