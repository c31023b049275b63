#include <measure/documents/yaml_field.hpp>
#include <measure/util/errors.hpp>
#include <measure/util/hash.hpp>
#include <measure/util/input_limits.hpp>
#include <measure/util/size_text.hpp>
#include <measure/util/strings.hpp>

#include <yaml-cpp/eventhandler.h>

#include <algorithm>
#include <charconv>
#include <optional>
#include <set>
#include <sstream>
#include <string_view>

namespace mrforge {

namespace {
constexpr const char *k_api_version = "mrforge/v1";

// The limits every YAML text passes before yaml-cpp builds nodes from it (a first pass over the
// parser's events, which never builds anything): no anchors or aliases (an alias bomb of a few KB
// expands into gigabytes of nodes; mrforge's documents never need them), nesting at most
// limits::k_max_yaml_depth deep, at most limits::k_max_yaml_nodes nodes, and one document.
class LimitCheck : public YAML::EventHandler {
public:
  LimitCheck(const std::string &file, const char *syntax) : m_file(file), m_syntax(syntax) {}

  void OnDocumentStart(const YAML::Mark &mark) override {
    if (++m_documents > 1)
      fail(mark, "a second document (after '---'); a " + m_syntax + " file here holds exactly one");
  }
  void OnDocumentEnd() override {}
  void OnNull(const YAML::Mark &mark, YAML::anchor_t anchor) override { node(mark, anchor); }
  void OnAlias(const YAML::Mark &mark, YAML::anchor_t) override {
    fail(mark, "aliases (*name) are not supported: write the value out in full");
  }
  void OnAnchor(const YAML::Mark &mark, const std::string &name) override {
    fail(mark, "anchors (&" + name.substr(0, 64) + ") and aliases are not supported: write the value out in full");
  }
  void OnScalar(const YAML::Mark &mark, const std::string &, YAML::anchor_t anchor, const std::string &) override {
    node(mark, anchor);
  }
  void OnSequenceStart(const YAML::Mark &mark, const std::string &, YAML::anchor_t anchor,
                       YAML::EmitterStyle::value) override {
    open(mark, anchor);
  }
  void OnSequenceEnd() override { --m_depth; }
  void OnMapStart(const YAML::Mark &mark, const std::string &, YAML::anchor_t anchor,
                  YAML::EmitterStyle::value) override {
    open(mark, anchor);
  }
  void OnMapEnd() override { --m_depth; }

private:
  [[noreturn]] void fail(const YAML::Mark &mark, const std::string &message) const {
    throw DocumentError(m_file, mark.line + 1, mark.column + 1, message);
  }
  void node(const YAML::Mark &mark, YAML::anchor_t anchor) {
    if (anchor != YAML::NullAnchor)
      fail(mark, "anchors (&name) and aliases are not supported: write the value out in full");
    if (++m_nodes > limits::k_max_yaml_nodes)
      fail(mark, "more than " + std::to_string(limits::k_max_yaml_nodes) + " values in one document; mrforge reads " +
                     "at most that many");
  }
  void open(const YAML::Mark &mark, YAML::anchor_t anchor) {
    node(mark, anchor);
    if (++m_depth > limits::k_max_yaml_depth)
      fail(mark, "lists and mappings nested deeper than " + std::to_string(limits::k_max_yaml_depth) +
                     " levels; mrforge reads " + m_syntax + " nested at most that deep");
  }

