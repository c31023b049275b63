// QEMU + swtpm boots (command lines and pitfalls from the issue 5 prototype, see qemu_boot.hpp):
// - swtpm needs an absolute --tpmstate directory (a relative one fails to lock, and QEMU then
//   reports "TPM result for CMD_INIT: 0x9"); its control socket is named relative to the work
//   directory, so the 108-byte limit of socket paths never applies.
// - The serial console goes to a file QEMU writes unbuffered; it is followed while QEMU runs.
// - QEMU exits 0 on guest success, verity failure and panic alike: success is judged from the
//   serial markers.
#include <builder/system/subprocess.hpp>
#include <builder/vm/qemu_boot.hpp>
#include <measure/util/base64.hpp>

#include <measure/util/errors.hpp>

#include <algorithm>
#include <cerrno>
#include <csignal>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <optional>
#include <thread>

namespace mrforge::builder {

namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

constexpr const char *k_serial_file = "serial.log";
constexpr const char *k_qemu_log = "qemu.log";
constexpr const char *k_swtpm_log = "swtpm.log";
constexpr const char *k_swtpm_socket = "swtpm.sock";
constexpr const char *k_tpm_state_dir = "tpm";
constexpr auto k_poll = std::chrono::milliseconds(100);
constexpr auto k_swtpm_start_timeout = std::chrono::seconds(10);
constexpr auto k_swtpm_setup_timeout = std::chrono::seconds(60);
constexpr auto k_swtpm_exit_grace = std::chrono::seconds(2);

// Stages in boot order; the furthest one reached is reported (e.g. with a timeout).
const char *const k_stages[] = {"firmware",        "EFI stub",    "kernel", "init", "verity root mounted",
                                "check dump done", "switch_root", "ready"};

int stage_rank(const std::string &stage) {
  for (size_t i = 0; i < std::size(k_stages); ++i)
    if (stage == k_stages[i]) return static_cast<int>(i);
  return -1;
}

std::string trim(const std::string &s) {
  size_t b = s.find_first_not_of(" \t");
  if (b == std::string::npos) return "";
  size_t e = s.find_last_not_of(" \t");
  return s.substr(b, e - b + 1);
}

// The text after `marker` in `line`, if the line contains it.
std::optional<std::string> after(const std::string &line, const std::string &marker) {
  size_t p = line.find(marker);
  if (p == std::string::npos) return std::nullopt;
  return line.substr(p + marker.size());
}

std::string first_word(const std::string &s) {
  std::string t = trim(s);
  return t.substr(0, t.find_first_of(" \t"));
}

bool is_base64_line(const std::string &line) {
  if (line.empty()) return false;
  return std::all_of(line.begin(), line.end(), [](char c) { return c == '=' || base64_sextet(c) >= 0; });
}

// Strict RFC 4648 base64 (padding required, as busybox `base64` writes it). Returns nullopt on
// anything else.
std::optional<std::string> decode_base64(const std::string &text) {
  try {
    std::vector<uint8_t> bytes = base64_decode(text, "check dump");
    return std::string(bytes.begin(), bytes.end());
  } catch (const InputError &) {
    return std::nullopt;
  }
}

// Kernel console lines carry a "[    5.123456] " timestamp; messages read better without it.
std::string from(const std::string &line, const std::string &start) {
  size_t p = line.find(start);
  return p == std::string::npos ? line : line.substr(p);
}

void add_failure(BootCapture &c, const std::string &text) {
  if (std::find(c.failures.begin(), c.failures.end(), text) == c.failures.end()) c.failures.push_back(text);
}

// Follows the serial log line by line (also used incrementally while QEMU runs).
class SerialParser {
public:
  // Feeds one cleaned line; returns the stage it reached, if it reached a new one.
  std::optional<std::string> line(const std::string &l) {
    std::string before = m_capture.last_stage;
    if (m_blob) {
      if (auto end = after(l, "MRFORGE-CHECK-END")) {
        finish_blob(first_word(*end));
        return changed(before);
      }
      std::string t = trim(l);
      if (is_base64_line(t)) {
        m_blob_text += t;
        return std::nullopt;
      }
      if (l.find("MRFORGE-") != std::string::npos) {
        add_failure(m_capture, "check dump " + *m_blob + ": no MRFORGE-CHECK-END line (the dump was cut short)");
        m_blob.reset();
      } else {
        return std::nullopt; // a kernel message between the base64 lines
      }
    }
    if (auto t = after(l, "MRFORGE-INIT: FATAL:")) {
      add_failure(m_capture, "init failed: " + trim(*t));
    } else if (after(l, "MRFORGE-INIT: start")) {
      reach("init");
    } else if (auto mounted = after(l, "MRFORGE-INIT: verity root mounted")) {
      m_capture.root_mounted = true;
      std::string rest = trim(*mounted);
      if (!rest.empty() && rest[0] == ':') m_capture.root_hash = first_word(rest.substr(1));
      reach("verity root mounted");
    } else if (after(l, "MRFORGE-INIT: switch_root")) {
      reach("switch_root");
    } else if (auto begin = after(l, "MRFORGE-CHECK-BEGIN")) {
      m_blob = first_word(*begin);
      m_blob_text.clear();
      if (m_blob->empty()) {
        add_failure(m_capture, "a MRFORGE-CHECK-BEGIN line names no dump");
        m_blob.reset();
      }
    } else if (auto missing = after(l, "MRFORGE-CHECK: missing")) {
      m_capture.missing.push_back(first_word(*missing));
    } else if (after(l, "MRFORGE-CHECK: done")) {
      m_capture.check_done = true;
      reach("check dump done");
    } else if (auto ready = after(l, "MRFORGE-READY")) {
      m_capture.ready = true;
      m_capture.ready_line = trim(*ready);
      reach("ready");
    } else if (l.find("device-mapper: verity:") != std::string::npos && l.find("corrupted") != std::string::npos) {
      add_failure(m_capture, "verity failed: " + from(l, "device-mapper: verity:"));
    } else if (l.find("Kernel panic") != std::string::npos) {
      add_failure(m_capture, "kernel panic: " + from(l, "Kernel panic"));
    } else if (l.find("EFI stub: ") != std::string::npos) {
      reach("EFI stub");
    } else if (l.find("Linux version ") != std::string::npos) {
      reach("kernel");
    } else if (!trim(l).empty()) {
      reach("firmware");
    }
    return changed(before);
  }

