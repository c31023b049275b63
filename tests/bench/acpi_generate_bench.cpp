// In-process timing of the ACPI generator for a 256-CPU shape (see acpi_generate_256.sh), with
// a baseline measured in the same run: SHA-384 over the same three blobs (what `mrforge measure`
// does with them next). Prints medians in milliseconds.
#include <measure/acpi/acpi_generator.hpp>
#include <measure/documents/profile_yaml.hpp>
#include <measure/util/hash.hpp>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <vector>

using namespace mrforge;
using Clock = std::chrono::steady_clock;

template <typename F> double median_ms(int runs, F f) {
  std::vector<double> t;
  for (int i = 0; i < runs; ++i) {
    auto a = Clock::now();
    f();
    t.push_back(std::chrono::duration<double, std::milli>(Clock::now() - a).count());
  }
  std::sort(t.begin(), t.end());
  return t[t.size() / 2];
}

int main() {
  VmShape s;
  s.profile = "qemu-9.2-tdx";
  s.cpus = 256;
  s.memory = 64ull << 30;
  s.devices = {{PciDeviceKind::virtio_blk, RootPortChild::none},
               {PciDeviceKind::virtio_net, RootPortChild::none},
               {PciDeviceKind::pcie_root_port, RootPortChild::gpu}};
  AcpiProfile p = load_acpi_profile(s.profile);
  GeneratedAcpi g = generate_acpi(s, p);
  size_t sink = 0;
  double gen = median_ms(101, [&] { sink += generate_acpi(s, p).blobs.tables[64]; });
  double hash = median_ms(
      101, [&] { sink += sha384(g.blobs.table_loader)[0] + sha384(g.blobs.rsdp)[0] + sha384(g.blobs.tables)[0]; });
  std::printf("%.3f %.3f %zu\n", gen, hash, sink);
}
