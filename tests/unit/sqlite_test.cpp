// The SQLite wrapper's savepoints, taken with prepared statements that are reused.
#include <gtest/gtest.h>
#include <sqlite3.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <new>

#include "sqlite.h"
#include "test_support.h"

using namespace churnwatch;
using namespace churnwatch::test;

namespace {

std::string rows(sql::Database& db) { return first_text(db, "SELECT count(*) FROM t"); }

class SavepointTest : public ::testing::Test {
protected:
    SavepointTest() : db(dir.file("a.db")) { db.exec("CREATE TABLE t (x INTEGER)"); }
    TempDir dir;
    sql::Database db;
};

TEST_F(SavepointTest, KeepsReleasedWorkAndUndoesTheRest) {
    sql::PreparedSavepoint one(db, "one"), two(db, "two"), three(db, "three");
    sql::Transaction txn(db);
    {
        sql::Savepoint sp(one);
        db.exec("INSERT INTO t VALUES (1)");
        sp.release();
    }
    {
        sql::Savepoint sp(two);
        db.exec("INSERT INTO t VALUES (2)");
        sp.rollback();
    }
    {
        sql::Savepoint sp(three);
        db.exec("INSERT INTO t VALUES (3)");
    }  // neither released nor rolled back: undone
    txn.commit();
    EXPECT_EQ(rows(db), "1");
}

// The same prepared statements serve many savepoints in a row, in every outcome, and the
// transaction around them goes on.
TEST_F(SavepointTest, PreparedIsReusedAcrossReleaseRollbackAndDestruction) {
    sql::PreparedSavepoint prepared(db, "each");
    sql::Transaction txn(db);
    for (int i = 0; i < 30; ++i) {
        sql::Savepoint sp(prepared);
        sql::Statement ins(db, "INSERT INTO t VALUES (?)");
        ins.bind(1, i).run();
        if (i % 3 == 0) sp.release();
        else if (i % 3 == 1) sp.rollback();
        // i % 3 == 2: destroyed unreleased
    }
    txn.commit();
    EXPECT_EQ(rows(db), "10");
    EXPECT_EQ(first_text(db, "SELECT sum(x) FROM t"), std::to_string(0 + 3 + 6 + 9 + 12 + 15 + 18 + 21 + 24 + 27));
}

// A prepared savepoint outside a transaction is one of its own: released, it commits.
TEST_F(SavepointTest, PreparedOutsideATransactionCommitsOnRelease) {
    sql::PreparedSavepoint prepared(db, "alone");
    {
        sql::Savepoint sp(prepared);
        db.exec("INSERT INTO t VALUES (1)");
        sp.release();
    }
    sql::Database other(dir.file("a.db"));
    EXPECT_EQ(rows(other), "1");
}

}  // namespace

// A file the process may not write: SQLite would open it read-only without a word, and the
// service would start and then fail every write. The open itself now fails, saying why.
// (Run as root, the check happens in a child that gives up root first.)
// Each connection has a serial of its own, also one opened where a closed one was: a cache
// of prepared statements keyed by address would take the new one for the old.
TEST(Database, ASerialIsNeverReusedEvenAtTheSameAddress) {
    TempDir dir;
    alignas(sql::Database) unsigned char storage[sizeof(sql::Database)];
    auto* first = new (storage) sql::Database(dir.file("a.db"));
    const uint64_t serial = first->serial();
    first->~Database();
    auto* second = new (storage) sql::Database(dir.file("a.db"));
    EXPECT_EQ(static_cast<void*>(second), static_cast<void*>(first));
    EXPECT_NE(second->serial(), serial);
    EXPECT_NE(second->serial(), 0u);
    second->~Database();
}

TEST(Database, RefusesToOpenForWritingAFileItCannotWrite) {
    TempDir dir;
    const std::string path = dir.file("ro.db");
    {
        sql::Database db(path);
        db.exec("CREATE TABLE t (x)");
    }
    ASSERT_EQ(::chmod(path.c_str(), 0444), 0);
    ASSERT_EQ(::chmod(dir.path().c_str(), 0755), 0);
    EXPECT_EXIT(
        {
            if (::geteuid() == 0 && (::setgid(65534) != 0 || ::setuid(65534) != 0)) std::_Exit(4);
            try {
                sql::Database db(path);
                std::_Exit(2);
            } catch (const sql::Error& e) {
                const bool clear = e.code() == SQLITE_READONLY &&
                                   std::string(e.what()).find("read-only") != std::string::npos;
                std::_Exit(clear ? 3 : 5);
            }
        },
        ::testing::ExitedWithCode(3), "");
    sql::Database reader(path, sql::OpenMode::ReadOnly);  // reading it is fine
    EXPECT_EQ(first_text(reader, "SELECT count(*) FROM t"), "0");
}

