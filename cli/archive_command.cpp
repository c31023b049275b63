// mrforge archive: a deterministic tar or cpio archive (optionally gzip/zstd compressed) of a host
// directory, with its sha256 and that of the uncompressed archive.
#include "commands.hpp"
#include "output.hpp"

#include <builder/archive/archive_writers.hpp>
#include <builder/archive/compress.hpp>

#include <measure/util/errors.hpp>

#include <cstdlib>
#include <iostream>
#include <memory>
#include <optional>
#include <thread>

namespace mrforge::cli {

namespace {

struct ArchiveCommandOptions {
  std::string directory;
  std::string output;
  std::string format = "tar";
  std::string compression = "gzip";
  std::optional<int> level;
  int threads = 0; // 0: the number of CPUs
  std::optional<std::string> mtime;
  uint32_t uid = 0;
  uint32_t gid = 0;
  bool json = false;
};

int64_t archive_mtime(const ArchiveCommandOptions &o) {
  if (o.mtime) return builder::parse_epoch_seconds(*o.mtime, "--mtime");
  const char *env = std::getenv("SOURCE_DATE_EPOCH");
  if (env == nullptr)
    throw InputError("--mtime", "no timestamp: give --mtime SECONDS or set SOURCE_DATE_EPOCH (every entry gets it)");
  return builder::parse_epoch_seconds(env, "SOURCE_DATE_EPOCH");
}

void run_archive(const ArchiveCommandOptions &o) {
  builder::DirectoryArchiveOptions options;
  options.source_dir = o.directory;
  options.output_path = o.output;
  options.format = builder::parse_archive_format(o.format, "--format");
  options.compression.kind = builder::parse_compression(o.compression, "--compression");
  if (o.level) options.compression.level = *o.level;
  unsigned cpus = std::thread::hardware_concurrency();
  options.compression.threads = o.threads > 0 ? o.threads : static_cast<int>(cpus == 0 ? 1 : cpus);
  options.archive.mtime = archive_mtime(o);
  options.uid = o.uid;
  options.gid = o.gid;

  builder::ArchiveResult r = builder::write_directory_archive(options);
  if (o.json) {
    Json j;
    j["path"] = r.path;
    j["sha256"] = r.sha256;
    j["size"] = r.size;
    j["uncompressed_sha256"] = r.uncompressed_sha256;
    j["uncompressed_size"] = r.uncompressed_size;
    j["format"] = builder::archive_format_name(r.format);
    j["compression"] = builder::compression_name(r.compression);
    j["compressor"] = r.compressor;
    print_json(j);
    return;
  }
  print_table({{"path", r.path},
               {"sha256", r.sha256},
               {"size", std::to_string(r.size)},
               {"uncompressed sha256", r.uncompressed_sha256},
               {"uncompressed size", std::to_string(r.uncompressed_size)},
               {"format", builder::archive_format_name(r.format)},
               {"compression", std::string(builder::compression_name(r.compression)) + " (" + r.compressor + ")"}});
}

} // namespace

void add_archive_command(CLI::App &app, Runner &run) {
  auto o = std::make_shared<ArchiveCommandOptions>();
  CLI::App *cmd =
      add_command(app, run, o, "archive", "Write a deterministic tar or cpio archive of a directory", run_archive);
  cmd->footer(
      "Entries are sorted by path, every mtime is --mtime (or SOURCE_DATE_EPOCH), owners are --uid/--gid,\n"
      "and the bytes do not depend on --threads. Prints the sha256 of the output and of the\n"
      "uncompressed archive (an OCI layer's diff ID).\n"
      "Example:\n"
      "  SOURCE_DATE_EPOCH=1700000000 mrforge archive rootfs/ -o layer.tar.gz --threads 4\n"
      "Exit codes: 0 ok, 1 usage error, 2 bad input or a file that cannot be read or written, 3 internal error.");
  cmd->add_option("directory", o->directory, "Directory to archive")->required()->check(CLI::ExistingDirectory);
  cmd->add_option("-o,--output", o->output, "Output file (written as FILE.tmp-XXXXXX, then renamed)")->required();
  cmd->add_option("--format", o->format, "tar (pax) or cpio (newc)")->check(CLI::IsMember({"tar", "cpio"}));
  cmd->add_option("--compression", o->compression, "gzip, zstd or none")
      ->check(CLI::IsMember({"gzip", "zstd", "none"}));
  cmd->add_option("--level", o->level, "Compression level (gzip 1-9, zstd 1-19; default 6)");
  cmd->add_option("--threads", o->threads, "Compression threads (default: the number of CPUs; never changes the bytes)")
      ->check(CLI::Range(1, 256));
  cmd->add_option("--mtime", o->mtime, "Timestamp of every entry, seconds since 1970 (default: $SOURCE_DATE_EPOCH)");
  cmd->add_option("--uid", o->uid, "Owner uid of every entry (default 0)");
  cmd->add_option("--gid", o->gid, "Owner gid of every entry (default 0)");
  cmd->add_flag(
      "--json", o->json,
      "Print JSON: {path, sha256, size, uncompressed_sha256, uncompressed_size, format, compression, compressor}");
}

} // namespace mrforge::cli
