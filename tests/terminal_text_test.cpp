// Escaping untrusted text for terminals: what a terminal would act on becomes visible, printable
// UTF-8 stays as it is, and quoted input is cut short.
#include <measure/util/terminal_text.hpp>

#include <catch2/catch.hpp>

#include <string>

using mrforge::complete_utf8_prefix;
using mrforge::echoed;
using mrforge::Newlines;
using mrforge::terminal_text;

TEST_CASE("Control characters become visible escapes", "[terminal_text]") {
  CHECK(terminal_text("RESULT: OK") == "RESULT: OK");
  CHECK(terminal_text("x\nRESULT: OK") == "x\\nRESULT: OK");
  CHECK(terminal_text("a\rb\tc") == "a\\rb\\tc");
  CHECK(terminal_text("\x1b[8mhidden\x1b[0m") == "\\x1b[8mhidden\\x1b[0m");
  CHECK(terminal_text(std::string("nul\0del\x7f", 8)) == "nul\\x00del\\x7f");
  CHECK(terminal_text("\x07\x08") == "\\x07\\x08");
  // Several lines: newline and tab pass, everything else is escaped.
  CHECK(terminal_text("one\n\ttwo\x1b]0;title\x07\r", Newlines::keep) == "one\n\ttwo\\x1b]0;title\\x07\\r");
}

TEST_CASE("Printable UTF-8 is kept, C1 controls, bidi overrides and malformed UTF-8 are escaped", "[terminal_text]") {
  CHECK(terminal_text("caf\xc3\xa9 \xe2\x80\x94 \xf0\x9f\x94\x92") == "caf\xc3\xa9 \xe2\x80\x94 \xf0\x9f\x94\x92");
  CHECK(terminal_text("\xc2\x9b"
                      "31m") == "\\u009b31m"); // CSI as a UTF-8 C1 control
  CHECK(terminal_text("\x9b"
                      "31m") == "\\x9b31m"); // and as a raw byte
  CHECK(terminal_text("a\xe2\x80\xae"
                      "cba") == "a\\u202ecba");                           // right-to-left override
  CHECK(terminal_text("\xe2\x80\xa8|\xe2\x81\xa6") == "\\u2028|\\u2066"); // line separator, isolate
  CHECK(terminal_text("\xc0\xaf") == "\\xc0\\xaf");                       // overlong '/'
  CHECK(terminal_text("\xe0\x80\xaf") == "\\xe0\\x80\\xaf");              // overlong, 3 bytes
  CHECK(terminal_text("\xed\xa0\x80") == "\\xed\\xa0\\x80");              // a surrogate
  CHECK(terminal_text("\xf4\x90\x80\x80") == "\\xf4\\x90\\x80\\x80");     // above U+10FFFF
  CHECK(terminal_text("ok\xe2\x82") == "ok\\xe2\\x82");                   // truncated
  CHECK(terminal_text("\xff\xfe") == "\\xff\\xfe");
}

TEST_CASE("Quoted input is escaped and cut after k_max_echoed_bytes", "[terminal_text]") {
  CHECK(echoed("short\n") == "short\\n");
  std::string big(50 << 20, 'x');
  std::string e = echoed(big);
  CHECK(e.size() < mrforge::k_max_echoed_bytes + 40);
  CHECK(e == std::string(mrforge::k_max_echoed_bytes, 'x') + "... (52428800 bytes)");
  // A cut never splits a UTF-8 sequence into escapes.
  std::string accents;
  while (accents.size() < 300) accents += "\xc3\xa9";
  std::string cut = echoed("x" + accents);
  CHECK(cut.find("\\x") == std::string::npos);
}

TEST_CASE("complete_utf8_prefix holds back only an unfinished sequence", "[terminal_text]") {
  CHECK(complete_utf8_prefix("abc") == 3);
  CHECK(complete_utf8_prefix("ab\xc3") == 2);
  CHECK(complete_utf8_prefix("ab\xc3\xa9") == 4);
  CHECK(complete_utf8_prefix("a\xf0\x9f\x94") == 1);
  CHECK(complete_utf8_prefix("a\xf0\x9f\x94\x92") == 5);
  CHECK(complete_utf8_prefix("a\x80\x80\x80\x80") == 5); // stray continuation bytes: nothing to wait for
  CHECK(complete_utf8_prefix("") == 0);
}
