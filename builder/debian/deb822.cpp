#include <builder/debian/deb822.hpp>

#include <measure/util/errors.hpp>

#include <limits>

namespace mrforge::builder::debian {

namespace {

bool is_blank(char c) { return c == ' ' || c == '\t'; }

std::string_view trim(std::string_view s) {
  while (!s.empty() && (is_blank(s.front()) || s.front() == '\r')) s.remove_prefix(1);
  while (!s.empty() && (is_blank(s.back()) || s.back() == '\r')) s.remove_suffix(1);
  return s;
}

std::string_view trim_right(std::string_view s) {
  while (!s.empty() && (is_blank(s.back()) || s.back() == '\r')) s.remove_suffix(1);
  return s;
}

int to_line_number(size_t n, const std::string &source) {
  if (n > static_cast<size_t>(std::numeric_limits<int>::max()))
    throw DocumentError(source, std::numeric_limits<int>::max(), 1, "too many lines");
  return static_cast<int>(n);
}

char ascii_lower(char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c; }

} // namespace

bool iequals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i)
    if (ascii_lower(a[i]) != ascii_lower(b[i])) return false;
  return true;
}

std::vector<std::string> split_words(std::string_view value) {
  std::vector<std::string> out;
  size_t i = 0;
  while (i < value.size()) {
    while (i < value.size() && (is_blank(value[i]) || value[i] == '\n' || value[i] == '\r')) ++i;
    size_t start = i;
    while (i < value.size() && !(is_blank(value[i]) || value[i] == '\n' || value[i] == '\r')) ++i;
    if (i > start) out.emplace_back(value.substr(start, i - start));
  }
  return out;
}

const Field *Paragraph::find(std::string_view name) const {
  for (const auto &f : fields)
    if (iequals(f.name, name)) return &f;
  return nullptr;
}

std::string Paragraph::get(std::string_view name, const std::string &fallback) const {
  const Field *f = find(name);
  return f ? f->value : fallback;
}

const std::string &Paragraph::required(std::string_view name) const {
  const Field *f = find(name);
  if (!f) throw DocumentError(source, line, 1, "paragraph has no " + std::string(name) + " field");
  if (f->value.empty()) throw DocumentError(source, f->line, 1, "field " + f->name + " is empty");
  return f->value;
}

std::string Paragraph::to_text() const {
  std::string out;
  for (const auto &f : fields) {
    out += f.name;
    if (f.raw.empty() && !f.value.empty()) {
      out += f.value.front() == '\n' ? ":" : ": ";
      out += f.value;
    } else {
      out += ':';
      out += f.raw;
    }
    out += '\n';
  }
  return out;
}

std::vector<Paragraph> parse_deb822(std::string_view text, const std::string &source, Comments comments) {
  std::vector<Paragraph> out;
  Paragraph current;
  bool in_paragraph = false;
  size_t pos = 0;
  size_t line_index = 0;
  auto finish = [&]() {
    if (in_paragraph) out.push_back(std::move(current));
    current = Paragraph{};
    in_paragraph = false;
  };
  while (pos < text.size()) {
    ++line_index;
    const int line_no = to_line_number(line_index, source);
    size_t end = text.find('\n', pos);
    if (end == std::string_view::npos) end = text.size();
    std::string_view line = text.substr(pos, end - pos);
    pos = end + 1;

    if (size_t nul = line.find('\0'); nul != std::string_view::npos)
      throw DocumentError(source, line_no, static_cast<int>(nul + 1), "NUL byte");
    if (trim(line).empty()) {
      finish();
      continue;
    }
    if (line.front() == '#') {
      if (comments == Comments::skip) continue;
      throw DocumentError(source, line_no, 1, "comment lines are not allowed here");
    }
    if (is_blank(line.front())) {
      if (!in_paragraph || current.fields.empty())
        throw DocumentError(source, line_no, 1, "continuation line without a field before it");
      Field &f = current.fields.back();
      f.value += '\n';
      f.value += trim_right(line);
      f.raw += '\n';
      f.raw += line;
      continue;
    }
    size_t colon = line.find(':');
    if (colon == std::string_view::npos)
      throw DocumentError(source, line_no, 1, "expected \"Field: value\", found no ':'");
    std::string_view name = line.substr(0, colon);
    if (name.empty()) throw DocumentError(source, line_no, 1, "empty field name");
    if (name.size() > k_max_field_name)
      throw DocumentError(source, line_no, 1, "field name longer than " + std::to_string(k_max_field_name));
    if (name.front() == '-') throw DocumentError(source, line_no, 1, "field name starts with '-'");
    for (size_t i = 0; i < name.size(); ++i) {
      unsigned char c = static_cast<unsigned char>(name[i]);
      if (c <= 0x20 || c >= 0x7f)
        throw DocumentError(source, line_no, static_cast<int>(i + 1), "invalid character in field name");
    }
    if (!in_paragraph) {
      in_paragraph = true;
      current.source = source;
      current.line = line_no;
    }
    if (const Field *dup = current.find(name))
      throw DocumentError(source, line_no, 1,
                          "duplicate field " + std::string(name) + " (first on line " + std::to_string(dup->line) +
                              ")");
    current.fields.push_back(Field{std::string(name), std::string(trim(line.substr(colon + 1))),
                                   std::string(line.substr(colon + 1)), line_no});
  }
  finish();
  return out;
}

} // namespace mrforge::builder::debian
