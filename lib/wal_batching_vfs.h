// An SQLite VFS that writes each WAL transaction's frames with one write(2) instead of two
// per page.
//
// SQLite appends a transaction to the WAL frame by frame: a 24-byte frame header, then the
// page, each its own pwrite. A group commit of ~20 deliveries is ~10-25 frames, so 20-50
// system calls before the fsync; the projection's transactions write hundreds of frames.
// Measured on the 2-core VM, 48 pwrites of a 24-frame commit took ~35 µs, one pwrite of the
// same bytes ~8 µs.
//
// This VFS wraps the default one (unix). For WAL files only, it gathers consecutive
// appends in a buffer and writes them out:
//   - after the page of a commit frame (a frame header whose "database size" field is not
//     zero): the transaction is in the OS before SQLite publishes it in the WAL index, so
//     other connections reading those frames find them — with synchronous=NORMAL there is
//     no xSync to wait for;
//   - before any other operation on the file (read, sync, size, truncate, file control,
//     close), so SQLite never observes the file without its own writes;
//   - when a write does not continue the buffer (a frame rewritten in place) or the buffer
//     would exceed kWalBatchBytes.
// A failed flush is reported by the call that triggered it, as an I/O error of that write
// or sync: SQLite then rolls the transaction back as for any failed write. What is lost in a
// crash is what SQLite had not committed yet: the commit frame is never buffered past its
// own xWrite. Other files (the database, journals) are opened by the wrapped VFS directly.
#pragma once

#include <cstddef>

namespace churnwatch::sql {

inline constexpr const char* kWalBatchingVfs = "churnwatch-wal-batching";
// At most this much is gathered (larger writes are written through): SQLite's unix VFS
// takes at most 128 KiB - 1 per write call (it masks the length with 0x1ffff).
inline constexpr std::size_t kWalBatchBytes = 120 * 1024;

// Registers the VFS (once per process) as SQLite's default, wrapping the previous default.
// Called by Database's constructor; safe to call from several threads.
void register_wal_batching_vfs();

// Writes the batching made for WAL files opened in this process: how many writes SQLite
// asked for and how many reached the wrapped VFS (for tests and benchmarks).
struct WalBatchingStats {
    unsigned long long requested = 0;
    unsigned long long written = 0;
};
WalBatchingStats wal_batching_stats();

}  // namespace churnwatch::sql
