#include <builder/debian/resolver.hpp>

#include <builder/debian/relations.hpp>
#include <builder/debian/version.hpp>
#include <measure/util/strings.hpp>

#include <algorithm>
#include <deque>
#include <set>

namespace mrforge::builder::debian {

namespace {

struct Candidate {
  const PackageRecord *record = nullptr;
  Version version;
  int priority = 0; // of its index
};

struct Provider {
  const PackageRecord *record = nullptr;
  bool versioned = false;
  Version version;
};

const std::string k_input = "package selection";

class Resolver {
public:
  Resolver(const std::vector<RepositoryIndex> &indexes, const std::string &architecture)
      : m_architecture(architecture) {
    for (const auto &index : indexes) {
      for (const auto &record : index.packages) {
        if (record.architecture != architecture && record.architecture != "all") continue;
        Version v = parse_version(record.version, record.source_index + ": " + record.name);
        auto it = m_candidates.find(record.name);
        if (it == m_candidates.end()) {
          m_candidates.emplace(record.name, Candidate{&record, std::move(v), index.priority});
        } else if (index.priority > it->second.priority ||
                   (index.priority == it->second.priority && compare_versions(v, it->second.version) > 0)) {
          it->second = Candidate{&record, std::move(v), index.priority};
        }
      }
    }
    // std::map: providers are gathered in name order of the providing packages.
    for (const auto &[name, candidate] : m_candidates) {
      for (auto &p : parse_provides(candidate.record->provides, where(*candidate.record, "Provides"))) {
        m_providers[p.name].push_back(Provider{candidate.record, p.versioned, p.version});
      }
    }
  }

  Resolution run(std::vector<std::string> requested, bool follow_dependencies) {
    std::sort(requested.begin(), requested.end());
    requested.erase(std::unique(requested.begin(), requested.end()), requested.end());
    std::deque<const PackageRecord *> queue;
    for (const auto &name : requested) {
      const PackageRecord *record = resolve_requested(name);
      if (select(record, "requested") && follow_dependencies) queue.push_back(record);
    }
    while (!queue.empty()) {
      const PackageRecord *record = queue.front();
      queue.pop_front();
      for (const char *field : {"Pre-Depends", "Depends"}) {
        const std::string &value = std::string(field) == "Depends" ? record->depends : record->pre_depends;
        for (const auto &group : parse_dependencies(value, where(*record, field), m_architecture)) {
          const PackageRecord *chosen = satisfy(*record, group);
          if (chosen && select(chosen, "dependency of " + record->name)) queue.push_back(chosen);
        }
      }
    }
    Resolution out;
    for (const auto &[name, record] : m_selected) out.packages.push_back(*record);
    out.reason = m_reason;
    return out;
  }

private:
  static std::string where(const PackageRecord &r, const char *field) {
    return r.source_index + ": " + r.name + " " + r.version + ": " + field;
  }

  // Selects a record; false if a package of that name is already selected.
  bool select(const PackageRecord *record, const std::string &reason) {
    if (m_selected.count(record->name)) return false;
    m_selected.emplace(record->name, record);
    m_reason.emplace(record->name, reason);
    return true;
  }

  const PackageRecord *resolve_requested(const std::string &name) {
    if (auto it = m_candidates.find(name); it != m_candidates.end()) return it->second.record;
    auto providers = m_providers.find(name);
    if (providers == m_providers.end() || providers->second.empty())
      throw ResolutionError(k_input, "no package named " + name + " is available for " + m_architecture);
    std::vector<std::string> names = provider_names(providers->second);
    if (names.size() > 1)
      throw ResolutionError(k_input, name + " is a virtual package provided by " + join(names, ", ") +
                                         "; name one of them in the recipe");
    return providers->second.front().record;
  }

  static std::vector<std::string> provider_names(const std::vector<Provider> &providers) {
    std::set<std::string> names;
    for (const auto &p : providers) names.insert(p.record->name);
    return {names.begin(), names.end()};
  }

  bool qualifier_ok(const Dependency &d) const {
    return d.arch_qualifier.empty() || d.arch_qualifier == "any" || d.arch_qualifier == "native" ||
           d.arch_qualifier == m_architecture;
  }

  bool real_satisfies(const Dependency &d, const Candidate &c) const {
    return satisfies(c.version, d.relation, d.version);
  }

