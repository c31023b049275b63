#include <builder/guest/program_check.hpp>

#include <builder/guest/elf_file.hpp>

#include <measure/util/errors.hpp>
#include <measure/util/input_limits.hpp>
#include <measure/util/mapped_file.hpp>
#include <measure/util/terminal_text.hpp>

#include <optional>

namespace mrforge::builder {

namespace {

// Linux's BINPRM_BUF_SIZE (fs/exec.c, include/uapi/linux/binfmts.h): the bytes of a file the
// kernel looks at for "#!" and the interpreter's name.
constexpr size_t k_binprm_buf_size = 256;
// Linux's BINPRM_MAX_RECURSION (include/linux/binfmts.h): interpreters of interpreters.
constexpr int k_max_interpreter_depth = 4;

// The first bytes of a staged file, through the bounded reader (a regular file only: never a FIFO).
std::string file_head(const std::string &host_path) {
  Bytes head = InputFile::open(host_path, limits::k_artifact).read_some(k_binprm_buf_size);
  return std::string(head.begin(), head.end());
}

// The interpreter a "#!" line names ("" if none): the first word after "#!", spaces and tabs
// skipped, up to a space, tab or newline (binfmt_script's parsing).
std::string script_interpreter(const std::string &head) {
  size_t pos = 2;
  while (pos < head.size() && (head[pos] == ' ' || head[pos] == '\t')) ++pos;
  size_t end = pos;
  while (end < head.size() && head[end] != ' ' && head[end] != '\t' && head[end] != '\n' && head[end] != '\0') ++end;
  return head.substr(pos, end - pos);
}

std::optional<std::string> find_program(const FsTree &tree, const std::string &program, const std::string &search_path,
                                        const std::string &where) {
  if (!program.empty() && program[0] == '/') return resolve_regular_file(tree, program.substr(1), where);
  for (size_t start = 0; start <= search_path.size();) {
    size_t colon = search_path.find(':', start);
    if (colon == std::string::npos) colon = search_path.size();
    std::string dir = search_path.substr(start, colon - start);
    start = colon + 1;
    if (dir.empty() || dir[0] != '/') continue; // relative PATH entries depend on the working directory
    if (auto found = resolve_regular_file(tree, dir.substr(1) + "/" + program, where)) return found;
  }
  return std::nullopt;
}

} // namespace

void check_program_runs(const FsTree &tree, const std::string &program, const std::string &search_path,
                        const std::string &role, const std::string &where) {
  std::optional<std::string> file = find_program(tree, program, search_path, where);
  if (!file)
    throw InputError(where, "the " + role + " '" + echoed(program) + "' is not a file in the image" +
                                (program.empty() || program[0] == '/' ? "" : " (looked in PATH " + search_path + ")"));
  std::string chain = "the " + role + " " + echoed(program);
  for (int depth = 0;; ++depth) {
    const Node *node = tree.find(*file);
    std::string head = file_head(node->content_path);
    std::string interpreter;
    if (head.rfind("\x7f"
                   "ELF",
                   0) == 0)
      interpreter = read_elf_dependencies(node->content_path, "/" + *file).interpreter;
    else if (head.rfind("#!", 0) == 0)
      interpreter = script_interpreter(head);
    if (interpreter.empty() || interpreter[0] != '/') return; // static, or not ours to resolve
    if (depth == k_max_interpreter_depth)
      throw InputError(where, chain + ": more than " + std::to_string(k_max_interpreter_depth) +
                                  " levels of interpreters (the kernel refuses with ELOOP)");
    file = resolve_regular_file(tree, interpreter.substr(1), where);
    if (!file)
      throw InputError(where, chain + " needs the interpreter " + echoed(interpreter) +
                                  ", which is not a file in the image: add the package that ships it" +
                                  " (for an ELF program usually libc6; check the suite's merged-/usr links)");
    chain += " (via " + echoed(interpreter) + ")";
  }
}

} // namespace mrforge::builder
