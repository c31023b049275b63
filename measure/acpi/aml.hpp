// A small AML (ACPI Machine Language) encoder: terms are built bottom-up and appended to their
// parents, each term knowing how it is framed when appended (bare bytes, opcode + operands,
// package with PkgLength, extended-opcode package, buffer, resource template). The framing rules
// and the encoding choices (shortest integer prefix, PkgLength width thresholds, resource
// descriptors written in their minimal forms) are those of QEMU's hw/acpi/aml-build.c, because the
// tables must come out byte for byte as QEMU writes them; the code is our own.
// Hand-written: there is no AML encoding library in Debian (acpica's compiler works on ASL text).
#pragma once

#include <measure/acpi/aml_opcodes.hpp>
#include <measure/util/bytes.hpp>

#include <cstdint>
#include <initializer_list>
#include <string>
#include <vector>

namespace mrforge::aml {

class Term {
public:
  enum class Frame { bare, opcode, package, ext_package, buffer, resource_template };

  Term() = default;
  static Term bare() { return Term(Frame::bare, 0); }
  // A term framed by a primary opcode (opcode, package, buffer, resource_template) or, for
  // ext_package, by ExtOpPrefix and an extended opcode.
  static Term framed(Frame frame, Op op) { return Term(frame, aml::byte(op)); }
  static Term ext_package(ExtOp op) { return Term(Frame::ext_package, aml::byte(op)); }

  // Appends `child`, framed as it says (aml_append).
  Term &add(const Term &child);
  Term &operator<<(const Term &child) { return add(child); }
  // Raw content bytes (inside the frame).
  Term &byte(uint8_t b);
  Term &bytes(ByteView b);
  Term &le(uint64_t value, int size);         // little-endian, `size` bytes
  Term &name_string(const std::string &path); // "\\_SB.PCI0", "^S08.PCNT", "_ADR", ""
  Term &integer(uint64_t v);                  // ZeroOp, OneOp or the shortest prefix form

  const Bytes &content() const { return m_content; }
  Frame frame() const { return m_frame; }
  uint8_t op() const { return m_op; }
  // The term as it appears when appended to a parent (frame applied).
  Bytes encode() const;

private:
  Term(Frame frame, uint8_t op) : m_frame(frame), m_op(op) {}
  Frame m_frame = Frame::bare;
  uint8_t m_op = 0;
  Bytes m_content;
};

// PkgLength as QEMU writes it: `length` counts the data after the PkgLength; with incl_self the
// PkgLength's own bytes are added (terms with explicit length), without (field units) they are not.
void append_pkg_length(Bytes &out, uint32_t length, bool incl_self);
void append_name_seg(Bytes &out, const std::string &seg); // padded with '_' to 4 characters

// Data and names.
Term integer(uint64_t v);
Term name(const std::string &path);
Term string(const std::string &s);
Term eisaid(const std::string &id); // "PNP0A03" -> DWord
Term touuid(const std::string &uuid);
Term unicode(const std::string &s);
Term buffer(const Bytes &data);
Term package(uint8_t elements);
Term local(int n);
Term arg(int n);
Term debug(); // the Debug object, as a Store target

// Named objects and blocks.
Term scope(const std::string &path);
Term device(const std::string &path);
enum Serialize : uint8_t { not_serialized = 0, serialized = 1 };
Term method(const std::string &name, int args, Serialize s);
Term name_decl(const std::string &name, const Term &value);
enum RegionSpace : uint8_t { system_memory = 0, system_io = 1, pci_config = 2 };
Term operation_region(const std::string &name, RegionSpace space, const Term &offset, uint32_t length);
enum Access : uint8_t { any_acc = 0, byte_acc = 1, word_acc = 2, dword_acc = 3, qword_acc = 4 };
enum Lock : uint8_t { no_lock = 0, lock = 1 };
enum Update : uint8_t { preserve = 0, write_as_ones = 1, write_as_zeros = 2 };
Term field(const std::string &region, Access access, Lock lock, Update update);
Term named_field(const std::string &name, uint32_t bits);
Term reserved_field(uint32_t bits);
Term mutex(const std::string &name, uint8_t sync_level);
Term processor(uint8_t id, uint32_t pblk_addr, uint8_t pblk_len, const std::string &name);
Term if_(const Term &predicate);
Term else_();
Term while_(const Term &predicate);

// Statements and expressions. `target` may be an empty Term (NullName).
Term store(const Term &value, const Term &target);
Term return_(const Term &value);
Term notify(const Term &object, const Term &value);
Term break_();
Term acquire(const Term &mutex, uint16_t timeout);
Term release(const Term &mutex);
Term call(const std::string &method, std::initializer_list<Term> args = {});
Term and_(const Term &a, const Term &b, const Term &target = Term());
Term or_(const Term &a, const Term &b, const Term &target = Term());
Term add(const Term &a, const Term &b, const Term &target = Term());
Term subtract(const Term &a, const Term &b, const Term &target = Term());
Term shift_left(const Term &a, const Term &count);
Term shift_right(const Term &a, const Term &count, const Term &target = Term());
Term index(const Term &object, const Term &idx);
Term land(const Term &a, const Term &b);
Term lor(const Term &a, const Term &b);
Term lnot(const Term &a);
Term lequal(const Term &a, const Term &b);
Term lless(const Term &a, const Term &b);
Term lgreater(const Term &a, const Term &b);
Term lgreater_equal(const Term &a, const Term &b);
Term increment(const Term &a);
Term decrement(const Term &a);
Term derefof(const Term &a);
Term sizeof_(const Term &a);
Term to_buffer(const Term &src, const Term &dst = Term());
Term to_hexstring(const Term &src, const Term &dst = Term());
Term to_integer(const Term &src);
Term concatenate(const Term &a, const Term &b, const Term &target = Term());
Term create_dword_field(const Term &buffer, const Term &index, const std::string &name);
Term create_qword_field(const Term &buffer, const Term &index, const std::string &name);
Term object_type(const Term &object);

// Resource descriptors (inside resource_template()).
Term resource_template();
Term io(uint16_t min, uint16_t max, uint8_t align, uint8_t length); // Decode16
Term irq_no_flags(uint8_t irq);
// IRQ descriptor with flags (ACPI 6.5 6.4.2.1, 3-byte form): "IRQ (Level, ActiveLow, Shared) {4}".
Term irq(uint8_t irq, bool edge, bool active_low, bool shared);
// Extended Interrupt descriptor: consumer, level (or edge), active high (or low), shared (or exclusive).
Term interrupt(bool consumer, bool edge, bool active_low, bool shared, const std::vector<uint32_t> &irqs);
Term memory32_fixed(uint32_t base, uint32_t size, bool read_write);
Term word_bus_number(uint16_t min, uint16_t max, uint16_t length);
Term word_io(uint16_t min, uint16_t max, uint16_t length);                      // EntireRange, PosDecode, fixed
Term dword_io(uint32_t min, uint32_t max, uint32_t length);                     // EntireRange, fixed
Term dword_memory(bool cacheable, uint32_t min, uint32_t max, uint32_t length); // ReadWrite, fixed
Term qword_memory(bool cacheable, uint64_t min, uint64_t max, uint64_t length);
Term dma(uint8_t type, uint8_t bus_master, uint8_t transfer_size, uint8_t channel);

} // namespace mrforge::aml
