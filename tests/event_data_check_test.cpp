// Event data against its digests: every event of the real logs of ../shared/vectors is verified,
// partial or unchecked (never a mismatch), with the counts per kind that the logs hold; for each
// kind whose rule is known, a real event whose data is forged while its digests are kept is a
// mismatch; verify fails for such a log even though it replays to the TD's quote.
#include "test_support.hpp"

#include <measure/documents/attestation_inputs.hpp>
#include <measure/formats/event_data_check.hpp>
#include <measure/formats/event_log.hpp>
#include <measure/formats/quote.hpp>
#include <measure/formats/tcg_log.hpp>
#include <measure/util/errors.hpp>
#include <measure/util/reader.hpp>
#include <measure/verify/verify.hpp>

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <fstream>
#include <map>
#include <stdexcept>
#include <string>

using namespace mrforge;
using namespace mrforge::test;

namespace {

using namespace mrforge::event_type;

TcgLog parse_vector(const std::string &rel) { return parse_tcg_log(read(vector_path(rel)), rel); }

std::string kind(uint32_t type) {
  if (type == k_dstack_runtime_event_type) return "DSTACK_RUNTIME_EVENT";
  const char *n = tcg_event_type_name(type);
  return n ? n : hex_u64(type);
}

// (event type, status) -> how many events of a log have it.
using Tally = std::map<std::pair<std::string, std::string>, size_t>;

Tally tally(const TcgLog &log) {
  Tally t;
  for (const LogEvent &e : log.events)
    ++t[{kind(e.type), data_check_name(check_event_data(e.type, e.data, e.digests).status)}];
  return t;
}

Tally tally(const EventLog &log) {
  Tally t;
  for (const LoggedEvent &e : log.events) ++t[{kind(e.type), data_check_name(e.data_check.status)}];
  return t;
}

size_t count(const Tally &t, const std::string &type, const std::string &status) {
  auto it = t.find({type, status});
  return it == t.end() ? 0 : it->second;
}

size_t count_status(const Tally &t, const std::string &status) {
  size_t n = 0;
  for (const auto &[key, c] : t)
    if (key.second == status) n += c;
  return n;
}

enum class Match { anywhere, at_start };

struct Expected {
  const char *type;
  const char *status;
  size_t events;
};

// Every (type, status) count of `expected` holds in `t`.
void check_counts(const Tally &t, std::initializer_list<Expected> expected) {
  for (const Expected &e : expected) {
    INFO(e.type << " " << e.status);
    CHECK(count(t, e.type, e.status) == e.events);
  }
}

// The first event of `type` whose data contains `needle` (FAILs if none).
const LogEvent &find_event(const TcgLog &log, uint32_t type, const std::string &needle = "",
                           Match match = Match::anywhere) {
  for (const LogEvent &e : log.events) {
    if (e.type != type) continue;
    auto at = std::search(e.data.begin(), e.data.end(), needle.begin(), needle.end());
    if (at != e.data.end() && (match == Match::anywhere || at == e.data.begin())) return e;
    if (needle.empty()) return e;
  }
  FAIL("no " << kind(type) << " event holding '" << needle << "' in " << log.source);
  throw std::logic_error("unreachable");
}

// `data` with the first `from` replaced by `to` (same length, so the structure stays valid).
Bytes replaced(const Bytes &data, const std::string &from, const std::string &to) {
  REQUIRE(from.size() == to.size());
  Bytes out = data;
  auto it = std::search(out.begin(), out.end(), from.begin(), from.end());
  REQUIRE(it != out.end());
  std::copy(to.begin(), to.end(), it);
  return out;
}

DataVerdict check(const LogEvent &e, const Bytes &data) { return check_event_data(e.type, data, e.digests); }

// The event of `type` holding `needle` checks as `genuine`, and as a mismatch once `from` in its
// data becomes `to` (its digests kept).
void check_forged(const TcgLog &log, uint32_t type, const std::string &needle, DataCheck genuine,
                  const std::string &from, const std::string &to) {
  INFO(needle);
  const LogEvent &e = find_event(log, type, needle);
  CHECK(check(e, e.data).status == genuine);
  DataVerdict forged = check(e, replaced(e.data, from, to));
  CHECK(forged.status == DataCheck::mismatch);
  CHECK(forged.note.find("data does not match digest") != std::string::npos);
}

std::vector<std::string> manifest_logs() {
  std::ifstream in(vector_path("MANIFEST.json"));
  nlohmann::json m = nlohmann::json::parse(in);
  std::vector<std::string> out;
  for (const auto &item : m.at("event_logs").items()) out.push_back(item.key());
  return out;
}

} // namespace

