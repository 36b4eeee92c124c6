#include "schema.h"

#include <sqlite3.h>

#include <set>

namespace churnwatch {

void configure_connection(sql::Database& db) {
    db.exec("PRAGMA journal_mode=WAL");
    // FULL: the WAL is fsynced at every commit, so an acknowledged delivery survives power loss.
    db.exec("PRAGMA synchronous=FULL");
    db.exec("PRAGMA foreign_keys=ON");
    // SQLite reuses the WAL from its start once a checkpoint has copied all of it, but never
    // shrinks the file by itself: a read transaction held open for an hour (an analyst's
    // shell) grows it by ~40 KB per delivery, and it stayed that large until a restart.
    // With a limit, the commit that restarts the WAL truncates it to this. 64 MB is above
    // what ordinary load needs (the writer restarts it at ~3000 frames, ~12 MB), so the
    // file is not shrunk and regrown in normal running.
    db.exec("PRAGMA journal_size_limit=67108864");
}

bool use_rollback_journal(sql::Database& db) {
    // Leaving WAL needs every other connection closed. One that is open would not close
    // because we wait: ask once, without the busy timeout.
    const int timeout = db.busy_timeout();
    db.set_busy_timeout(0);
    std::string mode;
    try {
        sql::Statement q(db, "PRAGMA journal_mode=TRUNCATE");
        if (q.step()) mode = q.column_text(0);
    } catch (const sql::Error& e) {
        db.set_busy_timeout(timeout);
        if (e.code() == SQLITE_BUSY) return false;
        throw;
    }
    db.set_busy_timeout(timeout);
    return mode == "truncate";
}

std::vector<std::string> apply_migrations(sql::Database& db) {
    db.exec(
        "CREATE TABLE IF NOT EXISTS schema_migrations ("
        " name TEXT PRIMARY KEY,"
        " applied_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%d %H:%M:%f', 'now')))");

    std::set<std::string> known;
    for (const auto& f : embedded_schema()) known.insert(f.name);

    std::set<std::string> applied;
    {
        sql::Statement q(db, "SELECT name FROM schema_migrations");
        while (q.step()) applied.insert(q.column_text(0));
    }
    for (const auto& name : applied) {
        if (!known.count(name)) {
            throw sql::Error(1, 1,
                             "database has migration " + name +
                                 " that this churnwatch does not know: it was written by "
                                 "another version (usually a newer one; restore a backup "
                                 "taken before it, or run that version); refusing to start");
        }
    }

    // A migration may rebuild a table that others reference (SQLite's way to change a
    // constraint): foreign keys are off while migrations run — the pragma has no effect
    // inside a transaction — and each migration is checked before it commits.
    struct ForeignKeysOff {
        sql::Database& db;
        explicit ForeignKeysOff(sql::Database& d) : db(d) { db.exec("PRAGMA foreign_keys=OFF"); }
        ~ForeignKeysOff() {
            try {
                db.exec("PRAGMA foreign_keys=ON");
            } catch (...) {
            }
        }
    } fk_off(db);

    // 0007 edits constraint text with writable_schema, which a connection in defensive mode
    // (SQLITE_DBCONFIG_DEFENSIVE, on by default in some SQLite builds) refuses: off while
    // migrations run on this connection, as it was afterwards.
    struct DefensiveOff {
        sql::Database& db;
        int was = 0;
        explicit DefensiveOff(sql::Database& d) : db(d) {
            sqlite3_db_config(db.handle(), SQLITE_DBCONFIG_DEFENSIVE, -1, &was);
            if (was) sqlite3_db_config(db.handle(), SQLITE_DBCONFIG_DEFENSIVE, 0, nullptr);
        }
        ~DefensiveOff() {
            if (was) sqlite3_db_config(db.handle(), SQLITE_DBCONFIG_DEFENSIVE, 1, nullptr);
        }
    } defensive_off(db);
    std::vector<std::string> now_applied;
    for (const auto& f : embedded_schema()) {
        if (applied.count(f.name)) continue;
        sql::Transaction txn(db);
        try {
            db.exec(f.sql);
        } catch (const sql::Error& e) {
            throw sql::Error(e.code(), e.extended_code(),
                             std::string("migration ") + f.name + " failed: " + e.what());
        }
        {
            sql::Statement check(db, "PRAGMA foreign_key_check");
            if (check.step()) {
                throw sql::Error(1, 1, std::string("migration ") + f.name +
                                           " left a broken reference in table " + check.column_text(0));
            }
        }
        sql::Statement ins(db, "INSERT INTO schema_migrations (name) VALUES (?)");
        ins.bind(1, f.name).run();
        txn.commit();
        now_applied.emplace_back(f.name);
    }
    // A migration may edit the stored schema text in place (0007): this connection's parsed
    // copy of it is read again, as every other connection's is on the version change.
    if (!now_applied.empty()) db.exec("PRAGMA writable_schema=RESET");
    return now_applied;
}

}  // namespace churnwatch
