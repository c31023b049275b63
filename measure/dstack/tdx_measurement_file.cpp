// Reading and writing dstack's measurement.tdx.cbor through libcbor (format:
// tdx_measurement_file.hpp). Reading is two passes over untrusted bytes: libcbor's streaming
// decoder first walks every item head (types, lengths and nesting are checked against what the
// format allows and against the bytes that remain, so that libcbor's tree builder never sees a
// collection it would allocate without bound), then cbor_load builds the tree the fields are
// read from.
#include <measure/dstack/tdx_measurement_file.hpp>

#include <measure/util/errors.hpp>

#include <cbor.h>

#include <algorithm>
#include <cstdlib>
#include <memory>
#include <vector>

namespace mrforge {

namespace {

// The format nests three maps: the file, "tdvf" and "tdvf.mrtd".
constexpr size_t k_max_depth = 3;

enum class ItemKind { none, uint, bytes, text, map, other };

struct ScanState {
  ItemKind kind = ItemKind::none;
  size_t count = 0;      // a map's pairs, a string's bytes
  const char *what = ""; // for ItemKind::other: what it was
};

ScanState &state(void *ctx) { return *static_cast<ScanState *>(ctx); }

cbor_callbacks scan_callbacks() {
  cbor_callbacks c = cbor_empty_callbacks;
  c.uint8 = [](void *s, uint8_t) { state(s).kind = ItemKind::uint; };
  c.uint16 = [](void *s, uint16_t) { state(s).kind = ItemKind::uint; };
  c.uint32 = [](void *s, uint32_t) { state(s).kind = ItemKind::uint; };
  c.uint64 = [](void *s, uint64_t) { state(s).kind = ItemKind::uint; };
  c.negint8 = [](void *s, uint8_t) { state(s) = {ItemKind::other, 0, "a negative integer"}; };
  c.negint16 = [](void *s, uint16_t) { state(s) = {ItemKind::other, 0, "a negative integer"}; };
  c.negint32 = [](void *s, uint32_t) { state(s) = {ItemKind::other, 0, "a negative integer"}; };
  c.negint64 = [](void *s, uint64_t) { state(s) = {ItemKind::other, 0, "a negative integer"}; };
  c.byte_string = [](void *s, cbor_data, size_t n) { state(s) = {ItemKind::bytes, n, ""}; };
  c.string = [](void *s, cbor_data, size_t n) { state(s) = {ItemKind::text, n, ""}; };
  c.byte_string_start = [](void *s) { state(s) = {ItemKind::other, 0, "an indefinite-length byte string"}; };
  c.string_start = [](void *s) { state(s) = {ItemKind::other, 0, "an indefinite-length text string"}; };
  c.array_start = [](void *s, size_t) { state(s) = {ItemKind::other, 0, "an array"}; };
  c.indef_array_start = [](void *s) { state(s) = {ItemKind::other, 0, "an indefinite-length array"}; };
  c.map_start = [](void *s, size_t n) { state(s) = {ItemKind::map, n, ""}; };
  c.indef_map_start = [](void *s) { state(s) = {ItemKind::other, 0, "an indefinite-length map"}; };
  c.tag = [](void *s, uint64_t) { state(s) = {ItemKind::other, 0, "a tag"}; };
  c.float2 = [](void *s, float) { state(s) = {ItemKind::other, 0, "a float"}; };
  c.float4 = [](void *s, float) { state(s) = {ItemKind::other, 0, "a float"}; };
  c.float8 = [](void *s, double) { state(s) = {ItemKind::other, 0, "a float"}; };
  c.undefined = [](void *s) { state(s) = {ItemKind::other, 0, "undefined"}; };
  c.null = [](void *s) { state(s) = {ItemKind::other, 0, "null"}; };
  c.boolean = [](void *s, bool) { state(s) = {ItemKind::other, 0, "a boolean"}; };
  c.indef_break = [](void *s) { state(s) = {ItemKind::other, 0, "a break"}; };
  return c;
}

// Pass 1: every item head, in order. Throws FormatError at the offending item's offset.
void scan(ByteView in, const std::string &source) {
  static const cbor_callbacks callbacks = scan_callbacks();
  std::vector<uint64_t> open; // items still expected by each open map
  size_t pos = 0;
  do {
    if (pos == in.size()) throw FormatError(source, pos, "truncated: the CBOR map ends early");
    ScanState s;
    cbor_decoder_result r = cbor_stream_decode(in.data() + pos, in.size() - pos, &callbacks, &s);
    if (r.status == CBOR_DECODER_NEDATA)
      throw FormatError(source, pos,
                        "truncated: the CBOR item needs " + std::to_string(r.required) + " bytes, " +
                            std::to_string(in.size() - pos) + " remain");
    if (r.status != CBOR_DECODER_FINISHED || r.read == 0 || r.read > in.size() - pos)
      throw FormatError(source, pos, "malformed CBOR item");
    if (s.kind == ItemKind::other)
      throw FormatError(source, pos, std::string(s.what) + ": not part of dstack's measurement file");
    if (open.empty() && s.kind != ItemKind::map)
      throw FormatError(source, pos, "expected a CBOR map (the measurement file), found another item");
    // A string's bytes lie inside the input (whatever libcbor's own arithmetic made of its length).
    if ((s.kind == ItemKind::bytes || s.kind == ItemKind::text) && (s.count >= r.read || r.read - s.count > 9))
      throw FormatError(source, pos, "malformed CBOR string head");
    if (!open.empty()) --open.back();
    pos += r.read;
    if (s.kind == ItemKind::map && s.count > 0) {
      if (open.size() == k_max_depth)
        throw FormatError(source, pos - r.read, "maps nested deeper than the format's " + std::to_string(k_max_depth));
      // Each key and value takes at least one byte.
      if (s.count > (in.size() - pos) / 2)
        throw FormatError(source, pos - r.read,
                          "a map of " + std::to_string(s.count) + " pairs in " + std::to_string(in.size() - pos) +
                              " remaining bytes");
      open.push_back(uint64_t{s.count} * 2);
    }
    while (!open.empty() && open.back() == 0) open.pop_back();
  } while (!open.empty());
  if (pos != in.size())
    throw FormatError(source, pos, std::to_string(in.size() - pos) + " bytes after the measurement map");
}

struct ItemDeleter {
  void operator()(cbor_item_t *item) const {
    cbor_item_t *p = item;
    cbor_decref(&p);
  }
};
using Item = std::unique_ptr<cbor_item_t, ItemDeleter>;

// A map of the file, read by key. Every key is read exactly once (`take`); `finish` refuses the rest.
class MapFields {
public:
  MapFields(const cbor_item_t *map, std::string path, const std::string &source)
      : m_path(std::move(path)), m_source(source) {
    if (!cbor_isa_map(map) || !cbor_map_is_definite(map)) fail(m_path.empty() ? "the file" : m_path, "is not a map");
    const cbor_pair *pairs = cbor_map_handle(map);
    for (size_t i = 0; i < cbor_map_size(map); ++i) {
      const cbor_item_t *k = pairs[i].key;
      if (!cbor_isa_string(k) || !cbor_string_is_definite(k))
        fail(m_path.empty() ? "the file" : m_path, "has a key that is not a text string");
      std::string key(reinterpret_cast<const char *>(cbor_string_handle(k)), cbor_string_length(k));
      for (const auto &e : m_entries)
        if (e.first == key) fail(name(key), "is given twice");
      m_entries.emplace_back(key, pairs[i].value);
    }
  }

