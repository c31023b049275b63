// verify --app: a dstack TD's RTMR3 against the record of an app mrforge built (mrforge-app.json),
// and, when the compose hash differs, what differs. An auditor has the record and the quote with
// its log; the log's compose-hash event holds only sha256(app-compose.json), which cannot be
// inverted to a service. So: without the deployed app-compose.json, the report lists the record's
// services and digests as what determines the hash; with --app-compose FILE (whose sha256 must be
// the TD's compose hash, or it is not what the TD ran), each service whose image differs from the
// record is named, as are differing app-compose fields.
#pragma once

#include "output.hpp"

#include <measure/documents/dstack_app.hpp>
#include <measure/verify/dstack_app_check.hpp>

#include <string>
#include <vector>

namespace mrforge::cli {

struct AppVerification {
  AppRecord record;
  AppCheck check;
  bool log_trusted = false;             // the log replays to the quote (without it nothing is claimed)
  std::vector<std::string> explanation; // for a compose-hash mismatch: what differs or what decides the hash
  bool ok() const { return log_trusted && check.ok(); }
};

// The record of `app` (an app output directory or its mrforge-app.json), and the path read.
AppRecord read_app_record(const std::string &app);

// `app` is an app output directory or its mrforge-app.json; `app_compose` the deployed
// app-compose.json or empty. Throws InputError / FormatError for unreadable or malformed files
// and for a record whose app-compose.json beside it does not hash to its compose_hash.
AppVerification verify_app(const std::string &app, const std::string &app_compose, const EventLog &log,
                           bool log_trusted);

// The RTMR3 section of verify's text report, and the clause of its summary line.
void print_app_verification(const AppVerification &v);
std::string app_summary(const AppVerification &v);
Json app_verification_json(const AppVerification &v);

} // namespace mrforge::cli
