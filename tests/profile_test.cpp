// Platform profiles and OVMF variants: the shipped files are compiled in, load and say what their
// provenance says; users' folders (MRFORGE_PROFILE_PATH) add to them without ambiguity; malformed
// or incomplete files are rejected naming file, line, column and field.
#include "test_support.hpp"

#include <measure/documents/profile_yaml.hpp>
#include <measure/util/errors.hpp>
#include <measure/util/hash.hpp>

#include <catch2/catch.hpp>

#include <algorithm>
#include <cstdlib>
#include <filesystem>

using namespace mrforge;

namespace {

// A complete, valid profile to mutate in the tests below.
const std::string k_valid_profile = R"(apiVersion: mrforge/v1
kind: PlatformProfile
name: custom
description: a test profile
mrtd:
  page_order: two-pass
memory_layout:
  split_threshold: 0xB0000000
  low_top_when_split: 0x80000000
  high_base: 0x100000000
kernel:
  header_patch: none
acpi:
  source: fw_cfg-blobs
default_ovmf_variant: edk2-stable202411
events: [td_hob, cfv, kernel]
)";

std::string replace(std::string s, const std::string &from, const std::string &to) {
  size_t at = s.find(from);
  REQUIRE(at != std::string::npos);
  return s.replace(at, from.size(), to);
}

} // namespace

TEST_CASE("The shipped platform profiles load with their documented behaviour", "[profile]") {
  auto names = shipped_platform_profiles();
  REQUIRE(std::find(names.begin(), names.end(), "qemu-8.2-tdx") != names.end());
  PlatformProfile p82 = load_platform_profile("qemu-8.2-tdx");
  PlatformProfile p92 = load_platform_profile("qemu-9.2-tdx");
  PlatformProfile p102 = load_platform_profile("qemu-10.2-tdx");
  CHECK(p82.mrtd_page_order == PageOrder::two_pass);
  CHECK(p92.mrtd_page_order == PageOrder::single_pass);
  CHECK(p102.mrtd_page_order == PageOrder::single_pass);
  CHECK(p82.kernel_header_patch == KernelHeaderPatch::qemu_x86_load_linux);
  CHECK(p82.qemu_acpi_data_size == 0x28000);
  CHECK(p92.kernel_header_patch == KernelHeaderPatch::qemu_x86_load_linux);
  CHECK(p102.kernel_header_patch == KernelHeaderPatch::none);
  for (const auto &p : {p82, p92, p102}) {
    CHECK(p.events.front() == EventStep::td_hob);
    CHECK_NOTHROW(load_ovmf_variant(p.default_ovmf_variant));
  }
  for (const auto &name : shipped_ovmf_variants()) CHECK_NOTHROW(load_ovmf_variant(name));
}

TEST_CASE("A user's profile file is loaded by path", "[profile]") {
  PlatformProfile p = parse_platform_profile(k_valid_profile, "custom.yaml");
  CHECK(p.name == "custom");
  CHECK(p.events.size() == 3);
  CHECK(p.memory_layout.low_memory(3ull << 30) == 0x80000000ull);
  CHECK_NOTHROW(load_platform_profile(test::source_path("measure/profiles/platform/qemu-9.2-tdx.yaml")));
}

