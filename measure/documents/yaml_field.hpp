// Strict reading of YAML documents (recipes, platform profiles, OVMF variants) with yaml-cpp.
// A YamlField is a node plus the path that led to it ("files[2].mode"), so that every error names
// file, line, column and field and says what was expected. Unknown and duplicate keys are errors.
#pragma once

#include <measure/util/bytes.hpp>

#include <yaml-cpp/yaml.h>

#include <cstdint>
#include <initializer_list>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace mrforge {

class YamlField {
public:
  YamlField(YAML::Node node, std::string file, std::string path);

  // Throws DocumentError(file, line, column, "path: message").
  [[noreturn]] void fail(const std::string &message) const;

  // A mapping whose keys must all be in `allowed` and appear once.
  void expect_map(std::initializer_list<const char *> allowed) const;
  YamlField required(const std::string &key) const;
  std::optional<YamlField> optional(const std::string &key) const;

  std::string str() const;
  uint64_t u64() const; // decimal or 0x hex
  uint32_t u32() const;
  int64_t i64() const;   // decimal
  bool boolean() const;  // true / false only
  uint32_t mode() const; // file mode as an octal string or YAML int written in octal ("0755")
  Bytes hex() const;
  std::vector<YamlField> list() const;
  std::vector<std::string> str_list() const;
  // A mapping of string keys (in document order) to fields.
  std::vector<std::pair<std::string, YamlField>> entries() const;

  const YAML::Node &node() const { return m_node; }
  const std::string &file() const { return m_file; }
  const std::string &path() const { return m_path; }
  int line() const;   // 1-based, 0 if unknown
  int column() const; // 1-based, 0 if unknown

private:
  std::string join(const std::string &key) const { return m_path.empty() ? key : m_path + "." + key; }
  YAML::Node m_node;
  std::string m_file;
  std::string m_path;
};

// Parses YAML (or JSON, which yaml-cpp reads as YAML) text into a node. Throws DocumentError with
// the parser's line and column and "<syntax> syntax error: ..." (syntax: "YAML", "JSON"), and for
// what mrforge's documents never need and an attacker could use to exhaust memory or the stack
// (checked on the parser's events before any node is built): an anchor or alias, nesting deeper
// than limits::k_max_yaml_depth, more than limits::k_max_yaml_nodes values, a second document.
YAML::Node parse_yaml_text(const std::string &text, const std::string &file, const char *syntax);

// Parses a YAML document that must be a mapping with `apiVersion: mrforge/v1` and `kind: KIND`.
// Throws DocumentError for syntax errors (with the parser's position) and wrong header fields.
YamlField load_yaml_document(const std::string &yaml, const std::string &file, const char *kind);
// The same, for documents that may hold one of several kinds; returns the root and the kind.
std::pair<YamlField, std::string> load_yaml_document_any(const std::string &yaml, const std::string &file,
                                                         std::initializer_list<const char *> kinds);

} // namespace mrforge