  BootCapture finish() {
    if (m_blob) {
      add_failure(m_capture, "check dump " + *m_blob + ": no MRFORGE-CHECK-END line (the dump was cut short)");
      m_blob.reset();
    }
    return m_capture;
  }

  const BootCapture &capture() const { return m_capture; }

private:
  void reach(const std::string &stage) {
    if (stage_rank(stage) > stage_rank(m_capture.last_stage)) m_capture.last_stage = stage;
  }
  std::optional<std::string> changed(const std::string &before) const {
    if (m_capture.last_stage != before) return m_capture.last_stage;
    return std::nullopt;
  }
  void finish_blob(const std::string &end_name) {
    std::string name = *m_blob;
    m_blob.reset();
    if (end_name != name) {
      add_failure(m_capture, "check dump " + name + " ended with MRFORGE-CHECK-END " + end_name);
      return;
    }
    std::optional<std::string> bytes = decode_base64(m_blob_text);
    if (!bytes) {
      add_failure(m_capture, "check dump " + name + ": the base64 text does not decode (" +
                                 std::to_string(m_blob_text.size()) + " characters; console output mixed in?)");
      return;
    }
    if (m_capture.blobs.count(name)) add_failure(m_capture, "check dump " + name + " appears twice");
    m_capture.blobs[name] = std::move(*bytes);
  }

