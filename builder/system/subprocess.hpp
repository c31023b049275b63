// Running helper programs (gpgv now; mkfs, veritysetup, QEMU later) with a scrubbed environment
// and captured output.
//
// The child gets only TZ=UTC, LC_ALL=C.UTF-8, HOME (given, or /nonexistent), a fixed PATH
// (/usr/sbin:/usr/bin:/sbin:/bin) and the variables passed explicitly; umask 022; stdin from the
// given bytes or /dev/null. The parent's other descriptors are not inherited (the pipes made here
// are close-on-exec, and so is every descriptor the project opens). Children are always reaped:
// on timeout or when an exception unwinds, they are killed with SIGKILL and waited for.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace mrforge::builder {

struct ProcessOptions {
  // HOME for the child; empty means /nonexistent.
  std::string home;
  // Extra environment variables ("GNUPGHOME", "/tmp/x"); they may override the defaults above.
  std::vector<std::pair<std::string, std::string>> environment;
  // Bytes written to the child's stdin; without them stdin is /dev/null.
  std::optional<std::string> stdin_data;
  // Working directory of the child; empty means the caller's.
  std::string working_directory;
  // When set, the child gets a pipe at this descriptor number (>= 3) whose contents are returned
  // in ProcessResult::extra_output (for `gpgv --status-fd 3`).
  std::optional<int> extra_fd;
  // Zero means no limit; otherwise the child is killed with SIGKILL once it has run this long.
  std::chrono::milliseconds timeout{0};
};

struct ProcessResult {
  int exit_code = -1;     // exit status when the child exited, else -1
  int signal = 0;         // terminating signal, else 0
  bool timed_out = false; // killed because ProcessOptions::timeout passed
  std::string stdout_data;
  std::string stderr_data;
  std::string extra_output; // what the child wrote to ProcessOptions::extra_fd

  bool success() const { return exit_code == 0 && signal == 0 && !timed_out; }
  // "exit status 2", "killed by signal 9", "timed out after 30 s" for messages.
  std::string describe() const;
};

// Runs argv[0] (an absolute path, or a name looked up in the fixed PATH) to completion.
// Throws SystemError naming the program if it cannot be started (missing, not executable), or if
// pipes/fork fail. A non-zero exit is not an error here: callers inspect the result.
ProcessResult run_process(const std::vector<std::string> &argv, const ProcessOptions &options = {});

// run_process() for a tool whose failure ends the step: throws SystemError naming `subject`,
// "STEP: TOOL failed (exit status N): OUTPUT" with the tail of what the tool printed.
ProcessResult run_tool(const std::vector<std::string> &argv, const std::string &subject, const std::string &step,
                       const ProcessOptions &options = {});

// The last 4000 characters of a tool's output, trailing blank space removed, for messages.
std::string tool_output_tail(const std::string &text);

// A long-running child (a test HTTP server, later QEMU). Moving transfers ownership; the
// destructor kills the child with SIGKILL (if still running) and reaps it.
class ChildProcess {
public:
  ChildProcess() = default;
  // Takes ownership of the child `pid` (which must be a child of this process).
  explicit ChildProcess(int pid) : m_pid(pid) {}
  ~ChildProcess();
  ChildProcess(ChildProcess &&other) noexcept;
  ChildProcess &operator=(ChildProcess &&other) noexcept;
  ChildProcess(const ChildProcess &) = delete;
  ChildProcess &operator=(const ChildProcess &) = delete;

  int pid() const { return m_pid; }
  bool running();                    // false once the child has exited (and is then reaped)
  void terminate(int signal_number); // sends a signal; no effect once reaped
  // Waits for the exit and returns the status in ProcessResult form (no captured output).
  ProcessResult wait();

private:
  void kill_and_reap() noexcept;
  int m_pid = -1;
  std::optional<ProcessResult> m_result;
};

// Starts argv in the background with the same environment rules as run_process. stdout and
// stderr are appended to `log_path` (or go to /dev/null if empty); stdin_data, extra_fd and
// timeout must not be set. Throws SystemError naming the program or the log file.
ChildProcess spawn_process(const std::vector<std::string> &argv, const ProcessOptions &options,
                           const std::string &log_path);

} // namespace mrforge::builder
