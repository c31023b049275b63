// Running helper programs (gpgv now; mkfs, veritysetup, QEMU later) with a scrubbed environment
// (TZ=UTC, LC_ALL=C.UTF-8, fixed HOME, umask 022) and captured output. Placeholder until filled in.
#pragma once
