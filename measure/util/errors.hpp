// Error types of mrforge. One small hierarchy: every error the libraries throw derives from
// mrforge::Error, and cli/main.cpp alone maps the kinds to exit codes.
#pragma once

#include <cstdint>
#include <stdexcept>
#include <string>

namespace mrforge {

// Base of all mrforge errors.
class Error : public std::runtime_error {
public:
  using std::runtime_error::runtime_error;
};

// Untrusted bytes that do not follow their format. what() reads
// "OVMF.fd+0x1fffb0: TDVF section 2: gpa 0x801234 is not 4 KiB aligned".
class FormatError : public Error {
public:
  FormatError(std::string source, uint64_t offset, const std::string &message);
  const std::string &source() const { return m_source; }
  uint64_t offset() const { return m_offset; }
  const std::string &detail() const { return m_detail; }

private:
  std::string m_source;
  uint64_t m_offset;
  std::string m_detail;
};

// A value given by the user (option, profile field, digest) that is not acceptable.
// what() names the input: "--memory: 3T is larger than ...".
class InputError : public Error {
public:
  InputError(std::string input, const std::string &message);
  const std::string &input() const { return m_input; }
  const std::string &detail() const { return m_detail; } // the message without the input's name

private:
  std::string m_input;
  std::string m_detail;
};

// An error in a YAML document we read (recipe, platform profile, OVMF variant), located by
// yaml-cpp's marks. what() reads "profiles/x.yaml:12:3: mrtd.page_order: expected ...".
class DocumentError : public Error {
public:
  DocumentError(std::string file, int line, int column, const std::string &message);
  const std::string &file() const { return m_file; }
  int line() const { return m_line; }
  int column() const { return m_column; }

private:
  std::string m_file;
  int m_line;
  int m_column;
};

// The operating system (or a C library) refused: a file that cannot be opened, a failed read.
class SystemError : public Error {
public:
  SystemError(std::string path, const std::string &message);
  const std::string &path() const { return m_path; }

private:
  std::string m_path;
};

// A host tool (QEMU, swtpm) could not run or failed while the inputs were fine: not the user's
// input, so the front end exits 3, not 2. what() reads "cannot run the VM: qemu-system-x86_64: ...".
class HostError : public SystemError {
public:
  using SystemError::SystemError;
};

} // namespace mrforge
