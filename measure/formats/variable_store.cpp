#include <measure/formats/variable_store.hpp>
#include <measure/util/errors.hpp>
#include <measure/util/reader.hpp>

namespace mrforge {

namespace {

const Guid k_system_nv_data_fv = Guid::parse("fff12b8d-7696-4c8b-a985-2747075b4f50");   // gEfiSystemNvDataFvGuid
const Guid k_authenticated_store = Guid::parse("aaf32c78-947b-439a-a180-2e144ec37792"); // gEfiAuthenticatedVariableGuid
const Guid k_plain_store = Guid::parse("ddcf3616-3275-4164-98b6-fe85707ffe7d");         // gEfiVariableGuid

constexpr size_t k_fv_header_size = 56;    // without the block map
constexpr size_t k_store_header_size = 28; // VARIABLE_STORE_HEADER
constexpr uint8_t k_store_formatted = 0x5a;
constexpr uint16_t k_start_id = 0x55aa;
constexpr uint8_t k_var_added = 0x3f;
constexpr uint8_t k_var_added_in_deleted_transition = 0x3e;
// A store of a few hundred KiB holds at most a few thousand variables; more is a malformed walk.
constexpr size_t k_max_variables = 65536;

Guid read_guid(Reader &r) { return Guid::from_bytes(r.read_bytes(16)); }

std::string ascii_name(Reader &r, size_t size) {
  if (size % 2) r.fail("variable name size " + std::to_string(size) + " is not a whole number of UTF-16 units");
  ByteView b = r.read_bytes(size);
  std::string name;
  for (size_t i = 0; i + 1 < b.size(); i += 2) {
    uint16_t c = static_cast<uint16_t>(b[i] | (b[i + 1] << 8));
    if (c == 0) break;
    name += c < 0x80 && c >= 0x20 ? static_cast<char>(c) : '?';
  }
  return name;
}

} // namespace

const StoredVariable *VariableStore::find(const std::string &name, const Guid &vendor) const {
  for (const StoredVariable &v : variables)
    if (v.name == name && v.vendor == vendor) return &v;
  return nullptr;
}

VariableStore parse_variable_store(ByteView cfv, const std::string &source, uint64_t base) {
  Reader fv(cfv, source, base);
  fv.skip(16);
  if (read_guid(fv) != k_system_nv_data_fv)
    fv.fail_at(16, "the CFV is not a UEFI variable volume (file system GUID is not gEfiSystemNvDataFvGuid)");
  uint64_t fv_length = fv.read_le<uint64_t>();
  fv.expect(ByteView(reinterpret_cast<const uint8_t *>("_FVH"), 4), "firmware volume signature _FVH");
  fv.skip(4);
  uint16_t header_length = fv.read_le<uint16_t>();
  if (fv_length > cfv.size()) fv.fail_at(32, "volume length " + hex_u64(fv_length) + " is larger than the CFV");
  if (header_length < k_fv_header_size || header_length > fv_length)
    fv.fail_at(48, "volume header length " + hex_u64(header_length) + " is out of range");

  Reader store = fv.sub(header_length, static_cast<size_t>(fv_length) - header_length, "variable store");
  if (store.size() < k_store_header_size) store.fail("the variable store header is truncated");
  VariableStore out;
  Guid signature = read_guid(store);
  if (signature == k_authenticated_store)
    out.authenticated = true;
  else if (signature != k_plain_store)
    store.fail_at(0, "unknown variable store signature " + signature.str());
  uint32_t store_size = store.read_le<uint32_t>();
  uint8_t format = store.read_le<uint8_t>();
  if (store_size < k_store_header_size || store_size > store.size())
    store.fail_at(16, "variable store size " + hex_u64(store_size) + " does not fit the volume");
  if (format != k_store_formatted)
    store.fail_at(20, "the variable store is not formatted (format byte " + hex_u64(format) + ", expected 0x5a)");
  Reader vars = store.sub(k_store_header_size, store_size - k_store_header_size, "variables");
  const size_t header_size = out.authenticated ? 60 : 32;
  for (size_t count = 0;; ++count) {
    if (vars.remaining() < header_size) break;
    size_t at = vars.pos();
    if (vars.peek_le<uint16_t>(at) != k_start_id) break; // the end of the variables (erased flash)
    if (count == k_max_variables) vars.fail("more than " + std::to_string(k_max_variables) + " variables");
    vars.skip(2);
    uint8_t state = vars.read_le<uint8_t>();
    vars.skip(1);
    StoredVariable v;
    v.attributes = vars.read_le<uint32_t>();
    if (out.authenticated) vars.skip(8 + 16 + 4); // MonotonicCount, TimeStamp, PubKeyIndex
    uint32_t name_size = vars.read_le<uint32_t>();
    uint32_t data_size = vars.read_le<uint32_t>();
    v.vendor = read_guid(vars);
    if (name_size > vars.remaining() || data_size > vars.remaining() - name_size)
      vars.fail_at(at, "variable runs past the end of the store (name " + std::to_string(name_size) + " bytes, data " +
                           std::to_string(data_size) + " bytes)");
    v.name = ascii_name(vars, name_size);
    ByteView data = vars.read_bytes(data_size);
    v.data.assign(data.begin(), data.end());
    size_t next = (vars.pos() + 3) & ~size_t{3};
    if (next > vars.size()) next = vars.size();
    vars.seek(next);
    if (state == k_var_added || state == k_var_added_in_deleted_transition) out.variables.push_back(std::move(v));
  }
  return out;
}

} // namespace mrforge
