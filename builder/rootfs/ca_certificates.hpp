// The effect of ca-certificates' postinst on a fresh install with debconf's defaults, built in
// because mrforge runs no maintainer scripts. That postinst (ca-certificates 20250419, bookworm
// and trixie) writes /etc/ca-certificates.conf listing every certificate under
// /usr/share/ca-certificates (new certificates are trusted by default: template
// ca-certificates/trust_new_crts, "Default: yes"), in `sort` order, then runs
// update-ca-certificates, which
//   - links /etc/ssl/certs/NAME.pem -> /usr/share/ca-certificates/DIR/NAME.crt for each listed
//     certificate and each *.crt under /usr/local/share/ca-certificates (NAME with ' ' and ','
//     turned into '_' and '(' ')' into '='),
//   - concatenates those files, in that order, each ending in a newline, into
//     /etc/ssl/certs/ca-certificates.crt (mode 0644),
//   - runs `openssl rehash`, which links HASH.N -> NAME.pem, HASH being OpenSSL's
//     X509_subject_name_hash in 8 hex digits and N counting certificates with the same hash in
//     file-name order (a certificate equal to an earlier one gets no link).
// Here `sort` and file-name order are byte order (the C locale), so the result does not depend
// on the host. The hooks in /etc/ca-certificates/update.d (Java's keystore, ...) are not run.
#pragma once

#include <builder/fs/content_staging.hpp>
#include <builder/fs/fs_tree.hpp>

#include <string>
#include <vector>

namespace mrforge::builder {

// Whether the tree has ca-certificates' update-ca-certificates (the package is installed).
bool has_ca_certificates(const FsTree &tree);

// Adds what the postinst would have made (see above) and returns the paths added. Throws
// InputError naming the certificate file when a listed file is not exactly one PEM certificate,
// or naming the entry that is already where a generated file goes.
std::vector<std::string> add_ca_certificates(FsTree &tree, ContentStaging &staging);

} // namespace mrforge::builder
