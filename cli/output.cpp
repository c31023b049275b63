#include "output.hpp"

#include <measure/reader.hpp>
#include <measure/tcg_log.hpp>
#include <measure/terminal_text.hpp>

#include <algorithm>
#include <iostream>

namespace mrforge::cli {

std::string json_output(const Json &j) { return j.dump(2, ' ', false, Json::error_handler_t::replace) + "\n"; }

void print_json(const Json &j) { std::cout << json_output(j); }

std::string payload_text(ByteView payload) {
  for (uint8_t c : payload)
    if (c < 0x20 || c > 0x7E) return to_hex(payload);
  return "\"" + std::string(payload.begin(), payload.end()) + "\"";
}

void print_table(const std::vector<std::vector<std::string>> &rows) {
  std::vector<std::vector<std::string>> cells;
  std::vector<size_t> width;
  for (const auto &r : rows) {
    std::vector<std::string> line;
    for (size_t i = 0; i < r.size(); ++i) {
      line.push_back(terminal_text(r[i]));
      if (width.size() <= i) width.push_back(0);
      width[i] = std::max(width[i], line.back().size());
    }
    cells.push_back(std::move(line));
  }
  for (const auto &r : cells) {
    std::string line;
    for (size_t i = 0; i < r.size(); ++i) {
      line += r[i];
      if (i + 1 < r.size()) line += std::string(width[i] - r[i].size() + 2, ' ');
    }
    std::cout << line << "\n";
  }
}

void print_line(std::string_view text, std::ostream &out) { out << terminal_text(text) << "\n"; }

std::string message_text(std::string_view message) {
  if (message.size() <= k_max_message_bytes) return terminal_text(message, Newlines::keep);
  std::string_view head = message.substr(0, complete_utf8_prefix(message.substr(0, k_max_message_bytes)));
  return terminal_text(head, Newlines::keep) + "... (message cut: " + std::to_string(message.size()) + " bytes)";
}

TerminalGuard::Filter::Filter(std::streambuf *sink) : m_sink(sink) { setp(m_buffer, m_buffer + sizeof m_buffer); }

TerminalGuard::Filter::~Filter() { drain(true); }

bool TerminalGuard::Filter::drain(bool everything) {
  m_pending.append(pbase(), pptr());
  setp(m_buffer, m_buffer + sizeof m_buffer);
  size_t n = everything ? m_pending.size() : complete_utf8_prefix(m_pending);
  std::string out = terminal_text(std::string_view(m_pending).substr(0, n), Newlines::keep);
  m_pending.erase(0, n);
  return m_sink->sputn(out.data(), static_cast<std::streamsize>(out.size())) ==
         static_cast<std::streamsize>(out.size());
}

TerminalGuard::Filter::int_type TerminalGuard::Filter::overflow(int_type c) {
  if (!drain(false)) return traits_type::eof();
  if (!traits_type::eq_int_type(c, traits_type::eof())) {
    *pptr() = traits_type::to_char_type(c);
    pbump(1);
  }
  return traits_type::not_eof(c);
}

int TerminalGuard::Filter::sync() { return drain(false) && m_sink->pubsync() == 0 ? 0 : -1; }

TerminalGuard::TerminalGuard() : m_out(std::cout.rdbuf()), m_err(std::cerr.rdbuf()) {
  std::cout.rdbuf(&m_out);
  std::cerr.rdbuf(&m_err);
}

TerminalGuard::~TerminalGuard() {
  std::cout.flush();
  std::cerr.flush();
  m_out.drain(true);
  m_err.drain(true);
  m_out.sink()->pubsync();
  m_err.sink()->pubsync();
  std::cout.rdbuf(m_out.sink());
  std::cerr.rdbuf(m_err.sink());
}

} // namespace mrforge::cli