TEST_CASE("Malformed or incomplete profiles are rejected naming the field", "[profile]") {
  auto rejects = [](const std::string &yaml, const std::string &expect) {
    INFO(yaml);
    CHECK_THROWS_WITH(parse_platform_profile(yaml, "p.yaml"), Catch::Contains(expect));
  };
  rejects(replace(k_valid_profile, "page_order: two-pass", "page_order: three-pass"),
          "p.yaml:6:15: mrtd.page_order: expected single-pass or two-pass");
  rejects(replace(k_valid_profile, "  page_order: two-pass\n", "  page_order: two-pass\n  extra: 1\n"),
          "mrtd.extra: unknown key");
  rejects(replace(k_valid_profile, "kernel:\n  header_patch: none\n", ""), "missing required field 'kernel'");
  rejects(replace(k_valid_profile, "header_patch: none", "header_patch: maybe"),
          "kernel.header_patch: expected none or qemu-x86-load-linux");
  rejects(replace(k_valid_profile, "header_patch: none", "header_patch: qemu-x86-load-linux"),
          "kernel: missing required field 'acpi_data_size'");
  rejects(replace(k_valid_profile, "header_patch: none", "header_patch: none\n  acpi_data_size: 0x28000"),
          "kernel.acpi_data_size: only meaningful with header_patch: qemu-x86-load-linux");
  rejects(replace(k_valid_profile, "high_base: 0x100000000", "high_base: lots"),
          "memory_layout.high_base: expected an unsigned integer");
  rejects(replace(k_valid_profile, "[td_hob, cfv, kernel]", "[td_hob, td_hob]"), "listed twice");
  rejects(replace(k_valid_profile, "[td_hob, cfv, kernel]", "[td_hob, bios]"), "events[1]: unknown event step 'bios'");
  rejects(replace(k_valid_profile, "kind: PlatformProfile", "kind: OvmfVariant"), "expected kind PlatformProfile");
  rejects(replace(k_valid_profile, "mrforge/v1", "mrforge/v9"), "unsupported apiVersion");
  rejects("name: [unclosed", "YAML syntax error");
  CHECK_THROWS_WITH(load_platform_profile("qemu-1.0-tdx"),
                    Catch::Contains("known: ") && Catch::Contains("qemu-9.2-tdx"));
}

TEST_CASE("Malformed OVMF variants are rejected naming the field", "[profile]") {
  std::string v =
      "apiVersion: mrforge/v1\nkind: OvmfVariant\nname: x\ndescription: d\n"
      "secure_boot_variables:\n  - {name: SecureBoot, vendor: 8be4df61-93ca-11d2-aa0d-00e098032b8c, data: \"0\"}\n"
      "separator_boot_register: rtmr1\n"
      "boot_variables: {vendor: 8be4df61-93ca-11d2-aa0d-00e098032b8c, boot_order: \"0000\", options: []}\n";
  CHECK_THROWS_WITH(parse_ovmf_variant(v, "v.yaml"),
                    Catch::Contains("secure_boot_variables[0].data") && Catch::Contains("odd"));
  std::string ok = replace(v, "data: \"0\"", "data: \"\"");
  CHECK_NOTHROW(parse_ovmf_variant(ok, "v.yaml"));
  CHECK_THROWS_WITH(parse_ovmf_variant(replace(ok, "rtmr1", "rtmr2"), "v.yaml"),
                    Catch::Contains("expected rtmr0 or rtmr1"));
  CHECK_THROWS_WITH(
      parse_ovmf_variant(ok + "extra_events:\n  - {register: rtmr0, type: EV_BOGUS, description: x, digest: \"00\"}\n",
                         "v.yaml"),
      Catch::Contains("unknown TCG event type 'EV_BOGUS'"));
  OvmfVariant e = parse_ovmf_variant(
      ok + "extra_events:\n  - {register: rtmr0, type: EV_EFI_HANDOFF_TABLES2, description: SMBIOS, data: \"00\"}\n",
      "v.yaml");
  REQUIRE(e.extra_events.size() == 1);
  CHECK(e.extra_events[0].type == 0x8000000B);
}

