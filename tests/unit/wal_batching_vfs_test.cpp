// The WAL-batching VFS: fewer writes, and SQLite's view of the file never changes — other
// connections read what was committed, a process that dies right after a commit leaves
// it on disk, rewritten and rolled-back frames end up as SQLite wrote them.
#include <gtest/gtest.h>

#include <sqlite3.h>
#include <sys/wait.h>
#include <unistd.h>

#include <string>

#include "sqlite.h"
#include "test_support.h"
#include "wal_batching_vfs.h"

using namespace churnwatch;
using namespace churnwatch::test;

namespace {

void open_wal(sql::Database& db, const char* synchronous) {
    db.exec("PRAGMA journal_mode=WAL");
    db.exec(std::string("PRAGMA synchronous=") + synchronous);
    db.exec("PRAGMA wal_autocheckpoint=0");  // keep everything in the WAL
}

void insert_rows(sql::Database& db, int first, int count, std::size_t bytes) {
    sql::Statement ins(db, "INSERT INTO t (id, body) VALUES (?, ?)");
    for (int i = first; i < first + count; ++i) {
        ins.reset();
        ins.bind(1, i).bind_blob(2, std::string(bytes, static_cast<char>('a' + i % 26)));
        ins.run();
    }
}

TEST(WalBatchingVfs, IsTheDefaultAndWritesEachCommitAtOnce) {
    TempDir dir;
    sql::Database db(dir.file("a.db"));
    EXPECT_STREQ(sqlite3_vfs_find(nullptr)->zName, sql::kWalBatchingVfs);
    open_wal(db, "FULL");
    db.exec("CREATE TABLE t (id INTEGER PRIMARY KEY, body BLOB)");
    auto before = sql::wal_batching_stats();
    for (int commit = 0; commit < 10; ++commit) {
        sql::Transaction txn(db);
        insert_rows(db, commit * 20, 20, 1200);
        txn.commit();
    }
    auto after = sql::wal_batching_stats();
    // ~8 frames per commit: a header and a page each, asked for separately.
    EXPECT_GE(after.requested - before.requested, 10u * 2 * 6);
    EXPECT_LE(after.written - before.written, 10u);
    EXPECT_EQ(first_text(db, "SELECT count(*) FROM t"), "200");
}

// synchronous=NORMAL has no xSync at commit: the frames must be in the file before SQLite
// publishes the commit in the WAL index, where another connection finds them.
TEST(WalBatchingVfs, AnotherConnectionReadsEachCommitAtOnce) {
    TempDir dir;
    sql::Database writer(dir.file("a.db"));
    open_wal(writer, "NORMAL");
    writer.exec("CREATE TABLE t (id INTEGER PRIMARY KEY, body BLOB)");
    sql::Database reader(dir.file("a.db"));
    for (int commit = 1; commit <= 20; ++commit) {
        {
            sql::Transaction txn(writer);
            insert_rows(writer, commit * 100, 7, 3000);
            txn.commit();
        }
        EXPECT_EQ(first_text(reader, "SELECT count(*) FROM t"), std::to_string(commit * 7));
        EXPECT_EQ(first_text(reader, "SELECT length(body) FROM t WHERE id = " + std::to_string(commit * 100 + 6)), "3000");
    }
    EXPECT_EQ(first_text(reader, "PRAGMA integrity_check"), "ok");
}

// A process killed right after COMMIT returned (no close, no checkpoint): the next one
// recovers every committed row from the WAL.
TEST(WalBatchingVfs, ACommitSurvivesTheProcessDyingRightAfter) {
    TempDir dir;
    std::string path = dir.file("a.db");
    {
        sql::Database db(path);
        open_wal(db, "FULL");
        db.exec("CREATE TABLE t (id INTEGER PRIMARY KEY, body BLOB)");
    }
    pid_t child = ::fork();
    ASSERT_GE(child, 0);
    if (child == 0) {
        int code = 0;
        try {
            sql::Database db(path);
            open_wal(db, "NORMAL");
            for (int commit = 0; commit < 5; ++commit) {
                sql::Transaction txn(db);
                insert_rows(db, commit * 50, 50, 900);
                txn.commit();
            }
            sql::Transaction open_txn(db);  // begun, written, never committed
            insert_rows(db, 10000, 30, 900);
            ::_exit(0);
        } catch (...) {
            code = 1;
        }
        ::_exit(code);
    }
    int status = 0;
    ASSERT_EQ(::waitpid(child, &status, 0), child);
    ASSERT_TRUE(WIFEXITED(status));
    ASSERT_EQ(WEXITSTATUS(status), 0);
    sql::Database db(path);
    EXPECT_EQ(first_text(db, "SELECT count(*) FROM t"), "250");
    EXPECT_EQ(first_text(db, "SELECT count(*) FROM t WHERE id >= 10000"), "0");
    EXPECT_EQ(first_text(db, "PRAGMA integrity_check"), "ok");
}

// A transaction larger than the page cache spills frames to the WAL before its commit and
// may rewrite them in place; one larger than the batch is written in several parts; a
// rolled-back one leaves frames that the next transaction writes over.
TEST(WalBatchingVfs, SpilledRewrittenLargeAndRolledBackTransactions) {
    TempDir dir;
    std::string path = dir.file("a.db");
    {
        sql::Database db(path);
        open_wal(db, "NORMAL");
        db.exec("PRAGMA cache_size=20");  // pages: forces spills mid-transaction
        db.exec("CREATE TABLE t (id INTEGER PRIMARY KEY, body BLOB)");
        {
            sql::Transaction txn(db);
            insert_rows(db, 0, 1500, 1500);  // ~2 MB: more than one batch
            db.exec("UPDATE t SET body = zeroblob(1400) WHERE id % 3 = 0");  // rewrites spilled pages
            txn.commit();
        }
        {
            sql::Transaction txn(db);
            insert_rows(db, 5000, 400, 1500);
        }  // rolled back
        {
            sql::Transaction txn(db);
            insert_rows(db, 9000, 100, 1500);
            txn.commit();
        }
        sql::Database reader(path);
        EXPECT_EQ(first_text(reader, "SELECT count(*) FROM t"), "1600");
    }
    sql::Database db(path);
    EXPECT_EQ(first_text(db, "SELECT count(*) FROM t"), "1600");
    EXPECT_EQ(first_text(db, "SELECT count(*) FROM t WHERE length(body) = 1400"), "500");
    EXPECT_EQ(first_text(db, "SELECT count(*) FROM t WHERE id >= 5000 AND id < 9000"), "0");
    EXPECT_EQ(first_text(db, "PRAGMA integrity_check"), "ok");
}

}  // namespace
