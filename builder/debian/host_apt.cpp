#include <builder/debian/host_apt.hpp>

#include <builder/debian/deb822.hpp>
#include <measure/util/errors.hpp>
#include <measure/util/file_io.hpp>
#include <measure/util/mapped_file.hpp>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <tuple>

namespace mrforge::builder::debian {

namespace {

namespace fs = std::filesystem;

std::string strip_trailing_slash(std::string uri) {
  while (uri.size() > 1 && uri.back() == '/') uri.pop_back();
  return uri;
}

std::vector<std::string> split_on(const std::string &s, char sep) {
  std::vector<std::string> out;
  std::string cur;
  for (char c : s) {
    if (c == sep) {
      if (!cur.empty()) out.push_back(cur);
      cur.clear();
    } else {
      cur += c;
    }
  }
  if (!cur.empty()) out.push_back(cur);
  return out;
}

struct Context {
  std::string architecture;
  std::string root;
  bool default_keyring_exists = false;
};

std::string host_path(const Context &ctx, const std::string &path) {
  if (ctx.root == "/" || ctx.root.empty()) return path;
  return (fs::path(ctx.root) / fs::path(path).relative_path()).string();
}

// Signed-By: one absolute path. Inline keys and fingerprints are refused.
std::string keyring_for(const Context &ctx, const std::string &signed_by, const std::string &where) {
  if (signed_by.find("BEGIN PGP") != std::string::npos)
    throw InputError(where, "Signed-By holds an inline key block; mrforge verifies with gpgv against a keyring "
                            "file, so put the key in a file (e.g. /usr/share/keyrings/NAME.gpg) and name it in "
                            "Signed-By");
  std::vector<std::string> words = split_words(signed_by);
  if (words.size() != 1 || words[0].front() != '/')
    throw InputError(where, "Signed-By \"" + signed_by + "\" is not the absolute path of one keyring file " +
                                "(fingerprints are not supported); name a keyring file");
  return host_path(ctx, words[0]);
}

std::string default_keyring(const Context &ctx) {
  return ctx.default_keyring_exists ? host_path(ctx, k_default_debian_keyring) : std::string();
}

bool arch_allowed(const std::vector<std::string> &archs, const std::string &architecture) {
  return archs.empty() || std::find(archs.begin(), archs.end(), architecture) != archs.end();
}

void add_entry(std::vector<AptSource> &out, const Context &ctx, const std::string &uri, const std::string &suite,
               std::vector<std::string> components, const std::string &keyring, const std::string &file, int line) {
  if (suite.empty() || suite.back() == '/' || components.empty())
    throw DocumentError(file, line, 1,
                        "flat repository \"" + uri + " " + suite + "\" is not supported (mrforge reads dists/SUITE)");
  AptSource s;
  s.uri = strip_trailing_slash(uri);
  s.suite = suite;
  s.components = std::move(components);
  s.architecture = ctx.architecture;
  s.keyring = keyring;
  out.push_back(std::move(s));
}

// One-line format: "deb [opt=v opt2=v1,v2] URI SUITE [COMPONENT...]", '#' starts a comment.
void read_one_line(std::vector<AptSource> &out, const Context &ctx, const std::string &file) {
  std::string text = read_text_file(file, limits::k_text_record);
  std::istringstream lines(text);
  std::string raw;
  int line_no = 0;
  while (std::getline(lines, raw)) {
    ++line_no;
    std::string line = raw.substr(0, raw.find('#'));
    std::string options;
    if (size_t open = line.find('['); open != std::string::npos) {
      size_t close = line.find(']', open);
      if (close == std::string::npos) throw DocumentError(file, line_no, static_cast<int>(open + 1), "missing ']'");
      options = line.substr(open + 1, close - open - 1);
      line = line.substr(0, open) + " " + line.substr(close + 1);
    }
    std::vector<std::string> words = split_words(line);
    if (words.empty()) continue;
    if (words[0] == "deb-src") continue;
    if (words[0] != "deb") throw DocumentError(file, line_no, 1, "unknown entry type \"" + words[0] + "\"");
    if (words.size() < 3) throw DocumentError(file, line_no, 1, "expected \"deb URI SUITE COMPONENT...\"");
    std::vector<std::string> archs;
    std::string keyring = default_keyring(ctx);
    bool enabled = true;
    for (const auto &opt : split_words(options)) {
      size_t eq = opt.find('=');
      if (eq == std::string::npos) throw DocumentError(file, line_no, 1, "option \"" + opt + "\" has no '='");
      std::string key = opt.substr(0, eq), value = opt.substr(eq + 1);
      if (key == "arch")
        archs = split_on(value, ',');
      else if (key == "signed-by")
        keyring = keyring_for(ctx, value, file + ":" + std::to_string(line_no));
      else if (key == "enabled")
        enabled = value != "no";
      // Other options (lang, target, trusted, ...) do not change what we fetch.
    }
    if (!enabled || !arch_allowed(archs, ctx.architecture)) continue;
    add_entry(out, ctx, words[1], words[2], std::vector<std::string>(words.begin() + 3, words.end()), keyring, file,
              line_no);
  }
}

void read_deb822(std::vector<AptSource> &out, const Context &ctx, const std::string &file) {
  for (const Paragraph &p : parse_deb822(read_text_file(file, limits::k_text_record), file, Comments::skip)) {
    std::vector<std::string> types = split_words(p.get("Types"));
    if (types.empty()) throw DocumentError(file, p.line, 1, "entry has no Types field");
    if (std::find(types.begin(), types.end(), "deb") == types.end()) continue;
    if (iequals(p.get("Enabled", "yes"), "no")) continue;
    if (!arch_allowed(split_words(p.get("Architectures")), ctx.architecture)) continue;
    std::vector<std::string> uris = split_words(p.required("URIs"));
    std::vector<std::string> suites = split_words(p.required("Suites"));
    std::vector<std::string> components = split_words(p.get("Components"));
    std::string keyring = default_keyring(ctx);
    if (const Field *f = p.find("Signed-By"))
      keyring = keyring_for(ctx, f->value, file + ":" + std::to_string(f->line));
    for (const auto &uri : uris)
      for (const auto &suite : suites) add_entry(out, ctx, uri, suite, components, keyring, file, p.line);
  }
}

bool ends_with(const std::string &s, const std::string &suffix) {
  return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

} // namespace

bool AptSource::operator<(const AptSource &o) const {
  return std::tie(uri, suite, components, architecture, keyring) <
         std::tie(o.uri, o.suite, o.components, o.architecture, o.keyring);
}

std::vector<AptSource> host_apt_sources(const std::string &architecture, const std::string &root) {
  Context ctx;
  ctx.architecture = architecture;
  ctx.root = root;
  std::error_code ec;
  ctx.default_keyring_exists = fs::is_regular_file(host_path(ctx, k_default_debian_keyring), ec);

  std::vector<AptSource> out;
  const std::string list = host_path(ctx, "/etc/apt/sources.list");
  if (fs::is_regular_file(list, ec)) read_one_line(out, ctx, list);
  const std::string dir = host_path(ctx, "/etc/apt/sources.list.d");
  if (fs::is_directory(dir, ec)) {
    std::vector<std::string> files;
    for (fs::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
      std::string name = it->path().filename().string();
      if (name.find(".disabled") != std::string::npos) continue;
      if (!ends_with(name, ".list") && !ends_with(name, ".sources")) continue;
      files.push_back(it->path().string());
    }
    if (ec) throw SystemError(dir, ec.message());
    std::sort(files.begin(), files.end());
    for (const auto &f : files) {
      if (ends_with(f, ".list"))
        read_one_line(out, ctx, f);
      else
        read_deb822(out, ctx, f);
    }
  }
  std::sort(out.begin(), out.end());
  out.erase(std::unique(out.begin(), out.end()), out.end());
  return out;
}

} // namespace mrforge::builder::debian