TEST_CASE("An OVMF variant's vTPM ACPI blobs are a closed set, each listed once, checked at load", "[profile]") {
  const std::string v =
      "apiVersion: mrforge/v1\nkind: OvmfVariant\nname: x\ndescription: d\nsecure_boot_variables: []\n"
      "separator_boot_register: rtmr1\n"
      "boot_variables: {vendor: 8be4df61-93ca-11d2-aa0d-00e098032b8c, boot_order: \"0000\", options: []}\n";
  CHECK(parse_ovmf_variant(v, "v.yaml").vtpm_acpi_blobs.empty());
  OvmfVariant ok = parse_ovmf_variant(v + "vtpm_acpi_blobs: [etc/table-loader, etc/tpm/log]\n", "v.yaml");
  CHECK(ok.vtpm_acpi_blobs == std::vector<AcpiBlob>{AcpiBlob::table_loader, AcpiBlob::tpm_log});
  CHECK_THROWS_WITH(parse_ovmf_variant(v + "vtpm_acpi_blobs: [etc/table-loader, etc/acpi/dsdt]\n", "v.yaml"),
                    Catch::Contains("v.yaml:8:37: vtpm_acpi_blobs[1]: unknown fw_cfg ACPI blob 'etc/acpi/dsdt'") &&
                        Catch::Contains("etc/table-loader, etc/acpi/rsdp, etc/acpi/tables, etc/tpm/log"));
  CHECK_THROWS_WITH(parse_ovmf_variant(v + "vtpm_acpi_blobs: [etc/acpi/rsdp, etc/acpi/rsdp]\n", "v.yaml"),
                    Catch::Contains("v.yaml:8:34: vtpm_acpi_blobs[1]: fw_cfg blob 'etc/acpi/rsdp' listed twice"));
  CHECK_THROWS_WITH(parse_ovmf_variant(v + "vtpm_acpi_blobs: etc/acpi/rsdp\n", "v.yaml"),
                    Catch::Contains("v.yaml:8:18: vtpm_acpi_blobs"));

  // The QEMU fact behind etc/tpm/log belongs to a platform with a TPM device.
  const std::string tpm =
      replace(k_valid_profile, "kind: PlatformProfile\n", "kind: PlatformProfile\nmeasured_into: tpm-pcrs\n");
  CHECK(parse_platform_profile(tpm, "p.yaml").qemu_tpm_log_size == 0);
  const std::string sized =
      replace(tpm, "  source: fw_cfg-blobs\n", "  source: fw_cfg-blobs\n  tpm_log_size: 0x10000\n");
  CHECK(parse_platform_profile(sized, "p.yaml").qemu_tpm_log_size == 0x10000);
  CHECK_THROWS_WITH(parse_platform_profile(replace(k_valid_profile, "  source: fw_cfg-blobs\n",
                                                   "  source: fw_cfg-blobs\n  tpm_log_size: 0x10000\n"),
                                           "p.yaml"),
                    Catch::Contains("p.yaml:15:17: acpi.tpm_log_size: only meaningful with measured_into: tpm-pcrs"));
  CHECK_THROWS_WITH(parse_platform_profile(replace(sized, "tpm_log_size: 0x10000", "tpm_log_size: 0"), "p.yaml"),
                    Catch::Contains("acpi.tpm_log_size: expected 1 to 16777216 bytes"));
  CHECK_THROWS_WITH(
      parse_platform_profile(replace(sized, "tpm_log_size: 0x10000", "tpm_log_size: 0x1000001"), "p.yaml"),
      Catch::Contains("acpi.tpm_log_size: expected 1 to 16777216 bytes"));
}

TEST_CASE("The trixie OVMF variant names its build and the ACPI blobs it measures under a vTPM", "[profile]") {
  OvmfVariant v = load_ovmf_variant("debian-trixie-2025.02");
  CHECK(v.vtpm_acpi_blobs ==
        std::vector<AcpiBlob>{AcpiBlob::table_loader, AcpiBlob::rsdp, AcpiBlob::tpm_log, AcpiBlob::tables});
  CHECK(v.known_builds.size() == 1);
  CHECK(v.separator_boot_register == Register::rtmr1);
  // The older variants measure no ACPI blob under a vTPM; the vTPM platform says what etc/tpm/log is.
  CHECK(load_ovmf_variant("debian-bookworm-2022.11").vtpm_acpi_blobs.empty());
  PlatformProfile vtpm = load_platform_profile("qemu-7.2-vtpm");
  CHECK(vtpm.qemu_tpm_log_size == 0x10000);
  CHECK(std::find(vtpm.events.begin(), vtpm.events.end(), EventStep::acpi_tables) != vtpm.events.end());
}

TEST_CASE("An ACPI profile naming an unknown AML variation is refused with its position", "[profile][acpi]") {
  const std::string path = test::source_path("measure/profiles/acpi/qemu-8.2-tdx.yaml");
  std::string text = test::read_text(path);
  AcpiProfile shipped = parse_acpi_profile(text, "a.yaml");
  CHECK(shipped.has(AcpiVariation::madt_revision_3));
  CHECK(shipped.variations.size() == 6);
  // The typo of the issue: before, the unknown name was kept and never matched, so the MADT
  // silently lost its revision 3 and RTMR0 changed with exit 0.
  std::string typo = replace(text, "madt-revision-3", "madt-revison-3");
  int line = 0;
  for (size_t i = 0, at = typo.find("madt-revison-3"); i < at; ++i) line += typo[i] == '\n';
  CHECK_THROWS_WITH(parse_acpi_profile(typo, "a.yaml"),
                    Catch::Contains("a.yaml:" + std::to_string(line + 1) + ":") &&
                        Catch::Contains("variations[1]: unknown AML variation 'madt-revison-3'") &&
                        Catch::Contains("known: qemu-8.0-pci-aml"));
  CHECK_THROWS_WITH(parse_acpi_profile(replace(text, "madt-revision-3", "tdx-edge-irqs"), "a.yaml"),
                    Catch::Contains("variations[4]: variation 'tdx-edge-irqs' listed twice"));
  for (AcpiVariation v : shipped.variations) CHECK(acpi_variation_from_name(acpi_variation_name(v)) == v);
}

