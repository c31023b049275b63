#include <builder/system/subprocess.hpp>

#include <measure/util/errors.hpp>
#include <measure/util/unique_fd.hpp>

#include <algorithm>
#include <cerrno>
#include <csignal>
#include <cstring>
#include <fcntl.h>
#include <map>
#include <poll.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <thread>
#include <unistd.h>

namespace mrforge::builder {

namespace {

constexpr const char *k_path = "/usr/sbin:/usr/bin:/sbin:/bin";
constexpr const char *k_default_home = "/nonexistent";
// Descriptors the parent keeps for its pipe ends are moved at or above this number, so that the
// child's dup2() onto 0, 1, 2 and the extra descriptor can never overwrite one of them.
constexpr int k_min_parent_fd = 10;
constexpr size_t k_read_chunk = 65536;

std::string errno_text(int err) { return std::strerror(err); }

// Duplicates fd to a close-on-exec descriptor >= min_fd and closes the original.
UniqueFd raise_fd(UniqueFd fd, int min_fd, const std::string &program) {
  int raised = ::fcntl(fd.get(), F_DUPFD_CLOEXEC, min_fd);
  if (raised < 0) throw SystemError(program, "fcntl(F_DUPFD_CLOEXEC): " + errno_text(errno));
  return UniqueFd(raised);
}

struct Pipe {
  UniqueFd read_end;
  UniqueFd write_end;
};

Pipe make_pipe(int min_fd, const std::string &program) {
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) != 0) throw SystemError(program, "pipe: " + errno_text(errno));
  Pipe p{UniqueFd(fds[0]), UniqueFd(fds[1])};
  p.read_end = raise_fd(std::move(p.read_end), min_fd, program);
  p.write_end = raise_fd(std::move(p.write_end), min_fd, program);
  return p;
}

// Resolves argv[0] in the fixed PATH, as the child would, so a missing program is reported
// before forking.
std::string find_program(const std::string &name) {
  if (name.empty()) throw SystemError("(empty program name)", "cannot run an empty command");
  if (name.find('/') != std::string::npos) {
    if (::access(name.c_str(), X_OK) != 0) throw SystemError(name, "cannot execute: " + errno_text(errno));
    return name;
  }
  std::string path = k_path;
  size_t start = 0;
  while (start <= path.size()) {
    size_t end = path.find(':', start);
    if (end == std::string::npos) end = path.size();
    std::string candidate = path.substr(start, end - start) + "/" + name;
    struct stat st {};
    if (::stat(candidate.c_str(), &st) == 0 && S_ISREG(st.st_mode) && ::access(candidate.c_str(), X_OK) == 0)
      return candidate;
    start = end + 1;
  }
  throw SystemError(name, std::string("program not found in ") + k_path);
}

std::vector<std::string> make_environment(const ProcessOptions &options) {
  std::map<std::string, std::string> env{
      {"TZ", "UTC"},
      {"LC_ALL", "C.UTF-8"},
      {"HOME", options.home.empty() ? k_default_home : options.home},
      {"PATH", k_path},
  };
  for (const auto &[key, value] : options.environment) {
    if (key.empty() || key.find('=') != std::string::npos)
      throw InputError("environment variable \"" + key + "\"", "not a valid variable name");
    env[key] = value;
  }
  std::vector<std::string> out;
  for (const auto &[key, value] : env) out.push_back(key + "=" + value);
  return out;
}

struct FdMapping {
  int parent_fd;
  int child_fd;
};

