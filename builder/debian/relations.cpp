#include <builder/debian/relations.hpp>

#include <measure/util/errors.hpp>

#include <algorithm>

namespace mrforge::builder::debian {

namespace {

bool is_space(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }

std::string_view trim(std::string_view s) {
  while (!s.empty() && is_space(s.front())) s.remove_prefix(1);
  while (!s.empty() && is_space(s.back())) s.remove_suffix(1);
  return s;
}

bool is_name_char(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '+' || c == '-' || c == '.';
}

bool is_lower_alnum(char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'); }

std::vector<std::string_view> split(std::string_view s, char sep) {
  std::vector<std::string_view> out;
  size_t start = 0;
  for (;;) {
    size_t pos = s.find(sep, start);
    if (pos == std::string_view::npos) {
      out.push_back(s.substr(start));
      return out;
    }
    out.push_back(s.substr(start, pos - start));
    start = pos + 1;
  }
}

// A small cursor over one alternative's text.
class Cursor {
public:
  Cursor(std::string_view text, const std::string &what) : m_text(text), m_what(what) {}
  void skip_space() {
    while (m_pos < m_text.size() && is_space(m_text[m_pos])) ++m_pos;
  }
  bool at_end() const { return m_pos >= m_text.size(); }
  char peek() const { return at_end() ? '\0' : m_text[m_pos]; }
  bool consume(char c) {
    if (peek() != c) return false;
    ++m_pos;
    return true;
  }
  // Text up to (not including) `stop`, which is consumed.
  std::string_view until(char stop) {
    size_t end = m_text.find(stop, m_pos);
    if (end == std::string_view::npos) throw fail(std::string("missing '") + stop + "'");
    std::string_view out = m_text.substr(m_pos, end - m_pos);
    m_pos = end + 1;
    return out;
  }
  std::string_view take_while(bool (*pred)(char)) {
    size_t start = m_pos;
    while (m_pos < m_text.size() && pred(m_text[m_pos])) ++m_pos;
    return m_text.substr(start, m_pos - start);
  }
  InputError fail(const std::string &message) const {
    return InputError(m_what, "\"" + std::string(trim(m_text)) + "\": " + message);
  }

private:
  std::string_view m_text;
  size_t m_pos = 0;
  const std::string &m_what;
};

bool is_arch_char(char c) { return is_name_char(c) && c != '+' && c != '.'; }

struct ParsedAlternative {
  Dependency dependency;
  bool applies = true;
};

ParsedAlternative parse_alternative(std::string_view text, const std::string &what, const std::string &architecture) {
  Cursor c(text, what);
  ParsedAlternative out;
  c.skip_space();
  std::string_view name = c.take_while(is_name_char);
  if (name.empty()) throw c.fail("expected a package name");
  out.dependency.name = std::string(name);
  if (c.consume(':')) {
    std::string_view qualifier = c.take_while(is_arch_char);
    if (qualifier.empty()) throw c.fail("empty architecture qualifier after ':'");
    out.dependency.arch_qualifier = std::string(qualifier);
  }
  c.skip_space();
  if (c.consume('(')) {
    std::string_view inner = trim(c.until(')'));
    size_t op_len = 0;
    while (op_len < inner.size() && (inner[op_len] == '<' || inner[op_len] == '>' || inner[op_len] == '=')) ++op_len;
    std::string_view op = inner.substr(0, op_len);
    if (op == "<<")
      out.dependency.relation = Relation::earlier;
    else if (op == "<=" || op == "<")
      out.dependency.relation = Relation::earlier_equal;
    else if (op == "=")
      out.dependency.relation = Relation::equal;
    else if (op == ">=" || op == ">")
      out.dependency.relation = Relation::later_equal;
    else if (op == ">>")
      out.dependency.relation = Relation::later;
    else
      throw c.fail("unknown version relation \"" + std::string(op) + "\"");
    out.dependency.version = parse_version(trim(inner.substr(op_len)), what);
    c.skip_space();
  }
  if (c.consume('[')) {
    std::string_view list = c.until(']');
    bool any_positive = false, matched_positive = false, matched_negative = false;
    size_t count = 0;
    for (const auto &word : split(list, ' ')) {
      std::string_view w = trim(word);
      if (w.empty()) continue;
      ++count;
      bool negated = w.front() == '!';
      if (negated) w.remove_prefix(1);
      if (w.empty()) throw c.fail("empty architecture in restriction list");
      for (char ch : w)
        if (!is_arch_char(ch)) throw c.fail("invalid architecture \"" + std::string(w) + "\" in restriction list");
      bool match = architecture_matches(w, architecture);
      if (negated) {
        matched_negative = matched_negative || match;
      } else {
        any_positive = true;
        matched_positive = matched_positive || match;
      }
    }
    if (count == 0) throw c.fail("empty architecture restriction list");
    // Policy §7.1: a list of positive entries applies when one matches; "!" entries when none does.
    out.applies = any_positive ? matched_positive : !matched_negative;
    c.skip_space();
  }
  // Build profiles: "<a !b> <c>" is satisfied when some group has all its terms true. For binary
  // packages no profile is active, so "x" is false and "!x" is true.
  bool saw_profile = false, profile_satisfied = false;
  while (c.consume('<')) {
    std::string_view group = c.until('>');
    bool all_true = true;
    size_t terms = 0;
    for (const auto &term : split(group, ' ')) {
      std::string_view t = trim(term);
      if (t.empty()) continue;
      ++terms;
      bool negated = t.front() == '!';
      if (negated) t.remove_prefix(1);
      if (t.empty()) throw c.fail("empty build profile");
      if (!negated) all_true = false;
    }
    if (terms == 0) throw c.fail("empty build profile formula");
    saw_profile = true;
    profile_satisfied = profile_satisfied || all_true;
    c.skip_space();
  }
  if (saw_profile && !profile_satisfied) out.applies = false;
  c.skip_space();
  if (!c.at_end()) throw c.fail(std::string("unexpected '") + c.peek() + "'");
  return out;
}

} // namespace

bool is_package_name(std::string_view name) {
  if (name.empty() || !is_lower_alnum(name.front())) return false;
  return std::all_of(name.begin(), name.end(),
                     [](char c) { return is_lower_alnum(c) || c == '+' || c == '-' || c == '.'; });
}

std::string Dependency::to_string() const {
  std::string out = name;
  if (!arch_qualifier.empty()) out += ":" + arch_qualifier;
  if (relation != Relation::none) out += std::string(" (") + relation_text(relation) + " " + version.to_string() + ")";
  return out;
}

const char *relation_text(Relation relation) {
  switch (relation) {
  case Relation::none: return "";
  case Relation::earlier: return "<<";
  case Relation::earlier_equal: return "<=";
  case Relation::equal: return "=";
  case Relation::later_equal: return ">=";
  case Relation::later: return ">>";
  }
  return "?";
}

bool satisfies(const Version &candidate, Relation relation, const Version &required) {
  if (relation == Relation::none) return true;
  int c = compare_versions(candidate, required);
  switch (relation) {
  case Relation::none: return true;
  case Relation::earlier: return c < 0;
  case Relation::earlier_equal: return c <= 0;
  case Relation::equal: return c == 0;
  case Relation::later_equal: return c >= 0;
  case Relation::later: return c > 0;
  }
  return false;
}

bool architecture_matches(std::string_view pattern, std::string_view architecture) {
  if (pattern == "any" || pattern == architecture) return true;
  // Every architecture name without an OS part ("amd64", "arm64") is Linux.
  if (pattern == "linux-any") return architecture.find('-') == std::string_view::npos;
  if (pattern.rfind("any-", 0) == 0) return pattern.substr(4) == architecture;
  if (pattern.rfind("linux-", 0) == 0) return pattern.substr(6) == architecture;
  return false;
}

std::vector<Alternatives> parse_dependencies(std::string_view value, const std::string &what,
                                             const std::string &architecture) {
  std::vector<Alternatives> out;
  if (trim(value).empty()) return out;
  const std::vector<std::string_view> groups = split(value, ',');
  for (size_t g = 0; g < groups.size(); ++g) {
    std::string_view group_text = groups[g];
    if (trim(group_text).empty()) {
      // A trailing comma is tolerated; an empty group elsewhere is an error.
      if (g + 1 == groups.size()) continue;
      throw InputError(what, "\"" + std::string(trim(value)) + "\": empty dependency between commas");
    }
    Alternatives group;
    bool any_alternative = false;
    for (const auto &alt_text : split(group_text, '|')) {
      if (trim(alt_text).empty())
        throw InputError(what, "\"" + std::string(trim(group_text)) + "\": empty alternative");
      ParsedAlternative alt = parse_alternative(alt_text, what, architecture);
      any_alternative = true;
      if (alt.applies) group.push_back(std::move(alt.dependency));
    }
    if (any_alternative && !group.empty()) out.push_back(std::move(group));
  }
  return out;
}

std::vector<Provision> parse_provides(std::string_view value, const std::string &what) {
  std::vector<Provision> out;
  if (trim(value).empty()) return out;
  for (const auto &item : split(value, ',')) {
    if (trim(item).empty()) throw InputError(what, "\"" + std::string(trim(value)) + "\": empty entry");
    if (item.find('|') != std::string_view::npos)
      throw InputError(what, "\"" + std::string(trim(item)) + "\": alternatives are not allowed in Provides");
    ParsedAlternative alt = parse_alternative(item, what, "");
    const Dependency &d = alt.dependency;
    if (!d.arch_qualifier.empty() && d.arch_qualifier != "any")
      throw InputError(what, "\"" + std::string(trim(item)) + "\": architecture qualifier in Provides");
    if (d.relation != Relation::none && d.relation != Relation::equal)
      throw InputError(what, "\"" + std::string(trim(item)) + "\": only \"=\" is allowed in Provides");
    Provision p;
    p.name = d.name;
    p.versioned = d.relation == Relation::equal;
    p.version = d.version;
    out.push_back(std::move(p));
  }
  return out;
}

} // namespace mrforge::builder::debian
