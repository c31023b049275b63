#include <measure/acpi/aml.hpp>

#include <stdexcept>

namespace mrforge::aml {

namespace {

// Resource descriptor tags (ACPI 6.5 6.4): small items carry their length in the tag's low bits,
// large items (bit 7 set) in the two bytes after it.
enum class Resource : uint8_t {
  irq_no_flags = 0x22,
  irq = 0x23,
  dma = 0x2A,
  io = 0x47,
  end_tag = 0x79,
  memory32_fixed = 0x86,
  dword_address = 0x87,
  word_address = 0x88,
  extended_interrupt = 0x89,
  qword_address = 0x8A,
};
constexpr uint8_t tag(Resource r) { return static_cast<uint8_t>(r); }

void put_le(Bytes &out, uint64_t value, int size) {
  for (int i = 0; i < size; ++i) {
    out.push_back(static_cast<uint8_t>(value & 0xff));
    value >>= 8;
  }
}

void put_integer(Bytes &out, uint64_t v) {
  if (v == 0) {
    out.push_back(byte(Op::zero));
  } else if (v == 1) {
    out.push_back(byte(Op::one));
  } else if (v <= 0xff) {
    out.push_back(byte(Op::byte_prefix));
    put_le(out, v, 1);
  } else if (v <= 0xffff) {
    out.push_back(byte(Op::word_prefix));
    put_le(out, v, 2);
  } else if (v <= 0xffffffff) {
    out.push_back(byte(Op::dword_prefix));
    put_le(out, v, 4);
  } else {
    out.push_back(byte(Op::qword_prefix));
    put_le(out, v, 8);
  }
}

// Splits "a.b.c" on '.'.
std::vector<std::string> split_dots(const std::string &s) {
  std::vector<std::string> parts;
  size_t start = 0;
  for (;;) {
    size_t dot = s.find('.', start);
    parts.push_back(s.substr(start, dot == std::string::npos ? std::string::npos : dot - start));
    if (dot == std::string::npos) return parts;
    start = dot + 1;
  }
}

void put_name_string(Bytes &out, const std::string &path) {
  std::vector<std::string> segs = split_dots(path);
  std::string &first = segs[0];
  size_t prefix = 0;
  while (prefix < first.size() && (first[prefix] == '\\' || first[prefix] == '^'))
    out.push_back(static_cast<uint8_t>(first[prefix++]));
  first.erase(0, prefix);
  if (segs.size() == 1) {
    if (first.empty())
      out.push_back(byte(Op::zero)); // NullName
    else
      append_name_seg(out, first);
  } else if (segs.size() == 2) {
    out.push_back(byte(Op::dual_name_prefix));
    append_name_seg(out, segs[0]);
    append_name_seg(out, segs[1]);
  } else {
    if (segs.size() > 255) throw std::logic_error("AML name with more than 255 segments");
    out.push_back(byte(Op::multi_name_prefix));
    out.push_back(static_cast<uint8_t>(segs.size()));
    for (const auto &seg : segs) append_name_seg(out, seg);
  }
}

// Frames `content` as a package: op PkgLength content.
Bytes package_of(uint8_t op, const Bytes &content) {
  Bytes out{op};
  append_pkg_length(out, static_cast<uint32_t>(content.size()), true);
  out.insert(out.end(), content.begin(), content.end());
  return out;
}

Term opcode(Op op) { return Term::framed(Term::Frame::opcode, op); }
bool is_null_target(const Term &t) { return t.frame() == Term::Frame::bare && t.content().empty(); }

Term op_args(Op op, std::initializer_list<const Term *> args) {
  Term t = opcode(op);
  for (const Term *a : args) t.add(*a);
  return t;
}

// Op Operand Operand Target (NullName when no target).
Term op_2arg_dst(Op op, const Term &a, const Term &b, const Term &target) {
  Term t = opcode(op);
  t.add(a).add(b);
  if (is_null_target(target))
    t.byte(byte(Op::zero)); // NullName
  else
    t.add(target);
  return t;
}

Term ext_op(ExtOp op) {
  Term t = Term::bare();
  t.byte(byte(Op::ext_prefix)).byte(byte(op));
  return t;
}

} // namespace

void append_pkg_length(Bytes &out, uint32_t length, bool incl_self) {
  int length_bytes;
  if (length + 1 < (1u << 6))
    length_bytes = 1;
  else if (length + 2 < (1u << 12))
    length_bytes = 2;
  else if (length + 3 < (1u << 20))
    length_bytes = 3;
  else
    length_bytes = 4;
  if (incl_self) length += static_cast<uint32_t>(length_bytes);
  if (length_bytes == 1) {
    out.push_back(static_cast<uint8_t>(length));
    return;
  }
  // Byte 0: bits 7-6 = count of following bytes, bits 3-0 = the length's low nibble; then the
  // remaining bits, 8 at a time.
  out.push_back(static_cast<uint8_t>((static_cast<uint32_t>(length_bytes - 1) << 6) | (length & 0x0f)));
  length >>= 4;
  for (int i = 1; i < length_bytes; ++i) {
    out.push_back(static_cast<uint8_t>(length & 0xff));
    length >>= 8;
  }
}

void append_name_seg(Bytes &out, const std::string &seg) {
  if (seg.size() > 4) throw std::logic_error("AML name segment longer than 4 characters: " + seg);
  out.insert(out.end(), seg.begin(), seg.end());
  for (size_t i = seg.size(); i < 4; ++i) out.push_back('_');
}

Term &Term::add(const Term &child) {
  Bytes framed = child.encode();
  m_content.insert(m_content.end(), framed.begin(), framed.end());
  return *this;
}

Term &Term::byte(uint8_t b) {
  m_content.push_back(b);
  return *this;
}

Term &Term::bytes(ByteView b) {
  m_content.insert(m_content.end(), b.begin(), b.end());
  return *this;
}

Term &Term::le(uint64_t value, int size) {
  put_le(m_content, value, size);
  return *this;
}

Term &Term::name_string(const std::string &path) {
  put_name_string(m_content, path);
  return *this;
}

Term &Term::integer(uint64_t v) {
  put_integer(m_content, v);
  return *this;
}

Bytes Term::encode() const {
  switch (m_frame) {
  case Frame::bare: return m_content;
  case Frame::opcode: {
    Bytes out{m_op};
    out.insert(out.end(), m_content.begin(), m_content.end());
    return out;
  }
  case Frame::package: return package_of(m_op, m_content);
  case Frame::ext_package: {
    Bytes out{aml::byte(Op::ext_prefix)};
    Bytes p = package_of(m_op, m_content);
    out.insert(out.end(), p.begin(), p.end());
    return out;
  }
  case Frame::resource_template:
  case Frame::buffer: {
    Bytes data;
    Bytes body = m_content;
    if (m_frame == Frame::resource_template) {
      body.push_back(tag(Resource::end_tag));
      body.push_back(0x00); // checksum 0: "treated as succeeded"
    }
    put_integer(data, body.size());
    data.insert(data.end(), body.begin(), body.end());
    return package_of(m_op, data);
  }
  }
  return m_content;
}

Term integer(uint64_t v) { return Term::bare().integer(v); }
Term name(const std::string &path) { return Term::bare().name_string(path); }

Term string(const std::string &s) {
  Term t = opcode(Op::string_prefix);
  t.bytes(ByteView::of(s)).byte(0x00); // NullChar
  return t;
}

namespace {
uint32_t hex_digit(char c) { return c >= 'A' ? static_cast<uint32_t>(c - 'A' + 10) : static_cast<uint32_t>(c - '0'); }
uint8_t hex_byte(const char *p) { return static_cast<uint8_t>(hex_digit(p[0]) << 4 | hex_digit(p[1])); }
} // namespace

Term eisaid(const std::string &id) {
  if (id.size() != 7) throw std::logic_error("EISA id must have 7 characters: " + id);
  uint32_t v = static_cast<uint32_t>(id[0] - 0x40) << 26 | static_cast<uint32_t>(id[1] - 0x40) << 21 |
               static_cast<uint32_t>(id[2] - 0x40) << 16 | hex_digit(id[3]) << 12 | hex_digit(id[4]) << 8 |
               hex_digit(id[5]) << 4 | hex_digit(id[6]);
  Term t = Term::bare();
  t.byte(byte(Op::dword_prefix));
  // Stored big-endian (the compressed EISA id's byte order).
  t.byte(static_cast<uint8_t>(v >> 24)).byte(static_cast<uint8_t>(v >> 16));
  t.byte(static_cast<uint8_t>(v >> 8)).byte(static_cast<uint8_t>(v));
  return t;
}

Term touuid(const std::string &u) {
  // aa bb cc dd - ee ff - gg hh - ii jj - kk ll mm nn oo pp, stored as the GUID's mixed-endian bytes.
  if (u.size() != 36) throw std::logic_error("UUID must have 36 characters: " + u);
  const int order[16] = {6, 4, 2, 0, 11, 9, 16, 14, 19, 21, 24, 26, 28, 30, 32, 34};
  Term t = Term::framed(Term::Frame::buffer, Op::buffer);
  for (int pos : order) {
    char hi = static_cast<char>(std::toupper(static_cast<unsigned char>(u[static_cast<size_t>(pos)])));
    char lo = static_cast<char>(std::toupper(static_cast<unsigned char>(u[static_cast<size_t>(pos) + 1])));
    const char pair[2] = {hi, lo};
    t.byte(hex_byte(pair));
  }
  return t;
}

Term unicode(const std::string &s) {
  Term t = Term::framed(Term::Frame::buffer, Op::buffer);
  for (char c : s) t.byte(static_cast<uint8_t>(c)).byte(0);
  t.byte(0).byte(0);
  return t;
}

Term buffer(const Bytes &data) {
  Term t = Term::framed(Term::Frame::buffer, Op::buffer);
  t.bytes(data);
  return t;
}

Term package(uint8_t elements) {
  Term t = Term::framed(Term::Frame::package, Op::package);
  t.byte(elements);
  return t;
}

Term local(int n) { return opcode(static_cast<Op>(byte(Op::local0) + n)); }
Term arg(int n) { return opcode(static_cast<Op>(byte(Op::arg0) + n)); }
Term debug() { return ext_op(ExtOp::debug); }

Term scope(const std::string &path) {
  Term t = Term::framed(Term::Frame::package, Op::scope);
  t.name_string(path);
  return t;
}

Term device(const std::string &path) {
  Term t = Term::ext_package(ExtOp::device);
  t.name_string(path);
  return t;
}

Term method(const std::string &name, int args, Serialize s) {
  Term t = Term::framed(Term::Frame::package, Op::method);
  t.name_string(name).byte(static_cast<uint8_t>(args | (s << 3)));
  return t;
}

Term name_decl(const std::string &name, const Term &value) {
  Term t = opcode(Op::name);
  t.name_string(name).add(value);
  return t;
}

Term operation_region(const std::string &name, RegionSpace space, const Term &offset, uint32_t length) {
  Term t = ext_op(ExtOp::operation_region);
  t.name_string(name).byte(space).add(offset).integer(length);
  return t;
}

Term field(const std::string &region, Access access, Lock lock, Update update) {
  Term t = Term::ext_package(ExtOp::field);
  t.name_string(region).byte(static_cast<uint8_t>(update << 5 | lock << 4 | access));
  return t;
}

Term named_field(const std::string &name, uint32_t bits) {
  Term t = Term::bare();
  Bytes b;
  append_name_seg(b, name);
  append_pkg_length(b, bits, false);
  return t.bytes(b);
}

Term reserved_field(uint32_t bits) {
  Bytes b{byte(FieldElement::reserved)};
  append_pkg_length(b, bits, false);
  return Term::bare().bytes(b);
}

Term mutex(const std::string &name, uint8_t sync_level) {
  Term t = ext_op(ExtOp::mutex);
  t.name_string(name).byte(sync_level);
  return t;
}

Term processor(uint8_t id, uint32_t pblk_addr, uint8_t pblk_len, const std::string &name) {
  Term t = Term::ext_package(ExtOp::processor);
  t.name_string(name).byte(id).le(pblk_addr, 4).byte(pblk_len);
  return t;
}

Term if_(const Term &predicate) {
  Term t = Term::framed(Term::Frame::package, Op::if_);
  t.add(predicate);
  return t;
}
Term else_() { return Term::framed(Term::Frame::package, Op::else_); }
Term while_(const Term &predicate) {
  Term t = Term::framed(Term::Frame::package, Op::while_);
  t.add(predicate);
  return t;
}

Term store(const Term &value, const Term &target) { return op_args(Op::store, {&value, &target}); }
Term return_(const Term &value) { return op_args(Op::return_, {&value}); }
Term notify(const Term &object, const Term &value) { return op_args(Op::notify, {&object, &value}); }
Term break_() { return opcode(Op::break_); }

Term acquire(const Term &m, uint16_t timeout) {
  Term t = ext_op(ExtOp::acquire);
  t.add(m).le(timeout, 2);
  return t;
}

Term release(const Term &m) {
  Term t = ext_op(ExtOp::release);
  t.add(m);
  return t;
}

Term call(const std::string &method, std::initializer_list<Term> args) {
  Term t = Term::bare();
  t.name_string(method);
  for (const Term &a : args) t.add(a);
  return t;
}

Term and_(const Term &a, const Term &b, const Term &target) { return op_2arg_dst(Op::and_, a, b, target); }
Term or_(const Term &a, const Term &b, const Term &target) { return op_2arg_dst(Op::or_, a, b, target); }
Term add(const Term &a, const Term &b, const Term &target) { return op_2arg_dst(Op::add, a, b, target); }
Term subtract(const Term &a, const Term &b, const Term &target) { return op_2arg_dst(Op::subtract, a, b, target); }
Term shift_left(const Term &a, const Term &count) { return op_2arg_dst(Op::shift_left, a, count, Term()); }
Term shift_right(const Term &a, const Term &count, const Term &target) {
  return op_2arg_dst(Op::shift_right, a, count, target);
}
Term index(const Term &object, const Term &idx) { return op_2arg_dst(Op::index, object, idx, Term()); }
Term land(const Term &a, const Term &b) { return op_args(Op::land, {&a, &b}); }
Term lor(const Term &a, const Term &b) { return op_args(Op::lor, {&a, &b}); }
Term lnot(const Term &a) { return op_args(Op::lnot, {&a}); }
Term lequal(const Term &a, const Term &b) { return op_args(Op::lequal, {&a, &b}); }
Term lgreater(const Term &a, const Term &b) { return op_args(Op::lgreater, {&a, &b}); }
Term lless(const Term &a, const Term &b) { return op_args(Op::lless, {&a, &b}); }
Term lgreater_equal(const Term &a, const Term &b) {
  Term t = opcode(Op::lnot); // LNot LLess
  t.byte(byte(Op::lless)).add(a).add(b);
  return t;
}
Term increment(const Term &a) { return op_args(Op::increment, {&a}); }
Term decrement(const Term &a) { return op_args(Op::decrement, {&a}); }
Term derefof(const Term &a) { return op_args(Op::deref_of, {&a}); }
Term sizeof_(const Term &a) { return op_args(Op::size_of, {&a}); }
namespace {
// Op Operand Target (NullName when no target).
Term op_src_dst(Op op, const Term &src, const Term &dst) {
  Term t = opcode(op);
  t.add(src);
  if (is_null_target(dst))
    t.byte(byte(Op::zero)); // NullName
  else
    t.add(dst);
  return t;
}
} // namespace

Term to_buffer(const Term &src, const Term &dst) { return op_src_dst(Op::to_buffer, src, dst); }
Term to_hexstring(const Term &src, const Term &dst) { return op_src_dst(Op::to_hex_string, src, dst); }
Term to_integer(const Term &src) {
  Term t = opcode(Op::to_integer);
  t.add(src).byte(byte(Op::zero)); // NullName
  return t;
}
Term concatenate(const Term &a, const Term &b, const Term &target) {
  return op_2arg_dst(Op::concatenate, a, b, target);
}
Term create_dword_field(const Term &buffer, const Term &index, const std::string &name) {
  Term t = op_args(Op::create_dword_field, {&buffer, &index});
  t.name_string(name);
  return t;
}
Term create_qword_field(const Term &buffer, const Term &index, const std::string &name) {
  Term t = op_args(Op::create_qword_field, {&buffer, &index});
  t.name_string(name);
  return t;
}
Term object_type(const Term &object) { return op_args(Op::object_type, {&object}); }

Term resource_template() { return Term::framed(Term::Frame::resource_template, Op::buffer); }

Term io(uint16_t min, uint16_t max, uint8_t align, uint8_t length) {
  Term t = Term::bare();
  t.byte(tag(Resource::io)).byte(1 /* Decode16 */).le(min, 2).le(max, 2).byte(align).byte(length);
  return t;
}

Term irq_no_flags(uint8_t irq) {
  Term t = Term::bare();
  t.byte(tag(Resource::irq_no_flags)).le(1u << irq, 2);
  return t;
}

Term irq(uint8_t irq, bool edge, bool active_low, bool shared) {
  Term t = Term::bare();
  t.byte(tag(Resource::irq)).le(1u << irq, 2);
  t.byte(static_cast<uint8_t>((edge ? 1 : 0) | (active_low ? 1 : 0) << 3 | (shared ? 1 : 0) << 4));
  return t;
}

Term interrupt(bool consumer, bool edge, bool active_low, bool shared, const std::vector<uint32_t> &irqs) {
  Term t = Term::bare();
  uint16_t len = static_cast<uint16_t>(2 + irqs.size() * 4);
  t.byte(tag(Resource::extended_interrupt)).le(len, 2);
  t.byte(static_cast<uint8_t>((consumer ? 1 : 0) | (edge ? 1 : 0) << 1 | (active_low ? 1 : 0) << 2 |
                              (shared ? 1 : 0) << 3));
  t.byte(static_cast<uint8_t>(irqs.size()));
  for (uint32_t irq : irqs) t.le(irq, 4);
  return t;
}

Term memory32_fixed(uint32_t base, uint32_t size, bool read_write) {
  Term t = Term::bare();
  t.byte(tag(Resource::memory32_fixed)).byte(9).byte(0).byte(read_write ? 1 : 0).le(base, 4).le(size, 4);
  return t;
}

namespace {
// Address space descriptors (word, dword, qword), minimal length, MinFixed|MaxFixed,
// PosDecode.
Term address_space(Resource kind, uint8_t length, int width, uint8_t type, uint8_t type_flags, uint64_t min,
                   uint64_t max, uint64_t len) {
  Term t = Term::bare();
  t.byte(tag(kind)).byte(length).byte(0);
  t.byte(type).byte(1 << 3 | 1 << 2).byte(type_flags);
  t.le(0, width).le(min, width).le(max, width).le(0, width).le(len, width);
  return t;
}
} // namespace

Term word_bus_number(uint16_t min, uint16_t max, uint16_t length) {
  return address_space(Resource::word_address, 0x0d, 2, 2, 0, min, max, length);
}
Term word_io(uint16_t min, uint16_t max, uint16_t length) {
  return address_space(Resource::word_address, 0x0d, 2, 1, 3 /* EntireRange */, min, max, length);
}
Term dword_io(uint32_t min, uint32_t max, uint32_t length) {
  return address_space(Resource::dword_address, 23, 4, 1, 3 /* EntireRange */, min, max, length);
}
Term dword_memory(bool cacheable, uint32_t min, uint32_t max, uint32_t length) {
  return address_space(Resource::dword_address, 23, 4, 0, static_cast<uint8_t>(1 | (cacheable ? 1 : 0) << 1), min, max,
                       length);
}
Term qword_memory(bool cacheable, uint64_t min, uint64_t max, uint64_t length) {
  return address_space(Resource::qword_address, 0x2b, 8, 0, static_cast<uint8_t>(1 | (cacheable ? 1 : 0) << 1), min,
                       max, length);
}

Term dma(uint8_t type, uint8_t bus_master, uint8_t transfer_size, uint8_t channel) {
  Term t = Term::bare();
  t.byte(tag(Resource::dma))
      .byte(static_cast<uint8_t>(1u << channel))
      .byte(static_cast<uint8_t>(transfer_size | bus_master << 2 | type << 5));
  return t;
}

} // namespace mrforge::aml
