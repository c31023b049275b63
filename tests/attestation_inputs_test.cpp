// Reading attestation inputs: quotes and event logs as binary, hex text and dstack JSON, IMA
// lists. Expected values come from the vector files and MANIFEST.json, never copied here.
#include <measure/documents/attestation_inputs.hpp>

#include <measure/formats/event_log.hpp>
#include <measure/formats/quote.hpp>
#include <measure/util/errors.hpp>
#include <tests/test_support.hpp>

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include <string>

using namespace mrforge;
using namespace mrforge::test;
using Json = nlohmann::json;

namespace {

Json manifest() {
  Bytes m = read(vector_path("MANIFEST.json"));
  return Json::parse(m.begin(), m.end());
}

Bytes vec(const std::string &rel) { return read(vector_path(rel)); }

TdQuote quote_of(const std::string &rel) { return parse_td_quote(quote_bytes_from_input(vec(rel), rel), rel); }

void require_replay_equals_quote(const EventLog &log, const TdQuote &q) {
  RtmrValues mr = replay(log);
  for (size_t i = 0; i < 4; ++i) {
    INFO("RTMR" << i);
    CHECK(to_hex(mr[i]) == to_hex(q.rtmr[i]));
  }
}

Bytes text(const std::string &s) { return Bytes(s.begin(), s.end()); }

std::string hex_text_of(const Bytes &b) {
  // Upper case, 0x prefix, a line break every 32 bytes: the forms users paste.
  std::string h = to_hex(b), out = "0x";
  for (size_t i = 0; i < h.size(); ++i) {
    out += static_cast<char>(std::toupper(static_cast<unsigned char>(h[i])));
    if (i % 64 == 63) out += "\n";
  }
  return out + "\n";
}

template <typename F> FormatError format_error(F f) {
  try {
    f();
  } catch (const FormatError &e) {
    return e;
  }
  FAIL("no FormatError thrown");
  throw std::logic_error("unreachable");
}

// A minimal dstack JSON event log with one RTMR3 runtime event.
std::string runtime_event_json(const std::string &digest, unsigned imr = 3) {
  return R"([{"imr":)" + std::to_string(imr) + R"(,"event_type":134217729,"digest":")" + digest +
         R"(","event":"app-id","event_payload":"86b0"}])";
}

} // namespace

TEST_CASE("A quote and the event log of the same TD replay to the quote's RTMRs", "[inputs]") {
  SECTION("go-tdx-guest: binary quote and binary CCEL") {
    EventLog log = event_log_from_input(vec("go-tdx-guest/ccel_data.dat"), "ccel_data.dat");
    CHECK(log.format == "tcg2");
    require_replay_equals_quote(log, quote_of("go-tdx-guest/cos-113-tdx-quote.dat"));
  }
  SECTION("dstack GetQuote JSON (lite: blank RTMR3 digests) read by both functions") {
    Bytes doc = vec("dstack/tdx-lite-getquote.json");
    EventLog log = event_log_from_input(doc, "tdx-lite-getquote.json");
    CHECK(log.format == "dstack-json");
    REQUIRE_FALSE(events_of(log, Register::rtmr3).empty());
    for (const LoggedEvent *e : events_of(log, Register::rtmr3)) {
      CHECK(e->origin == "dstack-json");
      CHECK_FALSE(e->name.empty());
    }
    require_replay_equals_quote(log, parse_td_quote(quote_bytes_from_input(doc, "getquote"), "getquote"));
  }
  SECTION("dstack quote-report JSON (given RTMR3 digests are reproduced)") {
    Bytes doc = vec("dstack/quote-report.json");
    EventLog log = event_log_from_input(doc, "quote-report.json");
    require_replay_equals_quote(log, parse_td_quote(quote_bytes_from_input(doc, "qr"), "qr"));
  }
  SECTION("dstack attestation JSON: the SCALE attestation holds the same quote as the raw GetQuote response") {
    Bytes doc = vec("dstack/tdx-lite-attestation.json");
    Bytes quote = quote_bytes_from_input(doc, "tdx-lite-attestation.json");
    Bytes getquote = quote_bytes_from_input(vec("dstack/tdx-lite-getquote.json"), "getquote");
    CHECK(quote == getquote);
    EventLog log = event_log_from_input(doc, "tdx-lite-attestation.json");
    CHECK(log.format == "dstack-attestation");
    // The "lite" attestation is stripped (tdx-lite.README.md): it keeps RTMR0's ACPI events and the
    // RTMR3 runtime events only, so its log cannot replay RTMR1/RTMR2 and verify reports that.
    CHECK(replay(log)[1] != parse_td_quote(quote, "attestation").rtmr[1]);
  }
  SECTION("cc-trusted-api: RTMR2 matches only after the IMA list, which extends RTMR2 (IMA's register 2)") {
    EventLog log = event_log_from_input(vec("cc-trusted-api/ccel_data.bin"), "ccel_data.bin");
    TdQuote q = quote_of("cc-trusted-api/quote.bin");
    CHECK(replay(log)[2] != q.rtmr[2]);
    std::vector<LoggedEvent> ima = ima_events(vec("cc-trusted-api/ima_log.bin"), "ima_log.bin");
    REQUIRE(ima.size() == 1);
    CHECK(ima[0].reg == Register::rtmr2);
    CHECK(ima[0].name == "boot_aggregate");
    CHECK(ima[0].origin == "ima");
    for (LoggedEvent &e : ima) log.events.push_back(std::move(e));
    require_replay_equals_quote(log, q);
  }
}

