#include "attestation_files.hpp"

#include <measure/documents/attestation_inputs.hpp>
#include <measure/util/mapped_file.hpp>

namespace mrforge::cli {

TdQuote read_quote(const std::string &path) {
  Bytes file = read_file(path, limits::k_quote);
  Bytes quote = quote_bytes_from_input(file, path);
  // A raw TDREPORT (what the guest's TDCALL returns) starts with REPORTMACSTRUCT, whose first byte
  // is REPORTTYPE.TYPE = 0x81; a quote starts with its u16 version (4 or 5).
  if (quote.size() == k_td_report_size && quote[0] == 0x81) return parse_td_report(quote, path);
  return parse_td_quote(quote, path);
}

EventLog read_event_log(const std::string &path, const std::string &ima_path) {
  Bytes file = read_file(path, limits::k_event_log);
  EventLog log = event_log_from_input(file, path);
  if (!ima_path.empty()) {
    Bytes ima = read_file(ima_path, limits::k_ima_list);
    for (LoggedEvent &e : ima_events(ima, ima_path)) {
      e.index = log.events.size();
      log.events.push_back(std::move(e));
    }
  }
  return log;
}

} // namespace mrforge::cli
