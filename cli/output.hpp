// Printing helpers shared by the subcommands: JSON (ordered keys, lowercase hex) and aligned text.
#pragma once

#include <measure/event.hpp>
#include <measure/measurement_json.hpp>

#include <nlohmann/json.hpp>

#include <string>
#include <vector>

namespace mrforge::cli {

using Json = nlohmann::ordered_json;

void print_json(const Json &j);
using mrforge::event_json;
using mrforge::event_type_label;
// A dstack runtime-event payload for people: quoted text when printable ASCII, else hex (a compose
// hash, an app id), so that an auditor reads the values themselves.
std::string payload_text(ByteView payload);
// A plain table: each row is a list of cells; columns padded to their widest cell.
void print_table(const std::vector<std::vector<std::string>> &rows);

} // namespace mrforge::cli
