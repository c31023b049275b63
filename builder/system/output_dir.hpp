// Outputs that appear whole or not at all, and that replace only what mrforge wrote.
//
// A directory output (a build, `acpi generate`, `acpi capture`, `boot --save-acpi`) is written
// into a fresh sibling directory (OUT.mrforge-tmp-XXXXXX) and commit() swaps it into place with
// renameat2(RENAME_EXCHANGE) (or a plain rename when OUT does not exist), then removes the old
// contents. Until commit(), an existing OUT is untouched; a failed or interrupted run removes its
// temporary directory. An existing OUT is only replaced if it is an empty directory, or a real
// directory (not a symlink) whose build record (mrforge-build.json, a regular file) parses and
// names it as mrforge's output of the same kind: `-o ~` cannot destroy a home directory, and a
// guest build cannot replace an OCI layout or a directory of generated ACPI tables.
//
// A file output is written to a temporary sibling (PATH.tmp-XXXXXX) and renamed over PATH, so
// that a symlink at PATH is replaced, never written through, and an interrupted run leaves the
// old file (write_file_atomically, measure/util/file_io.hpp). Temporary files and directories are
// registered with InterruptCleanup, which removes them when SIGINT, SIGTERM or SIGHUP ends the
// process.
#pragma once

#include <measure/util/file_io.hpp>

#include <nlohmann/json.hpp>

#include <optional>
#include <string>

namespace mrforge::builder {

// The file in every output directory that records how it was made; its "output_kind" field
// marks the directory as mrforge's output of that kind, so that a later run may replace it.
constexpr const char *k_build_record = "mrforge-build.json";
constexpr const char *k_output_kind_field = "output_kind";
// The software bills of materials every build output (GuestImage, OciImage) holds
// (builder/sbom/sbom_writers.hpp); the build record's "sbom" object maps each name to its sha256.
constexpr const char *k_sbom_spdx_file = "sbom.spdx.json";
constexpr const char *k_sbom_cyclonedx_file = "sbom.cdx.json";
constexpr const char *k_sbom_record_field = "sbom";

// What an output directory holds.
enum class OutputKind {
  guest_image,    // mrforge build of a GuestImage recipe
  oci_image,      // mrforge build of an OciImage recipe
  acpi_generated, // mrforge acpi generate
  acpi_captured,  // mrforge acpi capture
  acpi_boot_dump, // mrforge boot --save-acpi
  dstack_app,     // mrforge build of a DstackApp recipe
};
// "guest-image", "oci-image", "acpi-generated", "acpi-captured", "acpi-boot-dump", "dstack-app".
const char *output_kind_name(OutputKind kind);

// Throws InputError (naming `path` and what it holds) unless `path` does not exist, is an empty
// directory, or is a directory whose build record names `kind`. Never follows a symlink at `path`
// or at its record. Throws SystemError when `path` cannot be examined.
void check_output_replaceable(const std::string &path, OutputKind kind);

class OutputDir {
public:
  // check_output_replaceable(final_path, kind), then creates the temporary directory (and the
  // output's parents, like mkdir -p). Throws InputError / SystemError.
  OutputDir(std::string final_path, OutputKind kind);
  ~OutputDir(); // removes the temporary directory unless committed
  OutputDir(const OutputDir &) = delete;
  OutputDir &operator=(const OutputDir &) = delete;

  const std::string &temp_path() const { return m_temp; }
  const std::string &final_path() const { return m_final; }
  // Writes the build record into temp_path(): "output_kind" first, then the fields of `record`
  // (any "output_kind" in it is replaced). Throws InputError for a value that is not UTF-8, SystemError.
  void write_record(const nlohmann::ordered_json &record);
  // The record must have been written. Checks again that final_path() may be replaced (it may
  // have changed during a long build), then swaps the new output in. Throws InputError /
  // SystemError, leaving the existing output as it was.
  void commit();

private:
  std::string m_final;
  OutputKind m_kind;
  std::string m_temp;
  bool m_record_written = false;
  bool m_committed = false;
  std::optional<InterruptCleanup> m_cleanup; // the temporary directory
};

// A file output streamed by its writer (an archive): written to PATH.tmp-XXXXXX (the writer
// creates it, e.g. with a FileSink, and finishes it: fsync) and renamed over PATH by commit(), which
// then syncs the folder. Destroyed uncommitted (after an error, or by an interrupt through
// InterruptCleanup), it removes the temporary file and PATH is as it was.
class FileOutput {
public:
  // Picks the temporary name (mkstemp, then removed so that the writer creates it with O_EXCL).
  // Throws SystemError when PATH's folder is not writable.
  explicit FileOutput(std::string path);
  ~FileOutput();
  FileOutput(const FileOutput &) = delete;
  FileOutput &operator=(const FileOutput &) = delete;
  const std::string &temp_path() const { return m_temp; }
  const std::string &path() const { return m_path; }
  // Renames the written temporary file over PATH. Throws SystemError.
  void commit();

private:
  std::string m_path;
  std::string m_temp;
  InterruptCleanup m_on_interrupt;
  bool m_committed = false;
};

// A temporary directory removed (recursively) when it goes out of scope.
class ScratchDir {
public:
  explicit ScratchDir(std::string path) : m_path(std::move(path)) {}
  // Creates PREFIX-XXXXXX (mkdtemp, mode 0700) under $TMPDIR or /tmp. Throws SystemError.
  static ScratchDir create(const std::string &prefix);
  ~ScratchDir();
  ScratchDir(const ScratchDir &) = delete;
  ScratchDir &operator=(const ScratchDir &) = delete;
  const std::string &path() const { return m_path; }
  std::string file(const std::string &name) const { return m_path + "/" + name; }

private:
  std::string m_path;
};

} // namespace mrforge::builder
