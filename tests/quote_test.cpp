// Tests of the TDX quote (v4, v5) and TDREPORT parser against the real quotes in
// ../shared/vectors: every field MANIFEST.json lists, the dstack quotes against the replay of
// their JSON event logs, the quote/CCEL pairs, hand-built malformed quotes and truncation sweeps.
#include "test_support.hpp"

#include <measure/documents/attestation_inputs.hpp>
#include <measure/formats/quote.hpp>
#include <measure/formats/tcg_log.hpp>
#include <measure/util/errors.hpp>
#include <measure/util/hash.hpp>

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <fstream>
#include <string>

namespace mrforge {
namespace {

using nlohmann::json;

json read_json(const std::string &rel) {
  std::ifstream in(test::vector_path(rel));
  return json::parse(in);
}

bool ends_with(const std::string &s, const std::string &suffix) {
  return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

// The quote bytes of a manifest entry: a binary file, or the hex "quote" field of a dstack JSON.
Bytes quote_bytes_of(const std::string &rel) {
  if (ends_with(rel, ".json")) return from_hex(read_json(rel)["quote"].get<std::string>(), rel + ": quote");
  return test::read(test::vector_path(rel));
}

// An 8-byte field as the manifest writes it: its bytes in quote order, in hex.
std::string le_hex(uint64_t v) {
  Bytes b;
  for (int i = 0; i < 8; ++i) b.push_back(static_cast<uint8_t>(v >> (8 * i)));
  return to_hex(b);
}

// Replays a dstack JSON event log (imr 0..3 = RTMR0..3). A blank digest is a dstack runtime
// event: SHA384(u32le(event_type) || ":" || event || ":" || payload), payload given in hex.
std::array<Sha384, 4> replay_dstack_json(const json &events, const std::string &what) {
  std::array<Sha384, 4> rtmr{};
  for (const json &e : events) {
    size_t imr = e["imr"].get<size_t>();
    REQUIRE(imr < 4);
    std::string digest_hex = e["digest"].get<std::string>();
    Sha384 digest;
    if (!digest_hex.empty()) {
      digest = sha384_from_hex(digest_hex, what);
    } else {
      uint32_t type = e["event_type"].get<uint32_t>();
      Bytes msg;
      for (int i = 0; i < 4; ++i) msg.push_back(static_cast<uint8_t>(type >> (8 * i)));
      std::string name = e["event"].get<std::string>();
      msg.push_back(':');
      msg.insert(msg.end(), name.begin(), name.end());
      msg.push_back(':');
      Bytes payload = from_hex(e["event_payload"].get<std::string>(), what);
      msg.insert(msg.end(), payload.begin(), payload.end());
      digest = sha384(msg);
    }
    extend(rtmr[imr], digest);
  }
  return rtmr;
}

// Little-endian writers for hand-built quotes.
void put_u16(Bytes &b, uint16_t v) {
  for (int i = 0; i < 2; ++i) b.push_back(static_cast<uint8_t>(v >> (8 * i)));
}
void put_u32(Bytes &b, uint32_t v) {
  for (int i = 0; i < 4; ++i) b.push_back(static_cast<uint8_t>(v >> (8 * i)));
}

// A quote header: version, key type 2, TEE type, zero SVNs, vendor id and user data.
Bytes quote_header(uint16_t version, uint32_t tee_type) {
  Bytes b;
  put_u16(b, version);
  put_u16(b, 2);
  put_u32(b, tee_type);
  b.insert(b.end(), 40, 0);
  return b;
}

// A v5 quote with the given body type and size, a body of `body_bytes` bytes of 0x5A, and
// signature data of sig_size bytes (sig_len is what the length field claims).
Bytes quote_v5(uint16_t body_type, uint32_t body_size, size_t body_bytes, uint32_t sig_len, size_t sig_size) {
  Bytes b = quote_header(5, 0x81);
  put_u16(b, body_type);
  put_u32(b, body_size);
  b.insert(b.end(), body_bytes, 0x5A);
  put_u32(b, sig_len);
  b.insert(b.end(), sig_size, 0x33);
  return b;
}

// ECDSA 256-bit Quote Signature Data (Intel DCAP quote format): signature 64, attestation key 64,
// certification data type 6 {QE report 384, its signature 64, u16 + QE authentication data, u16
// type 5 + u32 + PCK chain}, every length consistent.
Bytes signature_data(size_t auth_size, size_t pck_size) {
  Bytes qe;
  qe.insert(qe.end(), 384 + 64, 0x44);
  put_u16(qe, static_cast<uint16_t>(auth_size));
  qe.insert(qe.end(), auth_size, 0x55);
  put_u16(qe, 5);
  put_u32(qe, static_cast<uint32_t>(pck_size));
  qe.insert(qe.end(), pck_size, 0x66);
  Bytes sig(128, 0x33);
  put_u16(sig, 6);
  put_u32(sig, static_cast<uint32_t>(qe.size()));
  sig.insert(sig.end(), qe.begin(), qe.end());
  return sig;
}

// A v5 TD 1.0 quote with these signature data bytes.
Bytes quote_v5_with(const Bytes &sig) {
  Bytes b = quote_v5(2, 584, 584, static_cast<uint32_t>(sig.size()), 0);
  b.insert(b.end(), sig.begin(), sig.end());
  return b;
}

template <typename F> FormatError format_error(F &&f) {
  try {
    f();
  } catch (const FormatError &e) {
    return e;
  }
  FAIL("no FormatError");
  return FormatError("", 0, "unreachable"); // FAIL throws
}

} // namespace

TEST_CASE("Every quote in the manifest has the fields it lists", "[quote]") {
  json m = read_json("MANIFEST.json");
  REQUIRE(m["quotes"].size() >= 10);
  for (const auto &[rel, expected] : m["quotes"].items()) {
    INFO(rel);
    Bytes data = quote_bytes_of(rel);
    TdQuote q;
    try {
      q = parse_td_quote(data, rel);
    } catch (const FormatError &e) {
      // Bytes after the quote that are not padding (tdx_prod_quote_SPR_E4.dat): the quote is what
      // comes before them, tested below.
      INFO(e.what());
      REQUIRE_THAT(e.what(), Catch::Contains("not zero padding"));
      q = parse_td_quote(ByteView(data.data(), static_cast<size_t>(e.offset())), rel);
    }
    CHECK(q.version == expected["version"].get<uint16_t>());
    CHECK(q.tee_type == k_tee_type_tdx);
    CHECK(to_hex(q.mrtd) == expected["mrtd"].get<std::string>());
    for (size_t i = 0; i < 4; ++i) {
      INFO("RTMR" << i);
      CHECK(to_hex(q.rtmr[i]) == expected["rtmr"][i].get<std::string>());
    }
    if (expected.contains("td_attributes"))
      CHECK(le_hex(q.td_attributes) == expected["td_attributes"].get<std::string>());
    if (expected.contains("xfam")) CHECK(le_hex(q.xfam) == expected["xfam"].get<std::string>());
    if (expected.contains("mrconfigid")) CHECK(to_hex(q.mrconfigid) == expected["mrconfigid"].get<std::string>());
    CHECK(q.mrseam.size() == 48);
    CHECK(q.report_data.size() == 64);
    CHECK(!q.signature_data.empty());
    CHECK(q.quote_bytes <= data.size());
    if (q.version == 4) CHECK(q.body_type == k_quote_body_td10);
    if (q.body_type == k_quote_body_td15)
      CHECK(q.mrservicetd.size() == 48);
    else
      CHECK(q.mrservicetd.empty());
  }
}

TEST_CASE("The dstack quotes' RTMRs equal the replay of their JSON event logs", "[quote]") {
  for (const char *rel : {"dstack/quote-report.json", "dstack/tdx-lite-getquote.json"}) {
    INFO(rel);
    json doc = read_json(rel);
    TdQuote q = parse_td_quote(from_hex(doc["quote"].get<std::string>(), "quote"), rel);
    // The event log is a JSON document held in a string.
    json events = doc["event_log"].is_string() ? json::parse(doc["event_log"].get<std::string>()) : doc["event_log"];
    REQUIRE(events.size() > 10);
    std::array<Sha384, 4> replayed = replay_dstack_json(events, rel);
    for (size_t i = 0; i < 4; ++i) {
      INFO("RTMR" << i);
      CHECK(to_hex(q.rtmr[i]) == to_hex(replayed[i]));
    }
    CHECK(q.rtmr[3] != Sha384{}); // dstack's runtime events are in RTMR3
    CHECK(to_hex(q.report_data) == doc["report_data"].get<std::string>());
  }
}

TEST_CASE("Quotes paired with a CCEL match its replay where the manifest says so", "[quote]") {
  json m = read_json("MANIFEST.json");
  size_t pairs = 0;
  for (const auto &[rel, expected] : m["quotes"].items()) {
    if (!expected.contains("paired_event_log")) continue;
    std::string log_rel = expected["paired_event_log"].get<std::string>();
    INFO(rel << " with " << log_rel);
    TdQuote q = parse_td_quote(quote_bytes_of(rel), rel);
    std::array<Sha384, 4> replayed = replay_rtmrs(parse_tcg_log(test::read(test::vector_path(log_rel)), log_rel));
    for (size_t i = 0; i < 4; ++i) {
      INFO("RTMR" << i);
      CHECK((q.rtmr[i] == replayed[i]) == expected["match"][i].get<bool>());
    }
    ++pairs;
  }
  CHECK(pairs >= 2);
}

TEST_CASE("An SGX quote is rejected as not TDX", "[quote]") {
  Bytes data = test::read(test::vector_path("automata/sgx_v3_quote.bin"));
  FormatError e = format_error([&] { parse_td_quote(data, "sgx_v3_quote.bin"); });
  CHECK(e.source() == "sgx_v3_quote.bin");
  CHECK(e.offset() == 4);
  CHECK_THAT(e.what(), Catch::Contains("this is an SGX quote") && Catch::Contains("not TDX"));
  // A v5 quote whose body is an SGX enclave report.
  CHECK_THROWS_WITH(parse_td_quote(quote_v5(1, 384, 384, 0, 0), "q"), Catch::Contains("SGX quote"));
}

TEST_CASE("Quote v4 and v5 layouts place the TD body where the spec says", "[quote]") {
  TdQuote v4 = parse_td_quote(test::read(test::vector_path("trustee/verifier/tdx_quote_4.dat")), "v4");
  CHECK(v4.version == 4);
  CHECK(v4.attestation_key_type == 2);
  CHECK(v4.qe_vendor_id.size() == 16);
  CHECK(v4.user_data.size() == 20);
  CHECK(v4.quote_bytes == k_quote_header_size + k_td10_body_size + 4 + v4.signature_data.size());
  TdQuote v5 = parse_td_quote(test::read(test::vector_path("trustee/verifier/tdx_quote_5.dat")), "v5");
  CHECK(v5.version == 5);
  CHECK(v5.body_type == k_quote_body_td15);
  CHECK(v5.tee_tcb_svn2.size() == 16);
  CHECK(v5.mrservicetd.size() == 48);
  CHECK(v5.quote_bytes == k_quote_header_size + 6 + k_td15_body_size + 4 + v5.signature_data.size());
  // A TD 1.0 body in a v5 quote.
  Bytes sig = signature_data(32, 100);
  Bytes b = quote_v5_with(sig);
  TdQuote td10 = parse_td_quote(b, "built");
  CHECK(td10.body_type == k_quote_body_td10);
  CHECK(td10.signature_data == sig);
  CHECK(td10.mrservicetd.empty());
  CHECK(td10.quote_bytes == b.size());
  CHECK(td10.padding_bytes == 0);
}

TEST_CASE("Zero bytes after the quote are a buffer's padding, anything else after it is refused", "[quote]") {
  // Decided from the vectors: v4 quotes arrive in fixed-size zero-filled buffers (5006 bytes for
  // dstack's, trustee's, cc-trusted-api's and Azure's, 8000 for google's cos-113 and automata's).
  size_t padded = 0;
  json m = read_json("MANIFEST.json");
  for (const auto &[rel, expected] : m["quotes"].items()) {
    INFO(rel);
    Bytes data = quote_bytes_of(rel);
    bool zero_tail = true, parsed = true;
    size_t end = 0;
    try {
      TdQuote q = parse_td_quote(data, rel);
      end = q.quote_bytes;
      CHECK(q.quote_bytes + q.padding_bytes == data.size());
      padded += q.padding_bytes != 0;
    } catch (const FormatError &e) {
      parsed = false;
      INFO(e.what());
      CHECK_THAT(e.what(), Catch::Contains("follow the quote's end") && Catch::Contains("not zero padding"));
      end = std::string(e.what()).find("at offset ") != std::string::npos
                ? std::stoul(std::string(e.what()).substr(std::string(e.what()).find("at offset ") + 10))
                : 0;
      CHECK(e.offset() >= end); // the first byte after the quote that is not zero
      CHECK(data[e.offset()] != 0);
    }
    for (size_t i = end; i < data.size(); ++i) zero_tail = zero_tail && data[i] == 0;
    CHECK(parsed == zero_tail);
  }
  CHECK(padded >= 7);
  // go-tdx-guest's production quote carries trailing text ("extra bytes(only for testing purpose)"):
  // refused at its first byte, while the quote itself parses.
  Bytes data = test::read(test::vector_path("go-tdx-guest/tdx_prod_quote_SPR_E4.dat"));
  FormatError e = format_error([&] { parse_td_quote(data, "spr"); });
  CHECK(e.offset() == 4935);
  CHECK_THAT(e.what(), Catch::Contains("39 bytes follow the quote's end at offset 4935"));
  TdQuote exact = parse_td_quote(ByteView(data.data(), 4935), "spr exact");
  CHECK(exact.padding_bytes == 0);
  // One non-zero byte anywhere in a zero padding is refused, at its offset.
  Bytes v4 = test::read(test::vector_path("automata/tdx_v4_quote.bin"));
  TdQuote q = parse_td_quote(v4, "v4");
  REQUIRE(q.padding_bytes == 8000 - 4935);
  std::vector<std::string> notes = quote_notes(q);
  CHECK(std::any_of(notes.begin(), notes.end(), [](const std::string &n) {
    return n == "3065 zero bytes follow the quote's 4935 (a fixed-size buffer's fill, not part of the quote): ignored";
  }));
  for (size_t at : {q.quote_bytes, q.quote_bytes + 1, v4.size() - 1}) {
    Bytes bad = v4;
    bad[at] = 0x01;
    CHECK(format_error([&] { parse_td_quote(bad, "v4"); }).offset() == at);
  }
}

TEST_CASE("Signature data lengths must add up exactly", "[quote]") {
  // Each length field of the signature data one too large or too small, in a real quote: refused
  // (the trailing bytes would otherwise have been taken as padding or as part of the signature).
  const std::string rel = "trustee/verifier/tdx_quote_4.dat";
  Bytes good = test::read(test::vector_path(rel));
  TdQuote q = parse_td_quote(good, rel);
  REQUIRE(q.padding_bytes == 0);
  const size_t sig_len_at = 48 + 584;
  const size_t cert_size_at = sig_len_at + 4 + 128 + 2;
  const size_t auth_size_at = cert_size_at + 4 + 384 + 64;
  const uint16_t auth = static_cast<uint16_t>(good[auth_size_at] | good[auth_size_at + 1] << 8);
  const size_t pck_size_at = auth_size_at + 2 + auth + 2;
  struct Field {
    const char *name;
    size_t at, width;
  } fields[] = {{"signature data length", sig_len_at, 4},
                {"certification data size", cert_size_at, 4},
                {"QE authentication data size", auth_size_at, 2},
                {"QE certification data size", pck_size_at, 4}};
  for (const Field &f : fields) {
    for (int delta : {-1, +1}) {
      INFO(f.name << " " << delta);
      Bytes bad = good;
      uint32_t v = 0;
      for (size_t i = 0; i < f.width; ++i) v |= uint32_t{bad[f.at + i]} << (8 * i);
      v = static_cast<uint32_t>(static_cast<int64_t>(v) + delta);
      for (size_t i = 0; i < f.width; ++i) bad[f.at + i] = static_cast<uint8_t>(v >> (8 * i));
      bad.push_back(0); // room for a length one larger, and a padding byte for one smaller
      FormatError e = format_error([&] { parse_td_quote(bad, rel); });
      CHECK(e.offset() >= sig_len_at);
      CHECK(e.offset() <= bad.size());
    }
  }
  // Hand-built: consistent signature data parses; extra bytes inside it are named.
  CHECK_NOTHROW(parse_td_quote(quote_v5_with(signature_data(0, 0)), "built"));
  Bytes sig = signature_data(32, 10);
  sig.push_back(0);
  Bytes with_extra = quote_v5(2, 584, 584, static_cast<uint32_t>(sig.size()), 0);
  with_extra.insert(with_extra.end(), sig.begin(), sig.end());
  CHECK_THAT(format_error([&] { parse_td_quote(with_extra, "built"); }).what(),
             Catch::Contains("the signature data length leaves 1 bytes unaccounted for"));
  // An attestation key type without a defined signature layout (3: ECDSA-384).
  Bytes p384 = good;
  p384[2] = 3;
  FormatError ak = format_error([&] { parse_td_quote(p384, rel); });
  CHECK(ak.offset() == 2);
  CHECK_THAT(ak.what(), Catch::Contains("attestation key type 3"));
}

TEST_CASE("Malformed quotes are rejected with the offset of the bad field", "[quote]") {
  SECTION("an unknown version") {
    Bytes b = quote_header(3, 0x81);
    FormatError e = format_error([&] { parse_td_quote(b, "q"); });
    CHECK(e.offset() == 0);
    CHECK_THAT(e.what(), Catch::Contains("version 3"));
  }
  SECTION("a TEE type that is neither TDX nor SGX") {
    CHECK_THROWS_WITH(parse_td_quote(quote_header(4, 0x82), "q"), Catch::Contains("TEE type 0x82"));
  }
  SECTION("an unknown attestation key type") {
    Bytes b = quote_header(4, 0x81);
    b[2] = 9;
    CHECK_THROWS_WITH(parse_td_quote(b, "q"), Catch::Contains("attestation key type 9"));
  }
  SECTION("a v5 body size that does not match its type") {
    FormatError e = format_error([&] { parse_td_quote(quote_v5(3, 584, 648, 0, 0), "q"); });
    CHECK(e.offset() == 50);
    CHECK_THAT(e.what(), Catch::Contains("body size 584"));
  }
  SECTION("an unknown v5 body type") {
    CHECK_THROWS_WITH(parse_td_quote(quote_v5(4, 584, 584, 0, 0), "q"), Catch::Contains("body type 4"));
  }
  SECTION("signature data that does not fit") {
    FormatError e = format_error([&] { parse_td_quote(quote_v5(2, 584, 584, 10, 9), "q"); });
    CHECK(e.offset() == 48 + 6 + 584);
    CHECK_THAT(e.what(), Catch::Contains("truncated quote"));
    CHECK_THROWS_WITH(parse_td_quote(quote_v5(2, 584, 584, 0xFFFFFFFF, 0), "q"), Catch::Contains("cap"));
  }
}

TEST_CASE("A quote truncated at any length gives a clean error", "[quote]") {
  for (const char *rel : {"trustee/verifier/tdx_quote_4.dat", "automata/tdx_v5_quote.bin"}) {
    INFO(rel);
    Bytes full = test::read(test::vector_path(rel));
    TdQuote whole = parse_td_quote(full, rel);
    for (size_t n = 0; n < whole.quote_bytes; ++n) {
      INFO("length " << n);
      FormatError e = format_error([&] { parse_td_quote(ByteView(full.data(), n), rel); });
      CHECK(e.source() == rel);
      CHECK(e.offset() <= n);
    }
  }
}

TEST_CASE("A raw TDREPORT parses and its hashes are checked", "[quote]") {
  const std::string rel = "guest-components/tdx_report_1.bin";
  Bytes data = test::read(test::vector_path(rel));
  TdQuote r = parse_td_report(data, rel);
  CHECK(r.version == 0);
  CHECK(r.tee_type == k_tee_type_tdx);
  CHECK(r.body_type == k_quote_body_td15); // REPORTTYPE.VERSION 1
  CHECK(r.mrtd != Sha384{});
  CHECK(r.rtmr[0] != Sha384{});
  CHECK(r.mrseam.size() == 48);
  CHECK(r.tee_tcb_svn2.size() == 16);
  CHECK(r.mrservicetd.size() == 48);
  CHECK(r.report_data.size() == 64);
  CHECK(r.signature_data.empty());

  // The same fields sit in TDINFO (offset 512) as in a quote's body: MRTD at 528, RTMR0 at 720.
  CHECK(ByteView(r.mrtd.data(), 48) == ByteView(data.data() + 528, 48));
  CHECK(ByteView(r.rtmr[0].data(), 48) == ByteView(data.data() + 720, 48));

  SECTION("a changed TDINFO byte breaks TEE_INFO_HASH") {
    data[720] ^= 1;
    CHECK_THROWS_WITH(parse_td_report(data, rel), Catch::Contains("TEE_INFO_HASH"));
  }
  SECTION("a changed TEE_TCB_INFO byte breaks TEE_TCB_INFO_HASH") {
    data[300] ^= 1;
    CHECK_THROWS_WITH(parse_td_report(data, rel), Catch::Contains("TEE_TCB_INFO_HASH"));
  }
  SECTION("an SGX report type") {
    data[0] = 0;
    CHECK_THROWS_WITH(parse_td_report(data, rel), Catch::Contains("SGX report"));
  }
  SECTION("a wrong size") {
    for (size_t n : {size_t{0}, size_t{512}, size_t{1023}}) {
      INFO(n);
      CHECK_THROWS_AS(parse_td_report(ByteView(data.data(), n), rel), FormatError);
    }
    data.push_back(0);
    CHECK_THROWS_WITH(parse_td_report(data, rel), Catch::Contains("1024 bytes"));
  }
  SECTION("a quote is not a TDREPORT") {
    CHECK_THROWS_AS(parse_td_report(test::read(test::vector_path("trustee/verifier/tdx_quote_4.dat")), "q"),
                    FormatError);
  }
}

} // namespace mrforge
