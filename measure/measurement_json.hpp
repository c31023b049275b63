// The JSON form of a measurement, shared by `mrforge measure --json`, the guest image build's
// measurements.json and anything that compares them: {"mrtd", "rtmr0".."rtmr2", "events":
// [{"register", "type", "description", "digest", "source"}], "inputs": {name: value}}, lower-case
// hex, keys in this order. Kept out of the engine so that it stays free of nlohmann/json.
#pragma once

#include <measure/engine.hpp>
#include <measure/event.hpp>

#include <nlohmann/json.hpp>

#include <string>

namespace mrforge {

// The TCG name of an event type ("EV_SEPARATOR"), or its hex value when the TCG defines none.
std::string event_type_label(uint32_t type);
nlohmann::ordered_json event_json(const Event &e);
nlohmann::ordered_json measurement_json(const Measurement &m);

} // namespace mrforge