// Forks and execs; everything the child touches is prepared before fork() so that the child
// only calls async-signal-safe functions. Exec failures come back over a close-on-exec pipe.
int fork_exec(const std::vector<std::string> &argv, const ProcessOptions &options,
              const std::vector<FdMapping> &mappings) {
  const std::string &program = argv.at(0);
  std::string path = find_program(program);
  std::vector<std::string> env = make_environment(options);
  std::vector<char *> argv_c;
  for (const auto &a : argv) argv_c.push_back(const_cast<char *>(a.c_str()));
  argv_c.push_back(nullptr);
  std::vector<char *> env_c;
  for (const auto &e : env) env_c.push_back(const_cast<char *>(e.c_str()));
  env_c.push_back(nullptr);
  const char *wd = options.working_directory.empty() ? nullptr : options.working_directory.c_str();

  Pipe status = make_pipe(k_min_parent_fd, program);
  pid_t pid = ::fork();
  if (pid < 0) throw SystemError(program, "fork: " + errno_text(errno));
  if (pid == 0) {
    // Child: async-signal-safe calls only.
    int stage = 0;
    sigset_t all;
    sigemptyset(&all);
    sigprocmask(SIG_SETMASK, &all, nullptr);
    signal(SIGPIPE, SIG_DFL);
    umask(022);
    if (wd && chdir(wd) != 0) {
      stage = 1;
    } else {
      for (const auto &m : mappings) {
        if (dup2(m.parent_fd, m.child_fd) < 0) {
          stage = 2;
          break;
        }
      }
      if (stage == 0) {
        execve(path.c_str(), argv_c.data(), env_c.data());
        stage = 3;
      }
    }
    int report[2] = {stage, errno};
    ssize_t ignored = write(status.write_end.get(), report, sizeof report);
    (void)ignored;
    _exit(127);
  }
  status.write_end.reset();
  int report[2] = {0, 0};
  ssize_t n;
  do {
    n = ::read(status.read_end.get(), report, sizeof report);
  } while (n < 0 && errno == EINTR);
  if (n > 0) {
    int st = 0;
    while (::waitpid(pid, &st, 0) < 0 && errno == EINTR) {
    }
    const char *what = report[0] == 1 ? "cannot change to working directory " : report[0] == 2 ? "dup2: " : "exec: ";
    std::string detail = report[0] == 1 ? options.working_directory + ": " : "";
    throw SystemError(program, what + detail + errno_text(report[1]));
  }
  return pid;
}

void set_nonblocking(int fd, const std::string &program) {
  int flags = ::fcntl(fd, F_GETFL);
  if (flags < 0 || ::fcntl(fd, F_SETFL, flags | O_NONBLOCK) < 0)
    throw SystemError(program, "fcntl(O_NONBLOCK): " + errno_text(errno));
}

// Blocks SIGPIPE in this thread while writing to the child's stdin (a child that exits early
// must give us EPIPE, not kill us), and discards a SIGPIPE raised meanwhile.
class SigpipeBlock {
public:
  SigpipeBlock() {
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGPIPE);
    sigset_t pending;
    sigpending(&pending);
    m_was_pending = sigismember(&pending, SIGPIPE) == 1;
    pthread_sigmask(SIG_BLOCK, &set, &m_old);
  }
  ~SigpipeBlock() {
    if (!m_was_pending) {
      sigset_t set;
      sigemptyset(&set);
      sigaddset(&set, SIGPIPE);
      struct timespec zero {};
      while (sigtimedwait(&set, nullptr, &zero) > 0) {
      }
    }
    pthread_sigmask(SIG_SETMASK, &m_old, nullptr);
  }
  SigpipeBlock(const SigpipeBlock &) = delete;
  SigpipeBlock &operator=(const SigpipeBlock &) = delete;

private:
  sigset_t m_old{};
  bool m_was_pending = false;
};

ProcessResult status_to_result(int status) {
  ProcessResult r;
  if (WIFEXITED(status)) r.exit_code = WEXITSTATUS(status);
  if (WIFSIGNALED(status)) r.signal = WTERMSIG(status);
  return r;
}

} // namespace

std::string tool_output_tail(const std::string &text) {
  constexpr size_t k_max_tool_output = 4000; // characters of a failing tool's output in messages
  std::string t = text;
  while (!t.empty() && (t.back() == '\n' || t.back() == '\r' || t.back() == ' ')) t.pop_back();
  if (t.size() > k_max_tool_output) t = "..." + t.substr(t.size() - k_max_tool_output);
  return t;
}