TEST_CASE("Every binary log of the manifest reads and replays to its recorded RTMRs", "[inputs]") {
  const Json m = manifest();
  for (const auto &[rel, entry] : m.at("event_logs").items()) {
    INFO(rel);
    Bytes bin = vec(rel);
    if (rel == "trustee/eventlog/CCEL_data_csv") {
      FormatError e = format_error([&] { event_log_from_input(bin, rel); });
      CHECK_THAT(e.what(), Catch::Contains("no SHA-384"));
      continue;
    }
    EventLog log = event_log_from_input(bin, rel);
    RtmrValues mr = replay(log);
    for (size_t i = 0; i < 4; ++i) CHECK(to_hex(mr[i]) == entry.at("replayed_rtmr")[i].get<std::string>());
    CHECK(log.events.size() == entry.at("events").get<size_t>());
  }
}

TEST_CASE("Hex text of a log or a quote reads like the binary", "[inputs]") {
  Bytes bin = vec("go-eventlog/CCEL_unpadded.data.bin");
  Bytes hex = text(hex_text_of(bin));
  EventLog a = event_log_from_input(bin, "bin");
  EventLog b = event_log_from_input(hex, "hex");
  REQUIRE(a.events.size() == b.events.size());
  for (size_t i = 0; i < a.events.size(); ++i) {
    CHECK(a.events[i].reg == b.events[i].reg);
    CHECK(a.events[i].type == b.events[i].type);
    CHECK(a.events[i].digest == b.events[i].digest);
    CHECK(a.events[i].data == b.events[i].data);
  }

  Bytes quote = vec("automata/tdx_v5_quote.bin");
  TdQuote qb = parse_td_quote(quote_bytes_from_input(quote, "q"), "q");
  TdQuote qh = parse_td_quote(quote_bytes_from_input(text(hex_text_of(quote)), "q.hex"), "q.hex");
  CHECK(qb.quote_bytes == qh.quote_bytes);
  CHECK(qb.mrtd == qh.mrtd);
  CHECK(qb.rtmr == qh.rtmr);
  CHECK(qb.signature_data == qh.signature_data);
}