  const cbor_item_t *take(const std::string &key) {
    for (auto it = m_entries.begin(); it != m_entries.end(); ++it)
      if (it->first == key) {
        const cbor_item_t *v = it->second;
        m_entries.erase(it);
        return v;
      }
    fail(name(key), "is missing");
  }

  void finish() const {
    if (!m_entries.empty())
      fail(name(printable(m_entries.front().first)), "is not a field of dstack's measurement file (version 3)");
  }

  std::string name(const std::string &key) const { return m_path.empty() ? key : m_path + "." + key; }

  Sha384 digest(const std::string &key) {
    Bytes b = bytes(key, 48, 48);
    return to_sha384(b);
  }

  Bytes bytes(const std::string &key, size_t min, size_t max) {
    const cbor_item_t *v = take(key);
    if (!cbor_isa_bytestring(v) || !cbor_bytestring_is_definite(v)) fail(name(key), "is not a byte string");
    size_t n = cbor_bytestring_length(v);
    if (n < min || n > max)
      fail(name(key), "has " + std::to_string(n) + " bytes, expected " +
                          (min == max ? std::to_string(min) : std::to_string(min) + ".." + std::to_string(max)));
    const uint8_t *p = cbor_bytestring_handle(v);
    return Bytes(p, p + n);
  }

  [[noreturn]] void fail(const std::string &field, const std::string &what) const {
    throw FormatError(m_source, 0, field + " " + what);
  }