TEST_CASE("Only QEMU 9.0+ profiles say TCG starts APIC IDs from 255 on", "[profile][acpi]") {
  CHECK_FALSE(load_acpi_profile("qemu-7.2-q35").tcg_x2apic);
  CHECK(load_acpi_profile("qemu-10.0-q35").tcg_x2apic);
  const std::string text = test::read_text(test::source_path("measure/profiles/acpi/qemu-10.0-q35.yaml"));
  CHECK_THROWS_WITH(parse_acpi_profile(replace(text, "tcg_x2apic: true", "tcg_x2apic: 1"), "a.yaml"),
                    Catch::Contains("tcg_x2apic"));
}

TEST_CASE("Profile names are short names or paths, anything else is refused without echoing it", "[profile]") {
  // A name of megabytes (from an option, a shape file's profile field or a vm_config) was echoed
  // whole to stderr; control bytes too.
  const std::string huge(50u << 20, 'a');
  for (const std::string &name : {huge, std::string(65, 'a'), std::string("qemu\x1b[2J"), std::string("Qemu-7.2"),
                                  std::string("qemu 7.2"), std::string("")}) {
    INFO(name.substr(0, 80));
    for (auto load : {+[](const std::string &n) { (void)load_acpi_profile(n); },
                      +[](const std::string &n) { (void)load_platform_profile(n); },
                      +[](const std::string &n) { (void)load_ovmf_variant(n); }}) {
      try {
        load(name);
        FAIL("accepted");
      } catch (const InputError &e) {
        std::string what = e.what();
        CHECK(what.size() < 300);
        CHECK(what.find("not a profile name (" + std::to_string(name.size()) + " bytes") != std::string::npos);
        CHECK(what.find('\x1b') == std::string::npos);
      }
    }
  }
  // A path of more than PATH_MAX bytes, likewise.
  CHECK_THROWS_WITH(load_acpi_profile("/" + huge + ".yaml"),
                    Catch::Contains("longer than 4096") && !Catch::Contains(std::string(100, 'a')));
  // Valid names that are not shipped list the shipped ones.
  CHECK_THROWS_WITH(load_acpi_profile("qemu-1.0-q35"), Catch::Contains("no ACPI profile 'qemu-1.0-q35'"));
  CHECK_NOTHROW(load_acpi_profile("qemu-7.2-q35"));

  // Through the CLI, from a shape file's profile field: exit 2 and a short message.
  test::TempDir dir("profile-name");
  test::write_text(dir / "shape.yaml", "apiVersion: mrforge/v1\nkind: VmShape\ncpus: 1\nmemory: 2G\nprofile: " +
                                           std::string(600000, 'x') + "\n"); // under the 1 MiB limit of shape files
  test::ShellResult r = test::run_mrforge_cli({"acpi", "generate", "--shape", dir / "shape.yaml", "-o", dir / "out"});
  CHECK(r.exit_code == 2);
  CHECK(r.err.size() < 400);
  CHECK(r.err.find("not a profile name (600000 bytes") != std::string::npos);
}