  BootCapture m_capture;
  std::optional<std::string> m_blob; // name of the dump being read
  std::string m_blob_text;
};

std::string read_tail(const std::string &path, size_t max) {
  std::ifstream f(path, std::ios::binary);
  std::string s((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
  if (s.size() > max) s = "..." + s.substr(s.size() - max);
  return trim(s);
}

void require_file(const std::string &path, const std::string &what) {
  std::error_code ec;
  if (!fs::is_regular_file(path, ec))
    throw InputError(what, "'" + path + "' is not a readable file" + (ec ? " (" + ec.message() + ")" : ""));
}

std::string absolute(const std::string &p) { return fs::absolute(p).lexically_normal().string(); }

// Reads what was appended to the serial file since the last call.
class FileFollower {
public:
  explicit FileFollower(std::string path) : m_path(std::move(path)) {}
  std::string read_new() {
    std::ifstream f(m_path, std::ios::binary);
    if (!f) return "";
    f.seekg(static_cast<std::streamoff>(m_offset));
    std::string s((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
    m_offset += s.size();
    return s;
  }

private:
  std::string m_path;
  uint64_t m_offset = 0;
};

// The children of one boot. ChildProcess kills (SIGKILL) and reaps in its destructor, so both are
// stopped on every path; members are destroyed in reverse order: QEMU first, then swtpm.
struct Running {
  ChildProcess swtpm;
  ChildProcess qemu;
};

void start_swtpm(Running &r, const BootSettings &s, const std::string &work) {
  std::string state = work + "/" + k_tpm_state_dir;
  std::error_code ec;
  fs::create_directories(state, ec);
  if (ec) throw SystemError(state, "cannot create the TPM state directory: " + ec.message());
  ProcessOptions setup_options;
  setup_options.timeout = k_swtpm_setup_timeout;
  setup_options.working_directory = work;
  ProcessResult setup = run_process(
      {s.swtpm_setup, "--tpm2", "--tpmstate", state, "--pcr-banks", "sha256,sha384", "--overwrite"}, setup_options);
  if (!setup.success())
    throw SystemError(s.swtpm_setup,
                      "swtpm_setup failed (" + setup.describe() + "): " + trim(setup.stderr_data + setup.stdout_data));
  ProcessOptions options;
  options.working_directory = work;
  std::string log = work + "/" + k_swtpm_log;
  fs::remove(work + "/" + k_swtpm_socket, ec);
  r.swtpm = spawn_process({s.swtpm, "socket", "--tpm2", "--tpmstate", "dir=" + state, "--ctrl",
                           std::string("type=unixio,path=") + k_swtpm_socket, "--terminate"},
                          options, log);
  auto deadline = Clock::now() + k_swtpm_start_timeout;
  while (!fs::exists(work + "/" + k_swtpm_socket, ec)) {
    if (!r.swtpm.running())
      throw SystemError(s.swtpm, "swtpm exited at start (" + r.swtpm.wait().describe() + "): " + read_tail(log, 2000));
    if (Clock::now() > deadline)
      throw SystemError(s.swtpm, "swtpm did not create its socket within " +
                                     std::to_string(k_swtpm_start_timeout.count()) + " s: " + read_tail(log, 2000));
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
}

std::vector<std::string> qemu_command(const BootSettings &s) {
  std::vector<std::string> argv = {s.qemu};
  if (!s.qemu_data_dir.empty()) argv.insert(argv.end(), {"-L", absolute(s.qemu_data_dir)});
  argv.insert(argv.end(), {"-machine", s.machine, "-accel", s.accel});
  if (!s.cpu.empty()) {
    argv.push_back("-cpu");
    argv.push_back(s.cpu);
  }
  for (const std::string &a :
       std::initializer_list<std::string>{"-smp", std::to_string(s.cpus), "-m", std::to_string(s.memory >> 20) + "M",
                                          "-nodefaults", "-no-user-config", "-no-reboot", "-display", "none", "-serial",
                                          std::string("file:") + k_serial_file, "-bios", absolute(s.firmware)})
    argv.push_back(a);
  if (!s.boot_disk.empty()) {
    for (const std::string &a :
         {std::string("-drive"),
          "file=" + qemu_escape(absolute(s.boot_disk)) + ",if=none,id=bootdisk,format=raw,readonly=on",
          std::string("-device"), "virtio-blk-pci,drive=bootdisk,addr=" + std::to_string(s.boot_disk_slot)})
      argv.push_back(a);
  } else {
    for (const std::string &a : {std::string("-kernel"), absolute(s.kernel), std::string("-append"), s.cmdline})
      argv.push_back(a);
  }
  if (s.check_by_fw_cfg) {
    argv.push_back("-fw_cfg");
    argv.push_back("name=opt/org.mrforge/check,string=1");
  }
  if (!s.initrd.empty()) {
    argv.push_back("-initrd");
    argv.push_back(absolute(s.initrd));
  }
  if (!s.disk.empty()) {
    argv.push_back("-drive");
    argv.push_back("file=" + qemu_escape(absolute(s.disk)) + ",if=virtio,format=raw,readonly=on");
  }
  if (s.tpm) {
    for (const char *a : {"-chardev", "socket,id=chrtpm,path=swtpm.sock", "-tpmdev", "emulator,id=tpm0,chardev=chrtpm",
                          "-device", "tpm-tis,tpmdev=tpm0"})
      argv.push_back(a);
  }
  argv.insert(argv.end(), s.extra_args.begin(), s.extra_args.end());
  return argv;
}

void validate(const BootSettings &s) {
  require_file(s.firmware, "firmware");
  if (!s.boot_disk.empty()) {
    if (!s.kernel.empty() || !s.initrd.empty() || !s.disk.empty() || !s.cmdline.empty())
      throw InputError("boot disk", "a disk boot takes no kernel, initrd, command line or second disk");
    require_file(s.boot_disk, "boot disk");
    if (s.boot_disk_slot == 0 || s.boot_disk_slot > 31)
      throw InputError("boot disk slot", "a PCI slot on pcie.0 is 1 to 31, got " + std::to_string(s.boot_disk_slot));
  } else {
    require_file(s.kernel, "kernel");
  }
  if (!s.initrd.empty()) require_file(s.initrd, "initrd");
  if (!s.disk.empty()) require_file(s.disk, "rootfs disk");
  if (s.accel != "tcg" && s.accel != "kvm") throw InputError("accel", "expected tcg or kvm, got '" + s.accel + "'");
  // By default QEMU 7.2's: q35 takes at most 288 vCPUs (pc_q35.c max_cpus), and APIC IDs from 255
  // on only with KVM's in-kernel irqchip (x86.c).
  const uint32_t max_cpus = s.max_cpus != 0 ? s.max_cpus : s.accel == "kvm" ? 288 : 255;
  if (s.cpus == 0 || s.cpus > max_cpus)
    throw InputError("--cpus", "expected 1 to " + std::to_string(max_cpus) + " vCPUs under " + s.accel + ", got " +
                                   std::to_string(s.cpus) +
                                   (s.max_cpus == 0 && s.accel == "tcg" && s.cpus > 255
                                        ? " (QEMU 7.2 needs KVM's in-kernel irqchip for APIC IDs from 255 on)"
                                        : ""));
  if (s.machine.empty() || s.machine.find(' ') != std::string::npos)
    throw InputError("machine", "'" + s.machine + "' is not a QEMU machine option string");
  if (s.memory == 0 || s.memory % (1ull << 20))
    throw InputError("--memory", "QEMU takes whole MiB; got " + std::to_string(s.memory) + " bytes");
  if (s.timeout.count() <= 0) throw InputError("--timeout", "must be at least 1 second");
  if (s.cmdline.find('\n') != std::string::npos) throw InputError("cmdline", "contains a newline");
  std::error_code ec;
  if (!s.qemu_data_dir.empty() && !fs::is_directory(s.qemu_data_dir, ec))
    throw InputError("QEMU data folder (-L)", "'" + s.qemu_data_dir + "' is not a directory");
  if (s.work_dir.empty() || !fs::is_directory(s.work_dir, ec))
    throw InputError("work directory", "'" + s.work_dir + "' is not a directory");
}

} // namespace

std::string clean_serial_text(const std::string &raw) {
  std::string out;
  out.reserve(raw.size());
  for (size_t i = 0; i < raw.size(); ++i) {
    unsigned char c = static_cast<unsigned char>(raw[i]);
    if (c == 0x1b) {
      if (i + 1 >= raw.size()) break;
      char n = raw[i + 1];
      if (n == '[') { // CSI: parameters and intermediates, then a final byte 0x40-0x7E
        size_t j = i + 2;
        while (j < raw.size() && !(raw[j] >= 0x40 && raw[j] <= 0x7e)) ++j;
        i = j;
      } else if (n == ']') { // OSC: up to BEL or ESC '\'
        size_t j = i + 2;
        while (j < raw.size() && raw[j] != '\a' && !(raw[j] == 0x1b && j + 1 < raw.size() && raw[j + 1] == '\\')) ++j;
        i = (j < raw.size() && raw[j] == 0x1b) ? j + 1 : j;
      } else if (n == '(' || n == ')') { // character set selection: ESC ( B
        i += 2;
      } else {
        i += 1; // two-byte sequence (ESC c, ESC 7, ...)
      }
      continue;
    }
    if (c == '\n' || c == '\t' || (c >= 0x20 && c != 0x7f)) out += static_cast<char>(c);
  }
  return out;
}

BootCapture parse_serial_log(const std::string &raw) {
  std::string text = clean_serial_text(raw);
  SerialParser parser;
  size_t pos = 0;
  while (pos < text.size()) {
    size_t nl = text.find('\n', pos);
    if (nl == std::string::npos) nl = text.size();
    parser.line(text.substr(pos, nl - pos));
    pos = nl + 1;
  }
  BootCapture c = parser.finish();
  c.serial = std::move(text);
  return c;
}

// A system failure once the inputs are checked is the host's (QEMU, swtpm, the scratch folder):
// HostError, exit 3.
BootCapture boot_image(const BootSettings &settings) try {
  validate(settings);
  const std::string work = absolute(settings.work_dir);
  auto progress = [&](const std::string &s) {
    if (settings.progress) settings.progress(s);
  };
  std::error_code ec;
  for (const char *f : {k_serial_file, k_qemu_log, k_swtpm_log}) fs::remove(work + "/" + f, ec);

  Running running;
  if (settings.tpm) {
    progress("boot: starting swtpm (SHA-256 and SHA-384 PCR banks)");
    start_swtpm(running, settings, work);
  }
  std::vector<std::string> argv = qemu_command(settings);
  progress("boot: starting QEMU (" + std::string(settings.accel == "kvm" ? "KVM" : "TCG") + ", " +
           std::to_string(settings.cpus) + " vCPU, " + std::to_string(settings.memory >> 20) + " MiB); timeout " +
           std::to_string(settings.timeout.count()) + " s");
  ProcessOptions options;
  options.working_directory = work;
  const auto start = Clock::now();
  running.qemu = spawn_process(argv, options, work + "/" + k_qemu_log);

  FileFollower serial(work + "/" + k_serial_file);
  std::string raw, pending;
  SerialParser live; // only for progress; the result is parsed from the whole log at the end
  auto feed = [&](const std::string &chunk) {
    raw += chunk;
    pending += chunk;
    size_t nl;
    while ((nl = pending.find('\n')) != std::string::npos) {
      std::string line = clean_serial_text(pending.substr(0, nl));
      pending.erase(0, nl + 1);
      if (auto stage = live.line(line)) progress("boot: " + *stage);
    }
  };
  bool timed_out = false;
  while (running.qemu.running()) {
    feed(serial.read_new());
    if (Clock::now() - start > settings.timeout) {
      timed_out = true;
      running.qemu.terminate(SIGKILL);
      break;
    }
    std::this_thread::sleep_for(k_poll);
  }
  ProcessResult qemu_result = running.qemu.wait();
  const double seconds = std::chrono::duration<double>(Clock::now() - start).count();
  feed(serial.read_new());
  // swtpm --terminate ends when QEMU disconnects; give it a moment, then the destructor kills it.
  if (settings.tpm) {
    auto deadline = Clock::now() + k_swtpm_exit_grace;
    while (running.swtpm.running() && Clock::now() < deadline)
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }

  BootCapture capture = parse_serial_log(raw);
  capture.seconds = seconds;
  capture.qemu_pid = running.qemu.pid();
  capture.swtpm_pid = running.swtpm.pid();
  if (!timed_out && !qemu_result.success() && capture.last_stage.empty())
    throw SystemError(settings.qemu, "QEMU could not run the guest (" + qemu_result.describe() +
                                         "): " + read_tail(work + "/" + k_qemu_log, 2000));
  if (timed_out) {
    add_failure(capture, "timed out after " + std::to_string(settings.timeout.count()) + " s (last stage: " +
                             (capture.last_stage.empty() ? "none, no serial output" : capture.last_stage) + ")");
  } else if (!qemu_result.success()) {
    add_failure(capture, "QEMU failed (" + qemu_result.describe() + "): " + read_tail(work + "/" + k_qemu_log, 2000));
  } else if (!capture.ready && capture.failures.empty()) {
    add_failure(capture, "the guest powered off before its MRFORGE-READY line (last stage: " +
                             (capture.last_stage.empty() ? "none, no serial output" : capture.last_stage) + ")");
  }
  if (!timed_out && qemu_result.success() && capture.last_stage.empty()) {
    std::string log = read_tail(work + "/" + k_qemu_log, 2000);
    if (!log.empty()) add_failure(capture, "QEMU said: " + log);
  }
  progress("boot: QEMU exited after " + std::to_string(static_cast<int>(seconds)) + " s");
  return capture;
} catch (const HostError &) {
  throw;
} catch (const SystemError &e) {
  throw HostError("cannot run the VM", e.what());
}

std::string qemu_escape(const std::string &s) {
  std::string out;
  for (char c : s) {
    out += c;
    if (c == ',') out += ',';
  }
  return out;
}

} // namespace mrforge::builder
