// A test HTTP server written in Python (tests/support/*.py), started on a free loopback port and
// killed at the end of the scope. The script is run as `python3 SCRIPT PORT_FILE ARGS...`: it
// binds port 0 on 127.0.0.1 and writes the port it got to PORT_FILE (atomically).
#pragma once

#include "../test_support.hpp"

#include <builder/system/subprocess.hpp>

#include <string>
#include <vector>

namespace mrforge::test {

class ScriptServer {
public:
  // `script`: relative to the checkout ("tests/support/snapshot_server.py"). REQUIREs that the
  // server answers with its port within 10 s.
  explicit ScriptServer(const std::string &script, const std::vector<std::string> &args = {});
  const std::string &url() const { return m_url; } // "http://127.0.0.1:PORT"

private:
  TempDir m_dir;
  builder::ChildProcess m_process;
  std::string m_url;
};

} // namespace mrforge::test