TEST_CASE("No event of any real log has data that contradicts its digests", "[event_data]") {
  size_t checked = 0;
  for (const std::string &rel : manifest_logs()) {
    INFO(rel);
    TcgLog log = parse_vector(rel);
    for (const LogEvent &e : log.events) {
      DataVerdict v = check_event_data(e.type, e.data, e.digests);
      INFO(kind(e.type) << " at +" << e.offset << ": " << v.note);
      CHECK(v.status != DataCheck::mismatch);
      if (v.status == DataCheck::verified || v.status == DataCheck::partial) ++checked;
    }
  }
  CHECK(checked >= 300);
}

TEST_CASE("Genuine events are verified by kind: the counts of real logs", "[event_data]") {
  SECTION("OVMF + shim + grub (trustee CCEL_data_grub)") {
    Tally t = tally(parse_vector("trustee/eventlog/CCEL_data_grub"));
    check_counts(t, {{"EV_SEPARATOR", "verified", 2},
                     {"EV_EFI_VARIABLE_DRIVER_CONFIG", "verified", 5},
                     {"EV_EFI_VARIABLE_BOOT", "partial", 3},
                     {"EV_EFI_ACTION", "verified", 3},
                     {"EV_EFI_GPT_EVENT", "verified", 1},
                     {"EV_EFI_VARIABLE_AUTHORITY", "verified", 5}});
    // Linux EFI stub tags, shim's MokList, OVMF's ACPI files and images: the digest covers what
    // the data names.
    check_counts(t, {{"EV_EVENT_TAG", "unchecked", 2},
                     {"EV_IPL", "unchecked", 6},
                     {"EV_PLATFORM_CONFIG_FLAGS", "unchecked", 3},
                     {"EV_EFI_BOOT_SERVICES_APPLICATION", "unchecked", 5}});
    CHECK(count_status(t, "verified") == 16);
    CHECK(count_status(t, "mismatch") == 0);
  }
  SECTION("upstream grub's command strings (cc-trusted-api, GCE COS 113)") {
    Tally cc = tally(parse_vector("cc-trusted-api/ccel_data.bin"));
    check_counts(cc, {
                         {"EV_IPL", "partial", 57},  // "grub_cmd: " and "kernel_cmdline: " strings
                         {"EV_IPL", "unchecked", 16} // MokList x6, files x10
                     });
    Tally cos = tally(parse_vector("go-tdx-guest/ccel_data.dat"));
    check_counts(cos, {{"EV_IPL", "partial", 15}, {"EV_IPL", "unchecked", 5}});
  }
  SECTION("Red Hat's grub2 and the CoCo attestation agent's tagged events (Alibaba Cloud)") {
    Tally t = tally(parse_vector("trustee/eventlog/CCEL_AAEL_alibabacloud"));
    check_counts(t, {{"EV_IPL", "partial", 53},  // 52 "grub_cmd ", 1 "grub_kernel_cmdline "
                     {"EV_IPL", "unchecked", 5}, // MokList x3, grub_linuxefi Kernel/Initrd
                     {"EV_EVENT_TAG", "verified", 2},
                     {"EV_EFI_VARIABLE_BOOT", "partial", 7}});
  }
  SECTION("td-shim's platform config events (trustee CCEL_data)") {
    Tally t = tally(parse_vector("trustee/eventlog/CCEL_data"));
    check_counts(t, {{"EV_PLATFORM_CONFIG_FLAGS", "partial", 2}, // td_hob, td_payload_info
                     {"EV_SEPARATOR", "verified", 2},
                     {"EV_EFI_PLATFORM_FIRMWARE_BLOB2", "unchecked", 1}});
  }
  SECTION("an SM3-only log (Hygon CSV): the rules hold for SM3 too") {
    Tally t = tally(parse_vector("trustee/eventlog/CCEL_data_csv"));
    check_counts(t, {{"EV_EFI_ACTION", "verified", 5},
                     {"EV_SEPARATOR", "verified", 2},
                     {"EV_EFI_VARIABLE_DRIVER_CONFIG", "verified", 5},
                     {"EV_IPL", "partial", 51}});
    CHECK(count_status(t, "mismatch") == 0);
  }
  SECTION("the unified log carries the verdicts of the binary log") {
    EventLog log = event_log_from_ccel(parse_vector("trustee/eventlog/CCEL_data_grub"));
    Tally t = tally(log);
    CHECK(count(t, "EV_EFI_VARIABLE_AUTHORITY", "verified") == 5);
    CHECK(count_status(t, "verified") == 16);
  }
}

