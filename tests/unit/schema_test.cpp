// The connection set-up around migrations: the journal modes serve and rebuild use.
#include <gtest/gtest.h>

#include "schema.h"
#include "test_support.h"

using namespace churnwatch;
using namespace churnwatch::test;

namespace {

std::string journal_mode(sql::Database& db) {
    sql::Statement q(db, "PRAGMA journal_mode");
    return q.step() ? q.column_text(0) : "";
}

TEST(Schema, ARollbackJournalWhenAloneThenBackToWal) {
    TempDir dir;
    sql::Database db(dir.file("a.db"));
    configure_connection(db);
    apply_migrations(db);
    EXPECT_EQ(journal_mode(db), "wal");
    EXPECT_TRUE(use_rollback_journal(db));
    EXPECT_EQ(journal_mode(db), "truncate");
    db.exec("INSERT INTO service_state (key, value) VALUES ('k', 'v')");
    configure_connection(db);
    EXPECT_EQ(journal_mode(db), "wal");
    EXPECT_EQ(query_text(dir.file("a.db"), "SELECT value FROM service_state WHERE key = 'k'"), "v");
}

TEST(Schema, StaysInWalWhileAnotherConnectionIsOpen) {
    TempDir dir;
    sql::Database db(dir.file("a.db"), sql::OpenMode::ReadWrite, 60000);
    configure_connection(db);
    apply_migrations(db);
    sql::Database other(dir.file("a.db"));
    sql::Statement read(other, "SELECT count(*) FROM deliveries");
    ASSERT_TRUE(read.step());
    // Asked once: with the 60 s busy timeout in force, this test would take a minute.
    EXPECT_FALSE(use_rollback_journal(db));
    EXPECT_EQ(journal_mode(db), "wal");
    EXPECT_EQ(db.busy_timeout(), 60000);
    db.exec("INSERT INTO service_state (key, value) VALUES ('k', 'v')");  // still usable
}

}  // namespace