// A database whose own file is writable but whose -shm is not (left by a command another
// user ran beside the server): SQLite opens it for writing without a word, serves reads, and
// fails every write. check_writable finds it and names the files' owners and modes.
TEST(Database, CheckWritableFindsADatabaseItCanReadButNotWrite) {
    TempDir dir;
    {
        sql::Database fine(dir.file("fine.db"));
        fine.exec("PRAGMA journal_mode=WAL; PRAGMA user_version = 7");
        fine.check_writable();  // writable: nothing to say, and nothing changed
        EXPECT_EQ(first_text(fine, "PRAGMA user_version"), "7");
        EXPECT_EQ(sqlite3_get_autocommit(fine.handle()), 1) << "a transaction was left open";
        // The write lock held by another connection (a rebuild) past the busy timeout: nothing
        // is known about the files, so nothing is said.
        fine.exec("BEGIN IMMEDIATE");
        sql::Database waiting(dir.file("fine.db"), sql::OpenMode::ReadWrite, 50);
        EXPECT_NO_THROW(waiting.check_writable());
        EXPECT_EQ(sqlite3_get_autocommit(waiting.handle()), 1) << "a transaction was left open";
        fine.exec("ROLLBACK");
    }
    // A process that dies with the database open leaves its -wal and -shm behind. (Not this
    // process: a connection of its own would share its open -shm with the one tested below.)
    const std::string path = dir.file("shm.db");
    const pid_t pid = ::fork();
    ASSERT_GE(pid, 0);
    if (pid == 0) {
        sqlite3* db = nullptr;
        const bool ok = sqlite3_open(path.c_str(), &db) == SQLITE_OK &&
                        sqlite3_exec(db, "PRAGMA journal_mode=WAL; CREATE TABLE t (x)", nullptr, nullptr, nullptr) ==
                            SQLITE_OK;
        std::_Exit(ok ? 0 : 1);
    }
    int status = 0;
    ASSERT_EQ(::waitpid(pid, &status, 0), pid);
    ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    ASSERT_EQ(::chmod(dir.path().c_str(), 0777), 0);
    ASSERT_EQ(::chmod(path.c_str(), 0666), 0);
    ASSERT_EQ(::chmod((path + "-wal").c_str(), 0666), 0);
    ASSERT_EQ(::chmod((path + "-shm").c_str(), 0444), 0);
    EXPECT_EXIT(
        {
            if (::geteuid() == 0 && (::setgid(65534) != 0 || ::setuid(65534) != 0)) std::_Exit(4);
            try {
                sql::Database db(path);
                if (first_text(db, "SELECT count(*) FROM t") != "0") std::_Exit(6);  // reads work
                db.check_writable();
                std::_Exit(2);
            } catch (const sql::Error& e) {
                const std::string what = e.what();
                const bool clear = e.code() == SQLITE_READONLY &&
                                   what.find("can be read but not written by this process") != std::string::npos &&
                                   what.find(path + "-shm: uid ") != std::string::npos &&
                                   what.find(", mode 0444") != std::string::npos;
                if (!clear) std::fprintf(stderr, "%s\n", what.c_str());
                std::_Exit(clear ? 3 : 5);
            }
        },
        ::testing::ExitedWithCode(3), "");
}

// An error about the file, not the statement, says which file (and the OS's reason when
// there is one): "file is not a database" or "disk I/O error" alone did not.
TEST(Database, FileErrorsNameTheFile) {
    TempDir dir;
    const std::string path = dir.file("garbage.db");
    write_file(path, std::string(8192, 'x'));
    std::string message;
    try {
        sql::Database db(path);
        db.exec("SELECT count(*) FROM sqlite_master");
    } catch (const sql::Error& e) {
        message = e.what();
        EXPECT_EQ(e.code(), SQLITE_NOTADB);
    }
    EXPECT_NE(message.find("file is not a database"), std::string::npos) << message;
    EXPECT_NE(message.find("database " + path + ")"), std::string::npos) << message;
    try {
        sql::Database missing(dir.file("no/such/dir/x.db"));
        ADD_FAILURE() << "opened a database in a directory that does not exist";
    } catch (const sql::Error& e) {
        EXPECT_NE(std::string(e.what()).find("(No such file or directory)"), std::string::npos) << e.what();
    }
    sql::Database ok(dir.file("ok.db"));
    try {
        ok.exec("SELECT * FROM no_such_table");
    } catch (const sql::Error& e) {
        EXPECT_EQ(std::string(e.what()).find("ok.db"), std::string::npos) << "statement errors stay as they were";
    }
}

