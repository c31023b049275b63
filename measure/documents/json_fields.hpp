// Typed access to the fields of a JSON object already read by the strict JSON reader
// (json_text.hpp), for records mrforge writes and reads back (mrforge-app.json, statements).
// Every error is an InputError naming `where` and the field ("where.key: missing"). Templates so
// that nlohmann::json and nlohmann::ordered_json documents share them.
#pragma once

#include <measure/util/errors.hpp>

#include <string>

namespace mrforge {

// obj[key]; `obj` must be an object and have the key.
template <class J> const J &json_field(const J &obj, const char *key, const std::string &where) {
  if (!obj.is_object()) throw InputError(where, "expected a JSON object");
  auto it = obj.find(key);
  if (it == obj.end()) throw InputError(where + "." + key, "missing");
  return *it;
}

template <class J> std::string json_string_field(const J &obj, const char *key, const std::string &where) {
  const J &v = json_field(obj, key, where);
  if (!v.is_string()) throw InputError(where + "." + key, "expected a string");
  return v.template get<std::string>();
}

template <class J> bool json_bool_field(const J &obj, const char *key, const std::string &where) {
  const J &v = json_field(obj, key, where);
  if (!v.is_boolean()) throw InputError(where + "." + key, "expected true or false");
  return v.template get<bool>();
}

} // namespace mrforge
