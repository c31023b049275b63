#include <measure/measurement_json.hpp>

#include <measure/reader.hpp>
#include <measure/tcg_log.hpp>

namespace mrforge {

std::string event_type_label(uint32_t type) {
  const char *name = tcg_event_type_name(type);
  return name ? name : hex_u64(type);
}

nlohmann::ordered_json event_json(const Event &e) {
  return nlohmann::ordered_json{{"register", register_name(e.reg)},
                                {"type", event_type_label(e.type)},
                                {"description", e.description},
                                {"digest", to_hex(e.digest)},
                                {"source", e.source}};
}

nlohmann::ordered_json measurement_json(const Measurement &m) {
  nlohmann::ordered_json j;
  j["mrtd"] = m.mrtd ? nlohmann::ordered_json(to_hex(*m.mrtd)) : nlohmann::ordered_json(nullptr);
  for (size_t i = 0; i < 3; ++i) j["rtmr" + std::to_string(i)] = to_hex(m.rtmr[i]);
  j["events"] = nlohmann::ordered_json::array();
  for (const Event &e : m.events) j["events"].push_back(event_json(e));
  j["inputs"] = nlohmann::ordered_json::object();
  for (const auto &[name, value] : m.inputs) j["inputs"][name] = value;
  return j;
}

} // namespace mrforge
