// mrforge inspect firmware|kernel: what the parsers see in a firmware or kernel image, and the
// digests the engine derives from it.
#include "commands.hpp"
#include "output.hpp"

#include <measure/documents/request_assembly.hpp>
#include <measure/engine/authenticode.hpp>
#include <measure/engine/mrtd.hpp>
#include <measure/formats/firmware.hpp>
#include <measure/formats/pe.hpp>
#include <measure/formats/setup_header.hpp>
#include <measure/util/mapped_file.hpp>
#include <measure/util/reader.hpp>

#include <iostream>
#include <memory>

namespace mrforge::cli {

namespace {

struct InspectOptions {
  std::string file;
  bool json = false;
};

std::string attributes_label(const TdvfSection &s) {
  std::string a;
  if (s.mr_extend()) a += "MR.EXTEND";
  if (s.page_aug()) a += std::string(a.empty() ? "" : "|") + "PAGE.AUG";
  return a.empty() ? "-" : a;
}

void inspect_firmware(const InspectOptions &o) {
  MappedFile f(o.file, limits::k_firmware);
  FirmwareImage fw = parse_firmware(f.bytes(), o.file);
  Sha384 single = compute_mrtd(f.bytes(), fw, PageOrder::single_pass);
  Sha384 two = compute_mrtd(f.bytes(), fw, PageOrder::two_pass);
  std::optional<Sha384> cfv;
  for (const auto &s : fw.sections)
    if (s.type == TdvfSectionType::cfv) cfv = cfv_digest(f.bytes(), fw);

  if (o.json) {
    Json j{{"file", file_label(o.file)}, {"size", fw.size}, {"guided_table", Json::array()}};
    for (const auto &e : fw.guided_table)
      j["guided_table"].push_back(Json{{"guid", e.guid.str()}, {"offset", e.data_offset}, {"size", e.data_size}});
    j["tdvf"] = Json{{"offset", fw.tdvf_offset}, {"version", fw.tdvf_version}, {"sections", Json::array()}};
    for (const auto &s : fw.sections)
      j["tdvf"]["sections"].push_back(Json{{"type", section_type_name(s.type)},
                                           {"data_offset", s.data_offset},
                                           {"raw_size", s.raw_size},
                                           {"gpa", hex_u64(s.gpa)},
                                           {"mem_size", s.mem_size},
                                           {"attributes", s.attributes}});
    j["mrtd"] = Json{{"single-pass", to_hex(single)}, {"two-pass", to_hex(two)}};
    j["cfv_digest"] = cfv ? Json(to_hex(*cfv)) : Json(nullptr);
    print_json(j);
    return;
  }
  std::cout << o.file << ": " << fw.size << " bytes, TDVF descriptor v" << fw.tdvf_version << " at "
            << hex_u64(fw.tdvf_offset) << "\n\nOVMF GUIDed table:\n";
  std::vector<std::vector<std::string>> rows = {{"  GUID", "OFFSET", "SIZE"}};
  for (const auto &e : fw.guided_table)
    rows.push_back({"  " + e.guid.str(), hex_u64(e.data_offset), std::to_string(e.data_size)});
  print_table(rows);
  std::cout << "\nTDVF sections:\n";
  rows = {{"  #", "TYPE", "FILE OFFSET", "RAW SIZE", "GPA", "MEM SIZE", "ATTRIBUTES"}};
  for (size_t i = 0; i < fw.sections.size(); ++i) {
    const auto &s = fw.sections[i];
    rows.push_back({"  " + std::to_string(i), section_type_name(s.type), hex_u64(s.data_offset), hex_u64(s.raw_size),
                    hex_u64(s.gpa), hex_u64(s.mem_size), attributes_label(s)});
  }
  print_table(rows);
  std::cout << "\n";
  print_table({{"MRTD (single-pass)", to_hex(single)},
               {"MRTD (two-pass)", to_hex(two)},
               {"CFV digest", cfv ? to_hex(*cfv) : "(no CFV section)"}});
}

void inspect_kernel(const InspectOptions &o) {
  MappedFile f(o.file, limits::k_kernel);
  PeImage pe = parse_pe(f.bytes(), o.file);
  Bytes a384 = authenticode(f.bytes(), pe, HashAlgorithm::sha384);
  Bytes a256 = authenticode(f.bytes(), pe, HashAlgorithm::sha256);
  std::optional<SetupHeader> hdr;
  std::string hdr_error;
  try {
    hdr = parse_setup_header(f.bytes(), file_label(o.file)); // its error goes into the output
  } catch (const FormatError &e) {
    hdr_error = e.what(); // an EFI application that is not a bzImage (e.g. a UKI): reported, not fatal
  }

  if (o.json) {
    Json j{{"file", file_label(o.file)},
           {"size", pe.file_size},
           {"machine", pe_machine_name(pe.machine) ? pe_machine_name(pe.machine) : hex_u64(pe.machine)},
           {"format", pe.pe32_plus ? "PE32+" : "PE32"},
           {"subsystem", pe.subsystem},
           {"sections", Json::array()}};
    for (const auto &s : pe.sections)
      j["sections"].push_back(Json{{"name", s.name},
                                   {"virtual_address", hex_u64(s.virtual_address)},
                                   {"virtual_size", s.virtual_size},
                                   {"raw_offset", hex_u64(s.raw_offset)},
                                   {"raw_size", s.raw_size}});
    j["signed"] = has_signature(pe);
    j["authenticode"] = Json{{"sha256", to_hex(a256)}, {"sha384", to_hex(a384)}};
    if (hdr) {
      j["boot_protocol"] = std::to_string(hdr->protocol >> 8) + "." + std::to_string(hdr->protocol & 0xFF);
      j["setup_header"] = Json{{"kernel_version", hdr->kernel_version},
                               {"setup_sects", hdr->setup_sects},
                               {"loadflags", hex_u64(hdr->loadflags)},
                               {"xloadflags", hex_u64(hdr->xloadflags)},
                               {"initrd_addr_max", hex_u64(hdr->initrd_addr_max)},
                               {"can_be_loaded_above_4g", hdr->can_be_loaded_above_4g()},
                               {"kernel_alignment", hex_u64(hdr->kernel_alignment)},
                               {"relocatable_kernel", hdr->relocatable_kernel != 0},
                               {"cmdline_size", hdr->cmdline_size},
                               {"init_size", hex_u64(hdr->init_size)},
                               {"handover_offset", hex_u64(hdr->handover_offset)}};
    } else {
      j["setup_header"] = nullptr;
      j["setup_header_error"] = hdr_error;
    }
    print_json(j);
    return;
  }
  const char *machine = pe_machine_name(pe.machine);
  std::cout << o.file << ": " << pe.file_size << " bytes, " << (pe.pe32_plus ? "PE32+" : "PE32") << " "
            << (machine ? machine : hex_u64(pe.machine)) << ", subsystem " << pe.subsystem << ", "
            << (has_signature(pe) ? "signed (certificate table " + std::to_string(pe.cert_table_size) + " bytes)"
                                  : "unsigned")
            << "\n\nSections:\n";
  std::vector<std::vector<std::string>> rows = {{"  NAME", "VADDR", "VSIZE", "FILE OFFSET", "RAW SIZE"}};
  for (const auto &s : pe.sections)
    rows.push_back({"  " + s.name, hex_u64(s.virtual_address), hex_u64(s.virtual_size), hex_u64(s.raw_offset),
                    hex_u64(s.raw_size)});
  print_table(rows);
  std::cout << "\n";
  if (hdr) {
    print_table(
        {{"Linux boot protocol", std::to_string(hdr->protocol >> 8) + "." + std::to_string(hdr->protocol & 0xFF)},
         {"kernel version", hdr->kernel_version},
         {"initrd_addr_max",
          hex_u64(hdr->initrd_addr_max) + (hdr->can_be_loaded_above_4g() ? " (XLF_CAN_BE_LOADED_ABOVE_4G)" : "")},
         {"xloadflags", hex_u64(hdr->xloadflags)},
         {"cmdline_size", std::to_string(hdr->cmdline_size)}});
  } else {
    print_line("No Linux setup header: " + hdr_error);
  }
  std::cout << "\n";
  print_table({{"Authenticode SHA-256", to_hex(a256)},
               {"Authenticode SHA-384", to_hex(a384)},
               {"", "(of the file as it is; QEMU <= 10.1 patches the setup header first: see `mrforge measure`)"}});
}

} // namespace

void add_inspect_command(CLI::App &app, Runner &run) {
  CLI::App *cmd = app.add_subcommand("inspect", "Show what mrforge reads in a firmware or kernel image");
  cmd->require_subcommand(1);
  auto fw = std::make_shared<InspectOptions>();
  CLI::App *f = add_command(*cmd, run, fw, "firmware",
                            "OVMF GUIDed table, TDVF sections, both MRTDs and the CFV digest", inspect_firmware);
  f->add_option("file", fw->file, "OVMF.fd")->required();
  f->add_flag("--json", fw->json, "Print JSON");
  auto k = std::make_shared<InspectOptions>();
  CLI::App *kc =
      add_command(*cmd, run, k, "kernel", "PE sections, boot protocol, setup header, Authenticode digests, signature",
                  inspect_kernel);
  kc->add_option("file", k->file, "Kernel (bzImage with EFI stub) or any EFI application")->required();
  kc->add_flag("--json", k->json, "Print JSON");
}

} // namespace mrforge::cli