TEST_CASE("Azure TDX: the TD quote has zero RTMRs and quote.bin is the vTPM quote", "[inputs]") {
  const std::string dir = "trustee/verifier/az-tdx-vtpm/";
  TdQuote q = quote_of(dir + "td-quote.bin");
  CHECK(to_hex(q.mrtd) == manifest().at("quotes").at(dir + "td-quote.bin").at("mrtd").get<std::string>());
  std::vector<std::string> notes = quote_notes(q);
  bool zero_note = false, signature_note = false, debug_note = false;
  for (const std::string &n : notes) {
    zero_note |= n.find("all zero") != std::string::npos && n.find("vTPM") != std::string::npos;
    signature_note |= n.find("signature chain not checked (parsing is not attestation)") != std::string::npos;
    debug_note |= n.find("DEBUG") != std::string::npos;
  }
  CHECK(zero_note);
  CHECK(signature_note);
  CHECK_FALSE(debug_note);

  FormatError e = format_error([&] { quote_bytes_from_input(vec(dir + "quote.bin"), "quote.bin"); });
  CHECK_THAT(e.what(), Catch::Contains("vTPM quote") && Catch::Contains("not a TDX quote"));

  // The evidence documents carry the same TD quote (byte array in v0, base64url in v1).
  Bytes td = vec(dir + "td-quote.bin");
  CHECK(quote_bytes_from_input(vec(dir + "evidence-v0.json"), "evidence-v0.json") == td);
  CHECK(quote_bytes_from_input(vec(dir + "evidence-v1.json"), "evidence-v1.json") == td);
}

TEST_CASE("quote_notes names a debug TD and TD 1.5 fields", "[inputs]") {
  TdQuote q = quote_of("trustee/verifier/tdx_quote_5.dat");
  bool td15 = false;
  for (const std::string &n : quote_notes(q)) td15 |= n.find("TD 1.5") != std::string::npos;
  CHECK(td15 == (q.body_type == k_quote_body_td15));
  q.td_attributes |= 1;
  CHECK_THAT(quote_notes(q).front(), Catch::Contains("DEBUG TD"));
}

TEST_CASE("An SGX quote read through the input path is rejected as not TDX", "[inputs]") {
  Bytes b = quote_bytes_from_input(vec("automata/sgx_v3_quote.bin"), "sgx_v3_quote.bin");
  FormatError e = format_error([&] { parse_td_quote(b, "sgx_v3_quote.bin"); });
  CHECK_THAT(e.what(), Catch::Contains("SGX"));
}

