// Tests of the event-data decoder: every event of every real log under ../shared/vectors decodes
// without "undecodable", specific decodings match values visible in the logs' bytes, truncation
// sweeps and hand-built malformed data never throw and never loop.
#include "log_vectors.hpp"
#include "test_support.hpp"

#include <measure/formats/event_decode.hpp>
#include <measure/formats/tcg_log.hpp>

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include <fstream>
#include <set>
#include <stdexcept>
#include <string>

namespace mrforge {
namespace {

std::vector<std::string> manifest_logs() {
  std::ifstream in(test::vector_path("MANIFEST.json"));
  nlohmann::json m = nlohmann::json::parse(in);
  std::vector<std::string> out;
  for (const auto &item : m.at("event_logs").items()) out.push_back(item.key());
  return out;
}

TcgLog parse_vector(const std::string &rel) { return parse_tcg_log(test::read(test::vector_path(rel)), rel); }

// Every decoded event of a log, with its location for messages.
struct Decoded {
  std::string where;
  LogEvent event;
  DecodedEvent decoded;
};

std::vector<Decoded> decode_log(const std::string &rel) {
  std::vector<Decoded> out;
  TcgLog log = parse_vector(rel);
  for (const LogEvent &e : log.events)
    out.push_back({rel + "+" + std::to_string(e.offset), e, decode_event_data(e.type, e.data, rel, e.offset)});
  return out;
}

std::string field(const DecodedEvent &d, const std::string &name) {
  for (const auto &f : d.fields)
    if (f.first == name) return f.second;
  return "<no field " + name + ">";
}

bool starts_with(const std::string &s, const std::string &prefix) { return s.compare(0, prefix.size(), prefix) == 0; }

// The first decoded event of `type` whose summary contains `needle` (FAILs if none).
const Decoded &find(const std::vector<Decoded> &events, uint32_t type, const std::string &needle) {
  for (const Decoded &d : events)
    if (d.event.type == type && d.decoded.summary.find(needle) != std::string::npos) return d;
  FAIL("no event of type " << type << " with '" << needle << "'");
  throw std::logic_error("unreachable");
}

bool printable(const std::string &s) {
  for (char c : s)
    if (c < 0x20 || c > 0x7E) return false;
  return true;
}

void put_u16(Bytes &b, uint16_t v) {
  for (int i = 0; i < 2; ++i) b.push_back(static_cast<uint8_t>(v >> (8 * i)));
}
void put_u32(Bytes &b, uint32_t v) {
  for (int i = 0; i < 4; ++i) b.push_back(static_cast<uint8_t>(v >> (8 * i)));
}
void put_u64(Bytes &b, uint64_t v) {
  for (int i = 0; i < 8; ++i) b.push_back(static_cast<uint8_t>(v >> (8 * i)));
}

// Event types used below (TCG PFP 1.06 table 9).
constexpr uint32_t k_ev_separator = 0x4;
constexpr uint32_t k_ev_event_tag = 0x6;
constexpr uint32_t k_ev_ipl = 0xD;
constexpr uint32_t k_ev_driver_config = 0x80000001;
constexpr uint32_t k_ev_variable_boot = 0x80000002;
constexpr uint32_t k_ev_boot_application = 0x80000003;
constexpr uint32_t k_ev_gpt = 0x80000006;
constexpr uint32_t k_ev_efi_action = 0x80000007;
constexpr uint32_t k_ev_blob2 = 0x8000000A;
constexpr uint32_t k_ev_handoff2 = 0x8000000B;
constexpr uint32_t k_ev_dstack_runtime = 0x08000001;

TEST_CASE("Every event of every real binary log decodes, printable and never undecodable", "[event_decode]") {
  size_t total = 0;
  for (const std::string &rel : manifest_logs()) {
    INFO(rel);
    for (const Decoded &d : decode_log(rel)) {
      INFO(d.where << ": " << d.decoded.summary);
      CHECK_FALSE(starts_with(d.decoded.summary, "undecodable"));
      CHECK_FALSE(d.decoded.summary.empty());
      CHECK(printable(d.decoded.summary));
      for (const auto &f : d.decoded.fields) CHECK(printable(f.second));
      ++total;
    }
  }
  CHECK(total > 500);
}

TEST_CASE("Every boot event payload of dstack's quote report decodes", "[event_decode]") {
  std::vector<test::VectorEvent> events = test::dstack_boot_events("dstack/quote-report.json");
  REQUIRE(events.size() > 10);
  for (const test::VectorEvent &e : events) {
    DecodedEvent d = decode_event_data(e.type, e.data, "quote-report.json", 0);
    INFO(e.type << ": " << d.summary);
    CHECK_FALSE(starts_with(d.summary, "undecodable"));
  }
  // The Linux EFI stub's tagged events carry the description, not the command line.
  const test::VectorEvent &tag = test::first_event(events, 2, k_ev_event_tag);
  DecodedEvent d = decode_event_data(tag.type, tag.data, "quote-report.json", 0);
  CHECK(d.summary == "kernel command line: \"LOADED_IMAGE::LoadOptions\"");
  CHECK(field(d, "tag") == "0x8f3b22ed (kernel command line)");
  // The firmware volume blob: u8 length || "Fv(XXXXXXXX-...)" || base || length.
  const test::VectorEvent &fv = test::first_event(events, 0, k_ev_blob2);
  d = decode_event_data(fv.type, fv.data, "quote-report.json", 0);
  CHECK(field(d, "description") == "Fv(XXXXXXXX-XXXX-XXXX-XXXX-XXXXXXXXXXXX)");
  CHECK(field(d, "base") == "0xffc00000");
  CHECK(field(d, "length") == "0x84000");
  const test::VectorEvent &hob = test::first_event(events, 0, k_ev_handoff2);
  d = decode_event_data(hob.type, hob.data, "quote-report.json", 0);
  CHECK(d.summary == "TdxTable: 1 table, 93bb96af-b9f2-4eb8-9462-e0ba74564236 (OVMF TdxTable (TD HOB)) at 0x809000");
}

TEST_CASE("dstack runtime events show their payload as text or hex", "[event_decode]") {
  CHECK(decode_event_data(k_ev_dstack_runtime, ByteView::of("{\"name\":\"local-sgx\"}"), "t", 0).summary ==
        "\"{\"name\":\"local-sgx\"}\"");
  Bytes bin = {0x37, 0x63, 0x00, 0xbc, 0x34, 0xff};
  DecodedEvent d = decode_event_data(k_ev_dstack_runtime, bin, "t", 0);
  CHECK(d.summary == "binary, 6 bytes");
  CHECK(field(d, "hex") == "376300bc34ff");
  CHECK(decode_event_data(k_ev_dstack_runtime, Bytes{}, "t", 0).summary == "\"\"");
}

TEST_CASE("OVMF direct-boot variables decode to names, GUIDs, load options and boot order", "[event_decode]") {
  std::vector<Decoded> events = decode_log("trustee/eventlog/CCEL_data_ovmf");
  const Decoded &boot0 = find(events, k_ev_variable_boot, "Boot0000 (");
  CHECK(field(boot0.decoded, "description") == "UiApp");
  CHECK(field(boot0.decoded, "name") == "Boot0000");
  CHECK(field(boot0.decoded, "vendor") == "8be4df61-93ca-11d2-aa0d-00e098032b8c (EFI global variable)");
  CHECK(field(boot0.decoded, "attributes") == "0x109 (active)");
  CHECK(field(boot0.decoded, "device path") == "Fv(7cb8bdc9-f8eb-4f34-aaea-3ee4af6516a1 (OVMF DXE firmware volume))/"
                                               "FvFile(462caa21-7614-4503-836e-8ab6f4662331 (UiApp))");
  const Decoded &order = find(events, k_ev_variable_boot, "BootOrder");
  CHECK(order.decoded.summary == "BootOrder (8be4df61-93ca-11d2-aa0d-00e098032b8c) = Boot0000");
  const Decoded &sb = find(events, k_ev_driver_config, "SecureBoot");
  CHECK(field(sb.decoded, "name") == "SecureBoot");
  CHECK(starts_with(sb.decoded.summary, "SecureBoot (8be4df61-93ca-11d2-aa0d-00e098032b8c) = "));
  const Decoded &db = find(events, k_ev_driver_config, "db (");
  CHECK(field(db.decoded, "vendor") == "d719b2cb-3d3a-4596-a3bc-dad00e67656f (image security database)");
  const Decoded &exit = find(events, k_ev_efi_action, "Exit Boot Services Invocation");
  CHECK(exit.decoded.summary == "\"Exit Boot Services Invocation\"");
  const Decoded &sep = find(events, k_ev_separator, "separator");
  CHECK(sep.decoded.summary == "separator 00000000");
  const Decoded &initrd = find(events, k_ev_event_tag, "initrd");
  CHECK(initrd.decoded.summary == "initrd: \"Linux initrd\"");
  const Decoded &kernel = find(events, k_ev_boot_application, "kernel");
  CHECK(starts_with(field(kernel.decoded, "device path"),
                    "VenMedia(1428f772-b64a-441e-b8c3-9ebdd7f893c7 (QEMU kernel loader file system))/kernel"));
}

TEST_CASE("The grub boot log shows its GPT, boot file paths and grub commands", "[event_decode]") {
  std::vector<Decoded> events = decode_log("trustee/eventlog/CCEL_data_grub");
  const Decoded &gpt = find(events, k_ev_gpt, "GPT");
  CHECK(field(gpt.decoded, "signature") == "EFI PART");
  CHECK(gpt.decoded.summary == "GPT \"EFI PART\", " + field(gpt.decoded, "partitions") + " partitions");
  CHECK(field(gpt.decoded, "partitions") != "0");
  const Decoded &shim = find(events, k_ev_boot_application, "\\EFI\\BOOT\\");
  CHECK(starts_with(field(shim.decoded, "device path"), "PciRoot(0x0)/Pci("));
  CHECK(field(shim.decoded, "device path").find("/HD(") != std::string::npos);
  const Decoded &grub = find(events, k_ev_boot_application, "grubx64.efi");
  CHECK(field(grub.decoded, "device path").find("\\EFI\\") != std::string::npos);
}

TEST_CASE("Oddities of real logs decode as what they are", "[event_decode]") {
  // A Linux EFI stub that logged the bare description, with no tagged-event header.
  std::vector<Decoded> bare = decode_log("go-eventlog/CCEL_unpadded.data.bin");
  CHECK(find(bare, k_ev_event_tag, "LOADED_IMAGE").decoded.summary ==
        "\"LOADED_IMAGE::LoadOptions\" (no tagged-event header)");
  // td-shim's platform configuration info: descriptor || u32 length || info.
  std::vector<Decoded> shim = decode_log("trustee/eventlog/CCEL_data");
  CHECK(find(shim, 0xA, "td_payload_info").decoded.summary == "td_payload_info: \"root=/dev/vda1 console=hvc0 rw\"");
  CHECK(starts_with(find(shim, 0xA, "td_hob").decoded.summary, "td_hob: 5248 bytes"));
  // grub logs one stray byte after the NUL of some commands; UTF-16 strings of UKI sections.
  std::vector<Decoded> ali = decode_log("trustee/eventlog/CCEL_AAEL_alibabacloud");
  CHECK(field(find(ali, k_ev_ipl, "grub_cmd blscfg").decoded, "trailing bytes after NUL") == "1");
  CHECK(find(ali, k_ev_event_tag, "CoCo AAEL").decoded.summary ==
        "CoCo AAEL event: \"coco.com some-operation some-content\"");
  std::vector<Decoded> gke = decode_log("trustee/eventlog/CCEL_data_grub_gke");
  const Decoded &linux_section = find(gke, k_ev_ipl, ".linux");
  CHECK(linux_section.decoded.summary == "\".linux\"");
  CHECK(field(linux_section.decoded, "encoding") == "UTF-16LE");
}

TEST_CASE("Every prefix of real event data decodes without throwing", "[event_decode]") {
  std::vector<Decoded> events = decode_log("trustee/eventlog/CCEL_data_grub");
  std::vector<Decoded> ovmf = decode_log("trustee/eventlog/CCEL_data_ovmf");
  events.insert(events.end(), ovmf.begin(), ovmf.end());
  std::set<uint32_t> seen;
  for (const Decoded &d : events) {
    if (d.event.data.size() > 2048 && d.event.type != k_ev_gpt) continue;
    for (size_t n = 0; n <= d.event.data.size(); ++n) {
      DecodedEvent p = decode_event_data(d.event.type, ByteView(d.event.data.data(), n), "t", 0);
      CHECK_FALSE(p.summary.empty());
    }
    seen.insert(d.event.type);
  }
  for (uint32_t t : {k_ev_variable_boot, k_ev_boot_application, k_ev_gpt, k_ev_blob2, k_ev_handoff2, k_ev_event_tag})
    CHECK(seen.count(t) == 1);
  // A truncated structure says which one and where.
  const Decoded &boot0 = find(ovmf, k_ev_variable_boot, "Boot0000 (");
  DecodedEvent cut = decode_event_data(k_ev_variable_boot, ByteView(boot0.event.data.data(), 60), "log", 0x100);
  CHECK(starts_with(cut.summary, "undecodable UEFI_VARIABLE_DATA: log+0x"));
  CHECK(field(cut, "hex") == to_hex(ByteView(boot0.event.data.data(), 60)));
}

// UEFI_IMAGE_LOAD_EVENT header with a device path of `path`.
Bytes image_event(const Bytes &path, uint64_t path_len) {
  Bytes b;
  put_u64(b, 0x7d000000); // image location
  put_u64(b, 0x1000);     // image length
  put_u64(b, 0);          // link-time address
  put_u64(b, path_len);   // device path length
  b.insert(b.end(), path.begin(), path.end());
  return b;
}

TEST_CASE("Malformed device paths fail cleanly instead of looping", "[event_decode]") {
  for (uint16_t len = 0; len < 4; ++len) {
    Bytes node = {0x04, 0x04};
    put_u16(node, len); // node length smaller than the 4-byte header
    DecodedEvent d = decode_event_data(k_ev_boot_application, image_event(node, node.size()), "t", 0);
    INFO(d.summary);
    CHECK(starts_with(d.summary, "undecodable UEFI_IMAGE_LOAD_EVENT: t+0x20: device path node length"));
  }
  Bytes longer = {0x04, 0x04};
  put_u16(longer, 0x40); // node longer than the path
  CHECK(starts_with(decode_event_data(k_ev_boot_application, image_event(longer, 4), "t", 0).summary,
                    "undecodable UEFI_IMAGE_LOAD_EVENT"));
  // Many End Instance nodes: the cap stops the walk.
  Bytes many;
  for (int i = 0; i < 300; ++i) {
    many.push_back(0x7F);
    many.push_back(0x01);
    put_u16(many, 4);
  }
  DecodedEvent d = decode_event_data(k_ev_boot_application, image_event(many, many.size()), "t", 0);
  CHECK(d.summary.find("more than 256 nodes") != std::string::npos);
  // Absurd device path length.
  d = decode_event_data(k_ev_boot_application, image_event({}, UINT64_MAX), "t", 0);
  CHECK(starts_with(d.summary, "undecodable UEFI_IMAGE_LOAD_EVENT: t+0x20: device path of"));
  // An unknown node and a PCI node, then End.
  Bytes ok = {0x01, 0x01, 0x06, 0x00, 0x00, 0x03, 0x09, 0x42, 0x05, 0x00, 0xAB, 0x7F, 0xFF, 0x04, 0x00};
  d = decode_event_data(k_ev_boot_application, image_event(ok, ok.size()), "t", 0);
  CHECK(field(d, "device path") == "Pci(0x3,0x0)/Path(9,66,ab)");
}

TEST_CASE("Absurd lengths in variables, tables and tagged events are reported, not trusted", "[event_decode]") {
  Bytes var(16, 0x11);
  put_u64(var, UINT64_MAX); // name length in characters
  put_u64(var, 0);
  CHECK(starts_with(decode_event_data(k_ev_driver_config, var, "t", 0).summary, "undecodable UEFI_VARIABLE_DATA"));
  Bytes var2(16, 0x11);
  put_u64(var2, 1);
  put_u64(var2, UINT64_MAX); // data length
  put_u16(var2, 'A');
  CHECK(starts_with(decode_event_data(k_ev_driver_config, var2, "t", 0).summary, "undecodable UEFI_VARIABLE_DATA"));
  Bytes tables = {8, 'T', 'd', 'x', 'T', 'a', 'b', 'l', 'e'};
  put_u64(tables, UINT64_MAX); // number of tables
  CHECK(starts_with(decode_event_data(k_ev_handoff2, tables, "t", 0).summary,
                    "undecodable UEFI_HANDOFF_TABLE_POINTERS2"));
  Bytes tag;
  put_u32(tag, 0x8F3B22ED);
  put_u32(tag, 0xFFFFFFFF); // tagged data size
  tag.push_back(0x01);
  CHECK(starts_with(decode_event_data(k_ev_event_tag, tag, "t", 0).summary, "undecodable TCG_PCClientTaggedEvent"));
  Bytes blob = {200, 'x'}; // description longer than the data
  CHECK(starts_with(decode_event_data(k_ev_blob2, blob, "t", 0).summary, "undecodable UEFI_PLATFORM_FIRMWARE_BLOB2"));
  // A signature list whose size is smaller than its own header.
  Bytes sig(16, 0x22);
  put_u64(sig, 2);
  put_u64(sig, 28);
  put_u16(sig, 'd');
  put_u16(sig, 'b');
  Bytes list(16, 0x33);
  put_u32(list, 4); // SignatureListSize
  put_u32(list, 0);
  put_u32(list, 16);
  sig.insert(sig.end(), list.begin(), list.end());
  CHECK(starts_with(decode_event_data(k_ev_driver_config, sig, "t", 0).summary, "undecodable UEFI_VARIABLE_DATA"));
  // A load option with a zero-length node inside its device path.
  Bytes opt(16, 0x44);
  Bytes body;
  put_u32(body, 1);
  put_u16(body, 4); // FilePathListLength
  put_u16(body, 'A');
  put_u16(body, 0);
  body.insert(body.end(), {0x04, 0x04, 0x00, 0x00});
  put_u64(opt, 8);
  put_u64(opt, body.size());
  for (char c : std::string("Boot0001")) put_u16(opt, static_cast<uint16_t>(c));
  opt.insert(opt.end(), body.begin(), body.end());
  DecodedEvent d = decode_event_data(k_ev_variable_boot, opt, "t", 0);
  CHECK(d.summary.find("device path node length 0") != std::string::npos);
}

TEST_CASE("Unknown types and random bytes show length and a hex prefix", "[event_decode]") {
  Bytes big(100, 0xAB);
  DecodedEvent d = decode_event_data(0x12345678, big, "t", 0);
  CHECK(d.summary == "100 bytes");
  std::string expected;
  for (int i = 0; i < 64; ++i) expected += "ab";
  CHECK(field(d, "hex") == expected + "...");
  CHECK(field(d, "length") == "100");
  // Pseudo-random data through every decoder never throws.
  uint32_t state = 12345;
  for (uint32_t type : {0x1u, 0x3u, 0x4u, 0x5u, 0x6u, 0xAu, 0xDu, 0x80000001u, 0x80000002u, 0x80000003u, 0x80000006u,
                        0x80000007u, 0x80000008u, 0x80000009u, 0x8000000Au, 0x8000000Bu, 0x800000E0u, 0x08000001u}) {
    for (int round = 0; round < 200; ++round) {
      Bytes b(static_cast<size_t>(round % 97));
      for (uint8_t &x : b) {
        state = state * 1103515245u + 12345u;
        x = static_cast<uint8_t>(state >> 16);
      }
      CHECK_NOTHROW(decode_event_data(type, b, "t", 0));
    }
  }
}

} // namespace
} // namespace mrforge
