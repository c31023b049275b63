#include <measure/acpi/acpi_profile.hpp>
#include <measure/util/strings.hpp>

namespace mrforge {

namespace {

// Each variation with what it changes, relative to QEMU 7.2's q35 AML.
const std::pair<AcpiVariation, const char *> k_variation_names[] = {
    // QEMU 8.0 reworked the PCI AML (Igor Mammedov's "acpi: pc/q35: ..." series, e.g. commits
    // 6c36ec46b0, 17f4cedba1, fe0d5f5319, 05a49b9c2f, 0a4584fca3): PCI0 gained EDSM (acpi-index for
    // non-hotpluggable devices); every present PCI function is described, bridges describe their
    // own secondary bus, hotplug slots and the PCNT notification chain are generated separately,
    // _GPE._E01 exists whenever ACPI hotplug is on; PDSM's function 0 checks UUID and revision
    // before anything else. Two QEMU 8.1 follow-ups are part of it too, since every shipped
    // profile past 7.2 has both: the host bridge lost its _ADR (5ce869f788b0b8d82693212366d5637d9f3206c9,
    // "acpi: x86: remove _ADR on host bridges") and the slots' _DSM fills its package by index
    // (44d975ef340e2f21f236f9520c53e1b30d2213a4, "x86: acpi: workaround Windows not handling name
    // references in Package properly"). An upstream 8.0 profile would need them split out.
    {AcpiVariation::qemu_8_0_pci_aml, "qemu-8.0-pci-aml"},
    // QEMU 8.2 - 9.1 builds used on TDX hosts (dstack's dumper keeps them as "compat 9.1", cut at
    // 9.2.0): PDSM function 7 pre-fills its package before asking AIDX.
    {AcpiVariation::pdsm_func7_prefilled, "pdsm-func7-prefilled"},
    // The same TDX builds: PCI interrupt links are edge-triggered, and the MADT overrides every
    // ISA IRQ 0-15 as active-high edge (flags 5) instead of PCI IRQs 5/9/10/11 level (flags 0xd).
    {AcpiVariation::tdx_edge_irqs, "tdx-edge-irqs"},
    // OVMF for TDX places the 64-bit MMIO window at its aperture whether or not a device has a
    // 64-bit BAR, and QEMU reports exactly the configured hole size there.
    {AcpiVariation::pci64_window_at_aperture, "pci64-window-at-aperture"},
    // QEMU 8.1 raised the MADT to revision 3 (its Online Capable flag for hot-pluggable CPUs;
    // commit 6da94e277cd6eaf627dcd2d50ca795c7a272b8aa, "ACPI: i386: bump to MADT to revision 3").
    {AcpiVariation::madt_revision_3, "madt-revision-3"},
    // The MADT's PCAT_COMPAT flag follows -machine pic= (QEMU 7.2 always set it). Upstream from
    // QEMU 9.1 (commit 292dd287e78e0cbafde9d1522c729349d132d844, "hw/i386/acpi: Set PCAT_COMPAT
    // bit only when pic is not disabled").
    {AcpiVariation::madt_pcat_compat_follows_pic, "madt-pcat-compat-follows-pic"},
    // QEMU 10.0: the CPU hotplug scan method \_SB.CPUS.CSCN queues remove events in a second
    // package, CEJL, and notifies them after the inserted CPUs, in the same SCI (QEMU commit
    // 8aa35bebeeaed19ae57afbc3e110b8e7fe8587d0, "cpuhp: make sure that remove events are handled
    // within the same SCI", hw/acpi/cpu.c build_cpus_aml; first released in v10.0.0, not in 9.2).
    {AcpiVariation::cpuhp_eject_list, "cpuhp-eject-list"},
    // QEMU 9.2: an expander's (\_SB.PCxx) _PRT returns a precomputed Package (0x80) instead of
    // building it in a While loop at run time (QEMU commits 99cb2c6c7b "hw/i386/acpi-build: Return
    // a pre-computed _PRT table" and 7916bb5431 "hw/i386/acpi-build: return a non-var package from
    // _PRT()"; first released in v9.2.0). PCI0's _PRT (PRTP/PRTA) is unchanged.
    {AcpiVariation::pxb_prt_package, "pxb-prt-package"},
    // The tables as QEMU builds them before the firmware has numbered the buses behind an
    // expander's root ports or given them windows: each expander's _CRS is its own bus number
    // only, whatever sits behind it, and PCI0's _CRS keeps every range. That is what dstack's
    // reference dumps hold (its qemu-acpi crate: one bus-number descriptor per expander, the same
    // tables for 1, 8 and 32 GPUs). OVMF under plain QEMU does number and program them first (a
    // live QEMU 10.0 capture with two root ports on an expander on bus 5: _CRS buses 5-7, an I/O,
    // a 32-bit and a 64-bit window, all cut out of PCI0's _CRS), so a profile without this
    // variation refuses root ports on an expander (the assignment is not modelled).
    {AcpiVariation::expander_ports_unassigned, "expander-ports-unassigned"},
    // QEMU 11.0: q35 starts in the modern CPU hotplug mode, so the CPU hotplug device
    // \_SB.PCI0.PRES no longer has the `Method (_INI) { CSEL = Zero }` that switched the guest
    // from the legacy interface (QEMU commit 7aa563630b6b0d01489d0e0c0f5e3ed0d7e739e7, "pc: Start
    // with modern CPU hotplug interface by default", hw/acpi/cpu.c build_cpus_aml; expected DSDTs
    // updated by 9b65a1dbc184a38c38b6d412dcda918fdc210741; after v10.2.0, so first in 11.0).
    {AcpiVariation::cpuhp_no_legacy_init, "cpuhp-no-legacy-init"},
    // dstack's QEMU 11.1 compatibility line: the COM1 _CRS declares IRQ 4 as
    // `IRQ (Level, ActiveLow, Shared) {4}` (descriptor 0x23, flags 0x18) instead of
    // `IRQNoFlags () {4}`. Not in upstream QEMU as of master 2026-02-13 (hw/char/serial-isa.c still
    // uses aml_irq_no_flags): it comes from the fork dstack's 11.1 tables are taken from
    // (github.com/kvinwang/qemu-tdx branch dstack-qemu-acpi-11.1-compat, rev
    // 9de6fdfff3a84103b83ca6b2e8c4fb8e05cf9195; Dstack-TEE/dstack crates/qemu-acpi
    // `modern_serial_irq`, V11_1 only), and is proven only by that crate's goldens.
    {AcpiVariation::com1_irq_level_shared, "com1-irq-level-shared"},
};

} // namespace

const char *acpi_variation_name(AcpiVariation v) {
  for (const auto &[variation, name] : k_variation_names)
    if (variation == v) return name;
  return "?";
}

std::optional<AcpiVariation> acpi_variation_from_name(const std::string &name) {
  for (const auto &[variation, n] : k_variation_names)
    if (name == n) return variation;
  return std::nullopt;
}

std::string acpi_variation_names() {
  return join(k_variation_names, ", ", [](const auto &variation_name) { return variation_name.second; });
}

} // namespace mrforge