TEST_CASE("dstack JSON logs: boot events with payloads are checked, runtime events recomputed, lite logs unchecked",
          "[event_data]") {
  Bytes report = read(vector_path("dstack/quote-report.json"));
  Tally t = tally(event_log_from_input(report, "quote-report.json"));
  check_counts(t, {{"EV_SEPARATOR", "verified", 2},
                   {"EV_EFI_VARIABLE_DRIVER_CONFIG", "verified", 5},
                   {"EV_EFI_VARIABLE_BOOT", "partial", 2},
                   {"EV_EFI_ACTION", "verified", 3},
                   {"EV_EVENT_TAG", "unchecked", 2},
                   {"EV_PLATFORM_CONFIG_FLAGS", "unchecked", 3},
                   {"DSTACK_RUNTIME_EVENT", "verified", 8}});
  CHECK(count_status(t, "mismatch") == 0);

  Bytes lite = read(vector_path("dstack/tdx-lite-getquote.json"));
  EventLog lite_log = event_log_from_input(lite, "tdx-lite-getquote.json");
  Tally l = tally(lite_log);
  CHECK(count(l, "DSTACK_RUNTIME_EVENT", "verified") == 9);
  CHECK(count_status(l, "verified") == 9); // the boot events carry no payloads
  for (const LoggedEvent &e : lite_log.events)
    if (e.data.empty() && e.type != k_dstack_runtime_event_type)
      CHECK(e.data_check.note == "the log carries no data for this event");

  // A forged boot event payload in the JSON: the EV_EFI_ACTION string, one letter changed.
  std::string text(report.begin(), report.end());
  nlohmann::json doc = nlohmann::json::parse(text);
  std::string log_text = doc.at("event_log").get<std::string>();
  std::string genuine = to_hex(ByteView::of("Calling EFI Application from Boot Option"));
  std::string forged = to_hex(ByteView::of("Calling EFI Application from Boot Optiom"));
  REQUIRE(log_text.find(genuine) != std::string::npos);
  log_text.replace(log_text.find(genuine), genuine.size(), forged);
  doc["event_log"] = log_text;
  std::string forged_doc = doc.dump();
  EventLog f = event_log_from_input(ByteView::of(forged_doc), "forged.json");
  Tally ft = tally(f);
  check_counts(ft, {{"EV_EFI_ACTION", "mismatch", 1}, {"EV_EFI_ACTION", "verified", 2}});
  CHECK(to_hex(replay(f)[1]) == to_hex(replay(event_log_from_input(report, "quote-report.json"))[1]));
}

