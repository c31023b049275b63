#include "script_server.hpp"

#include <chrono>
#include <filesystem>
#include <thread>

namespace mrforge::test {

ScriptServer::ScriptServer(const std::string &script, const std::vector<std::string> &args) : m_dir("script-server") {
  builder::ProcessOptions options;
  std::vector<std::string> argv = {"/usr/bin/python3", source_path(script), m_dir / "port"};
  argv.insert(argv.end(), args.begin(), args.end());
  m_process = builder::spawn_process(argv, options, m_dir / "log");
  for (int i = 0; i < 200 && !std::filesystem::exists(m_dir / "port"); ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  INFO(read_text(m_dir / "log"));
  REQUIRE(std::filesystem::exists(m_dir / "port"));
  m_url = "http://127.0.0.1:" + read_text(m_dir / "port");
}

} // namespace mrforge::test
