#include "wal_batching_vfs.h"

#include <sqlite3.h>

#include <atomic>
#include <cstring>
#include <mutex>
#include <new>
#include <string>

namespace churnwatch::sql {

namespace {

std::atomic<unsigned long long> g_requested{0};
std::atomic<unsigned long long> g_written{0};

sqlite3_vfs* g_inner = nullptr;  // the wrapped VFS, set once
sqlite3_vfs g_vfs;

constexpr int kWalHeaderBytes = 32;
constexpr int kFrameHeaderBytes = 24;

// Our part of an open WAL file; the wrapped VFS's file follows it in the same allocation.
struct WalFile {
    sqlite3_file base;  // first: SQLite sees this
    sqlite3_io_methods methods;
    sqlite3_file* inner;
    std::string buffer;       // consecutive bytes from buffer_offset, not yet written
    sqlite3_int64 buffer_offset = 0;
    bool commit_page_next = false;  // the last write was the header of a commit frame
};

std::size_t inner_offset() {
    return (sizeof(WalFile) + alignof(std::max_align_t) - 1) / alignof(std::max_align_t) *
           alignof(std::max_align_t);
}

WalFile* wal(sqlite3_file* f) { return reinterpret_cast<WalFile*>(f); }

int flush(WalFile* w) {
    if (w->buffer.empty()) return SQLITE_OK;
    int rc = w->inner->pMethods->xWrite(w->inner, w->buffer.data(), static_cast<int>(w->buffer.size()),
                                        w->buffer_offset);
    g_written.fetch_add(1, std::memory_order_relaxed);
    w->buffer.clear();
    return rc;
}

uint32_t big_endian32(const unsigned char* p) {
    return uint32_t(p[0]) << 24 | uint32_t(p[1]) << 16 | uint32_t(p[2]) << 8 | uint32_t(p[3]);
}

int w_write(sqlite3_file* f, const void* data, int n, sqlite3_int64 offset) {
    WalFile* w = wal(f);
    g_requested.fetch_add(1, std::memory_order_relaxed);
    bool continues = !w->buffer.empty() && offset == w->buffer_offset + static_cast<sqlite3_int64>(w->buffer.size());
    if (!continues || w->buffer.size() + static_cast<std::size_t>(n) > kWalBatchBytes) {
        if (int rc = flush(w); rc != SQLITE_OK) return rc;
    }
    // A frame header (never the WAL header, which is 32 bytes at offset 0) announces a
    // commit when its second field, the database size after the commit, is not zero.
    bool commit_page = w->commit_page_next;
    w->commit_page_next = n == kFrameHeaderBytes && offset >= kWalHeaderBytes &&
                          big_endian32(static_cast<const unsigned char*>(data) + 4) != 0;
    if (static_cast<std::size_t>(n) >= kWalBatchBytes) {
        g_written.fetch_add(1, std::memory_order_relaxed);
        return w->inner->pMethods->xWrite(w->inner, data, n, offset);
    }
    if (w->buffer.empty()) {
        if (w->buffer.capacity() < kWalBatchBytes) w->buffer.reserve(kWalBatchBytes);
        w->buffer_offset = offset;
    }
    w->buffer.append(static_cast<const char*>(data), static_cast<std::size_t>(n));
    return commit_page ? flush(w) : SQLITE_OK;
}

// Every other operation sees the file with all of SQLite's writes in it.
int w_close(sqlite3_file* f) {
    WalFile* w = wal(f);
    int rc = flush(w);
    int rc2 = w->inner->pMethods ? w->inner->pMethods->xClose(w->inner) : SQLITE_OK;
    w->~WalFile();
    return rc != SQLITE_OK ? rc : rc2;
}
int w_read(sqlite3_file* f, void* out, int n, sqlite3_int64 offset) {
    WalFile* w = wal(f);
    if (int rc = flush(w); rc != SQLITE_OK) return rc;
    return w->inner->pMethods->xRead(w->inner, out, n, offset);
}
int w_truncate(sqlite3_file* f, sqlite3_int64 size) {
    WalFile* w = wal(f);
    if (int rc = flush(w); rc != SQLITE_OK) return rc;
    return w->inner->pMethods->xTruncate(w->inner, size);
}
int w_sync(sqlite3_file* f, int flags) {
    WalFile* w = wal(f);
    if (int rc = flush(w); rc != SQLITE_OK) return rc;
    return w->inner->pMethods->xSync(w->inner, flags);
}
int w_file_size(sqlite3_file* f, sqlite3_int64* size) {
    WalFile* w = wal(f);
    if (int rc = flush(w); rc != SQLITE_OK) return rc;
    return w->inner->pMethods->xFileSize(w->inner, size);
}
int w_file_control(sqlite3_file* f, int op, void* arg) {
    WalFile* w = wal(f);
    if (int rc = flush(w); rc != SQLITE_OK) return rc;
    return w->inner->pMethods->xFileControl(w->inner, op, arg);
}
int w_lock(sqlite3_file* f, int level) { return wal(f)->inner->pMethods->xLock(wal(f)->inner, level); }
int w_unlock(sqlite3_file* f, int level) { return wal(f)->inner->pMethods->xUnlock(wal(f)->inner, level); }
int w_check_reserved(sqlite3_file* f, int* out) {
    return wal(f)->inner->pMethods->xCheckReservedLock(wal(f)->inner, out);
}
int w_sector_size(sqlite3_file* f) { return wal(f)->inner->pMethods->xSectorSize(wal(f)->inner); }
int w_device_characteristics(sqlite3_file* f) {
    return wal(f)->inner->pMethods->xDeviceCharacteristics(wal(f)->inner);
}
int w_shm_map(sqlite3_file* f, int region, int size, int extend, void volatile** out) {
    return wal(f)->inner->pMethods->xShmMap(wal(f)->inner, region, size, extend, out);
}
int w_shm_lock(sqlite3_file* f, int offset, int n, int flags) {
    return wal(f)->inner->pMethods->xShmLock(wal(f)->inner, offset, n, flags);
}
void w_shm_barrier(sqlite3_file* f) { wal(f)->inner->pMethods->xShmBarrier(wal(f)->inner); }
int w_shm_unmap(sqlite3_file* f, int del) { return wal(f)->inner->pMethods->xShmUnmap(wal(f)->inner, del); }
int w_fetch(sqlite3_file* f, sqlite3_int64 offset, int n, void** out) {
    WalFile* w = wal(f);
    if (int rc = flush(w); rc != SQLITE_OK) return rc;
    return w->inner->pMethods->xFetch(w->inner, offset, n, out);
}
int w_unfetch(sqlite3_file* f, sqlite3_int64 offset, void* p) {
    return wal(f)->inner->pMethods->xUnfetch(wal(f)->inner, offset, p);
}

int v_open(sqlite3_vfs*, const char* name, sqlite3_file* f, int flags, int* out_flags) {
    if (!(flags & SQLITE_OPEN_WAL)) return g_inner->xOpen(g_inner, name, f, flags, out_flags);
    auto* w = new (f) WalFile{};
    w->inner = reinterpret_cast<sqlite3_file*>(reinterpret_cast<char*>(f) + inner_offset());
    w->inner->pMethods = nullptr;
    int rc = g_inner->xOpen(g_inner, name, w->inner, flags, out_flags);
    if (rc != SQLITE_OK || !w->inner->pMethods) {
        // SQLite calls xClose only when pMethods is set: leave it unset and clean up here.
        if (w->inner->pMethods) w->inner->pMethods->xClose(w->inner);
        w->~WalFile();
        f->pMethods = nullptr;
        return rc != SQLITE_OK ? rc : SQLITE_CANTOPEN;
    }
    const sqlite3_io_methods* in = w->inner->pMethods;
    sqlite3_io_methods& m = w->methods;
    m = sqlite3_io_methods{};
    m.iVersion = in->iVersion;
    m.xClose = w_close;
    m.xRead = w_read;
    m.xWrite = w_write;
    m.xTruncate = w_truncate;
    m.xSync = w_sync;
    m.xFileSize = w_file_size;
    m.xLock = w_lock;
    m.xUnlock = w_unlock;
    m.xCheckReservedLock = w_check_reserved;
    m.xFileControl = w_file_control;
    m.xSectorSize = w_sector_size;
    m.xDeviceCharacteristics = w_device_characteristics;
    if (in->iVersion >= 2) {
        m.xShmMap = w_shm_map;
        m.xShmLock = w_shm_lock;
        m.xShmBarrier = w_shm_barrier;
        m.xShmUnmap = w_shm_unmap;
    }
    if (in->iVersion >= 3) {
        m.xFetch = w_fetch;
        m.xUnfetch = w_unfetch;
    }
    f->pMethods = &m;
    return SQLITE_OK;
}

// The rest is the wrapped VFS's, called with its own handle.
int v_delete(sqlite3_vfs*, const char* name, int sync_dir) { return g_inner->xDelete(g_inner, name, sync_dir); }
int v_access(sqlite3_vfs*, const char* name, int flags, int* out) {
    return g_inner->xAccess(g_inner, name, flags, out);
}
int v_full_pathname(sqlite3_vfs*, const char* name, int n, char* out) {
    return g_inner->xFullPathname(g_inner, name, n, out);
}
void* v_dl_open(sqlite3_vfs*, const char* name) { return g_inner->xDlOpen(g_inner, name); }
void v_dl_error(sqlite3_vfs*, int n, char* out) { g_inner->xDlError(g_inner, n, out); }
void (*v_dl_sym(sqlite3_vfs*, void* lib, const char* sym))(void) { return g_inner->xDlSym(g_inner, lib, sym); }
void v_dl_close(sqlite3_vfs*, void* lib) { g_inner->xDlClose(g_inner, lib); }
int v_randomness(sqlite3_vfs*, int n, char* out) { return g_inner->xRandomness(g_inner, n, out); }
int v_sleep(sqlite3_vfs*, int us) { return g_inner->xSleep(g_inner, us); }
int v_current_time(sqlite3_vfs*, double* out) { return g_inner->xCurrentTime(g_inner, out); }
int v_get_last_error(sqlite3_vfs*, int n, char* out) { return g_inner->xGetLastError(g_inner, n, out); }
int v_current_time_int64(sqlite3_vfs*, sqlite3_int64* out) { return g_inner->xCurrentTimeInt64(g_inner, out); }
int v_set_system_call(sqlite3_vfs*, const char* name, sqlite3_syscall_ptr p) {
    return g_inner->xSetSystemCall(g_inner, name, p);
}
sqlite3_syscall_ptr v_get_system_call(sqlite3_vfs*, const char* name) {
    return g_inner->xGetSystemCall(g_inner, name);
}
const char* v_next_system_call(sqlite3_vfs*, const char* name) { return g_inner->xNextSystemCall(g_inner, name); }

void register_once() {
    g_inner = sqlite3_vfs_find(nullptr);
    if (!g_inner) return;
    g_vfs = sqlite3_vfs{};
    g_vfs.iVersion = g_inner->iVersion < 3 ? g_inner->iVersion : 3;
    g_vfs.szOsFile = static_cast<int>(inner_offset()) + g_inner->szOsFile;
    g_vfs.mxPathname = g_inner->mxPathname;
    g_vfs.zName = kWalBatchingVfs;
    g_vfs.xOpen = v_open;
    g_vfs.xDelete = v_delete;
    g_vfs.xAccess = v_access;
    g_vfs.xFullPathname = v_full_pathname;
    g_vfs.xDlOpen = v_dl_open;
    g_vfs.xDlError = v_dl_error;
    g_vfs.xDlSym = v_dl_sym;
    g_vfs.xDlClose = v_dl_close;
    g_vfs.xRandomness = v_randomness;
    g_vfs.xSleep = v_sleep;
    g_vfs.xCurrentTime = v_current_time;
    g_vfs.xGetLastError = v_get_last_error;
    if (g_vfs.iVersion >= 2) g_vfs.xCurrentTimeInt64 = v_current_time_int64;
    if (g_vfs.iVersion >= 3) {
        g_vfs.xSetSystemCall = v_set_system_call;
        g_vfs.xGetSystemCall = v_get_system_call;
        g_vfs.xNextSystemCall = v_next_system_call;
    }
    sqlite3_vfs_register(&g_vfs, /*makeDflt=*/1);
}

}  // namespace

void register_wal_batching_vfs() {
    static std::once_flag once;
    std::call_once(once, register_once);
}

WalBatchingStats wal_batching_stats() {
    return {g_requested.load(std::memory_order_relaxed), g_written.load(std::memory_order_relaxed)};
}

}  // namespace churnwatch::sql
