#include <builder/attest/reference_values.hpp>

#include <measure/util/base64.hpp>
#include <measure/util/size_text.hpp>

#include <measure/documents/measurement_json.hpp>
#include <measure/engine/engine.hpp>
#include <measure/util/errors.hpp>
#include <measure/util/hash.hpp>

#include <algorithm>

namespace mrforge::builder {

namespace {

using OJson = nlohmann::ordered_json;

void require_shapes(const Statement &statement) {
  if (statement.shapes.empty())
    throw InputError("statement", "holds no VM shapes (a " + statement.kind +
                                      " is not measured into a TD's registers): no reference values to export");
}

void add_unique(OJson &list, const std::string &value) {
  if (std::find(list.begin(), list.end(), OJson(value)) == list.end()) list.push_back(value);
}

} // namespace

nlohmann::ordered_json rvps_reference_value_lists(const Statement &statement) {
  require_shapes(statement);
  OJson lists{
      {"mr_td", OJson::array()}, {"rtmr_0", OJson::array()}, {"rtmr_1", OJson::array()}, {"rtmr_2", OJson::array()}};
  for (const StatementShape &s : statement.shapes) {
    if (s.expected.mrtd) add_unique(lists["mr_td"], to_hex(*s.expected.mrtd));
    for (size_t i = 0; i < 3; ++i) {
      // parse_statement requires RTMR0-2 in every shape.
      if (!s.expected.rtmr[i]) throw InputError("statement", "a shape without RTMR" + std::to_string(i));
      add_unique(lists["rtmr_" + std::to_string(i)], to_hex(*s.expected.rtmr[i]));
    }
  }
  if (lists["mr_td"].empty()) lists.erase("mr_td");
  return lists;
}

nlohmann::ordered_json coco_rvps_reference_values(const Statement &statement) {
  std::string payload = rvps_reference_value_lists(statement).dump();
  return OJson{{"version", k_rvps_message_version},
               {"type", k_rvps_sample_type},
               {"payload", base64_encode(std::vector<uint8_t>(payload.begin(), payload.end()))}};
}

nlohmann::ordered_json plain_measurements(const Statement &statement) {
  require_shapes(statement);
  OJson shapes = OJson::array();
  for (const StatementShape &s : statement.shapes) {
    OJson j;
    j["profile"] = s.profile;
    j["ovmf_variant"] = s.ovmf_variant;
    j["cpus"] = s.cpus;
    j["memory"] = format_memory_size(s.memory_bytes);
    j["memory_bytes"] = s.memory_bytes;
    j["acpi"] = s.acpi_record;
    j["firmware"] = OJson{{"name", s.firmware_name}, {"sha256", s.firmware_sha256}};
    j["cmdline"] = s.cmdline;
    j["mrtd"] = s.expected.mrtd ? OJson(to_hex(*s.expected.mrtd)) : OJson(nullptr);
    for (size_t i = 0; i < 3; ++i)
      j["rtmr" + std::to_string(i)] = s.expected.rtmr[i] ? OJson(to_hex(*s.expected.rtmr[i])) : OJson(nullptr);
    j["events"] = OJson::array();
    for (const Event &e : s.expected.events) j["events"].push_back(event_json(e));
    shapes.push_back(std::move(j));
  }
  return OJson{{"shapes", shapes}};
}

} // namespace mrforge::builder