TEST_CASE("ACPI profiles must state QEMU's limits", "[profile]") {
  const std::string shipped = test::read_text(test::source_path("measure/profiles/acpi/qemu-9.2-tdx.yaml"));
  auto error_of = [](const std::string &yaml) -> std::string {
    try {
      parse_acpi_profile(yaml, "p.yaml");
    } catch (const DocumentError &e) {
      return e.what();
    }
    return "no error";
  };
  auto replace_line = [&](const std::string &key, const std::string &line) {
    std::string s = shipped;
    size_t at = s.find("\n" + key + ":");
    REQUIRE(at != std::string::npos);
    size_t end = s.find('\n', at + 1);
    return s.replace(at + 1, end - at - 1, line);
  };
  CHECK(error_of(shipped) == "no error");
  CHECK_THAT(error_of(replace_line("phys_bits", "")), Catch::Contains("phys_bits"));
  CHECK_THAT(error_of(replace_line("phys_bits", "phys_bits: 53")), Catch::Contains("expected 32 to 52 address bits"));
  CHECK_THAT(error_of(replace_line("max_memory", "")), Catch::Contains("max_memory"));
  CHECK_THAT(error_of(replace_line("max_memory", "max_memory: 0")), Catch::Contains("expected 1 to 2^phys_bits"));
  CHECK_THAT(error_of(replace_line("max_pci_hole64_size", "max_pci_hole64_size: 0x20000000000000")),
             Catch::Contains("at most 2^phys_bits"));
  CHECK_THAT(error_of(replace_line("max_pci_hole64_size", "max_pci_hole64_size: 0x100000000")),
             Catch::Contains("default_pci_hole64_size") && Catch::Contains("larger than max_pci_hole64_size"));
  CHECK_THAT(error_of(replace_line("phys_bits", "phys_bits: 40")),
             Catch::Contains("pci64_aperture_base") || Catch::Contains("2^phys_bits"));
}

namespace {

// Sets MRFORGE_PROFILE_PATH for one scope (each test case runs in its own process under ctest).
class ProfilePath {
public:
  explicit ProfilePath(const std::string &value) { ::setenv("MRFORGE_PROFILE_PATH", value.c_str(), 1); }
  ~ProfilePath() { ::unsetenv("MRFORGE_PROFILE_PATH"); }
  ProfilePath(const ProfilePath &) = delete;
  ProfilePath &operator=(const ProfilePath &) = delete;
};

std::string sha256_hex_of(const std::string &text) { return to_hex(sha256(ByteView::of(text))); }

} // namespace

TEST_CASE("The shipped profiles are compiled in, name themselves, and are identified by name and sha256",
          "[profile][install]") {
  ::unsetenv("MRFORGE_PROFILE_PATH");
  // Exactly the files of measure/profiles/, byte for byte.
  for (ProfileKind kind : {ProfileKind::platform, ProfileKind::ovmf, ProfileKind::acpi}) {
    const std::string folder = test::source_path(std::string("measure/profiles/") + profile_kind_folder(kind));
    std::vector<std::string> on_disk;
    for (const auto &e : std::filesystem::directory_iterator(folder))
      if (e.path().extension() == ".yaml") on_disk.push_back(e.path().stem().string());
    std::vector<ProfileFile> files = profile_files(kind);
    REQUIRE(files.size() == on_disk.size());
    REQUIRE_FALSE(files.empty());
    for (const ProfileFile &f : files) {
      INFO(f.name);
      CHECK(std::find(on_disk.begin(), on_disk.end(), f.name) != on_disk.end());
      const std::string text = test::read_text(folder + "/" + f.name + ".yaml");
      CHECK(f.text == text);
      CHECK(f.source.location == "embedded");
      CHECK(f.source.name == f.name);
      CHECK(f.source.sha256 == sha256_hex_of(text));
      CHECK(f.source.identity() == f.name + " (sha256:" + sha256_hex_of(text) + ")");
    }
    CHECK(profile_names(kind).size() == on_disk.size());
  }
  PlatformProfile p = load_platform_profile("qemu-8.2-tdx");
  CHECK(p.source.identity() ==
        "qemu-8.2-tdx (sha256:" +
            sha256_hex_of(test::read_text(test::source_path("measure/profiles/platform/qemu-8.2-tdx.yaml"))) + ")");
  CHECK(load_ovmf_variant("edk2-stable202411").source.location == "embedded");
  CHECK(load_acpi_profile("qemu-9.2-tdx").source.name == "qemu-9.2-tdx");
  // A user's file given by path: its file name and sha256, the path only for errors.
  const std::string path = test::source_path("measure/profiles/platform/qemu-9.2-tdx.yaml");
  PlatformProfile by_path = load_platform_profile(path);
  CHECK(by_path.source.name == "qemu-9.2-tdx.yaml");
  CHECK(by_path.source.location == path);
  CHECK(by_path.source.identity().find('/') == std::string::npos);
}

