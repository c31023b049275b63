#include <measure/formats/tcg_log.hpp>
#include <measure/util/errors.hpp>
#include <measure/util/reader.hpp>
#include <measure/util/size_text.hpp>
#include <measure/util/strings.hpp>
#include <measure/verify/verify.hpp>

#include <algorithm>
#include <functional>
#include <utility>

namespace mrforge {

namespace {

constexpr Register k_boot_registers[] = {Register::rtmr0, Register::rtmr1, Register::rtmr2};

std::string reg_label(Register r) { return "RTMR" + std::to_string(static_cast<unsigned>(r)); }

std::string type_label(uint32_t type) {
  const char *n = tcg_event_type_name(type);
  return n ? std::string(n) : "event type " + hex_u64(type);
}

size_t index_of(Register r) { return static_cast<size_t>(r); }

std::vector<const Event *> expected_of(const Measurement &m, Register reg) {
  std::vector<const Event *> out;
  for (const Event &e : m.events)
    if (e.reg == reg) out.push_back(&e);
  return out;
}

bool same(const Event &e, const LoggedEvent &l) { return e.type == l.type && l.digest && *l.digest == e.digest; }

std::string digest_label(const std::optional<Sha384> &d) { return d ? to_hex(*d) : std::string("no digest"); }

std::string describe_expected(const Event &e) { return type_label(e.type) + ", " + e.description; }

std::string describe_actual(const LoggedEvent &l) {
  return type_label(l.type) + " " + digest_label(l.digest) + " (log event " + std::to_string(l.index) + ")";
}

Divergence make_divergence(Register reg, size_t pos, const Event *exp, const LoggedEvent *act,
                           const std::vector<const Event *> &expected, const std::vector<const LoggedEvent *> &actual) {
  Divergence d;
  d.reg = reg;
  d.position = pos;
  if (exp) d.expected = *exp;
  if (act) d.actual = *act;
  std::string where = reg_label(reg) + " event " + std::to_string(pos);
  if (exp && !act) {
    d.message = where + " (" + describe_expected(*exp) + "): expected " + to_hex(exp->digest) + ", the log has no " +
                reg_label(reg) + " event " + std::to_string(pos) + " (" + std::to_string(actual.size()) +
                " events); fed by: " + exp->source;
  } else if (act && !exp) {
    d.message = where + ": the log has an extra event " + describe_actual(*act) + " after the " +
                std::to_string(expected.size()) + " expected";
  } else if (exp && act) {
    // One event of look-ahead tells an inserted or dropped event from a changed one.
    bool extra = pos + 1 < actual.size() && same(*exp, *actual[pos + 1]);
    bool missing = pos + 1 < expected.size() && same(*expected[pos + 1], *act);
    if (extra) {
      d.expected.reset();
      d.message = where + ": the log has an extra event " + describe_actual(*act) + " before the expected " +
                  describe_expected(*exp);
    } else if (missing) {
      d.actual.reset();
      d.message = where + " (" + describe_expected(*exp) + "): missing from the log (the log's event " +
                  std::to_string(pos) + " is the expected event " + std::to_string(pos + 1) + "); expected " +
                  to_hex(exp->digest) + "; fed by: " + exp->source;
    } else {
      std::string has = exp->type == act->type ? digest_label(act->digest) : describe_actual(*act);
      d.message = where + " (" + describe_expected(*exp) + "): expected " + to_hex(exp->digest) + ", the log has " +
                  has + "; fed by: " + exp->source;
    }
  }
  return d;
}

Sha384 fold_of(const std::vector<const Event *> &events) {
  Sha384 mr{};
  for (const Event *e : events) extend(mr, e->digest);
  return mr;
}

Sha384 fold_of(const std::vector<const LoggedEvent *> &events) {
  Sha384 mr{};
  for (const LoggedEvent *e : events)
    if (e->digest) extend(mr, *e->digest);
  return mr;
}

// An alternative run of the engine, named by the assumption it changes.
struct Candidate {
  std::string assumption;
  std::function<Measurement()> run;
};

std::string profile_difference(const PlatformProfile &from, const PlatformProfile &to) {
  std::vector<std::string> diff;
  if (from.mrtd_page_order != to.mrtd_page_order)
    diff.push_back(std::string("MRTD page order ") + page_order_name(to.mrtd_page_order) + " instead of " +
                   page_order_name(from.mrtd_page_order));
  if (from.kernel_header_patch != to.kernel_header_patch)
    diff.push_back(std::string("kernel header patch ") +
                   (to.kernel_header_patch == KernelHeaderPatch::none ? "off" : "on") + " (" +
                   kernel_header_patch_name(to.kernel_header_patch) + ")");
  return "profile " + to.name + " instead of " + from.name + (diff.empty() ? "" : " (" + join(diff, ", ") + ")");
}

std::string ovmf_difference(const OvmfVariant &from, const OvmfVariant &to) {
  std::vector<std::string> diff;
  if (from.separator_boot_register != to.separator_boot_register)
    diff.push_back("ReadyToBoot separator in " + reg_label(to.separator_boot_register) + " instead of " +
                   reg_label(from.separator_boot_register));
  auto secure_boot = [](const OvmfVariant &v) {
    for (const UefiVariable &u : v.secure_boot_variables)
      if (u.name == "SecureBoot") return u.data.empty() ? std::string("absent") : to_hex(u.data);
    return std::string("not measured");
  };
  if (secure_boot(from) != secure_boot(to))
    diff.push_back("SecureBoot " + secure_boot(to) + " instead of " + secure_boot(from));
  if (from.extra_events.size() != to.extra_events.size())
    diff.push_back(std::to_string(to.extra_events.size()) + " extra events instead of " +
                   std::to_string(from.extra_events.size()));
  return "OVMF variant " + to.name + " instead of " + from.name + (diff.empty() ? "" : " (" + join(diff, ", ") + ")");
}

std::vector<uint64_t> neighbouring_memory_sizes(uint64_t given) {
  std::vector<uint64_t> sizes;
  for (unsigned gib : k_diagnosis_memory_gib) sizes.push_back(uint64_t{gib} << 30);
  if (given > (1ull << 30)) sizes.push_back(given - (1ull << 30));
  if (given <= k_max_memory - (1ull << 30)) sizes.push_back(given + (1ull << 30));
  std::sort(sizes.begin(), sizes.end());
  sizes.erase(std::unique(sizes.begin(), sizes.end()), sizes.end());
  sizes.erase(std::remove(sizes.begin(), sizes.end(), given), sizes.end());
  return sizes;
}

bool is_acpi(const Divergence &d) {
  const auto *type = d.expected ? &d.expected->type : d.actual ? &d.actual->type : nullptr;
  return type && *type == event_type::k_platform_config_flags;
}

void compare_values(VerifyReport &r, const std::optional<Sha384> &mrtd,
                    const std::array<std::optional<Sha384>, 3> &rtmr, const TdQuote &quote) {
  if (mrtd) r.mrtd_match = *mrtd == quote.mrtd;
  for (size_t i = 0; i < 3; ++i)
    if (rtmr[i]) r.rtmr_match[i] = *rtmr[i] == quote.rtmr[i];
}

void check_log(VerifyReport &r, const EventLog &log, const TdQuote &quote) {
  r.log_vs_quote = check_log_against_quote(log, quote);
  std::vector<std::string> bad;
  for (const RegisterCheck &c : r.log_vs_quote)
    if (!c.match) bad.push_back(reg_label(c.reg));
  if (!bad.empty())
    r.notes.push_back("the log does not replay to the quote's " + join(bad, ", ") +
                      ": it is not this TD's log or it was altered; divergences found in it are not evidence");
  for (const LoggedEvent &e : log.events)
    if (e.data_check.status == DataCheck::mismatch)
      r.data_mismatches.push_back(DataMismatch{e.index, e.reg, e.type, e.data_check.note});
  if (!r.data_mismatches.empty()) {
    const DataMismatch &first = r.data_mismatches.front();
    r.notes.push_back(std::to_string(r.data_mismatches.size()) + " event(s) carry data that does not match their " +
                      "digest (first: log event " + std::to_string(first.index) + ", " + type_label(first.type) +
                      "): the log's data was altered and is not trusted, whatever the registers say");
  }
  r.log_consistent = bad.empty() && r.data_mismatches.empty();
}

} // namespace

std::vector<RegisterCheck> check_log_against_quote(const EventLog &log, const TdQuote &quote) {
  RtmrValues replayed = replay(log);
  std::vector<RegisterCheck> out;
  for (size_t i = 0; i < 4; ++i)
    out.push_back(RegisterCheck{static_cast<Register>(i), quote.rtmr[i], replayed[i], quote.rtmr[i] == replayed[i]});
  return out;
}

std::vector<Divergence> align(const Measurement &expected, const EventLog &log) {
  std::vector<Divergence> out;
  for (Register reg : k_boot_registers) {
    std::vector<const Event *> exp = expected_of(expected, reg);
    std::vector<const LoggedEvent *> act = events_of(log, reg);
    if (fold_of(exp) == fold_of(act)) continue;
    size_t n = std::max(exp.size(), act.size());
    for (size_t i = 0; i < n; ++i) {
      const Event *e = i < exp.size() ? exp[i] : nullptr;
      const LoggedEvent *a = i < act.size() ? act[i] : nullptr;
      if (e && a && same(*e, *a)) continue;
      out.push_back(make_divergence(reg, i, e, a, exp, act));
      break;
    }
  }
  return out;
}

std::vector<Explanation> diagnose(const PlatformProfile &profile, const OvmfVariant &ovmf, const MeasureInputs &in,
                                  const Measurement &expected, const TdQuote &quote,
                                  const std::vector<Divergence> &divergences, const Alternatives &alternatives,
                                  MrtdPolicy mrtd) {
  bool mrtd_differs = mrtd == MrtdPolicy::compare && expected.mrtd && *expected.mrtd != quote.mrtd;
  std::array<bool, 3> rtmr_differs{};
  bool any = mrtd_differs || !divergences.empty();
  for (size_t i = 0; i < 3; ++i) {
    rtmr_differs[i] = expected.rtmr[i] != quote.rtmr[i];
    any = any || rtmr_differs[i];
  }
  if (!any) return {};

  std::vector<Candidate> candidates;
  if (mrtd_differs) {
    PlatformProfile flipped = profile;
    flipped.mrtd_page_order =
        profile.mrtd_page_order == PageOrder::single_pass ? PageOrder::two_pass : PageOrder::single_pass;
    candidates.push_back({std::string("MRTD page order ") + page_order_name(flipped.mrtd_page_order) + " instead of " +
                              page_order_name(profile.mrtd_page_order),
                          [&, flipped] { return measure(flipped, ovmf, in); }});
  }
  if (rtmr_differs[0] || rtmr_differs[1] || rtmr_differs[2]) {
    for (uint64_t size : neighbouring_memory_sizes(in.memory)) {
      std::string label = "memory " + format_memory_size(size) + " instead of " + format_memory_size(in.memory);
      candidates.push_back({label, [&, size] {
                              MeasureInputs other = in;
                              other.memory = size;
                              return measure(profile, ovmf, other);
                            }});
    }
  }
  for (const PlatformProfile &p : alternatives.profiles)
    if (p.name != profile.name)
      candidates.push_back({profile_difference(profile, p), [&] { return measure(p, ovmf, in); }});
  for (const OvmfVariant &v : alternatives.ovmf_variants)
    if (v.name != ovmf.name) candidates.push_back({ovmf_difference(ovmf, v), [&] { return measure(profile, v, in); }});

  std::vector<Explanation> out;
  for (const Candidate &c : candidates) {
    std::optional<Measurement> m;
    try {
      m = c.run();
    } catch (const Error &) {
      continue; // an alternative the engine cannot compute explains nothing
    }
    std::vector<std::string> reproduced;
    if (mrtd_differs && m->mrtd && *m->mrtd == quote.mrtd) reproduced.push_back("the quote's MRTD");
    for (size_t i = 0; i < 3; ++i)
      if (rtmr_differs[i] && m->rtmr[i] == quote.rtmr[i])
        reproduced.push_back("the quote's " + reg_label(static_cast<Register>(i)));
    for (const Divergence &d : divergences) {
      if (!d.expected || !d.actual || m->rtmr[index_of(d.reg)] == quote.rtmr[index_of(d.reg)]) continue;
      std::vector<const Event *> events = expected_of(*m, d.reg);
      if (d.position < events.size() && same(*events[d.position], *d.actual))
        reproduced.push_back("the log's " + reg_label(d.reg) + " event " + std::to_string(d.position) + " (" +
                             events[d.position]->description + ")");
    }
    if (!reproduced.empty()) out.push_back(Explanation{c.assumption, join(reproduced, ", ")});
  }
  return out;
}

bool VerifyReport::ok() const {
  bool compared = mrtd_match.has_value();
  bool all = mrtd_match.value_or(true);
  for (const auto &m : rtmr_match) {
    compared = compared || m.has_value();
    all = all && m.value_or(true);
  }
  return log_consistent && compared && all && divergences.empty();
}

VerifyReport verify(const PlatformProfile &profile, const OvmfVariant &ovmf, const MeasureInputs &in,
                    const EventLog &log, const TdQuote &quote, const Alternatives &alternatives, MrtdPolicy mrtd) {
  VerifyReport r;
  check_log(r, log, quote);
  Measurement expected = measure(profile, ovmf, in);
  std::optional<Sha384> expected_mrtd = mrtd == MrtdPolicy::compare ? expected.mrtd : std::nullopt;
  if (!expected_mrtd)
    r.notes.push_back(mrtd == MrtdPolicy::ignore ? "MRTD not compared: the firmware was given for its TDVF layout only"
                                                 : "MRTD not compared: no firmware was given");
  compare_values(r, expected_mrtd, {expected.rtmr[0], expected.rtmr[1], expected.rtmr[2]}, quote);
  r.divergences = align(expected, log);
  r.explanations = diagnose(profile, ovmf, in, expected, quote, r.divergences, alternatives, mrtd);

  bool differs = (r.mrtd_match && !*r.mrtd_match) || !r.divergences.empty();
  for (const auto &m : r.rtmr_match) differs = differs || (m && !*m);
  if (differs && r.explanations.empty())
    r.notes.push_back("no neighbouring assumption (MRTD page order, memory size, platform profile, OVMF variant) "
                      "reproduces the TD's values: the input feeding the divergent event itself differs");
  if (std::any_of(r.divergences.begin(), r.divergences.end(), is_acpi))
    r.notes.push_back("an ACPI event diverges: the ACPI blobs depend on the CPU count, memory size and QEMU's "
                      "device model, but mrforge takes them as given (--acpi-tables or --digest) and does not "
                      "generate them yet, so other CPU counts cannot be tried");
  return r;
}

VerifyReport verify(const ExpectedValues &expected, const EventLog &log, const TdQuote &quote) {
  Measurement m;
  m.mrtd = expected.mrtd;
  m.events = expected.events;
  m.rtmr = fold_events(m.events);
  std::array<std::optional<Sha384>, 3> rtmr = expected.rtmr;
  for (size_t i = 0; i < 3; ++i) {
    bool has_events =
        std::any_of(m.events.begin(), m.events.end(), [i](const Event &e) { return index_of(e.reg) == i; });
    if (rtmr[i] && has_events && *rtmr[i] != m.rtmr[i])
      throw InputError("expected", reg_label(static_cast<Register>(i)) + " is given as " + to_hex(*rtmr[i]) +
                                       " but its expected events fold to " + to_hex(m.rtmr[i]));
    if (!rtmr[i] && has_events) rtmr[i] = m.rtmr[i];
  }
  VerifyReport r;
  check_log(r, log, quote);
  if (!expected.mrtd) r.notes.push_back("MRTD not compared: the expected values have none");
  compare_values(r, expected.mrtd, rtmr, quote);
  if (!m.events.empty()) {
    // Only registers the expected side speaks for.
    for (Divergence &d : align(m, log))
      if (rtmr[index_of(d.reg)]) r.divergences.push_back(std::move(d));
  } else
    r.notes.push_back("no expected events: a register that differs cannot be traced to an event");
  return r;
}

} // namespace mrforge
