// In-process timing of the ACPI generator for a shape of CPUS vCPUs (qemu-9.2-tdx, 64 GiB, a
// disk, a NIC and a GPU behind a root port), with a baseline measured in the same run: SHA-384
// over the same three blobs (what `mrforge measure` does with them next).
//
// Usage: acpi_generate_bench [CPUS [RUNS]]   (defaults 256 and 101)
// Prints "GENERATE_MS HASH_MS SINK" on stdout (medians in milliseconds; SINK keeps the work from
// being optimised away) for tests/bench/acpi_generate.sh, and the same in words on stderr. ctest
// runs it once with few runs so that it keeps building and working; it asserts no timing.
#include <measure/acpi/acpi_generator.hpp>
#include <measure/documents/profile_yaml.hpp>
#include <measure/util/hash.hpp>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <vector>

using namespace mrforge;
using Clock = std::chrono::steady_clock;

namespace {

template <typename F> double median_ms(unsigned runs, F f) {
  std::vector<double> t;
  for (unsigned i = 0; i < runs; ++i) {
    auto a = Clock::now();
    f();
    t.push_back(std::chrono::duration<double, std::milli>(Clock::now() - a).count());
  }
  std::sort(t.begin(), t.end());
  return t[t.size() / 2];
}

unsigned long argument(int argc, char **argv, int i, unsigned long fallback, unsigned long max) {
  if (argc <= i) return fallback;
  char *end = nullptr;
  unsigned long v = std::strtoul(argv[i], &end, 10);
  if (end == argv[i] || *end != '\0' || v == 0 || v > max) {
    std::fprintf(stderr, "usage: acpi_generate_bench [CPUS (1-4096) [RUNS (1-10000)]]\n");
    std::exit(1);
  }
  return v;
}

} // namespace

int main(int argc, char **argv) try {
  VmShape s;
  s.profile = "qemu-9.2-tdx";
  s.cpus = static_cast<uint32_t>(argument(argc, argv, 1, 256, 4096));
  const auto runs = static_cast<unsigned>(argument(argc, argv, 2, 101, 10000));
  s.memory = 64ull << 30;
  s.devices = {{PciDeviceKind::virtio_blk, RootPortChild::none},
               {PciDeviceKind::virtio_net, RootPortChild::none},
               {PciDeviceKind::pcie_root_port, RootPortChild::gpu}};
  AcpiProfile p = load_acpi_profile(s.profile);
  GeneratedAcpi g = generate_acpi(s, p);
  size_t sink = 0;
  double gen = median_ms(runs, [&] { sink += generate_acpi(s, p).blobs.tables[64]; });
  double hash = median_ms(runs, [&] {
    sink += sha384(g.blobs.table_loader)[0];
    sink += sha384(g.blobs.rsdp)[0];
    sink += sha384(g.blobs.tables)[0];
  });
  std::printf("%.3f %.3f %zu\n", gen, hash, sink);
  std::fprintf(stderr,
               "acpi generate, %u CPUs (%s, 64 GiB, disk, NIC, GPU; tables %zu bytes): median of %u runs %.3f ms; "
               "SHA-384 of the three blobs %.3f ms\n",
               s.cpus, s.profile.c_str(), g.blobs.tables.size(), runs, gen, hash);
  return 0;
} catch (const std::exception &e) {
  std::fprintf(stderr, "acpi_generate_bench: %s\n", e.what());
  return 2;
}