  bool provider_satisfies(const Dependency &d, const Provider &p) const {
    if (d.relation == Relation::none) return true;
    return p.versioned && satisfies(p.version, d.relation, d.version);
  }

  std::vector<const Provider *> satisfying_providers(const Dependency &d) const {
    std::vector<const Provider *> out;
    auto it = m_providers.find(d.name);
    if (it == m_providers.end()) return out;
    for (const auto &p : it->second)
      if (provider_satisfies(d, p)) out.push_back(&p);
    return out;
  }

  // Returns the record to select, or nullptr when an already selected package satisfies the group.
  const PackageRecord *satisfy(const PackageRecord &from, const Alternatives &group) {
    // 1. Something already selected.
    for (const auto &d : group) {
      if (!qualifier_ok(d)) continue;
      if (auto sel = m_selected.find(d.name); sel != m_selected.end()) {
        const Candidate &c = m_candidates.at(d.name);
        if (c.record == sel->second && real_satisfies(d, c)) return nullptr;
      }
      for (const Provider *p : satisfying_providers(d))
        if (m_selected.count(p->record->name)) return nullptr;
    }
    // 2. The first alternative with a satisfying real package.
    for (const auto &d : group) {
      if (!qualifier_ok(d)) continue;
      if (auto it = m_candidates.find(d.name); it != m_candidates.end() && real_satisfies(d, it->second))
        return it->second.record;
    }
    // 3. The first alternative with a satisfying provider.
    for (const auto &d : group) {
      if (!qualifier_ok(d)) continue;
      std::vector<const Provider *> providers = satisfying_providers(d);
      if (providers.empty()) continue;
      std::set<std::string> names;
      for (const Provider *p : providers) names.insert(p->record->name);
      if (names.size() > 1)
        throw ResolutionError(k_input, from.name + " depends on " + d.to_string() + ", a virtual package provided by " +
                                           join(names, ", ") + "; name one of them in the recipe" + chain(from));
      return providers.front()->record;
    }
    throw ResolutionError(k_input,
                          from.name + " depends on " + group_text(group) + " but " + why_not(group) + chain(from));
  }

  static std::string group_text(const Alternatives &group) {
    return join(group, " | ", [](const auto &alternative) { return alternative.to_string(); });
  }

  std::string why_not(const Alternatives &group) const {
    std::string out;
    for (size_t i = 0; i < group.size(); ++i) {
      const Dependency &d = group[i];
      std::string part;
      auto it = m_candidates.find(d.name);
      if (!qualifier_ok(d)) {
        part = d.name + ":" + d.arch_qualifier + " is for a foreign architecture (only " + m_architecture +
               " and all are resolved)";
      } else if (it != m_candidates.end()) {
        part = d.name + " " + it->second.record->version + " (" + it->second.record->source_index +
               ") is the candidate and does not satisfy it";
      } else if (m_providers.count(d.name)) {
        part = "no provider of " + d.name + " has a matching version";
      } else {
        part = "no package " + d.name + " is available for " + m_architecture;
      }
      out += (i ? "; " : "") + part;
    }
    return out;
  }

  // " (curl is a dependency of libcurl4, which is a dependency of X, which was requested)".
  std::string chain(const PackageRecord &from) const {
    std::string out = " (" + from.name;
    std::string name = from.name;
    std::set<std::string> seen;
    for (;;) {
      auto it = m_reason.find(name);
      if (it == m_reason.end() || !seen.insert(name).second) break;
      if (it->second == "requested") {
        out += seen.size() == 1 ? " was requested" : ", which was requested";
        break;
      }
      const std::string parent = it->second.substr(std::string("dependency of ").size());
      out += seen.size() == 1 ? " is a dependency of " + parent : ", which is a dependency of " + parent;
      name = parent;
    }
    return out + ")";
  }

  std::string m_architecture;
  std::map<std::string, Candidate> m_candidates;
  std::map<std::string, std::vector<Provider>> m_providers;
  std::map<std::string, const PackageRecord *> m_selected;
  std::map<std::string, std::string> m_reason;
};

} // namespace

Resolution resolve_dependencies(const std::vector<std::string> &requested, const std::vector<RepositoryIndex> &indexes,
                                const std::string &architecture, const ResolveOptions &options) {
  Resolver resolver(indexes, architecture);
  return resolver.run(requested, options.follow_dependencies);
}

} // namespace mrforge::builder::debian