TEST_CASE("Malformed inputs are rejected with the place and the reason", "[inputs]") {
  SECTION("broken JSON: offset of the error") {
    FormatError e = format_error([] { event_log_from_input(text("{\"quote\": \"04\",, }"), "x.json"); });
    CHECK(e.offset() == 15); // the second comma
    CHECK_THAT(e.what(), Catch::Contains("not valid JSON"));
    FormatError inner = format_error([] { event_log_from_input(text(R"({"event_log": "[{\"imr\":"})"), "x.json"); });
    CHECK(inner.source() == "x.json:event_log");
  }
  SECTION("JSON without the fields names the expected ones") {
    FormatError q = format_error([] { quote_bytes_from_input(text(R"({"foo": 1})"), "x.json"); });
    CHECK_THAT(q.what(), Catch::Contains("\"quote\"") && Catch::Contains("\"attestation\""));
    FormatError l = format_error([] { event_log_from_input(text(R"({"quote": "04"})"), "x.json"); });
    CHECK_THAT(l.what(), Catch::Contains("\"event_log\"") && Catch::Contains("event_payload"));
    FormatError m = format_error([] { event_log_from_input(text(R"([{"imr":0,"event_type":4}])"), "x.json"); });
    CHECK_THAT(m.what(), Catch::Contains("event 0") && Catch::Contains("missing field"));
  }
  SECTION("bad hex: offset of the character") {
    FormatError e = format_error([] { quote_bytes_from_input(text("0x0400 02zz"), "q.hex"); });
    CHECK(e.offset() == 9);
    CHECK_THAT(e.what(), Catch::Contains("'z'"));
    FormatError odd = format_error([] { quote_bytes_from_input(text("04000"), "q.hex"); });
    CHECK_THAT(odd.what(), Catch::Contains("odd number"));
    FormatError field = format_error([] { quote_bytes_from_input(text(R"({"quote": "04g0"})"), "x.json"); });
    CHECK(field.source() == "x.json:quote");
    CHECK(field.offset() == 2);
  }
  SECTION("an RTMR3 event whose given digest was altered") {
    Bytes doc = vec("dstack/quote-report.json");
    Json j = Json::parse(doc.begin(), doc.end());
    Json log = Json::parse(j.at("event_log").get<std::string>());
    size_t index = 0;
    for (size_t i = 0; i < log.size(); ++i)
      if (log[i].at("imr") == 3 && !log[i].at("digest").get<std::string>().empty()) {
        index = i;
        break;
      }
    std::string given = log[index].at("digest").get<std::string>();
    std::string altered = given;
    altered[0] = altered[0] == '0' ? '1' : '0';
    log[index]["digest"] = altered;
    j["event_log"] = log.dump();
    std::string s = j.dump();
    FormatError e = format_error([&] { event_log_from_input(text(s), "altered.json"); });
    CHECK_THAT(e.what(),
               Catch::Contains("event " + std::to_string(index)) && Catch::Contains(altered) && Catch::Contains(given));
  }
  SECTION("imr 7") {
    FormatError e = format_error([] { event_log_from_input(text(runtime_event_json("", 7)), "x.json"); });
    CHECK_THAT(e.what(), Catch::Contains("imr 7"));
  }
  SECTION("a digest of the wrong length") {
    FormatError e = format_error([] { event_log_from_input(text(runtime_event_json("00112233")), "x.json"); });
    CHECK_THAT(e.what(), Catch::Contains("4 bytes, expected 48"));
    std::string boot = R"([{"imr":0,"event_type":4,"digest":"0011","event":"","event_payload":""}])";
    CHECK_THROWS_AS(event_log_from_input(text(boot), "x.json"), FormatError);
  }
  SECTION("a runtime event with a blank digest gets the recomputed one; a boot event may not be blank") {
    EventLog log = event_log_from_input(text(runtime_event_json("")), "x.json");
    REQUIRE(log.events.size() == 1);
    Bytes payload{0x86, 0xb0};
    CHECK(log.events[0].digest == dstack_runtime_event_digest(0x08000001, "app-id", payload));
    CHECK(log.events[0].data == payload);
    std::string boot = R"([{"imr":0,"event_type":4,"digest":"","event":"","event_payload":""}])";
    CHECK_THROWS_AS(event_log_from_input(text(boot), "x.json"), FormatError);
  }
  SECTION("IMA lines: a TPM PCR, a SHA-1 hash, a violation (all-zero hash extends ones)") {
    std::string h48(96, 'a');
    CHECK_THROWS_AS(ima_events(text("10 " + h48 + " ima-ng sha384:00 f\n"), "ima"), FormatError);
    CHECK_THROWS_AS(ima_events(text("2 " + std::string(40, 'a') + " ima-ng sha1:00 f\n"), "ima"), FormatError);
    std::vector<LoggedEvent> v = ima_events(text("2 " + std::string(96, '0') + " ima-ng sha384:00 f\n"), "ima");
    REQUIRE(v.size() == 1);
    Sha384 ones;
    ones.fill(0xff);
    CHECK(v[0].digest == ones);
  }
}

TEST_CASE("Truncated attestation and quote JSON never crash", "[inputs]") {
  Bytes doc = vec("dstack/tdx-lite-getquote.json");
  for (size_t n = 0; n < doc.size(); n += 97) {
    Bytes cut(doc.begin(), doc.begin() + static_cast<std::ptrdiff_t>(n));
    CHECK_THROWS_AS(event_log_from_input(cut, "cut.json"), FormatError);
  }
}
