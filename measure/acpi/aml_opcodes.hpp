// The AML opcodes (ACPI 6.5 section 20.3) that mrforge writes (aml.cpp) or follows when it reads a
// table (acpi_decode.cpp), with their ASL names: one table, so the encoder and the decoder cannot
// disagree on a byte. Extended opcodes follow ExtOpPrefix (0x5B) in the byte stream.
#pragma once

#include <cstdint>

namespace mrforge::aml {

enum class Op : uint8_t {
  zero = 0x00, // also NullName and the ReservedField prefix
  one = 0x01,
  alias = 0x06,
  name = 0x08,
  byte_prefix = 0x0A,
  word_prefix = 0x0B,
  dword_prefix = 0x0C,
  string_prefix = 0x0D,
  qword_prefix = 0x0E,
  scope = 0x10,
  buffer = 0x11,
  package = 0x12,
  var_package = 0x13,
  method = 0x14,
  external = 0x15,
  dual_name_prefix = 0x2E,
  multi_name_prefix = 0x2F,
  ext_prefix = 0x5B,
  local0 = 0x60, // Local0-7: 0x60-0x67
  arg0 = 0x68,   // Arg0-6: 0x68-0x6E
  arg6 = 0x6E,
  store = 0x70,
  add = 0x72,
  concatenate = 0x73,
  subtract = 0x74,
  increment = 0x75,
  decrement = 0x76,
  shift_left = 0x79,
  shift_right = 0x7A,
  and_ = 0x7B,
  or_ = 0x7D,
  deref_of = 0x83,
  notify = 0x86,
  size_of = 0x87,
  index = 0x88,
  create_dword_field = 0x8A,
  object_type = 0x8E,
  create_qword_field = 0x8F,
  land = 0x90,
  lor = 0x91,
  lnot = 0x92,
  lequal = 0x93,
  lgreater = 0x94,
  lless = 0x95,
  to_buffer = 0x96,
  to_hex_string = 0x98,
  to_integer = 0x99,
  if_ = 0xA0,
  else_ = 0xA1,
  while_ = 0xA2,
  noop = 0xA3,
  return_ = 0xA4,
  break_ = 0xA5,
  ones = 0xFF,
};

enum class ExtOp : uint8_t {
  mutex = 0x01,
  event = 0x02,
  acquire = 0x23,
  release = 0x27,
  revision = 0x30,
  debug = 0x31, // the Debug object (DebugObj), a SuperName
  operation_region = 0x80,
  field = 0x81,
  device = 0x82,
  processor = 0x83,
  power_resource = 0x84,
  thermal_zone = 0x85,
  index_field = 0x86,
  bank_field = 0x87,
};

// FieldList elements (ACPI 6.5 20.2.5.2) other than a NamedField (which starts with a NameSeg).
enum class FieldElement : uint8_t { reserved = 0x00, access = 0x01, connect = 0x02, extended_access = 0x03 };

constexpr uint8_t byte(Op op) { return static_cast<uint8_t>(op); }
constexpr uint8_t byte(ExtOp op) { return static_cast<uint8_t>(op); }
constexpr uint8_t byte(FieldElement e) { return static_cast<uint8_t>(e); }

// The ASL name of a named-object opcode ("Scope", "Method", ...), as the decoder reports an
// object's kind; nullptr for opcodes that do not declare a named object.
constexpr const char *object_kind(Op op) {
  switch (op) {
  case Op::scope: return "Scope";
  case Op::method: return "Method";
  case Op::name: return "Name";
  case Op::alias: return "Alias";
  case Op::external: return "External";
  case Op::if_: return "If";
  case Op::else_: return "Else";
  default: return nullptr;
  }
}

constexpr const char *object_kind(ExtOp op) {
  switch (op) {
  case ExtOp::mutex: return "Mutex";
  case ExtOp::event: return "Event";
  case ExtOp::operation_region: return "OperationRegion";
  case ExtOp::field: return "Field";
  case ExtOp::device: return "Device";
  case ExtOp::processor: return "Processor";
  case ExtOp::power_resource: return "PowerResource";
  case ExtOp::thermal_zone: return "ThermalZone";
  case ExtOp::index_field: return "IndexField";
  case ExtOp::bank_field: return "BankField";
  default: return nullptr;
  }
}

} // namespace mrforge::aml
