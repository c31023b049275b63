// Printing helpers shared by the subcommands: JSON (ordered keys, lowercase hex) and aligned text.
// Text from inputs never reaches the terminal raw: table cells and print_line escape it
// (measure/util/terminal_text.hpp), and main() routes stdout and stderr through a TerminalGuard so that
// nothing else can either.
#pragma once

#include <measure/documents/measurement_json.hpp>
#include <measure/formats/event.hpp>

#include <nlohmann/json.hpp>

#include <iostream>
#include <streambuf>
#include <string>
#include <string_view>
#include <vector>

namespace mrforge::cli {

using Json = nlohmann::ordered_json;

// Prints JSON. Strings from inputs stay data (JSON escapes control characters). JSON text is
// UTF-8: a string that is not (a path, a command line, a name from an input) cannot be printed
// without changing it, so nothing is printed and InputError (exit 2) names its JSON pointer; the
// raw bytes of events are given as hex fields, which always print.
void print_json(const Json &j);
// The same serialisation without printing (for files written with --output).
std::string json_output(const Json &j);
using mrforge::event_json;
using mrforge::event_type_label;
// A dstack runtime-event payload for people: quoted text when printable ASCII, else hex (a compose
// hash, an app id), so that an auditor reads the values themselves.
std::string payload_text(ByteView payload);
// A plain table: each row is a list of cells; columns padded to their widest cell. Each cell is
// one line: control characters in it are escaped (terminal_text).
void print_table(const std::vector<std::vector<std::string>> &rows);
// One line of text that may hold input text, escaped (terminal_text) and ended with '\n'.
void print_line(std::string_view text, std::ostream &out = std::cout);
// An error message for stderr: terminal_text keeping its newlines, cut after k_max_message_bytes.
constexpr size_t k_max_message_bytes = 4096;
std::string message_text(std::string_view message);

// While alive, everything written to std::cout and std::cerr passes through terminal_text (keeping
// newlines and tabs), so that a raw escape sequence or invalid UTF-8 cannot reach the terminal
// from any print, including those that forget to escape. Restores both streams when destroyed.
class TerminalGuard {
public:
  TerminalGuard();
  ~TerminalGuard();
  TerminalGuard(const TerminalGuard &) = delete;
  TerminalGuard &operator=(const TerminalGuard &) = delete;

private:
  class Filter : public std::streambuf {
  public:
    explicit Filter(std::streambuf *sink);
    ~Filter() override;
    Filter(const Filter &) = delete;
    Filter &operator=(const Filter &) = delete;
    std::streambuf *sink() const { return m_sink; }
    bool drain(bool everything);

  protected:
    int_type overflow(int_type c) override;
    int sync() override;

  private:
    std::streambuf *m_sink;
    char m_buffer[4096];
    std::string m_pending; // bytes that may start a UTF-8 sequence the next write completes
  };
  Filter m_out;
  Filter m_err;
};

} // namespace mrforge::cli
