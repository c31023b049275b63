// dstack's image checksum file, `sha256sum.txt`: `sha256sum` output (one "HEX  NAME" line per
// file of the image), whose own SHA-256 is the image's identity (vm_config.os_image_hash), and
// whose `measurement.tdx.cbor` line binds the measurement file to it (Dstack-TEE/dstack at
// 312dc605: dstack-types/src/lib.rs sha256sum_entry_hash, verify_measurement_material;
// os/image/assemble.sh writes it).
#pragma once

#include <measure/util/bytes.hpp>
#include <measure/util/hash.hpp>

#include <string>

namespace mrforge {

// Limits of the reader: an image lists a handful of files.
constexpr size_t k_max_checksum_file_size = 64 * 1024;

// The SHA-256 the checksum file lists for `name`, read as dstack does: lines split on
// whitespace, blank lines skipped, the first token the hex digest, the second the file name.
// Throws FormatError{source, offset of the line} for a file that is too large or not UTF-8 text
// (control bytes other than tab, CR and LF), a line without a file name, a listed digest for
// `name` that is not 64 hex digits, `name` listed twice or not at all.
Sha256 checksum_file_entry(ByteView checksum_file, const std::string &name, const std::string &source);

// One line as sha256sum prints it: "HEX  NAME\n".
std::string checksum_line(const Sha256 &digest, const std::string &name);

} // namespace mrforge
