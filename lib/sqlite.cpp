#include "sqlite.h"

#include <atomic>
#include <new>

#include "wal_batching_vfs.h"

#include <sqlite3.h>

#ifdef __linux__
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>
#endif

#include <cerrno>
#include <cstdio>
#include <charconv>
#include <cstring>
#include <exception>
#include <string>

namespace churnwatch::sql {

// churnwatch_rows: an eponymous virtual table whose rows come from the RowSource that
// run_over is running, so INSERT … SELECT can read them.
struct Database::RowsModule {
    RowSource* current = nullptr;
    std::exception_ptr error;  // what current->next() threw
};

namespace {

// Why the OS refused SQLite's last file operation on db ("No space left on device"), or "".
std::string os_error(sqlite3* db) {
    const int e = db ? sqlite3_system_errno(db) : 0;
    return e != 0 ? std::strerror(e) : "";
}

std::string directory_of(const std::string& path) {
    const auto slash = path.rfind('/');
    return slash == std::string::npos ? "." : slash == 0 ? "/" : path.substr(0, slash);
}

// An existing database whose -wal and -shm files are absent (a clean stop removes them) and
// cannot be created beside it: its first write failed with "attempt to write a readonly
// database", naming neither the file nor the cause (SQLite sets no errno for it). The
// directory is the cause when SQLite says so (SQLITE_READONLY_DIRECTORY) or the user may not
// write it; "" otherwise.
std::string readonly_directory_context(sqlite3* db) {
#ifdef __linux__
    const char* file = sqlite3_db_filename(db, "main");
    if (!file || !*file) return "";
    int err = 0;
    if (::access(directory_of(file).c_str(), W_OK | X_OK) != 0) err = errno;
    else if (sqlite3_extended_errcode(db) == SQLITE_READONLY_DIRECTORY) err = EACCES;
    else return "";
    return " (" + unwritable_directory_message(file, true, ::geteuid(), err) + ")";
#else
    (void)db;
    return "";
#endif
}

// For errors about the file rather than the statement (I/O, full, corrupt, not a database,
// cannot open; read-only for want of a writable directory): which file, and the OS's reason
// where SQLite had one. "disk I/O error" alone did not say that a start failed on a full
// disk, nor which file was corrupt.
std::string file_context(sqlite3* db, int rc) {
    if (!db) return "";
    if ((rc & 0xff) == SQLITE_READONLY) return readonly_directory_context(db);
    switch (rc & 0xff) {
        case SQLITE_IOERR: case SQLITE_FULL: case SQLITE_CORRUPT: case SQLITE_NOTADB:
        case SQLITE_CANTOPEN: break;
        default: return "";
    }
    std::string out = " (";
    if (std::string os = os_error(db); !os.empty()) out += os + "; ";
    const char* file = sqlite3_db_filename(db, "main");
    out += std::string("database ") + (file && *file ? file : "in memory") + ")";
    return out;
}

[[noreturn]] void throw_error(sqlite3* db, int rc, const std::string& what) {
    int ext = db ? sqlite3_extended_errcode(db) : rc;
    std::string msg = what + ": " + (db ? sqlite3_errmsg(db) : sqlite3_errstr(rc)) + file_context(db, rc);
    throw Error(rc & 0xff, ext, msg);
}

// A database that cannot be created because its directory is not writable: SQLite's last
// errno is then ENOENT from its read-only retry, so the message said "No such file or
// directory" about a directory that exists (a bind-mounted host directory owned by root,
// in the container that runs as uid 10001). Say what is wrong instead, or "" when that is not it.
std::string unwritable_directory(const std::string& path) {
#ifdef __linux__
    struct stat st {};
    if (::stat(path.c_str(), &st) == 0) return "";  // the file exists: not a create
    const std::string dir = directory_of(path);
    if (::stat(dir.c_str(), &st) != 0 || !S_ISDIR(st.st_mode)) return "";
    if (::access(dir.c_str(), W_OK | X_OK) == 0) return "";
    return unwritable_directory_message(path, false, ::geteuid(), errno);
#else
    (void)path;
    return "";
#endif
}

}  // namespace

std::string unwritable_directory_message(const std::string& db_file, bool exists, unsigned uid, int err) {
    const std::string dir = directory_of(db_file);
    const std::string user = "uid " + std::to_string(uid);
    if (!exists) return "directory " + dir + " is not writable by " + user + ": " + std::strerror(err);
    return "database " + db_file + ": its directory " + dir + " must be writable by " + user +
           " for SQLite's -wal and -shm files beside it (" + std::strerror(err) + ")";
}

Database::Database(const std::string& path, OpenMode mode, int busy_timeout_ms) : path_(path) {
    static std::atomic<uint64_t> next_serial{1};
    serial_ = next_serial.fetch_add(1, std::memory_order_relaxed);
    register_wal_batching_vfs();      // the default VFS from now on
    int flags = SQLITE_OPEN_NOMUTEX;  // each connection is used by one thread at a time
    flags |= mode == OpenMode::ReadOnly ? SQLITE_OPEN_READONLY
                                        : (SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE);
    int rc = sqlite3_open_v2(path.c_str(), &db_, flags, nullptr);
    if (rc != SQLITE_OK) {
        std::string msg = "cannot open database " + path;
        sqlite3* db = db_;
        db_ = nullptr;
        // Why the OS refused, when it did (a missing directory, permissions).
        std::string os = mode == OpenMode::ReadOnly ? "" : unwritable_directory(path);
        if (os.empty()) os = os_error(db);
        Error err(rc, db ? sqlite3_extended_errcode(db) : rc,
                  msg + ": " + (db ? sqlite3_errmsg(db) : sqlite3_errstr(rc)) + (os.empty() ? "" : " (" + os + ")"));
        sqlite3_close(db);
        throw err;
    }
    sqlite3_extended_result_codes(db_, 1);
    if (mode != OpenMode::ReadOnly && sqlite3_db_readonly(db_, "main") == 1) {
        // SQLite opens a file it may not write read-only without a word; every write would
        // then fail while the process looked healthy. Say so now instead.
        sqlite3_close(db_);
        db_ = nullptr;
        throw Error(SQLITE_READONLY, SQLITE_READONLY,
                    "database " + path + " is read-only for this process: it needs to write it"
                    " (check the file's owner and permissions, and the filesystem)");
    }
    set_busy_timeout(busy_timeout_ms);
}

void Database::set_busy_timeout(int ms) {
    sqlite3_busy_timeout(db_, ms);
    busy_timeout_ms_ = ms;
}

Database::~Database() { sqlite3_close_v2(db_); }

std::string Database::file() const {
    const char* name = sqlite3_db_filename(db_, "main");
    return name ? name : "";
}

namespace {

struct RowsTable {
    sqlite3_vtab base{};
    Database::RowsModule* module = nullptr;
};

struct RowsCursor {
    sqlite3_vtab_cursor base{};
    RowSource* source = nullptr;
    Database::RowsModule* module = nullptr;
    Value row[RowSource::kMaxColumns];
    bool eof = true;
    sqlite3_int64 rowid = 0;
};

int rows_connect(sqlite3* db, void* aux, int, const char* const*, sqlite3_vtab** out, char**) {
    std::string schema = "CREATE TABLE x(";
    for (int i = 0; i < RowSource::kMaxColumns; ++i) schema += (i ? ", c" : "c") + std::to_string(i);
    schema += ")";
    int rc = sqlite3_declare_vtab(db, schema.c_str());
    if (rc != SQLITE_OK) return rc;
    auto* t = new RowsTable;
    t->module = static_cast<Database::RowsModule*>(aux);
    *out = &t->base;
    return SQLITE_OK;
}

int rows_disconnect(sqlite3_vtab* t) {
    delete reinterpret_cast<RowsTable*>(t);
    return SQLITE_OK;
}

int rows_best_index(sqlite3_vtab*, sqlite3_index_info* info) {
    info->estimatedCost = 1e6;  // one full pass; there is nothing else to choose
    return SQLITE_OK;
}

int rows_open(sqlite3_vtab* t, sqlite3_vtab_cursor** out) {
    auto* c = new RowsCursor;
    c->module = reinterpret_cast<RowsTable*>(t)->module;
    *out = &c->base;
    return SQLITE_OK;
}

int rows_close(sqlite3_vtab_cursor* c) {
    delete reinterpret_cast<RowsCursor*>(c);
    return SQLITE_OK;
}

int rows_next(sqlite3_vtab_cursor* base) {
    auto* c = reinterpret_cast<RowsCursor*>(base);
    try {
        c->eof = !c->source || !c->source->next(c->row);
    } catch (...) {
        c->module->error = std::current_exception();
        return SQLITE_ERROR;
    }
    ++c->rowid;
    return SQLITE_OK;
}

int rows_filter(sqlite3_vtab_cursor* base, int, const char*, int, sqlite3_value**) {
    auto* c = reinterpret_cast<RowsCursor*>(base);
    c->source = c->module->current;
    c->rowid = 0;
    return rows_next(base);
}

int rows_eof(sqlite3_vtab_cursor* c) { return reinterpret_cast<RowsCursor*>(c)->eof; }

int rows_column(sqlite3_vtab_cursor* base, sqlite3_context* ctx, int col) {
    const Value& v = reinterpret_cast<RowsCursor*>(base)->row[col];
    switch (v.kind) {
        case Value::Kind::Null: sqlite3_result_null(ctx); break;
        case Value::Kind::Int: sqlite3_result_int64(ctx, v.i); break;
        case Value::Kind::Text:
            // Static: the source keeps its text until the statement has finished.
            sqlite3_result_text64(ctx, v.text.data(), v.text.size(), SQLITE_STATIC, SQLITE_UTF8);
            break;
    }
    return SQLITE_OK;
}

int rows_rowid(sqlite3_vtab_cursor* c, sqlite3_int64* out) {
    *out = reinterpret_cast<RowsCursor*>(c)->rowid;
    return SQLITE_OK;
}

const sqlite3_module kRowsModule = {
    0,                // iVersion
    nullptr,          // xCreate: none, so the table is eponymous-only
    rows_connect, rows_best_index, rows_disconnect,
    nullptr,          // xDestroy
    rows_open, rows_close, rows_filter, rows_next, rows_eof, rows_column, rows_rowid,
};

}  // namespace

void Database::start_writeback() const {
#ifdef __linux__
    for (const std::string& file : {path_, path_ + "-wal"}) {
        int fd = ::open(file.c_str(), O_RDONLY | O_CLOEXEC);
        if (fd < 0) continue;  // no such file (":memory:", no WAL yet): nothing to flush
        ::sync_file_range(fd, 0, 0, SYNC_FILE_RANGE_WRITE);
        ::close(fd);
    }
#endif
}

void Database::run_over(std::string_view sql, RowSource& rows) {
    if (!rows_module_) {
        auto m = std::make_unique<RowsModule>();
        int rc = sqlite3_create_module_v2(db_, "churnwatch_rows", &kRowsModule, m.get(), nullptr);
        if (rc != SQLITE_OK) throw_error(db_, rc, "cannot register churnwatch_rows");
        rows_module_ = std::move(m);
    }
    Statement q(*this, sql);
    rows_module_->current = &rows;
    rows_module_->error = nullptr;
    struct Clear {
        RowsModule& m;
        ~Clear() { m.current = nullptr; }
    } clear{*rows_module_};
    try {
        q.run();
    } catch (...) {
        if (rows_module_->error) std::rethrow_exception(rows_module_->error);
        throw;
    }
}

namespace {

// "cw.db-shm: uid 0, mode 0644" for each of the database's files that exists.
std::string owners_of_files(const std::string& db_file) {
    std::string out;
    for (const char* suffix : {"", "-wal", "-shm"}) {
        const std::string f = db_file + suffix;
        struct stat st {};
        if (::stat(f.c_str(), &st) != 0) continue;
        char mode[8];
        std::snprintf(mode, sizeof mode, "%04o", static_cast<unsigned>(st.st_mode & 07777));
        out += (out.empty() ? "" : "; ") + f + ": uid " + std::to_string(st.st_uid) + ", mode " + mode;
    }
    return out;
}

}  // namespace

void Database::check_writable() {
    // A lock held elsewhere is no answer either way: do not wait for it.
    const int timeout = busy_timeout_ms_;
    set_busy_timeout(0);
    struct Restore {
        Database& db;
        int ms;
        ~Restore() { db.set_busy_timeout(ms); }
    } restore{*this, timeout};
    try {
        exec("BEGIN IMMEDIATE");
        int64_t version = 0;
        {
            Statement q(*this, "PRAGMA main.user_version");
            if (q.step()) version = q.column_int(0);
        }
        exec("PRAGMA main.user_version = " + std::to_string(version));
        exec("ROLLBACK");
    } catch (const Error& e) {
        if (sqlite3_get_autocommit(db_) == 0) sqlite3_exec(db_, "ROLLBACK", nullptr, nullptr, nullptr);
        // The write lock held elsewhere (a rebuild, a replay) past the busy timeout says
        // nothing about the files: the writes that follow wait for it like any other.
        if (e.code() == SQLITE_BUSY || e.code() == SQLITE_LOCKED) return;
        if (e.code() != SQLITE_READONLY) throw;
        const std::string file = this->file().empty() ? path_ : this->file();
        throw Error(SQLITE_READONLY, e.extended_code(),
                    "database " + path_ + " can be read but not written by this process (uid " +
                        std::to_string(::geteuid()) + "): " + e.what() + ". Its files: " + owners_of_files(file) +
                        ". Each must be writable by this user (a -wal or -shm left by a command run as"
                        " another user: chown them), and none immutable (lsattr)");
    }
}

void Database::exec(std::string_view sql) {
    std::string text(sql);
    char* err = nullptr;
    int rc = sqlite3_exec(db_, text.c_str(), nullptr, nullptr, &err);
    if (rc != SQLITE_OK) {
        std::string msg = err ? err : sqlite3_errstr(rc);
        sqlite3_free(err);
        throw Error(rc & 0xff, sqlite3_extended_errcode(db_), "exec failed: " + msg + file_context(db_, rc));
    }
}

int64_t Database::last_insert_rowid() const { return sqlite3_last_insert_rowid(db_); }
int Database::changes() const { return sqlite3_changes(db_); }

Statement::Statement(Database& db, std::string_view sql) : db_(db.handle()) {
    int rc = sqlite3_prepare_v3(db_, sql.data(), static_cast<int>(sql.size()),
                                SQLITE_PREPARE_PERSISTENT, &stmt_, nullptr);
    if (rc != SQLITE_OK) throw_error(db_, rc, "prepare failed for [" + std::string(sql) + "]");
}

Statement::~Statement() { sqlite3_finalize(stmt_); }

Statement::Statement(Statement&& other) noexcept : stmt_(other.stmt_), db_(other.db_) {
    other.stmt_ = nullptr;
}

void Statement::check(int rc, const char* what) const {
    if (rc != SQLITE_OK) throw_error(db_, rc, what);
}

Statement& Statement::bind(int index, int64_t value) {
    check(sqlite3_bind_int64(stmt_, index, value), "bind int");
    return *this;
}
Statement& Statement::bind(int index, double value) {
    check(sqlite3_bind_double(stmt_, index, value), "bind double");
    return *this;
}
Statement& Statement::bind(int index, std::string_view text) {
    check(sqlite3_bind_text64(stmt_, index, text.data(), text.size(), SQLITE_TRANSIENT,
                              SQLITE_UTF8),
          "bind text");
    return *this;
}
Statement& Statement::bind_blob(int index, std::string_view bytes) {
    // A zero-length blob must still be a blob, not NULL: SQLite needs a non-null pointer.
    static const char empty = 0;
    const void* p = bytes.empty() ? &empty : bytes.data();
    check(sqlite3_bind_blob64(stmt_, index, p, bytes.size(), SQLITE_TRANSIENT), "bind blob");
    return *this;
}
Statement& Statement::bind_null(int index) {
    check(sqlite3_bind_null(stmt_, index), "bind null");
    return *this;
}

int64_t Value::as_int() const {
    if (kind == Kind::Int) return i;
    if (kind == Kind::Null) return 0;
    int64_t out = 0;
    std::from_chars(text.data(), text.data() + text.size(), out);  // prefix; 0 if none
    return out;
}

std::string Value::as_text() const {
    if (kind == Kind::Text) return std::string(text);
    if (kind == Kind::Int) return std::to_string(i);
    return std::string();
}

Statement& Statement::bind(int index, const Value& value) {
    switch (value.kind) {
        case Value::Kind::Null: return bind_null(index);
        case Value::Kind::Int: return bind(index, value.i);
        case Value::Kind::Text: return bind(index, value.text);
    }
    return *this;
}

Statement& Statement::bind_unowned(int index, const Value& value) {
    if (value.kind != Value::Kind::Text) return bind(index, value);
    check(sqlite3_bind_text64(stmt_, index, value.text.data(), value.text.size(), SQLITE_STATIC,
                              SQLITE_UTF8),
          "bind text");
    return *this;
}

bool Statement::step() {
    int rc = sqlite3_step(stmt_);
    if (rc == SQLITE_ROW) return true;
    if (rc == SQLITE_DONE) return false;
    throw_error(db_, rc, "step failed");
}

void Statement::run() {
    while (step()) {
    }
    sqlite3_reset(stmt_);
}

void Statement::reset() {
    sqlite3_reset(stmt_);
    sqlite3_clear_bindings(stmt_);
}

bool Statement::is_null(int col) const { return sqlite3_column_type(stmt_, col) == SQLITE_NULL; }
int64_t Statement::column_int(int col) const { return sqlite3_column_int64(stmt_, col); }
double Statement::column_double(int col) const { return sqlite3_column_double(stmt_, col); }

std::string Statement::column_text(int col) const {
    const unsigned char* p = sqlite3_column_text(stmt_, col);
    int n = sqlite3_column_bytes(stmt_, col);
    return p ? std::string(reinterpret_cast<const char*>(p), static_cast<size_t>(n)) : std::string();
}

std::optional<std::string> Statement::column_opt_text(int col) const {
    if (is_null(col)) return std::nullopt;
    return column_text(col);
}

std::optional<int64_t> Statement::column_opt_int(int col) const {
    if (is_null(col)) return std::nullopt;
    return column_int(col);
}

std::string Statement::column_blob(int col) const {
    const void* p = sqlite3_column_blob(stmt_, col);
    int n = sqlite3_column_bytes(stmt_, col);
    return p ? std::string(static_cast<const char*>(p), static_cast<size_t>(n)) : std::string();
}

std::string_view Statement::column_view(int col) const {
    const void* p = sqlite3_column_blob(stmt_, col);
    int n = sqlite3_column_bytes(stmt_, col);
    return p ? std::string_view(static_cast<const char*>(p), static_cast<size_t>(n)) : std::string_view();
}

Value Statement::column_value(int col) const {
    Value v;
    switch (sqlite3_column_type(stmt_, col)) {
        case SQLITE_NULL: break;
        case SQLITE_INTEGER:
            v.kind = Value::Kind::Int;
            v.i = sqlite3_column_int64(stmt_, col);
            break;
        default: {  // text (churnwatch stores no reals or blobs in the columns it reads so)
            const unsigned char* p = sqlite3_column_text(stmt_, col);
            v.kind = Value::Kind::Text;
            v.text = std::string_view(p ? reinterpret_cast<const char*>(p) : "",
                                      static_cast<size_t>(sqlite3_column_bytes(stmt_, col)));
        }
    }
    return v;
}

int Statement::column_count() const { return sqlite3_column_count(stmt_); }

std::string Statement::column_name(int col) const {
    const char* n = sqlite3_column_name(stmt_, col);
    return n ? n : "";
}

Transaction::Transaction(Database& db, bool immediate) : db_(db) {
    db_.exec(immediate ? "BEGIN IMMEDIATE" : "BEGIN");
}

Transaction::~Transaction() {
    if (!done_) {
        try {
            db_.exec("ROLLBACK");
        } catch (const Error&) {
            // SQLite may already have rolled back (e.g. after SQLITE_FULL); nothing left to undo.
        }
    }
}

void Transaction::commit() {
    db_.exec("COMMIT");
    done_ = true;
}

bool is_environmental(const std::exception& e) {
    if (dynamic_cast<const std::bad_alloc*>(&e) != nullptr) return true;
    const auto* sq = dynamic_cast<const Error*>(&e);
    if (sq == nullptr) return false;
    switch (sq->code() & 0xff) {
        case SQLITE_BUSY:
        case SQLITE_LOCKED:
        case SQLITE_NOMEM:
        case SQLITE_READONLY:
        case SQLITE_INTERRUPT:
        case SQLITE_IOERR:
        case SQLITE_CORRUPT:
        case SQLITE_FULL:
        case SQLITE_CANTOPEN:
        case SQLITE_PROTOCOL:
        case SQLITE_NOLFS:
        case SQLITE_NOTADB:
            return true;
        default:
            return false;
    }
}

PreparedSavepoint::PreparedSavepoint(Database& db, const std::string& name)
    : savepoint_(db, "SAVEPOINT " + name), release_(db, "RELEASE " + name),
      rollback_to_(db, "ROLLBACK TO " + name) {}

Savepoint::Savepoint(PreparedSavepoint& prepared) : prepared_(prepared) {
    prepared_.savepoint_.reset();
    prepared_.savepoint_.run();
}

Savepoint::~Savepoint() {
    if (!done_) {
        try {
            rollback();
        } catch (const Error&) {
        }
    }
}

void Savepoint::release() {
    prepared_.release_.reset();
    prepared_.release_.run();
    done_ = true;
}

void Savepoint::rollback() {
    done_ = true;
    prepared_.rollback_to_.reset();
    prepared_.rollback_to_.run();
    prepared_.release_.reset();
    prepared_.release_.run();
}

namespace {

bool stat_id(const std::string& path, unsigned long long& dev, unsigned long long& ino) {
    struct stat st {};
    if (::stat(path.c_str(), &st) != 0) return false;
    dev = static_cast<unsigned long long>(st.st_dev);
    ino = static_cast<unsigned long long>(st.st_ino);
    return true;
}

}  // namespace

FileIdentity::FileIdentity(const Database& db, const std::string& path)
    : path_(path.empty() ? db.file() : path), wal_path_(db.file().empty() ? "" : db.file() + "-wal") {
    db_.known = stat_id(path_, db_.dev, db_.ino);
    wal_.known = !wal_path_.empty() && stat_id(wal_path_, wal_.dev, wal_.ino);
}

std::string FileIdentity::changed() {
    if (path_.empty()) return "";  // in-memory or temporary database
    auto check = [](const std::string& path, Id& id) -> std::string {
        unsigned long long dev = 0, ino = 0;
        if (!stat_id(path, dev, ino)) {
            if (!id.known) return "";
            return path + " was deleted while churnwatch had it open";
        }
        if (!id.known) {
            id = {true, dev, ino};
            return "";
        }
        if (dev != id.dev || ino != id.ino)
            return path + " was replaced by another file while churnwatch had it open";
        return "";
    };
    std::string why = check(path_, db_);
    if (why.empty() && !wal_path_.empty()) why = check(wal_path_, wal_);
    return why;
}

}  // namespace churnwatch::sql
