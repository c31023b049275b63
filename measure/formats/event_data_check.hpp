// Is an event's data what its digest covers? A log is a list of (digest, data) pairs, and only the
// digests reach the registers, so data can be rewritten at will without changing what the log
// replays to. For the event kinds whose digest is a hash of (part of) their own data, the rule is
// known and the data can be checked; for the others (images, firmware volumes, tables in memory,
// files) the digest covers something the data only names, and the data cannot be checked.
//
// Rules, each from the code that writes the event and confirmed on the real logs of
// ../shared/vectors (tests/event_data_check_test.cpp):
//   EV_SEPARATOR             digest of the 4-byte data (edk2 TdTcg2Dxe MeasureSeparatorEvent; PFP
//                            1.06); an error separator's digest is of the value 1 and its data is
//                            unmeasured error information (tcglog-parser, PFP "Error Conditions")
//   EV_ACTION, EV_EFI_ACTION digest of the ASCII string, no NUL (edk2 TdMeasureAction; PFP 10.4.3)
//   EV_EFI_VARIABLE_DRIVER_CONFIG, EV_EFI_VARIABLE_BOOT2, EV_EFI_VARIABLE_AUTHORITY
//                            digest of the whole UEFI_VARIABLE_DATA (edk2 TdTcg2Dxe/Tcg2Dxe
//                            MeasureVariable, DxeImageVerificationLib; U-Boot for BOOT2; PFP 10.4.4)
//   EV_EFI_VARIABLE_BOOT     digest of VariableData only: the GUID and name are not covered (edk2
//                            MeasureVariable: "else" branch)
//   EV_EFI_GPT_EVENT         digest of the whole UEFI_GPT_DATA (PFP 10.4.5; U-Boot)
//   EV_EVENT_TAG             digest of the whole TCG_PCClientTaggedEvent (PFP; the CoCo
//                            attestation agent's AAEL events), except the Linux EFI stub's tags
//                            0x8F3B22ED/0x8F3B22EC, whose digest covers the command line or the
//                            initrd and whose data is a description (unchecked)
//   EV_PLATFORM_CONFIG_FLAGS td-shim's TdShimPlatformConfigInfoHeader (16-byte descriptor, u32
//                            length) || info: digest of the info (td-shim create_event_log_platform
//                            _config); OVMF's ACPI events name a fw_cfg file (unchecked)
//   EV_IPL                   grub (grub-core/commands/tpm.c): "grub_cmd: ", "kernel_cmdline: ",
//                            "module_cmdline: " || text || NUL, digest of the text; Red Hat's grub2
//                            TPM patches (Alibaba Cloud Linux 3 in the vectors): "grub_cmd " || text
//                            || NUL || one stray byte, digest of text || NUL, and
//                            "grub_kernel_cmdline " || text || NUL || one stray byte, digest of the
//                            text. Other EV_IPL events (shim's MokList, grub's files, systemd-stub's
//                            sections) name what the digest covers (unchecked)
// dstack's runtime events and IMA entries have their own rules (event_log.hpp, attestation_inputs
// .hpp, check_ima_entry below).
#pragma once

#include <measure/formats/tcg_log.hpp>
#include <measure/util/bytes.hpp>

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace mrforge {

enum class DataCheck {
  verified,  // every digest of the record is the hash its rule gives of the data: all of it is measured
  partial,   // the same, but the rule covers only part of the data (the note says which part is not)
  mismatch,  // a digest differs from what the rule gives: the data (or the digest) was altered
  unchecked, // no rule ties the digest to this data: it covers what the data names, or nothing
};

// "verified", "partial", "mismatch", "unchecked".
const char *data_check_name(DataCheck check);

struct DataVerdict {
  DataCheck status = DataCheck::unchecked;
  // verified/partial: the rule ("SHA-384 of the UEFI_VARIABLE_DATA"), and for partial what it
  // leaves out; mismatch: the algorithm, what the data hashes to and what the log says; unchecked:
  // why the data cannot be checked. Printable ASCII, no input text.
  std::string note;
};

// The verdict for a TCG event of `type` with these digests (every bank of the record; for a
// dstack JSON log the one SHA-384 digest). Every digest whose algorithm this OpenSSL computes is
// checked; one that differs makes a mismatch. An empty `data` is unchecked (a log that carries no
// data claims nothing). Never throws on any input bytes.
DataVerdict check_event_data(uint32_t type, ByteView data, const std::vector<LogDigest> &digests);

// An IMA ASCII measurement list entry: `fields` are the entry's whitespace-separated fields
// (register, template hash, template name, template fields...). For the ima-ng, ima-sig and
// ima-buf templates the template data is rebuilt from the fields (each field as u32le length ||
// bytes: d-ng "ALGO:" NUL digest, n-ng name NUL, sig/buf bytes; Linux
// security/integrity/ima/ima_template_lib.c) and hashed with the template hash's algorithm
// (SHA-384 on TDX, a 48-byte hash). A zero template hash (a measurement violation) and other
// templates are unchecked. Never throws.
DataVerdict check_ima_entry(const std::vector<std::string_view> &fields);

} // namespace mrforge
