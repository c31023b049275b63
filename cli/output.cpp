#include "output.hpp"

#include <measure/formats/tcg_log.hpp>
#include <measure/util/errors.hpp>
#include <measure/util/reader.hpp>
#include <measure/util/terminal_text.hpp>

#include <algorithm>
#include <iostream>

namespace mrforge::cli {

namespace {

// The offset of the first byte of `s` that does not belong to well-formed UTF-8 (RFC 3629: no
// overlong forms, no surrogates, nothing above U+10FFFF), or npos.
size_t invalid_utf8_at(const std::string &s) {
  size_t i = 0;
  while (i < s.size()) {
    const auto c = static_cast<unsigned char>(s[i]);
    size_t n = c < 0x80                   ? 1
               : (c >= 0xC2 && c <= 0xDF) ? 2
               : (c >= 0xE0 && c <= 0xEF) ? 3
               : (c >= 0xF0 && c <= 0xF4) ? 4
                                          : 0;
    if (n == 0 || n > s.size() - i) return i;
    for (size_t k = 1; k < n; ++k)
      if ((static_cast<unsigned char>(s[i + k]) & 0xC0) != 0x80) return i;
    const auto c1 = static_cast<unsigned char>(n > 1 ? s[i + 1] : 0);
    if ((c == 0xE0 && c1 < 0xA0) || (c == 0xED && c1 > 0x9F) || (c == 0xF0 && c1 < 0x90) || (c == 0xF4 && c1 > 0x8F))
      return i;
    i += n;
  }
  return std::string::npos;
}

// The JSON pointer of the first string (key or value) in `j` that is not UTF-8, and the offset
// of its bad byte; empty when there is none.
std::string find_invalid_utf8(const Json &j, const std::string &where, size_t &offset) {
  if (j.is_string()) {
    offset = invalid_utf8_at(j.get_ref<const std::string &>());
    return offset == std::string::npos ? std::string() : (where.empty() ? "/" : where);
  }
  if (j.is_object()) {
    for (auto it = j.begin(); it != j.end(); ++it) {
      std::string path = where + "/" + it.key();
      if ((offset = invalid_utf8_at(it.key())) != std::string::npos) return path; // the key itself
      std::string found = find_invalid_utf8(it.value(), path, offset);
      if (!found.empty()) return found;
    }
  }
  if (j.is_array())
    for (size_t i = 0; i < j.size(); ++i) {
      std::string found = find_invalid_utf8(j[i], where + "/" + std::to_string(i), offset);
      if (!found.empty()) return found;
    }
  return {};
}

} // namespace

std::string json_output(const Json &j) {
  // JSON text is UTF-8 (RFC 8259); a value that is not (a path, a command line, a string from an
  // input) cannot be printed as JSON without changing it. Said before anything is printed.
  size_t offset = 0;
  std::string where = find_invalid_utf8(j, "", offset);
  if (!where.empty()) {
    std::string shown;
    for (char c : where.substr(0, 80))
      shown += static_cast<unsigned char>(c) >= 0x20 && static_cast<unsigned char>(c) < 0x7f ? c : '?';
    throw InputError("--json", "the value at " + shown + " is not valid UTF-8 (byte " + std::to_string(offset) +
                                   "), so it cannot be printed as JSON; give UTF-8 input, or leave out --json");
  }
  try {
    return j.dump(2) + "\n";
  } catch (const nlohmann::json::type_error &e) { // the check above should have caught it
    throw InputError("--json", std::string("cannot be printed as JSON: ") + e.what());
  }
}

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