  static std::string printable(const std::string &s) {
    std::string out;
    for (char c : s.substr(0, 64)) out += (c >= 0x20 && c < 0x7f) ? c : '?';
    return out;
  }

private:
  std::vector<std::pair<std::string, const cbor_item_t *>> m_entries;
  std::string m_path;
  const std::string &m_source;
};

bool printable_name(const std::string &s) {
  return !s.empty() && s.size() <= k_max_ovmf_name_size &&
         std::all_of(s.begin(), s.end(), [](char c) { return c > 0x20 && c < 0x7f; });
}

} // namespace

TdxMeasurementFile parse_tdx_measurement_file(ByteView bytes, const std::string &source) {
  if (bytes.size() > k_max_tdx_measurement_size)
    throw FormatError(source, k_max_tdx_measurement_size,
                      std::to_string(bytes.size()) + " bytes: larger than a measurement file can be (" +
                          std::to_string(k_max_tdx_measurement_size) + ")");
  scan(bytes, source);
  cbor_load_result result{};
  Item root(cbor_load(bytes.data(), bytes.size(), &result));
  if (!root || result.error.code != CBOR_ERR_NONE)
    throw FormatError(source, result.error.position,
                      "malformed CBOR (libcbor error " + std::to_string(static_cast<int>(result.error.code)) + ")");
  if (result.read != bytes.size()) throw FormatError(source, result.read, "bytes after the measurement map");

  TdxMeasurementFile m;
  MapFields top(root.get(), "", source);
  const cbor_item_t *version = top.take("version");
  if (!cbor_isa_uint(version)) top.fail("version", "is not an unsigned integer");
  if (cbor_get_int(version) != k_tdx_measurement_version)
    top.fail("version", std::to_string(cbor_get_int(version)) + " is not supported (dstack's and mrforge's is " +
                            std::to_string(k_tdx_measurement_version) + ")");
  MapFields image(top.take("image"), "image", source);
  m.cmdline_sha384 = image.digest("cmdline_sha384");
  m.kernel_authenticode = image.digest("kernel_authenticode");
  m.initrd_sha384 = image.digest("initrd_sha384");
  image.finish();
  MapFields tdvf(top.take("tdvf"), "tdvf", source);
  const cbor_item_t *ovmf = tdvf.take("ovmf");
  if (!cbor_isa_string(ovmf) || !cbor_string_is_definite(ovmf)) tdvf.fail("tdvf.ovmf", "is not a text string");
  m.ovmf.assign(reinterpret_cast<const char *>(cbor_string_handle(ovmf)), cbor_string_length(ovmf));
  if (!printable_name(m.ovmf))
    tdvf.fail("tdvf.ovmf", "'" + MapFields::printable(m.ovmf) + "' is not a variant name (1.." +
                               std::to_string(k_max_ovmf_name_size) + " printable ASCII characters)");
  MapFields mrtd(tdvf.take("mrtd"), "tdvf.mrtd", source);
  m.mrtd_single_pass = mrtd.digest("single_pass");
  m.mrtd_two_pass = mrtd.digest("two_pass");
  mrtd.finish();
  m.td_hob = tdvf.bytes("td_hob", 1, k_max_td_hob_witness_size);
  tdvf.finish();
  top.finish();
  return m;
}

namespace {

Item owned(cbor_item_t *item) {
  if (!item) throw std::bad_alloc();
  return Item(item);
}

// A definite map of `pairs` (key, value), in the given order.
Item map_of(std::vector<std::pair<const char *, Item>> pairs) {
  Item map = owned(cbor_new_definite_map(pairs.size()));
  for (auto &[key, value] : pairs) {
    Item k = owned(cbor_build_string(key));
    if (!cbor_map_add(map.get(), cbor_pair{k.get(), value.get()})) throw std::bad_alloc();
  }
  return map;
}

Item bytes_of(ByteView b) { return owned(cbor_build_bytestring(b.data(), b.size())); }
Item digest_of(const Sha384 &d) { return bytes_of(ByteView(d.data(), d.size())); }

} // namespace

Bytes write_tdx_measurement_file(const TdxMeasurementFile &m) {
  if (!printable_name(m.ovmf))
    throw InputError("measurement.tdx.cbor", "OVMF variant name '" + MapFields::printable(m.ovmf) + "' is not 1.." +
                                                 std::to_string(k_max_ovmf_name_size) + " printable ASCII characters");
  if (m.td_hob.empty() || m.td_hob.size() > k_max_td_hob_witness_size)
    throw InputError("measurement.tdx.cbor", "a TD HOB witness of " + std::to_string(m.td_hob.size()) +
                                                 " bytes (expected 1.." + std::to_string(k_max_td_hob_witness_size) +
                                                 ")");
  std::vector<std::pair<const char *, Item>> image;
  image.emplace_back("cmdline_sha384", digest_of(m.cmdline_sha384));
  image.emplace_back("kernel_authenticode", digest_of(m.kernel_authenticode));
  image.emplace_back("initrd_sha384", digest_of(m.initrd_sha384));
  std::vector<std::pair<const char *, Item>> mrtd;
  mrtd.emplace_back("single_pass", digest_of(m.mrtd_single_pass));
  mrtd.emplace_back("two_pass", digest_of(m.mrtd_two_pass));
  std::vector<std::pair<const char *, Item>> tdvf;
  tdvf.emplace_back("ovmf", owned(cbor_build_stringn(m.ovmf.data(), m.ovmf.size())));
  tdvf.emplace_back("mrtd", map_of(std::move(mrtd)));
  tdvf.emplace_back("td_hob", bytes_of(m.td_hob));
  std::vector<std::pair<const char *, Item>> top;
  top.emplace_back("version", owned(cbor_build_uint8(static_cast<uint8_t>(k_tdx_measurement_version))));
  top.emplace_back("image", map_of(std::move(image)));
  top.emplace_back("tdvf", map_of(std::move(tdvf)));
  Item root = map_of(std::move(top));

  unsigned char *buffer = nullptr;
  size_t allocated = 0;
  size_t written = cbor_serialize_alloc(root.get(), &buffer, &allocated);
  std::unique_ptr<unsigned char, decltype(&std::free)> hold(buffer, &std::free);
  if (written == 0) throw std::bad_alloc();
  return Bytes(buffer, buffer + written);
}

} // namespace mrforge
