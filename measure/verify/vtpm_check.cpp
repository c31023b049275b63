#include <measure/util/errors.hpp>
#include <measure/verify/vtpm_check.hpp>

#include <algorithm>
#include <cstdio>
#include <map>
#include <tuple>

namespace mrforge {

namespace {

// TCG PFP 1.06 table 9: the PCR0 records OVMF logs for its own code (SEC/PEI/DXE firmware
// volumes and the CRTM version). In a TD these are covered by MRTD, so the engine's event list
// does not predict them.
constexpr uint32_t k_ev_s_crtm_version = 0x00000008;
constexpr uint32_t k_ev_efi_platform_firmware_blob = 0x80000008;
constexpr uint32_t k_ev_efi_platform_firmware_blob2 = 0x8000000A;

bool firmware_code_event(const LogEvent &e) {
  return e.index == 0 && (e.type == k_ev_s_crtm_version || e.type == k_ev_efi_platform_firmware_blob ||
                          e.type == k_ev_efi_platform_firmware_blob2);
}

std::string type_label(uint32_t type) {
  if (const char *n = tcg_event_type_name(type)) return n;
  char buf[16];
  std::snprintf(buf, sizeof buf, "0x%08x", type);
  return buf;
}

struct Placed {
  EventCheck check;
  long key_log;   // log position this check sorts at
  int key_order;  // 0: at that position, 1: just after it
  size_t key_seq; // tie-break: predicted order, or log order for unexpected events
};

} // namespace

std::vector<uint32_t> tpm_pcrs_of(EventStep step) {
  switch (step) {
  case EventStep::secure_boot_variables:
  case EventStep::separator_firmware: return {7};
  case EventStep::kernel:
  case EventStep::boot_application:
  case EventStep::grub_application:
  case EventStep::calling_efi_application: return {4};
  case EventStep::gpt: return {5};
  case EventStep::uki_sections: return {11}; // systemd-stub: TPM2_PCR_KERNEL_BOOT
  case EventStep::boot_variables:
  case EventStep::acpi_tables: return {1};
  case EventStep::separator_boot: return {0, 1, 2, 3, 4, 5, 6};
  case EventStep::cmdline:
  case EventStep::initrd: return {9};
  case EventStep::exit_boot_services_invocation:
  case EventStep::exit_boot_services_returned: return {5};
  case EventStep::shim_measurements: // 14 and 7, per event (Event::tpm_pcr)
  case EventStep::grub_measurements: // 8 and 9, per event
  case EventStep::td_hob:
  case EventStep::cfv:
  case EventStep::ovmf_extra_events: return {};
  }
  return {};
}

const char *check_status_name(CheckStatus s) {
  switch (s) {
  case CheckStatus::pass: return "pass";
  case CheckStatus::fail: return "FAIL";
  case CheckStatus::not_predicted: return "skip";
  }
  return "?";
}

VtpmPrediction predict_vtpm(const PlatformProfile &profile, const OvmfVariant &ovmf, const MeasureInputs &in) {
  if (profile.measured_into != MeasurementTarget::tpm_pcrs)
    throw InputError("profile " + profile.name,
                     "measures into TDX RTMRs; the vTPM check needs a profile with `measured_into: tpm-pcrs` "
                     "(e.g. qemu-7.2-vtpm)");
  // No MRTD on a TPM: the firmware file feeds no vTPM step, so leave it out (computing MRTD per
  // step would only cost time).
  MeasureInputs inputs = in;
  inputs.firmware.reset();
  VtpmPrediction out;
  // One engine run per step tells which step each event came from; the steps are independent, so
  // the concatenation is exactly what one run over the whole list gives.
  const std::vector<EventStep> &steps = event_steps_for(profile, in);
  for (EventStep step : steps) {
    PlatformProfile one = profile;
    std::vector<EventStep> &list = !in.disk_boot       ? one.events
                                   : in.disk_boot->uki ? one.uki_events
                                                       : one.shim_grub_events;
    list = {step};
    Measurement m = measure(one, ovmf, inputs);
    if (out.measurement.inputs.empty()) out.measurement.inputs = m.inputs;
    std::vector<uint32_t> pcrs = tpm_pcrs_of(step);
    const bool own_pcrs = std::all_of(m.events.begin(), m.events.end(), [](const Event &e) { return e.tpm_pcr; });
    if (!m.events.empty() && pcrs.empty() && !own_pcrs)
      throw InputError(
          "profile " + profile.name + " (" + profile.source.location + ")",
          std::string("step ") + event_step_name(step) +
              " has no TPM counterpart (TD-only or given by RTMR only); remove it from a tpm-pcrs profile");
    if (pcrs.size() > 1 && m.events.size() != 1)
      throw Error(std::string("step ") + event_step_name(step) + " yielded " + std::to_string(m.events.size()) +
                  " events; one was expected (it is logged once per PCR)");
    for (const Event &e : m.events) {
      if (e.tpm_pcr) { // a step whose events go to different PCRs (shim's, GRUB's)
        out.events.push_back(PcrEvent{*e.tpm_pcr, step, e});
        out.measurement.events.push_back(e);
        continue;
      }
      for (uint32_t pcr : pcrs) out.events.push_back(PcrEvent{pcr, step, e});
      out.measurement.events.push_back(e);
    }
  }
  out.measurement.rtmr = fold_events(out.measurement.events);
  return out;
}

std::vector<EventCheck> check_vtpm_log(const TcgLog &log, const std::vector<PcrEvent> &predicted) {
  if (!log.has_algorithm(k_tpm_alg_sha384))
    throw FormatError(log.source, 0, "the log has no SHA-384 bank (start swtpm with --pcr-banks sha256,sha384)");

  // Log records that are extended and predictable, with their SHA-384 digests.
  std::vector<Sha384> digests(log.events.size());
  std::vector<Placed> placed;
  std::map<uint32_t, std::vector<size_t>> log_by_pcr;
  for (size_t i = 0; i < log.events.size(); ++i) {
    const LogEvent &e = log.events[i];
    if (e.type == k_ev_no_action) continue;
    const Bytes *d = e.find(k_tpm_alg_sha384);
    if (!d || d->size() != 48)
      throw FormatError(log.source, e.offset,
                        "event " + std::to_string(i) + " has no 48-byte SHA-384 digest although the Spec ID lists it");
    digests[i] = to_sha384(*d);
    if (firmware_code_event(e)) {
      placed.push_back({EventCheck{type_label(e.type), e.index, CheckStatus::not_predicted, "", to_hex(digests[i]),
                                   "OVMF's own code (MRTD in a TD): not predicted", i},
                        static_cast<long>(i), 0, i});
      continue;
    }
    log_by_pcr[e.index].push_back(i);
  }
  std::map<uint32_t, std::vector<size_t>> predicted_by_pcr;
  for (size_t i = 0; i < predicted.size(); ++i) predicted_by_pcr[predicted[i].pcr].push_back(i);

  std::vector<std::optional<size_t>> match_of(predicted.size()); // predicted -> log index (pass or mismatch)
  std::vector<bool> digest_ok(predicted.size(), false);
  std::vector<bool> log_used(log.events.size(), false);

  auto same = [&](size_t p, size_t l) {
    return predicted[p].event.type == log.events[l].type && predicted[p].event.digest == digests[l];
  };

  std::vector<uint32_t> pcrs;
  for (const auto &kv : predicted_by_pcr) pcrs.push_back(kv.first);
  for (const auto &kv : log_by_pcr)
    if (!predicted_by_pcr.count(kv.first)) pcrs.push_back(kv.first);
  for (uint32_t pcr : pcrs) {
    const std::vector<size_t> &ps = predicted_by_pcr[pcr];
    const std::vector<size_t> &ls = log_by_pcr[pcr];
    // Longest common subsequence of (type, digest), by dynamic programming over suffixes.
    size_t n = ps.size(), m = ls.size();
    std::vector<std::vector<size_t>> lcs(n + 1, std::vector<size_t>(m + 1, 0));
    for (size_t a = n; a-- > 0;)
      for (size_t b = m; b-- > 0;)
        lcs[a][b] = same(ps[a], ls[b]) ? lcs[a + 1][b + 1] + 1 : std::max(lcs[a + 1][b], lcs[a][b + 1]);
    std::vector<std::pair<size_t, size_t>> anchors; // positions in ps, ls
    for (size_t a = 0, b = 0; a < n && b < m;) {
      if (same(ps[a], ls[b]) && lcs[a][b] == lcs[a + 1][b + 1] + 1) {
        anchors.emplace_back(a, b);
        ++a;
        ++b;
      } else if (lcs[a + 1][b] >= lcs[a][b + 1]) {
        ++a;
      } else {
        ++b;
      }
    }
    anchors.emplace_back(n, m); // sentinel
    size_t a0 = 0, b0 = 0;
    for (const auto &[a1, b1] : anchors) {
      // Between anchors: pair events of the same type in order (a digest that differs).
      size_t b = b0;
      for (size_t a = a0; a < a1; ++a) {
        for (size_t k = b; k < b1; ++k) {
          if (predicted[ps[a]].event.type == log.events[ls[k]].type) {
            match_of[ps[a]] = ls[k];
            log_used[ls[k]] = true;
            b = k + 1;
            break;
          }
        }
      }
      if (a1 < n) {
        match_of[ps[a1]] = ls[b1];
        digest_ok[ps[a1]] = true;
        log_used[ls[b1]] = true;
      }
      a0 = a1 + 1;
      b0 = b1 + 1;
    }
  }

  // Where a digest appears in the log, for notes on missing (moved) events.
  auto find_in_log = [&](const PcrEvent &p) -> std::optional<size_t> {
    for (size_t i = 0; i < log.events.size(); ++i)
      if (log.events[i].type == p.event.type && log.events[i].type != k_ev_no_action && digests[i] == p.event.digest &&
          !(log.events[i].index == p.pcr && log_used[i]))
        return i;
    return std::nullopt;
  };

  long last_log = -1;
  for (size_t i = 0; i < predicted.size(); ++i) {
    const PcrEvent &p = predicted[i];
    EventCheck c;
    c.what = p.event.description;
    c.pcr = p.pcr;
    c.expected = to_hex(p.event.digest);
    if (match_of[i]) {
      size_t l = *match_of[i];
      c.log_index = l;
      c.actual = to_hex(digests[l]);
      if (digest_ok[i]) {
        c.status = CheckStatus::pass;
        c.note = p.event.source;
      } else {
        c.status = CheckStatus::fail;
        c.note = "log event " + std::to_string(l) + " has a different digest; predicted " + p.event.source;
      }
      last_log = static_cast<long>(l);
      placed.push_back({c, last_log, 0, i});
      continue;
    }
    c.status = CheckStatus::fail;
    if (std::optional<size_t> elsewhere = find_in_log(p)) {
      const LogEvent &e = log.events[*elsewhere];
      c.note = "missing here: the same event is log event " + std::to_string(*elsewhere) + " in PCR" +
               std::to_string(e.index) + (e.index == p.pcr ? " (out of order)" : "");
    } else {
      c.note = "missing from the log";
    }
    placed.push_back({c, last_log, 1, i});
  }

  for (const auto &kv : log_by_pcr) {
    for (size_t l : kv.second) {
      if (log_used[l]) continue;
      const LogEvent &e = log.events[l];
      EventCheck c{type_label(e.type), e.index, CheckStatus::fail, "", to_hex(digests[l]), "", l};
      c.note = "not predicted";
      for (const PcrEvent &p : predicted)
        if (p.event.type == e.type && p.event.digest == digests[l]) {
          c.note += " here: it is the predicted \"" + p.event.description + "\" of PCR" + std::to_string(p.pcr);
          break;
        }
      placed.push_back({c, static_cast<long>(l), 0, predicted.size() + l});
    }
  }

  std::stable_sort(placed.begin(), placed.end(), [](const Placed &x, const Placed &y) {
    return std::tie(x.key_log, x.key_order, x.key_seq) < std::tie(y.key_log, y.key_order, y.key_seq);
  });
  std::vector<EventCheck> out;
  out.reserve(placed.size());
  for (Placed &p : placed) out.push_back(std::move(p.check));
  return out;
}

bool all_passed(const std::vector<EventCheck> &checks) {
  bool any = false;
  for (const EventCheck &c : checks) {
    if (c.status == CheckStatus::fail) return false;
    any = any || c.status == CheckStatus::pass;
  }
  return any;
}

} // namespace mrforge
