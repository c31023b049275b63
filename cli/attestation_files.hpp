// Reading a quote and an event log from the files a user names (binary, hex text or dstack JSON),
// shared by `eventlog`, `quote` and `verify`.
#pragma once

#include <measure/formats/event_log.hpp>
#include <measure/formats/quote.hpp>

#include <string>

namespace mrforge::cli {

TdQuote read_quote(const std::string &path);
// The log, with the IMA measurement list `ima_path` (if not empty) appended to it.
EventLog read_event_log(const std::string &path, const std::string &ima_path);

} // namespace mrforge::cli
