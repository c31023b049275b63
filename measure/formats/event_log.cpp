#include <measure/formats/event_log.hpp>
#include <measure/util/errors.hpp>
#include <measure/util/reader.hpp>
#include <measure/util/strings.hpp>

namespace mrforge {

EventLog event_log_from_ccel(const TcgLog &log) {
  EventLog out;
  out.source = log.source;
  out.format = "tcg2";
  out.algorithms = log.algorithms;
  for (size_t i = 0; i < log.events.size(); ++i) {
    const LogEvent &e = log.events[i];
    LoggedEvent le;
    le.index = i;
    le.offset = e.offset;
    le.type = e.type;
    le.digests = e.digests;
    le.data = e.data;
    le.origin = "ccel";
    if (e.type != k_ev_no_action) {
      if (e.index < 1 || e.index > 4)
        throw FormatError(log.source, e.offset,
                          "event " + std::to_string(i) + ": MR index " + std::to_string(e.index) +
                              " (a CCEL log extends MR 1..4 = RTMR0..3)");
      le.reg = static_cast<Register>(e.index - 1);
      const Bytes *d = e.find(k_tpm_alg_sha384);
      if (!d) {
        std::string have = join(log.algorithms, ", ", [](const auto &a) {
          const char *n = tcg_algorithm_name(a.id);
          return std::string(n ? n : hex_u64(a.id));
        });
        throw FormatError(log.source, e.offset,
                          "event " + std::to_string(i) + " has no SHA-384 digest (the log carries " + have +
                              "): TDX RTMRs are SHA-384");
      }
      le.digest = to_sha384(*d);
    }
    le.data_check = check_event_data(e.type, e.data, e.digests);
    out.events.push_back(std::move(le));
  }
  return out;
}

RtmrValues replay(const EventLog &log) {
  RtmrValues mr{};
  for (const LoggedEvent &e : log.events)
    if (e.reg && e.digest) extend(mr[static_cast<size_t>(*e.reg)], *e.digest);
  return mr;
}

std::vector<const LoggedEvent *> events_of(const EventLog &log, Register reg) {
  std::vector<const LoggedEvent *> out;
  for (const LoggedEvent &e : log.events)
    if (e.reg == reg) out.push_back(&e);
  return out;
}

Sha384 dstack_runtime_event_digest(uint32_t type, const std::string &name, ByteView payload) {
  Hasher h(HashAlgorithm::sha384);
  uint8_t t[4] = {static_cast<uint8_t>(type), static_cast<uint8_t>(type >> 8), static_cast<uint8_t>(type >> 16),
                  static_cast<uint8_t>(type >> 24)};
  h.update(t, 4).update(ByteView::of(":")).update(ByteView::of(name)).update(ByteView::of(":")).update(payload);
  return to_sha384(h.finish());
}

} // namespace mrforge
