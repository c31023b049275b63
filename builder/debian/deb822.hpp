// Debian control-format paragraphs (deb822(5), Debian Policy §5.1): Packages files, the signed
// content of InRelease, a .deb's control file, dpkg's status file and apt's *.sources files.
//
// A paragraph is a run of fields separated from the next by one or more blank lines (empty or
// only spaces/tabs). A field is "Name: value" starting in column 1; a line starting with a space
// or tab continues the previous field. Field names are 1..k_max_field_name printable ASCII
// characters without ':', not starting with '#' or '-', and unique within a paragraph (compared
// case-insensitively). Lines starting with '#' are comments where the format allows them (apt's
// sources) and errors elsewhere. NUL bytes are errors. A trailing CR on a line is dropped.
//
// A field's value is the first line's text without surrounding whitespace, then each continuation
// line after a '\n' as written (with its leading space) minus trailing whitespace. For rewriting
// (dpkg's status needs the original order and text) each field also keeps its raw text, byte for
// byte, so Paragraph::to_text() reproduces the input exactly.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace mrforge::builder::debian {

struct Field {
  std::string name; // as written
  std::string value;
  std::string raw; // everything after "Name:" up to the field's last newline (exclusive), as written
  int line = 0;    // 1-based line of the field's first line
};

struct Paragraph {
  std::string source; // the source name given to the parser
  int line = 0;       // 1-based line of the first field
  std::vector<Field> fields;

  // Case-insensitive lookup; nullptr if absent.
  const Field *find(std::string_view name) const;
  bool has(std::string_view name) const { return find(name) != nullptr; }
  // The value, or `fallback` if the field is absent.
  std::string get(std::string_view name, const std::string &fallback = "") const;
  // The value; throws DocumentError(source, line of the paragraph) if absent or empty.
  const std::string &required(std::string_view name) const;
  // Every field in order as "Name:" + raw + "\n" (so parsed paragraphs come back byte for byte);
  // fields built in code with an empty raw are written as "Name: value\n".
  std::string to_text() const;
};

enum class Comments { reject, skip };

// Parses every paragraph of `text`. Throws DocumentError(source, line, column, message).
std::vector<Paragraph> parse_deb822(std::string_view text, const std::string &source,
                                    Comments comments = Comments::reject);

// Case-insensitive ASCII equality, as field names compare.
bool iequals(std::string_view a, std::string_view b);

// Splits on spaces, tabs and newlines (for whitespace-separated values such as Architectures).
std::vector<std::string> split_words(std::string_view value);

constexpr size_t k_max_field_name = 255;

} // namespace mrforge::builder::debian