ProcessResult run_tool(const std::vector<std::string> &argv, const std::string &subject, const std::string &step,
                       const ProcessOptions &options) {
  ProcessResult r = run_process(argv, options);
  if (!r.success()) {
    std::string output = tool_output_tail(r.stderr_data.empty() ? r.stdout_data : r.stderr_data + "\n" + r.stdout_data);
    throw SystemError(subject, step + ": " + argv[0] + " failed (" + r.describe() + ")" +
                                   (output.empty() ? std::string() : ": " + output));
  }
  return r;
}

std::string ProcessResult::describe() const {
  if (timed_out) return "timed out and was killed";
  if (signal != 0) return "killed by signal " + std::to_string(signal);
  return "exit status " + std::to_string(exit_code);
}

ChildProcess::~ChildProcess() { kill_and_reap(); }

ChildProcess::ChildProcess(ChildProcess &&other) noexcept : m_pid(other.m_pid), m_result(std::move(other.m_result)) {
  other.m_pid = -1;
}

ChildProcess &ChildProcess::operator=(ChildProcess &&other) noexcept {
  if (this != &other) {
    kill_and_reap();
    m_pid = other.m_pid;
    m_result = std::move(other.m_result);
    other.m_pid = -1;
  }
  return *this;
}

void ChildProcess::kill_and_reap() noexcept {
  if (m_pid <= 0 || m_result) return;
  ::kill(m_pid, SIGKILL);
  int status = 0;
  while (::waitpid(m_pid, &status, 0) < 0 && errno == EINTR) {
  }
  m_result = status_to_result(status);
}

bool ChildProcess::running() {
  if (m_pid <= 0 || m_result) return false;
  int status = 0;
  pid_t r;
  do {
    r = ::waitpid(m_pid, &status, WNOHANG);
  } while (r < 0 && errno == EINTR);
  if (r == 0) return true;
  m_result = r == m_pid ? status_to_result(status) : ProcessResult{};
  return false;
}

void ChildProcess::terminate(int signal_number) {
  if (m_pid > 0 && !m_result) ::kill(m_pid, signal_number);
}

ProcessResult ChildProcess::wait() {
  if (m_pid <= 0) throw Error("ChildProcess::wait: no child");
  if (!m_result) {
    int status = 0;
    pid_t r;
    do {
      r = ::waitpid(m_pid, &status, 0);
    } while (r < 0 && errno == EINTR);
    if (r < 0) throw SystemError("pid " + std::to_string(m_pid), "waitpid: " + errno_text(errno));
    m_result = status_to_result(status);
  }
  return *m_result;
}

