// mrforge acpi diff / mrforge acpi list: decode QEMU's three ACPI fw_cfg blobs
// (measure/acpi/acpi_decode.hpp) and print them, or name where two sets of them differ.
#include "commands.hpp"
#include "output.hpp"

#include <measure/acpi/acpi_blobs.hpp>
#include <measure/acpi/acpi_decode.hpp>
#include <measure/util/errors.hpp>

#include <iostream>
#include <memory>

namespace mrforge::cli {

namespace {

struct AcpiDiffOptions {
  std::string a, b;
  bool json = false;
  size_t limit = 20;
};

struct AcpiListOptions {
  std::string dir;
  bool json = false;
};

// Reads and decodes DIR's blobs; a FormatError names the directory as well as the blob.
DecodedAcpi decode_dir(const std::string &dir, AcpiBlobs &blobs) {
  blobs = read_acpi_blobs(dir);
  try {
    return decode_acpi(blobs);
  } catch (const FormatError &e) {
    throw FormatError(dir + ": " + e.source(), e.offset(), e.detail());
  }
}

Json field_json(const AcpiField &f) {
  Json j;
  j["name"] = f.name;
  j["offset"] = f.offset;
  j["size"] = f.size;
  j["value"] = f.value;
  return j;
}

Json fields_json(const std::vector<AcpiField> &fields) {
  Json list = Json::array();
  for (const AcpiField &f : fields) list.push_back(field_json(f));
  return list;
}

Json decoded_json(const DecodedAcpi &d) {
  Json tables = Json::array();
  for (const DecodedTable &t : d.tables) {
    Json j;
    j["signature"] = t.signature;
    j["offset"] = t.offset;
    j["length"] = t.length;
    j["fields"] = fields_json(t.fields);
    if (!t.objects.empty()) {
      Json objects = Json::array();
      for (const AmlObject &o : t.objects) {
        Json x;
        x["path"] = o.path;
        x["kind"] = o.kind;
        x["offset"] = o.offset;
        x["length"] = o.length;
        x["depth"] = o.depth;
        objects.push_back(std::move(x));
      }
      j["objects"] = std::move(objects);
    }
    tables.push_back(std::move(j));
  }
  Json loader = Json::array();
  for (const LoaderCommand &c : d.loader) {
    Json j;
    j["index"] = c.index;
    j["text"] = c.text;
    j["fields"] = fields_json(c.fields);
    loader.push_back(std::move(j));
  }
  Json out;
  out["tables_used"] = d.tables_used;
  out["tables"] = std::move(tables);
  out["table_loader"] = std::move(loader);
  out["rsdp"] = fields_json(d.rsdp);
  return out;
}

std::string difference_line(const AcpiDifference &d) {
  char offset[24];
  std::snprintf(offset, sizeof offset, "+0x%x", d.offset);
  return d.blob + offset + ": " + d.where + ": " + d.a + " vs " + d.b;
}

int run_acpi_diff(const AcpiDiffOptions &o) {
  AcpiBlobs a, b;
  const DecodedAcpi da = decode_dir(o.a, a), db = decode_dir(o.b, b);
  std::vector<AcpiDifference> differences = diff_acpi(a, da, b, db);
  if (o.json) {
    Json list = Json::array();
    for (const AcpiDifference &d : differences) {
      Json j;
      j["blob"] = d.blob;
      j["where"] = d.where;
      j["offset"] = d.offset;
      j["a"] = d.a;
      j["b"] = d.b;
      list.push_back(std::move(j));
    }
    print_json(list);
  } else if (differences.empty()) {
    std::cout << "identical\n";
  } else {
    print_line("first difference: " + difference_line(differences.front()));
    const size_t more = differences.size() - 1, shown = std::min(more, o.limit);
    for (size_t i = 1; i <= shown; ++i) print_line("  " + difference_line(differences[i]));
    if (shown < more) std::cout << "  ... and " << (more - shown) << " more (--limit N shows more, --json shows all)\n";
  }
  return differences.empty() ? k_exit_ok : k_exit_mismatch;
}

int run_acpi_list(const AcpiListOptions &o) {
  AcpiBlobs blobs;
  DecodedAcpi d = decode_dir(o.dir, blobs);
  if (o.json)
    print_json(decoded_json(d));
  else
    std::cout << acpi_listing(d);
  return k_exit_ok;
}

constexpr const char *k_layouts_help =
    "A directory holds the three blobs as DIR/{table-loader,rsdp,tables} (what `mrforge acpi generate`\n"
    "and `mrforge acpi capture` write), as DIR/etc/{table-loader,acpi/rsdp,acpi/tables}, or as a copy of\n"
    "the guest's /sys/firmware/qemu_fw_cfg/by_name (each file a directory holding `raw`).\n";

} // namespace

// Registers `acpi diff` and `acpi list` (both decode with measure/acpi/acpi_decode.hpp).
void add_acpi_diff_command(CLI::App &acpi, Runner &run) {
  auto o = std::make_shared<AcpiDiffOptions>();
  CLI::App *cmd = add_command(acpi, run, o, "diff",
                              "Name the first table, field or AML object where two sets of ACPI "
                              "blobs differ",
                              run_acpi_diff);
  cmd->footer(std::string(k_layouts_help) +
              "Both sets are decoded (tables and their fields, DSDT AML objects, table-loader commands, RSDP).\n"
              "Changes of the table layout come first (a table added, a length changed), then each difference\n"
              "named by the innermost field or AML object holding its first differing byte:\n"
              "  etc/acpi/tables+0x1dc7: DSDT \\_SB.PCI0._CRS: 01 00 00 00 08 00 00 00 vs e0 ...\n"
              "Example:\n"
              "  mrforge acpi diff generated/ captured/\n"
              "Exit codes: 0 identical, 4 different, 1 usage error, 2 bad input (a blob missing, unreadable or\n"
              "malformed), 3 internal error.");
  cmd->add_option("a", o->a, "First directory of ACPI blobs")->required();
  cmd->add_option("b", o->b, "Second directory of ACPI blobs")->required();
  cmd->add_flag("--json", o->json, "Print every difference as JSON: [{blob, where, offset, a, b}]");
  cmd->add_option("--limit", o->limit, "Differences to print after the first one (default 20)");

  auto l = std::make_shared<AcpiListOptions>();
  CLI::App *list = add_command(acpi, run, l, "list", "Decode and print a directory of ACPI blobs", run_acpi_list);
  list->footer(std::string(k_layouts_help) +
               "Prints the tables (signature, offset, length, header ids), the table-loader commands, the RSDP,\n"
               "then every decoded field with its offset and the DSDT's AML objects indented by depth.\n"
               "Example:\n"
               "  mrforge acpi list captured/\n"
               "Exit codes: 0 ok, 1 usage error, 2 bad input (a blob missing, unreadable or malformed).");
  list->add_option("dir", l->dir, "Directory of ACPI blobs")->required();
  list->add_flag("--json", l->json, "Print JSON: {tables_used, tables, table_loader, rsdp}");
}

} // namespace mrforge::cli