TEST_CASE("Forged data with the digests kept is a mismatch, for each kind whose rule is known", "[event_data]") {
  TcgLog grub = parse_vector("trustee/eventlog/CCEL_data_grub");
  SECTION("EV_SEPARATOR") {
    const LogEvent &e = find_event(grub, k_separator);
    CHECK(check(e, e.data).status == DataCheck::verified);
    CHECK(check(e, Bytes{0xff, 0xff, 0xff, 0xff}).status == DataCheck::mismatch);
    // An error separator: the digest of the value 1, any data (error details): unchecked.
    Sha384 one = sha384(Bytes{1, 0, 0, 0});
    DataVerdict err =
        check_event_data(k_separator, Bytes{0xde, 0xad}, {LogDigest{k_tpm_alg_sha384, Bytes(one.begin(), one.end())}});
    CHECK(err.status == DataCheck::unchecked);
    CHECK(err.note.find("error separator") != std::string::npos);
  }
  SECTION("EV_EFI_ACTION") {
    check_forged(grub, k_efi_action, "Calling EFI Application", DataCheck::verified, "Boot Option", "Boot Optiom");
  }
  SECTION("EV_EFI_VARIABLE_DRIVER_CONFIG: the whole UEFI_VARIABLE_DATA, name included") {
    const LogEvent &e = find_event(grub, k_efi_variable_driver_config, std::string("S\0e\0c\0u\0r\0e\0B\0o\0o\0t", 19));
    CHECK(check(e, e.data).status == DataCheck::verified);
    CHECK(check(e, replaced(e.data, std::string("B\0o\0o\0t", 7), std::string("B\0o\0o\0T", 7))).status ==
          DataCheck::mismatch);
  }
  SECTION("EV_EFI_VARIABLE_BOOT: the variable's data; its name is not covered") {
    const LogEvent &e = find_event(grub, k_efi_variable_boot, std::string("B\0o\0o\0t\0O\0r\0d\0e\0r", 17));
    DataVerdict genuine = check(e, e.data);
    CHECK(genuine.status == DataCheck::partial);
    CHECK(genuine.note.find("name are not covered") != std::string::npos);
    Bytes other_value = e.data;
    other_value.back() ^= 0x01;
    CHECK(check(e, other_value).status == DataCheck::mismatch);
    CHECK(check(e, replaced(e.data, std::string("O\0r\0d", 5), std::string("O\0r\0D", 5))).status ==
          DataCheck::partial);
    Bytes truncated(e.data.begin(), e.data.end() - 1);
    CHECK(check(e, truncated).status == DataCheck::mismatch); // VariableDataLength no longer holds
  }
  SECTION("EV_EFI_VARIABLE_BOOT2 and EV_ACTION (no real log has them): the whole data") {
    // A real BootOrder variable as U-Boot logs it (EV_EFI_VARIABLE_BOOT2: the digest of the whole
    // UEFI_VARIABLE_DATA), and a real action string as EV_ACTION.
    const LogEvent &boot = find_event(grub, k_efi_variable_boot, std::string("B\0o\0o\0t\0O\0r\0d\0e\0r", 17));
    Sha384 whole = sha384(boot.data);
    std::vector<LogDigest> digests{LogDigest{k_tpm_alg_sha384, Bytes(whole.begin(), whole.end())}};
    CHECK(check_event_data(k_efi_variable_boot2, boot.data, digests).status == DataCheck::verified);
    Bytes renamed = replaced(boot.data, std::string("O\0r\0d", 5), std::string("O\0r\0D", 5));
    CHECK(check_event_data(k_efi_variable_boot2, renamed, digests).status == DataCheck::mismatch);
    const LogEvent &action = find_event(grub, k_efi_action, "Calling EFI Application");
    CHECK(check_event_data(k_action, action.data, action.digests).status == DataCheck::verified);
    Bytes forged = replaced(action.data, "Boot Option", "Boot Optiom");
    CHECK(check_event_data(k_action, forged, action.digests).status == DataCheck::mismatch);
  }
  SECTION("EV_EFI_VARIABLE_AUTHORITY") {
    const LogEvent &e = find_event(grub, k_efi_variable_authority);
    CHECK(check(e, e.data).status == DataCheck::verified);
    Bytes forged = e.data;
    forged[forged.size() / 2] ^= 0x20;
    CHECK(check(e, forged).status == DataCheck::mismatch);
  }
  SECTION("EV_EFI_GPT_EVENT") {
    const LogEvent &e = find_event(grub, k_efi_gpt_event);
    CHECK(check(e, e.data).status == DataCheck::verified);
    Bytes forged = e.data;
    forged[100] ^= 0x01; // inside the first partition entry
    CHECK(check(e, forged).status == DataCheck::mismatch);
  }
  SECTION("EV_EVENT_TAG: the attestation agent's AAEL events; the Linux EFI stub's tags are unchecked") {
    TcgLog ali = parse_vector("trustee/eventlog/CCEL_AAEL_alibabacloud");
    check_forged(ali, k_event_tag, "some-operation", DataCheck::verified, "some-operation", "evil-operation");
    const LogEvent &stub = find_event(grub, k_event_tag, "LOADED_IMAGE::LoadOptions");
    DataVerdict v = check(stub, replaced(stub.data, "LoadOptions", "LoadOptionZ"));
    CHECK(v.status == DataCheck::unchecked);
    CHECK(v.note.find("Linux EFI stub") != std::string::npos);
  }
  SECTION("EV_PLATFORM_CONFIG_FLAGS: td-shim's payload command line") {
    TcgLog shim = parse_vector("trustee/eventlog/CCEL_data");
    check_forged(shim, k_platform_config_flags, "td_payload_info", DataCheck::partial, "console=hvc0", "console=hvc1");
    const LogEvent &acpi = find_event(grub, k_platform_config_flags);
    CHECK(check(acpi, acpi.data).status == DataCheck::unchecked);
  }
  SECTION("EV_IPL: upstream grub's command and kernel command line strings") {
    TcgLog cos = parse_vector("go-tdx-guest/ccel_data.dat");
    check_forged(cos, k_ipl, "grub_cmd: set timeout=0", DataCheck::partial, "timeout=0", "timeout=9");
    check_forged(cos, k_ipl, "kernel_cmdline: ", DataCheck::partial, "systemd", "systemD");
    const LogEvent &cmd = find_event(cos, k_ipl, "grub_cmd: set timeout=0");
    Bytes no_nul(cmd.data.begin(), cmd.data.end() - 1);
    CHECK(check(cmd, no_nul).status == DataCheck::mismatch);
    const LogEvent &file = find_event(cos, k_ipl, "/syslinux/vmlinuz.A", Match::at_start);
    CHECK(check(file, replaced(file.data, "vmlinuz.A", "vmlinuz.B")).status == DataCheck::unchecked);
  }
  SECTION("EV_IPL: Red Hat grub2's strings") {
    TcgLog ali = parse_vector("trustee/eventlog/CCEL_AAEL_alibabacloud");
    check_forged(ali, k_ipl, "grub_cmd set timeout=1", DataCheck::partial, "timeout=1", "timeout=7");
    check_forged(ali, k_ipl, "grub_kernel_cmdline ", DataCheck::partial, "quiet", "loud!");
  }
  SECTION("a forged digest in one bank of a record is a mismatch too") {
    const LogEvent &e = find_event(grub, k_efi_action);
    std::vector<LogDigest> digests = e.digests;
    Sha384 sha1_bank{};
    digests.push_back(LogDigest{k_tpm_alg_sha1, Bytes(sha1_bank.begin(), sha1_bank.begin() + 20)});
    DataVerdict v = check_event_data(e.type, e.data, digests);
    CHECK(v.status == DataCheck::mismatch);
    CHECK(v.note.find("sha1") != std::string::npos);
  }
}

