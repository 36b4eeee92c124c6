// A thin RAII layer over SQLite: one error type carrying SQLite's codes, prepared statements,
// and transactions that roll back unless committed. The only place that calls sqlite3_* directly.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>

struct sqlite3;
struct sqlite3_stmt;

namespace churnwatch::sql {

class Error : public std::runtime_error {
public:
    Error(int code, int extended_code, const std::string& what)
        : std::runtime_error(what), code_(code), extended_code_(extended_code) {}
    int code() const { return code_; }                    // SQLITE_BUSY, SQLITE_FULL, …
    int extended_code() const { return extended_code_; }

private:
    int code_;
    int extended_code_;
};

// Whether a failure is the machine's rather than the statement's: the disk (full, I/O error,
// read-only, corrupt), memory, file descriptors (cannot open a temporary or -wal file), or a
// lock held elsewhere. Retrying later can succeed, and the data at hand is not to blame:
// such a failure must never be recorded against a delivery (quarantined).
bool is_environmental(const std::exception& e);

// Why a database cannot be written in its directory (`err` the OS's reason, uid the user's):
// one to be created (not `exists`) says that the directory is not writable by the user; an
// existing one, whose -wal and -shm files SQLite must create beside it when they are absent
// (as after a clean stop), names the database and says that. Errors of Database and
// Statement carry it where it applies.
std::string unwritable_directory_message(const std::string& db_file, bool exists, unsigned uid, int err);

enum class OpenMode { ReadWrite, ReadOnly };

// One column value as churnwatch stores them: NULL, an integer or text. Text is a view: of a
// statement's current row (valid until its next step or reset), or of the caller's buffer.
struct Value {
    enum class Kind : unsigned char { Null, Int, Text };
    Kind kind = Kind::Null;
    int64_t i = 0;
    std::string_view text;

    bool is_null() const { return kind == Kind::Null; }
    // Read as Statement's column_int / column_text read a column (SQLite's conversions for
    // the kind the column does not hold: the integer prefix of text, an integer's digits).
    int64_t as_int() const;
    std::string as_text() const;
    std::optional<int64_t> as_opt_int() const {
        return is_null() ? std::nullopt : std::optional<int64_t>(as_int());
    }
    std::optional<std::string> as_opt_text() const {
        return is_null() ? std::nullopt : std::optional<std::string>(as_text());
    }
};

class RowSource;

class Database {
public:
    explicit Database(const std::string& path, OpenMode mode = OpenMode::ReadWrite,
                      int busy_timeout_ms = 5000);
    ~Database();
    Database(const Database&) = delete;
    Database& operator=(const Database&) = delete;

    void exec(std::string_view sql);  // one or more statements, no parameters
    int64_t last_insert_rowid() const;
    int changes() const;
    sqlite3* handle() const { return db_; }
    // Unique to this connection in the process, never reused, never 0: a statement cache
    // keyed by it cannot mistake a new connection for a closed one at the same address.
    uint64_t serial() const { return serial_; }
    const std::string& path() const { return path_; }
    // How long a statement waits for another connection's lock before SQLITE_BUSY.
    int busy_timeout() const { return busy_timeout_ms_; }
    void set_busy_timeout(int ms);
    // The main database's full file name; empty for an in-memory or temporary database.
    std::string file() const;

    // Runs one statement that reads `rows` as the table churnwatch_rows (c0, c1, …), e.g.
    // "INSERT INTO t (a, b) SELECT c0, c1 FROM churnwatch_rows": SQLite pulls the rows
    // itself, one statement for all of them instead of a bind-step-reset round trip each.
    void run_over(std::string_view sql, RowSource& rows);

    // Writes (a header field set to its own value, rolled back) and throws Error when that
    // fails as read-only. SQLite opens a database it cannot write for a reason other than
    // the file's own mode without a word — a -shm or -wal file another user owns, an
    // immutable file — and then serves reads while every write fails: a server must find
    // that at start. The message names the three files' owners and modes. The write lock
    // held elsewhere past the busy timeout is not an error here (nothing is known then).
    void check_writable();

    // Asks the OS to start writing the database's dirty pages (file and WAL) to disk now,
    // without waiting: a long transaction's final sync then has mostly its own last pages to
    // wait for, instead of everything written since the OS last flushed. A hint: no effect
    // where unsupported.
    void start_writeback() const;

