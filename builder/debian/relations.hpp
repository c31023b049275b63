// Relationship fields of binary packages (Debian Policy §7.1, deb-control(5)): Depends,
// Pre-Depends (a comma-separated list of groups of '|'-separated alternatives) and Provides.
//
//   Depends: libc6 (>= 2.34), debconf (>= 0.5) | debconf-2.0, python3:any, foo [amd64] <!nocheck>
//
// Each alternative is a package name, an optional architecture qualifier (":any", ":native",
// ":amd64"), an optional version constraint "(op version)" with op one of << <= = >= >> (the
// obsolete "<" and ">" mean "<=" and ">=", as dpkg reads them), an optional architecture
// restriction list "[amd64 !i386 linux-any]" and optional build-profile formulas "<!nocheck>".
// Restrictions are evaluated here for the target architecture and for binary packages, i.e. with
// no build profile active; alternatives that do not apply are dropped, and so is a group whose
// alternatives all drop out.
#pragma once

#include <builder/debian/version.hpp>

#include <string>
#include <string_view>
#include <vector>

namespace mrforge::builder::debian {

// Debian Policy 5.6.1: lower-case letters, digits, '+', '-' and '.', starting with a letter or
// digit. Policy also asks for two characters at least; dpkg accepts one (and so does unpacking),
// the names a recipe writes must have two.
bool is_package_name(std::string_view name);

enum class Relation { none, earlier, earlier_equal, equal, later_equal, later }; // none, <<, <=, =, >=, >>

struct Dependency {
  std::string name;
  std::string arch_qualifier; // "", "any", "native" or an architecture name
  Relation relation = Relation::none;
  Version version; // meaningful when relation != none

  // "openssl (>= 1.1.1)", "python3:any" for messages.
  std::string to_string() const;
};

using Alternatives = std::vector<Dependency>; // "a | b": at least one must hold

struct Provision {
  std::string name;
  bool versioned = false;
  Version version; // meaningful when versioned ("Provides: foo (= 1.2)")
};

// Parses a Depends or Pre-Depends value. `what` names the field in errors
// ("bookworm/main: curl: Depends"); throws InputError. An empty value gives an empty list.
std::vector<Alternatives> parse_dependencies(std::string_view value, const std::string &what,
                                             const std::string &architecture);

// Parses a Provides value: no alternatives, only "=" constraints. Throws InputError.
std::vector<Provision> parse_provides(std::string_view value, const std::string &what);

// Whether `candidate` meets "relation required".
bool satisfies(const Version &candidate, Relation relation, const Version &required);

const char *relation_text(Relation relation); // "", "<<", "<=", "=", ">=", ">>"

// Whether an architecture restriction entry ("amd64", "linux-any", "any-amd64", "any") matches
// the Debian architecture `architecture` (which runs Linux: every architecture we build for).
bool architecture_matches(std::string_view pattern, std::string_view architecture);

} // namespace mrforge::builder::debian
