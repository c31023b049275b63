// Printing helpers shared by the subcommands: JSON (ordered keys, lowercase hex) and aligned text.
#pragma once

#include <measure/event.hpp>

#include <nlohmann/json.hpp>

#include <string>
#include <vector>

namespace mrforge::cli {

using Json = nlohmann::ordered_json;

void print_json(const Json &j);
// The TCG name of an event type, or its hex value when the TCG defines none.
std::string event_type_label(uint32_t type);
Json event_json(const Event &e);
// A dstack runtime-event payload for people: quoted text when printable ASCII, else hex (a compose
// hash, an app id), so that an auditor reads the values themselves.
std::string payload_text(ByteView payload);
// A plain table: each row is a list of cells; columns padded to their widest cell.
void print_table(const std::vector<std::vector<std::string>> &rows);

} // namespace mrforge::cli