// A database to be created in a directory this user may not write (a bind-mounted host
// directory owned by root, in the container that runs as uid 10001): SQLite's last errno was
// ENOENT from its read-only retry, so the message said "No such file or directory" about a
// directory that exists. It now names the directory and the user. (Run as root, the check
// happens in a child that gives up root first.)
TEST(Database, CreatingInADirectoryItCannotWriteSaysSo) {
    TempDir dir;
    const std::string sub = dir.file("not-mine");
    ASSERT_EQ(::mkdir(sub.c_str(), 0555), 0);
    ASSERT_EQ(::chmod(dir.path().c_str(), 0755), 0);
    EXPECT_EXIT(
        {
            if (::geteuid() == 0 && (::setgid(65534) != 0 || ::setuid(65534) != 0)) std::_Exit(4);
            try {
                sql::Database db(sub + "/x.db");
                std::_Exit(2);
            } catch (const sql::Error& e) {
                const std::string m = e.what();
                const std::string want = "(directory " + sub + " is not writable by uid " +
                                         std::to_string(::geteuid()) + ": Permission denied)";
                const bool clear = m.find(want) != std::string::npos &&
                                   m.find("No such file") == std::string::npos;
                if (!clear) std::fprintf(stderr, "%s\n", m.c_str());
                std::_Exit(clear ? 3 : 5);
            }
        },
        ::testing::ExitedWithCode(3), "");
}

// An existing database whose -wal and -shm files are absent (a clean stop removes them), in a
// directory this user may not write (the container's uid 10001, a bind-mounted directory
// owned by root): serve's first write (configure_connection) failed with "exec failed:
// attempt to write a readonly database", naming neither the file nor the cause. Both are
// said now, after SQLite's words. (Run as root, the check happens in a child that gives up
// root first.)
TEST(Database, AnExistingDatabaseInADirectoryItCannotWriteSaysSo) {
    TempDir dir;
    const std::string sub = dir.file("not-mine"), path = sub + "/x.db";
    ASSERT_EQ(::mkdir(sub.c_str(), 0755), 0);
    {
        sql::Database db(path);
        db.exec("PRAGMA journal_mode=WAL");
        db.exec("CREATE TABLE t (x INTEGER)");
    }
    ASSERT_NE(::access((path + "-wal").c_str(), F_OK), 0) << "the last connection's close removes it";
    if (::geteuid() == 0) {
        ASSERT_EQ(::chown(path.c_str(), 65534, 65534), 0);  // the file is the user's
    }
    ASSERT_EQ(::chmod(sub.c_str(), 0555), 0);
    ASSERT_EQ(::chmod(dir.path().c_str(), 0755), 0);
    EXPECT_EXIT(
        {
            if (::geteuid() == 0 && (::setgid(65534) != 0 || ::setuid(65534) != 0)) std::_Exit(4);
            const std::string why = "attempt to write a readonly database (database " + path +
                                    ": its directory " + sub + " must be writable by uid " +
                                    std::to_string(::geteuid()) +
                                    " for SQLite's -wal and -shm files beside it (Permission denied))";
            int clear = 0;
            auto check = [&](const sql::Error& e, const std::string& want) {
                const std::string m = e.what();
                if (m.find(want) != std::string::npos) ++clear;
                else std::fprintf(stderr, "%s\n", m.c_str());
            };
            try {
                sql::Database db(path);  // opens: the file itself is writable
                try {
                    db.exec("PRAGMA journal_mode=WAL");
                } catch (const sql::Error& e) {
                    check(e, "exec failed: " + why);
                }
                try {
                    sql::Statement insert(db, "INSERT INTO t VALUES (1)");
                    insert.run();
                } catch (const sql::Error& e) {
                    check(e, why);  // prepare or step
                }
            } catch (const sql::Error& e) {
                std::fprintf(stderr, "open: %s\n", e.what());
                std::_Exit(2);
            }
            std::_Exit(clear == 2 ? 3 : 5);
        },
        ::testing::ExitedWithCode(3), "");
    ASSERT_EQ(::chmod(sub.c_str(), 0755), 0);
}

