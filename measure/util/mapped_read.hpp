// Hashing the bytes of a mapped input file by reading the file rather than touching its mapping.
//
// Why: on the 2-core development machine (a VM whose guest page tables are shadowed by the
// hypervisor) the first touch of each 4 KiB page of a fresh file mapping costs a trip to the
// hypervisor, so SHA-384 over a 64 MB initrd through its mapping took about 1.5x the CPU time of
// pread() into a small buffer that stays in cache (what `openssl dgst` does with read()). Parsers
// still use the mapping for the few pages they look at; the long hashes go through the file.
//
// Every live MappedFile records the file behind its mapping (mapped_file.cpp), so any ByteView
// into one can be hashed this way without callers carrying a descriptor around.
#pragma once

#include <measure/util/bytes.hpp>
#include <measure/util/hash.hpp>

namespace mrforge {

// h.update(bytes), with the same result: when `bytes` lies inside a live MappedFile and is long
// enough for it to pay, read from the file with pread() into a per-thread buffer; otherwise from
// memory. Throws SystemError naming the file if a read fails or the file became shorter than its
// mapping (it changed while being read).
void update_from_file(Hasher &h, ByteView bytes);

} // namespace mrforge