TEST_CASE("IMA: the template hash of an ima-ng entry verifies, a forged name or file digest does not", "[event_data]") {
  Bytes list = read(vector_path("cc-trusted-api/ima_log.bin"));
  std::vector<LoggedEvent> events = ima_events(list, "ima_log.bin");
  REQUIRE(events.size() == 1);
  CHECK(events[0].data_check.status == DataCheck::verified);
  CHECK(events[0].name == "boot_aggregate");
  std::string line(list.begin(), list.end());
  auto forge = [&](const std::string &from, const std::string &to) {
    std::string l = line;
    REQUIRE(l.find(from) != std::string::npos);
    l.replace(l.find(from), from.size(), to);
    return ima_events(ByteView::of(l), "forged")[0].data_check;
  };
  CHECK(forge("boot_aggregate", "boot_aggregatf").status == DataCheck::mismatch);
  CHECK(forge("sha384:cd01", "sha384:cd02").status == DataCheck::mismatch);
  // The same fields under ima-sig (an empty signature field joins the template data).
  CHECK(forge(" ima-ng ", " ima-sig ").status == DataCheck::mismatch);
  // A violation (zero template hash) and the old "ima" template are not checked.
  std::string hash = line.substr(line.find(' ', 1) + 1, 96); // the line is " 2 HASH ima-ng ..."
  REQUIRE(hash.find(' ') == std::string::npos);
  CHECK(forge(hash, std::string(96, '0')).status == DataCheck::unchecked);
  CHECK(forge(" ima-ng ", " ima ").status == DataCheck::unchecked);
}

TEST_CASE("A log whose event data was forged fails verify although it replays to the quote", "[event_data][verify]") {
  Bytes bytes = read(vector_path("go-tdx-guest/ccel_data.dat"));
  TdQuote quote = parse_td_quote(read(vector_path("go-tdx-guest/cos-113-tdx-quote.dat")), "cos-113-tdx-quote.dat");
  // The kernel command line grub measured, as a verifier reads it: root=... changed in the data only.
  Bytes forged =
      replaced(bytes, "kernel_cmdline: /syslinux/vmlinuz.A init=", "kernel_cmdline: /syslinux/vmlinuz.A iniT=");
  EventLog log = event_log_from_ccel(parse_tcg_log(forged, "forged"));
  for (const RegisterCheck &c : check_log_against_quote(log, quote)) CHECK(c.match);
  VerifyReport r = verify(ExpectedValues{}, log, quote);
  CHECK_FALSE(r.log_consistent);
  REQUIRE(r.data_mismatches.size() == 1);
  CHECK(r.data_mismatches[0].type == k_ipl);
  CHECK(r.data_mismatches[0].reg == Register::rtmr2);
  bool noted = false;
  for (const std::string &n : r.notes) noted |= n.find("does not match their digest") != std::string::npos;
  CHECK(noted);

  // With expected values that match the quote, the report still fails.
  ExpectedValues expected;
  for (size_t i = 0; i < 3; ++i) expected.rtmr[i] = quote.rtmr[i];
  CHECK_FALSE(verify(expected, log, quote).ok());
  CHECK(verify(expected, event_log_from_ccel(parse_tcg_log(bytes, "genuine")), quote).ok());
}