ProcessResult run_process(const std::vector<std::string> &argv, const ProcessOptions &options) {
  if (argv.empty()) throw SystemError("(empty command)", "cannot run an empty command");
  const std::string &program = argv[0];
  if (options.extra_fd && *options.extra_fd < 3) throw InputError(program, "the extra descriptor must be 3 or higher");
  int min_fd = std::max(k_min_parent_fd, options.extra_fd.value_or(0) + 1);

  Pipe out = make_pipe(min_fd, program);
  Pipe err = make_pipe(min_fd, program);
  Pipe in;
  UniqueFd dev_null;
  std::optional<Pipe> extra;
  if (options.stdin_data) {
    in = make_pipe(min_fd, program);
  } else {
    UniqueFd raw(::open("/dev/null", O_RDONLY | O_CLOEXEC));
    if (!raw) throw SystemError("/dev/null", errno_text(errno));
    dev_null = raise_fd(std::move(raw), min_fd, program);
  }
  if (options.extra_fd) extra = make_pipe(min_fd, program);

  std::vector<FdMapping> mappings{
      {options.stdin_data ? in.read_end.get() : dev_null.get(), 0}, {out.write_end.get(), 1}, {err.write_end.get(), 2}};
  if (extra) mappings.push_back({extra->write_end.get(), *options.extra_fd});

  ChildProcess child(fork_exec(argv, options, mappings));
  // Close the child's ends so that EOF arrives when the child exits.
  in.read_end.reset();
  out.write_end.reset();
  err.write_end.reset();
  dev_null.reset();
  if (extra) extra->write_end.reset();

  ProcessResult result;
  const auto start = std::chrono::steady_clock::now();
  const bool has_deadline = options.timeout.count() > 0;
  const auto deadline = start + options.timeout;
  auto remaining_ms = [&]() -> int {
    if (!has_deadline) return -1;
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    return static_cast<int>(std::max<int64_t>(0, std::min<int64_t>(left.count(), 1000000)));
  };

  size_t written = 0;
  if (options.stdin_data) {
    set_nonblocking(in.write_end.get(), program);
    if (options.stdin_data->empty()) in.write_end.reset();
  }
  struct Source {
    UniqueFd *fd;
    std::string *sink;
  };
  std::vector<Source> sources{{&out.read_end, &result.stdout_data}, {&err.read_end, &result.stderr_data}};
  if (extra) sources.push_back({&extra->read_end, &result.extra_output});

  std::vector<char> buffer(k_read_chunk);
  for (;;) {
    std::vector<pollfd> fds;
    for (const auto &s : sources)
      if (*s.fd) fds.push_back({s.fd->get(), POLLIN, 0});
    if (in.write_end) fds.push_back({in.write_end.get(), POLLOUT, 0});
    if (fds.empty()) break;
    int timeout = remaining_ms();
    if (has_deadline && timeout == 0) {
      result.timed_out = true;
      break;
    }
    int n = ::poll(fds.data(), fds.size(), timeout);
    if (n < 0) {
      if (errno == EINTR) continue;
      throw SystemError(program, "poll: " + errno_text(errno));
    }
    for (const auto &p : fds) {
      if (p.revents == 0) continue;
      if (in.write_end && p.fd == in.write_end.get()) {
        SigpipeBlock block;
        const std::string &data = *options.stdin_data;
        ssize_t w = ::write(p.fd, data.data() + written, data.size() - written);
        if (w < 0) {
          if (errno == EAGAIN || errno == EINTR) continue;
          in.write_end.reset(); // EPIPE: the child does not want the rest
          continue;
        }
        written += static_cast<size_t>(w);
        if (written == data.size()) in.write_end.reset();
        continue;
      }
      for (auto &s : sources) {
        if (!*s.fd || s.fd->get() != p.fd) continue;
        ssize_t r = ::read(p.fd, buffer.data(), buffer.size());
        if (r < 0) {
          if (errno == EINTR || errno == EAGAIN) break;
          throw SystemError(program, "read from child: " + errno_text(errno));
        }
        if (r == 0)
          s.fd->reset();
        else
          s.sink->append(buffer.data(), static_cast<size_t>(r));
        break;
      }
    }
  }

  if (!result.timed_out && has_deadline) {
    // Output is closed; wait for the exit within what is left of the deadline.
    while (child.running()) {
      if (remaining_ms() == 0) {
        result.timed_out = true;
        break;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
  }
  if (result.timed_out) child.terminate(SIGKILL);
  ProcessResult status = child.wait();
  result.exit_code = result.timed_out ? -1 : status.exit_code;
  result.signal = result.timed_out ? 0 : status.signal;
  return result;
}

ChildProcess spawn_process(const std::vector<std::string> &argv, const ProcessOptions &options,
                           const std::string &log_path) {
  if (argv.empty()) throw SystemError("(empty command)", "cannot run an empty command");
  const std::string &program = argv[0];
  if (options.stdin_data || options.extra_fd || options.timeout.count() != 0)
    throw InputError(program, "spawn_process does not take stdin data, an extra descriptor or a timeout");
  UniqueFd in(::open("/dev/null", O_RDONLY | O_CLOEXEC));
  if (!in) throw SystemError("/dev/null", errno_text(errno));
  const std::string out_path = log_path.empty() ? "/dev/null" : log_path;
  UniqueFd out(::open(out_path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644));
  if (!out) throw SystemError(out_path, errno_text(errno));
  in = raise_fd(std::move(in), k_min_parent_fd, program);
  out = raise_fd(std::move(out), k_min_parent_fd, program);
  std::vector<FdMapping> mappings{{in.get(), 0}, {out.get(), 1}, {out.get(), 2}};
  return ChildProcess(fork_exec(argv, options, mappings));
}

} // namespace mrforge::builder