TEST_CASE("MRFORGE_PROFILE_PATH adds users' profile folders, and a name found twice is refused as ambiguous",
          "[profile]") {
  test::TempDir dir("profile-path");
  const std::string mine = dir / "mine", more = dir / "more";
  test::write_text(mine + "/platform/custom.yaml", k_valid_profile);
  const std::string shipped_text = test::read_text(test::source_path("measure/profiles/ovmf/edk2-stable202411.yaml"));
  test::write_text(more + "/ovmf/edk2-stable202411.yaml", shipped_text + "# my copy\n");
  test::write_text(more + "/acpi/README", "not a profile: ignored");

  SECTION("a user's profile loads by name, identified by its file name and sha256") {
    ProfilePath env(mine + ":" + more);
    CHECK(profile_search_path() == std::vector<std::string>{mine, more});
    PlatformProfile p = load_platform_profile("custom");
    CHECK(p.name == "custom");
    CHECK(p.source.identity() == "custom.yaml (sha256:" + sha256_hex_of(k_valid_profile) + ")");
    CHECK(p.source.location == mine + "/platform/custom.yaml");
    std::vector<std::string> names = profile_names(ProfileKind::platform);
    CHECK(std::find(names.begin(), names.end(), "custom") != names.end());
    CHECK(std::find(names.begin(), names.end(), "qemu-8.2-tdx") != names.end());
    std::vector<ProfileFile> files = profile_files(ProfileKind::platform);
    CHECK(files.back().name == "custom"); // after the shipped ones
    // The shipped name that a folder defines again is ambiguous, naming both places.
    CHECK_THROWS_WITH(load_ovmf_variant("edk2-stable202411"),
                      Catch::Contains("--ovmf-variant: OVMF variant 'edk2-stable202411' is ambiguous") &&
                          Catch::Contains("shipped with mrforge") &&
                          Catch::Contains(more + "/ovmf/edk2-stable202411.yaml") && Catch::Contains("give the path"));
    // Given as a path, the user's copy is used (and named by its file name and its own sha256).
    OvmfVariant v = load_ovmf_variant(more + "/ovmf/edk2-stable202411.yaml");
    CHECK(v.source.identity() == "edk2-stable202411.yaml (sha256:" + sha256_hex_of(shipped_text + "# my copy\n") + ")");
    // Names nobody defines twice still resolve.
    CHECK(load_ovmf_variant("debian-bookworm-2022.11").source.location == "embedded");
    CHECK_THROWS_WITH(load_platform_profile("nope"),
                      Catch::Contains("no platform profile 'nope' (known: custom, qemu-7.2-vtpm, ") &&
                          Catch::Contains("qemu-11.1-tdx; or give a path"));
  }
  SECTION("a file found by name carries that name") {
    test::write_text(mine + "/platform/other.yaml", k_valid_profile);
    ProfilePath env(mine);
    CHECK_THROWS_WITH(load_platform_profile("other"),
                      Catch::Contains(mine + "/platform/other.yaml: its name is 'custom'"));
  }
  SECTION("a bad search path is an error, never an empty or partial list") {
    {
      ProfilePath env(dir / "missing");
      CHECK_THROWS_WITH(load_platform_profile("qemu-8.2-tdx"),
                        Catch::Contains("MRFORGE_PROFILE_PATH: " + dir / "missing" + " is not a folder"));
      CHECK_THROWS_AS(profile_files(ProfileKind::acpi), InputError);
    }
    {
      ProfilePath env(mine + "/platform"); // one level too deep
      CHECK_THROWS_WITH(profile_names(ProfileKind::platform),
                        Catch::Contains("has none of the subfolders platform/, ovmf/, acpi/"));
    }
    {
      test::write_text(mine + "/platform/bad name.yaml", k_valid_profile);
      ProfilePath env(mine);
      CHECK_THROWS_WITH(profile_files(ProfileKind::platform),
                        Catch::Contains("bad name.yaml") && Catch::Contains("rename it"));
    }
    {
      ProfilePath env("::"); // empty entries are skipped
      CHECK(profile_search_path().empty());
      CHECK(profile_names(ProfileKind::ovmf) == shipped_ovmf_variants());
    }
  }
}
