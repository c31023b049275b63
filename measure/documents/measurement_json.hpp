// The JSON form of a measurement, shared by `mrforge measure --json`, the guest image build's
// measurements.json and anything that compares them: {"mrtd", "rtmr0".."rtmr2", "events":
// [{"register", "type", "description", "digest", "source"}], "inputs": {name: value}}, lower-case
// hex, keys in this order. Kept out of the engine so that it stays free of nlohmann/json.
// The reader turns that JSON (or any object with the same "mrtd", "rtmr0".."rtmr2" and "events"
// fields, such as one shape of a guest build's measurements.json) back into expected values.
#pragma once

#include <measure/engine/engine.hpp>
#include <measure/formats/event.hpp>
#include <measure/verify/verify.hpp>

#include <nlohmann/json.hpp>

#include <string>

namespace mrforge {

// The TCG name of an event type ("EV_SEPARATOR"), or its hex value when the TCG defines none.
std::string event_type_label(uint32_t type);
nlohmann::ordered_json event_json(const Event &e);
nlohmann::ordered_json measurement_json(const Measurement &m);

// Reads {"mrtd", "rtmr0".."rtmr2", "events"} (what measurement_json writes; "inputs" and other
// fields are ignored) into expected values. "mrtd" and "rtmr1"/"rtmr2" may be null or absent (not
// expected); "rtmr0" must be present. Each event needs "register" (rtmr0-2), a TCG "type" name
// (or the hex value event_type_label writes) and a SHA-384 hex "digest"; "description" and
// "source" are optional ("source" defaults to `what`). Throws InputError(what + ": field", ...)
// for anything missing, mistyped or not hex.
ExpectedValues expected_values_from_json(const nlohmann::json &j, const std::string &what);
ExpectedValues expected_values_from_json(const nlohmann::ordered_json &j, const std::string &what);

} // namespace mrforge