    struct RowsModule;

private:
    sqlite3* db_ = nullptr;
    uint64_t serial_ = 0;
    std::string path_;
    int busy_timeout_ms_ = 0;
    std::unique_ptr<RowsModule> rows_module_;  // registered on first run_over
};

// The rows run_over hands to SQLite.
class RowSource {
public:
    static constexpr int kMaxColumns = 32;
    virtual ~RowSource() = default;
    // Fills the next row's values; false when there are no more. Text must stay valid until
    // the statement has finished.
    virtual bool next(Value* row) = 0;
};

// A prepared statement; parameters are 1-based as in SQLite. reset() before reuse.
class Statement {
public:
    Statement(Database& db, std::string_view sql);
    ~Statement();
    Statement(Statement&&) noexcept;
    Statement& operator=(Statement&&) = delete;
    Statement(const Statement&) = delete;
    Statement& operator=(const Statement&) = delete;

    Statement& bind(int index, int64_t value);
    Statement& bind(int index, int value) { return bind(index, static_cast<int64_t>(value)); }
    Statement& bind(int index, double value);
    Statement& bind(int index, std::string_view text);
    Statement& bind(int index, const char* text) { return bind(index, std::string_view(text)); }
    Statement& bind(int index, const std::string& text) { return bind(index, std::string_view(text)); }
    Statement& bind_blob(int index, std::string_view bytes);
    Statement& bind_null(int index);
    Statement& bind(int index, const Value& value);
    // Binds without copying text: it must stay valid until the statement is next reset.
    Statement& bind_unowned(int index, const Value& value);
    template <typename T>
    Statement& bind(int index, const std::optional<T>& value) {
        return value ? bind(index, *value) : bind_null(index);
    }
    Statement& bind(int index, bool value) { return bind(index, static_cast<int64_t>(value)); }

    bool step();      // true when a row is ready, false when done
    void run();       // step to completion (for statements that return no rows)
    void reset();     // reset and clear bindings

    bool is_null(int col) const;
    int64_t column_int(int col) const;
    double column_double(int col) const;
    std::string column_text(int col) const;  // NULL → ""
    std::optional<std::string> column_opt_text(int col) const;
    std::optional<int64_t> column_opt_int(int col) const;
    std::string column_blob(int col) const;
    Value column_value(int col) const;
    // The bytes of a text or blob column, without copying: valid until the next step/reset.
    std::string_view column_view(int col) const;
    int column_count() const;
    std::string column_name(int col) const;

private:
    void check(int rc, const char* what) const;
    sqlite3_stmt* stmt_ = nullptr;
    sqlite3* db_ = nullptr;
};

// BEGIN [IMMEDIATE] … COMMIT; rolls back on destruction unless commit() was called.
class Transaction {
public:
    explicit Transaction(Database& db, bool immediate = true);
    ~Transaction();
    Transaction(const Transaction&) = delete;
    Transaction& operator=(const Transaction&) = delete;
    void commit();

private:
    Database& db_;
    bool done_ = false;
};

// The statements of a savepoint, prepared once for the many taken with them (the
// projection takes one per delivery): Database::exec parses "SAVEPOINT name" every time
// (0.9 µs per savepoint and release that way, 0.13 µs prepared).
class PreparedSavepoint {
public:
    PreparedSavepoint(Database& db, const std::string& name);

private:
    friend class Savepoint;
    Statement savepoint_, release_, rollback_to_;
};

// SAVEPOINT name … RELEASE, with a PreparedSavepoint's statements; rolls back to the
// savepoint on destruction unless released.
class Savepoint {
public:
    explicit Savepoint(PreparedSavepoint& prepared);
    ~Savepoint();
    Savepoint(const Savepoint&) = delete;
    Savepoint& operator=(const Savepoint&) = delete;
    void release();
    void rollback();  // roll back the work since the savepoint and release it

private:
    PreparedSavepoint& prepared_;
    bool done_ = false;
};

// Whether the files at a database's path are still the ones its connection opened. A
// database deleted, or replaced by a restore, while a process has it open goes on taking
// writes through the open descriptors; they vanish with the last descriptor, and the next
// start finds the file now at the path. The writer checks this after each commit and
// refuses to acknowledge what went into a file nobody will open again.
class FileIdentity {
public:
    // The database file and its -wal, as now. `path`, when given, is the path as configured:
    // SQLite resolves symbolic links, so a link (or a directory on the way) re-pointed to
    // another database is only seen through the configured path.
    explicit FileIdentity(const Database& db, const std::string& path = "");
    // "" while the files at the path are the recorded ones; otherwise what changed.
    // Two stat(2) calls. A -wal absent at construction is recorded when first seen.
    std::string changed();

private:
    struct Id {
        bool known = false;
        unsigned long long dev = 0, ino = 0;
    };
    std::string path_;      // the database file as configured (or as SQLite resolved it)
    std::string wal_path_;  // its -wal, where SQLite keeps it: beside the resolved file
    Id db_, wal_;
};

}  // namespace churnwatch::sql
