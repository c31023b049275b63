#include "log_vectors.hpp"
#include "test_support.hpp"

#include <measure/formats/quote.hpp>
#include <measure/formats/tcg_log.hpp>

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

namespace mrforge::test {

namespace {
nlohmann::json load_json(const std::string &rel) {
  Bytes b = read(vector_path(rel));
  return nlohmann::json::parse(b.begin(), b.end());
}
} // namespace

std::vector<VectorEvent> dstack_boot_events(const std::string &rel) {
  nlohmann::json doc = load_json(rel);
  nlohmann::json log = nlohmann::json::parse(doc.at("event_log").get<std::string>());
  std::vector<VectorEvent> out;
  for (const auto &e : log) {
    unsigned imr = e.at("imr").get<unsigned>();
    if (imr > 2) continue;
    VectorEvent v;
    v.reg = imr;
    v.type = e.at("event_type").get<uint32_t>();
    v.digest = sha384_from_hex(e.at("digest").get<std::string>(), rel);
    v.data = from_hex(e.value("event_payload", std::string()), rel);
    out.push_back(std::move(v));
  }
  return out;
}

std::vector<VectorEvent> ccel_events(const std::string &rel) {
  Bytes b = read(vector_path(rel));
  TcgLog log = parse_tcg_log(b, rel);
  std::vector<VectorEvent> out;
  for (const LogEvent &e : log.events) {
    if (e.type == k_ev_no_action) continue;
    const Bytes *d = e.find(k_tpm_alg_sha384);
    REQUIRE(d != nullptr);
    REQUIRE(e.index >= 1);
    VectorEvent v;
    v.reg = e.index - 1;
    v.type = e.type;
    v.digest = to_sha384(*d);
    v.data = e.data;
    out.push_back(std::move(v));
  }
  return out;
}

std::vector<Sha384> dstack_quote_rtmrs(const std::string &rel) {
  nlohmann::json doc = load_json(rel);
  Bytes quote = from_hex(doc.at("quote").get<std::string>(), rel);
  TdQuote q = parse_td_quote(quote, rel);
  return {q.rtmr[0], q.rtmr[1], q.rtmr[2], q.rtmr[3]};
}

const VectorEvent &first_event(const std::vector<VectorEvent> &events, unsigned reg, uint32_t type) {
  for (const auto &e : events)
    if (e.reg == reg && e.type == type) return e;
  FAIL("no event of type " << type << " in RTMR" << reg);
  throw std::logic_error("unreachable");
}

std::vector<VectorEvent> events_of(const std::vector<VectorEvent> &events, unsigned reg, uint32_t type) {
  std::vector<VectorEvent> out;
  for (const auto &e : events)
    if (e.reg == reg && e.type == type) out.push_back(e);
  return out;
}

std::vector<std::string> published_digest_args(const std::string &rel) {
  std::vector<VectorEvent> events = dstack_boot_events(rel);
  auto hex = [&](unsigned reg, uint32_t type, size_t n) { return to_hex(events_of(events, reg, type).at(n).digest); };
  return {"--digest", "cfv=" + hex(0, 0x8000000A, 0),    "--digest", "acpi-loader=" + hex(0, 0xA, 0),
          "--digest", "acpi-rsdp=" + hex(0, 0xA, 1),     "--digest", "acpi-tables=" + hex(0, 0xA, 2),
          "--digest", "kernel=" + hex(1, 0x80000003, 0), "--digest", "cmdline=" + hex(2, 0x6, 0),
          "--digest", "initrd=" + hex(2, 0x6, 1)};
}

} // namespace mrforge::test