  const std::string &m_file;
  std::string m_syntax;
  int m_depth = 0;
  uint64_t m_nodes = 0;
  int m_documents = 0;
};

} // namespace

YamlField::YamlField(YAML::Node node, std::string file, std::string path)
    : m_node(std::move(node)), m_file(std::move(file)), m_path(std::move(path)) {}

int YamlField::line() const {
  YAML::Mark m = m_node.Mark();
  return m.is_null() ? 0 : m.line + 1;
}

int YamlField::column() const {
  YAML::Mark m = m_node.Mark();
  return m.is_null() ? 0 : m.column + 1;
}

void YamlField::fail(const std::string &message) const {
  throw DocumentError(m_file, line(), column(), (m_path.empty() ? std::string() : m_path + ": ") + message);
}

void YamlField::expect_map(std::initializer_list<const char *> allowed) const {
  if (!m_node.IsMap()) fail("expected a mapping");
  std::set<std::string> seen;
  for (const auto &kv : m_node) {
    YamlField key_field(kv.first, m_file, m_path);
    if (!kv.first.IsScalar()) key_field.fail("keys must be strings");
    std::string key = kv.first.Scalar();
    if (std::none_of(allowed.begin(), allowed.end(), [&](const char *a) { return key == a; })) {
      YamlField(kv.first, m_file, join(key)).fail("unknown key (allowed here: " + mrforge::join(allowed, ", ") + ")");
    }
    if (!seen.insert(key).second) YamlField(kv.first, m_file, join(key)).fail("key given twice");
  }
}

YamlField YamlField::required(const std::string &key) const {
  YAML::Node n = m_node[key];
  if (!n) fail("missing required field '" + key + "'");
  return YamlField(n, m_file, join(key));
}

std::optional<YamlField> YamlField::optional(const std::string &key) const {
  YAML::Node n = m_node[key];
  if (!n) return std::nullopt;
  return YamlField(n, m_file, join(key));
}

std::string YamlField::str() const {
  if (!m_node.IsScalar()) fail("expected a string");
  return m_node.Scalar();
}

uint64_t YamlField::u64() const {
  std::string s = str();
  // `010` would be octal to C (strtoull base 0) and decimal to a reader: refused either way.
  if (s.size() > 1 && s[0] == '0' && s[1] != 'x' && s[1] != 'X')
    fail("'" + s +
         "' has a leading zero, which is ambiguous (octal or decimal?): write it without the zero, or as 0x hex");
  bool hex = s.size() > 2 && s[0] == '0' && (s[1] == 'x' || s[1] == 'X');
  std::optional<uint64_t> v = parse_unsigned(hex ? std::string_view(s).substr(2) : std::string_view(s), hex ? 16 : 10);
  if (!v) fail("expected an unsigned integer (decimal or 0x hex), got '" + s + "'");
  return *v;
}

uint32_t YamlField::u32() const {
  uint64_t v = u64();
  if (v > UINT32_MAX) fail("value " + str() + " does not fit in 32 bits");
  return static_cast<uint32_t>(v);
}

int64_t YamlField::i64() const {
  std::string s = str();
  int64_t v = 0;
  const char *end = s.data() + s.size();
  auto [ptr, ec] = std::from_chars(s.data(), end, v, 10);
  if (s.empty() || ec != std::errc() || ptr != end) fail("expected a decimal integer, got '" + s + "'");
  return v;
}

bool YamlField::boolean() const {
  std::string s = str();
  if (s == "true") return true;
  if (s == "false") return false;
  fail("expected true or false, got '" + s + "'");
}

uint32_t YamlField::mode() const {
  std::string s = str();
  bool ok = !s.empty() && s.size() <= 5 && std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '7'; });
  if (!ok) fail("expected an octal file mode such as \"0644\" or \"0755\" (quote it), got '" + s + "'");
  uint64_t v = parse_unsigned(s, 8).value_or(UINT64_MAX); // five octal digits always fit
  if (v > 07777) fail("mode '" + s + "' has bits beyond 07777");
  return static_cast<uint32_t>(v);
}

Bytes YamlField::hex() const {
  try {
    return from_hex(str(), m_path);
  } catch (const InputError &e) {
    fail(e.what());
  }
}

std::vector<YamlField> YamlField::list() const {
  if (!m_node.IsSequence()) fail("expected a list");
  std::vector<YamlField> out;
  size_t i = 0;
  for (const auto &n : m_node) out.emplace_back(n, m_file, m_path + "[" + std::to_string(i++) + "]");
  return out;
}

std::vector<std::string> YamlField::str_list() const {
  std::vector<std::string> out;
  for (const YamlField &f : list()) out.push_back(f.str());
  return out;
}

std::vector<std::pair<std::string, YamlField>> YamlField::entries() const {
  if (!m_node.IsMap()) fail("expected a mapping");
  std::vector<std::pair<std::string, YamlField>> out;
  std::set<std::string> seen;
  for (const auto &kv : m_node) {
    if (!kv.first.IsScalar()) YamlField(kv.first, m_file, m_path).fail("keys must be strings");
    std::string key = kv.first.Scalar();
    if (!seen.insert(key).second) YamlField(kv.first, m_file, join(key)).fail("key given twice");
    out.emplace_back(key, YamlField(kv.second, m_file, join(key)));
  }
  return out;
}

YAML::Node parse_yaml_text(const std::string &text, const std::string &file, const char *syntax) {
  try {
    {
      std::istringstream in(text);
      YAML::Parser parser(in);
      LimitCheck check(file, syntax);
      while (parser.HandleNextDocument(check)) {
      }
    }
    return YAML::Load(text);
  } catch (const YAML::ParserException &e) {
    throw DocumentError(file, e.mark.line + 1, e.mark.column + 1, std::string(syntax) + " syntax error: " + e.msg);
  }
}

std::pair<YamlField, std::string> load_yaml_document_any(const std::string &yaml, const std::string &file,
                                                         std::initializer_list<const char *> kinds) {
  YAML::Node root = parse_yaml_text(yaml, file, "YAML");
  YamlField f(root, file, "");
  std::string kind_list = join(kinds, " or ");
  if (!root.IsMap()) f.fail("expected a " + kind_list + " document (a mapping)");
  std::string api = f.required("apiVersion").str();
  if (api != k_api_version)
    f.required("apiVersion").fail("unsupported apiVersion '" + api + "' (this mrforge reads " + k_api_version + ")");
  std::string k = f.required("kind").str();
  if (std::none_of(kinds.begin(), kinds.end(), [&](const char *a) { return k == a; }))
    f.required("kind").fail("expected kind " + kind_list + ", got '" + k + "'");
  return {f, k};
}

YamlField load_yaml_document(const std::string &yaml, const std::string &file, const char *kind) {
  return load_yaml_document_any(yaml, file, {kind}).first;
}

} // namespace mrforge
