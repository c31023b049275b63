// The unified event log: binary CCEL logs replay to the RTMRs MANIFEST.json lists; dstack's
// runtime-event digest rule reproduces the RTMR3 digests of a real log.
#include "test_support.hpp"

#include <measure/formats/event_log.hpp>
#include <measure/util/errors.hpp>

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

using namespace mrforge;
using namespace mrforge::test;

namespace {
nlohmann::json load_json(const std::string &rel) {
  Bytes b = read(vector_path(rel));
  return nlohmann::json::parse(b.begin(), b.end());
}
} // namespace

TEST_CASE("Every SHA-384 log of the manifest replays to its listed RTMRs through the unified log", "[event_log]") {
  nlohmann::json manifest = load_json("MANIFEST.json");
  size_t replayed = 0;
  for (const auto &[rel, entry] : manifest.at("event_logs").items()) {
    INFO(rel);
    Bytes bytes = read(vector_path(rel));
    TcgLog raw = parse_tcg_log(bytes, rel);
    if (!raw.has_algorithm(k_tpm_alg_sha384)) {
      // The Hygon CSV log (SM3 only): refused with a message naming what it has.
      CHECK_THROWS_WITH(event_log_from_ccel(raw), Catch::Contains("no SHA-384 digest") && Catch::Contains("sm3"));
      continue;
    }
    EventLog log = event_log_from_ccel(raw);
    CHECK(log.events.size() == entry.at("events").get<size_t>());
    RtmrValues mr = replay(log);
    for (size_t i = 0; i < 4; ++i) CHECK(to_hex(mr[i]) == entry.at("replayed_rtmr").at(i).get<std::string>());
    ++replayed;
  }
  CHECK(replayed >= 10);
}

TEST_CASE("dstack's runtime event rule reproduces the RTMR3 digests of a real log", "[event_log]") {
  nlohmann::json doc = load_json("dstack/quote-report.json");
  nlohmann::json log = nlohmann::json::parse(doc.at("event_log").get<std::string>());
  size_t checked = 0;
  for (const auto &e : log) {
    if (e.at("imr").get<int>() != 3) continue;
    Bytes payload = from_hex(e.at("event_payload").get<std::string>(), "payload");
    Sha384 d =
        dstack_runtime_event_digest(e.at("event_type").get<uint32_t>(), e.at("event").get<std::string>(), payload);
    CHECK(to_hex(d) == e.at("digest").get<std::string>());
    ++checked;
  }
  CHECK(checked >= 8);
}

TEST_CASE("events_of lists one register's events in log order", "[event_log]") {
  Bytes bytes = read(vector_path("trustee/eventlog/CCEL_data_ovmf"));
  EventLog log = event_log_from_ccel(parse_tcg_log(bytes, "CCEL_data_ovmf"));
  auto rtmr2 = events_of(log, Register::rtmr2);
  REQUIRE(rtmr2.size() == 2);
  CHECK(rtmr2[0]->type == 0x6);
  CHECK(rtmr2[0]->index < rtmr2[1]->index);
  CHECK(events_of(log, Register::rtmr3).empty());
}
