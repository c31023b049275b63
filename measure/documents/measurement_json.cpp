#include <measure/documents/measurement_json.hpp>

#include <measure/formats/tcg_log.hpp>
#include <measure/util/errors.hpp>
#include <measure/util/hash.hpp>
#include <measure/util/reader.hpp>

#include <cstdint>
#include <optional>

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

namespace {

// The inverse of event_type_label: a TCG name, or the "0x..." value written for types without one.
std::optional<uint32_t> event_type_from_label(const std::string &label) {
  if (std::optional<uint32_t> t = tcg_event_type_from_name(label)) return t;
  if (label.size() < 3 || label.size() > 10 || label.compare(0, 2, "0x") != 0) return std::nullopt;
  uint32_t v = 0;
  for (size_t i = 2; i < label.size(); ++i) {
    char c = label[i];
    uint32_t d = 0;
    if (c >= '0' && c <= '9')
      d = static_cast<uint32_t>(c - '0');
    else if (c >= 'a' && c <= 'f')
      d = static_cast<uint32_t>(c - 'a' + 10);
    else
      return std::nullopt;
    v = (v << 4) | d;
  }
  return v;
}

template <class J> std::optional<Sha384> optional_digest(const J &obj, const char *key, const std::string &what) {
  auto it = obj.find(key);
  if (it == obj.end() || it->is_null()) return std::nullopt;
  if (!it->is_string()) throw InputError(what + ": " + key, "expected a SHA-384 hex string or null");
  return sha384_from_hex(it->template get<std::string>(), what + ": " + key);
}

// An optional string field: absent gives `fallback`, another type is an error.
template <class J>
std::string optional_string(const J &obj, const char *key, const std::string &what, const std::string &fallback) {
  auto it = obj.find(key);
  if (it == obj.end()) return fallback;
  if (!it->is_string()) throw InputError(what + "." + key, "expected a string");
  return it->template get<std::string>();
}

template <class J> ExpectedValues read_expected_values(const J &j, const std::string &what) {
  if (!j.is_object() || !j.contains("rtmr0"))
    throw InputError(what, "expected the JSON that `mrforge measure --json` prints (mrtd, rtmr0-2, events)");
  ExpectedValues ev;
  ev.mrtd = optional_digest(j, "mrtd", what);
  const char *rtmr_keys[3] = {"rtmr0", "rtmr1", "rtmr2"};
  for (size_t i = 0; i < 3; ++i) ev.rtmr[i] = optional_digest(j, rtmr_keys[i], what);
  auto events = j.find("events");
  if (events == j.end() || events->is_null()) return ev;
  if (!events->is_array()) throw InputError(what + ": events", "expected an array of events");
  for (size_t i = 0; i < events->size(); ++i) {
    const J &e = (*events)[i];
    std::string where = what + ": events[" + std::to_string(i) + "]";
    if (!e.is_object()) throw InputError(where, "expected an object (register, type, digest, ...)");
    Event out;
    std::string reg = optional_string(e, "register", where, "");
    if (reg == "rtmr0")
      out.reg = Register::rtmr0;
    else if (reg == "rtmr1")
      out.reg = Register::rtmr1;
    else if (reg == "rtmr2")
      out.reg = Register::rtmr2;
    else
      throw InputError(where + ".register", "expected rtmr0, rtmr1 or rtmr2, got '" + reg + "'");
    std::string type = optional_string(e, "type", where, "");
    std::optional<uint32_t> t = event_type_from_label(type);
    if (!t) throw InputError(where + ".type", "unknown TCG event type '" + type + "'");
    out.type = *t;
    auto d = e.find("digest");
    if (d == e.end() || d->is_null()) throw InputError(where + ".digest", "missing");
    if (!d->is_string()) throw InputError(where + ".digest", "expected a SHA-384 hex string");
    out.digest = sha384_from_hex(d->template get<std::string>(), where + ".digest");
    out.description = optional_string(e, "description", where, "");
    out.source = optional_string(e, "source", where, what);
    ev.events.push_back(std::move(out));
  }
  return ev;
}

} // namespace

ExpectedValues expected_values_from_json(const nlohmann::json &j, const std::string &what) {
  return read_expected_values(j, what);
}
ExpectedValues expected_values_from_json(const nlohmann::ordered_json &j, const std::string &what) {
  return read_expected_values(j, what);
}

} // namespace mrforge