// The message itself, whoever runs the tests (the test above needs a user root is not).
TEST(Database, UnwritableDirectoryMessageNamesTheDatabaseTheDirectoryAndTheUser) {
    EXPECT_EQ(sql::unwritable_directory_message("/var/lib/churnwatch/churnwatch.db", true, 10001, EACCES),
              "database /var/lib/churnwatch/churnwatch.db: its directory /var/lib/churnwatch must be "
              "writable by uid 10001 for SQLite's -wal and -shm files beside it (Permission denied)");
    EXPECT_EQ(sql::unwritable_directory_message("/data/c.db", true, 0, EROFS),
              "database /data/c.db: its directory /data must be writable by uid 0 for SQLite's -wal "
              "and -shm files beside it (Read-only file system)");
    // A database to be created: the directory and the user.
    EXPECT_EQ(sql::unwritable_directory_message("/var/lib/churnwatch/churnwatch.db", false, 10001, EACCES),
              "directory /var/lib/churnwatch is not writable by uid 10001: Permission denied");
    EXPECT_EQ(sql::unwritable_directory_message("c.db", true, 10001, EACCES),
              "database c.db: its directory . must be writable by uid 10001 for SQLite's -wal and -shm "
              "files beside it (Permission denied)");
    EXPECT_EQ(sql::unwritable_directory_message("/c.db", false, 7, EACCES),
              "directory / is not writable by uid 7: Permission denied");
}

// SQLite resolves symbolic links: a configured path that is a link re-pointed to another
// database (a blue/green switch, a restore by link) is only seen through that path.
TEST(FileIdentity, NoticesASymlinkedPathRepointed) {
    TempDir dir;
    ASSERT_EQ(::mkdir(dir.file("a").c_str(), 0755), 0);
    ASSERT_EQ(::mkdir(dir.file("b").c_str(), 0755), 0);
    for (const char* side : {"a", "b"}) {
        sql::Database db(dir.file(std::string(side) + "/x.db"));
        db.exec("PRAGMA journal_mode=WAL; CREATE TABLE t (x)");
    }
    const std::string link = dir.file("live.db");
    ASSERT_EQ(::symlink(dir.file("a/x.db").c_str(), link.c_str()), 0);
    sql::Database db(link);
    db.exec("PRAGMA journal_mode=WAL; INSERT INTO t VALUES (1)");
    sql::FileIdentity id(db, link);
    EXPECT_EQ(id.changed(), "");
    ASSERT_EQ(::unlink(link.c_str()), 0);
    ASSERT_EQ(::symlink(dir.file("b/x.db").c_str(), link.c_str()), 0);
    EXPECT_EQ(id.changed(), link + " was replaced by another file while churnwatch had it open");
}

TEST(FileIdentity, NoticesTheDatabaseOrItsWalDeletedOrReplaced) {
    TempDir dir;
    const std::string path = dir.file("id.db");
    auto open = [&] {
        auto db = std::make_unique<sql::Database>(path);
        db->exec("PRAGMA journal_mode=WAL; CREATE TABLE IF NOT EXISTS t (x); INSERT INTO t VALUES (1)");
        return db;
    };
    {
        auto db = open();
        sql::FileIdentity id(*db);
        EXPECT_EQ(id.changed(), "");
        ASSERT_EQ(::unlink(path.c_str()), 0);
        EXPECT_EQ(id.changed(), path + " was deleted while churnwatch had it open");
    }
    {
        auto db = open();
        sql::FileIdentity id(*db);
        // A restore while running: another file moved over the path.
        write_file(dir.file("other.db"), "not the same file");
        ASSERT_EQ(::rename(dir.file("other.db").c_str(), path.c_str()), 0);
        EXPECT_EQ(id.changed(), path + " was replaced by another file while churnwatch had it open");
    }
    ::unlink(path.c_str());
    ::unlink((path + "-wal").c_str());
    ::unlink((path + "-shm").c_str());
    {
        auto db = open();
        sql::FileIdentity id(*db);
        ASSERT_EQ(::unlink((path + "-wal").c_str()), 0);
        EXPECT_EQ(id.changed(), path + "-wal was deleted while churnwatch had it open");
    }
}
